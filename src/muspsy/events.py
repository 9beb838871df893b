"""Structured event log: one JSON object per line in a run's `events.jsonl`, via structlog."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any, Protocol

import structlog

from muspsy.redact import redact
from muspsy.runfolder import open_append


class EventLog(Protocol):
    def emit(self, event: str, **fields: Any) -> None: ...


class NullEventLog:
    """Drops events; for graphs run outside a run folder (Studio, users' tests)."""

    def emit(self, event: str, **fields: Any) -> None:
        return None


class JsonlEventLog:
    """Appends events as JSON lines (redacted: error texts may echo a key); flushed per line so
    a crash loses at most the last one."""

    def __init__(self, path: Path, **bound: Any) -> None:
        self._file: IO[str] = open_append(path)
        self._logger = structlog.wrap_logger(
            structlog.WriteLogger(self._file),
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(ensure_ascii=False),
                _redacted,
            ],
        ).bind(**bound)

    def emit(self, event: str, **fields: Any) -> None:
        self._logger.msg(event, **fields)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _redacted(logger: Any, name: str, line: Any) -> Any:
    return redact(line) if isinstance(line, str) else line
