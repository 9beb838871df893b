"""Prompt recording (`--record-prompts`): one JSON line per LLM call with the exact messages sent.

Every role's call goes through `muspsy.llm.call_structured`, which hands its messages and
context (run, arc, session, turn, role, node) to a `PromptLog`. The role comes from the agent
spec, so a new role is recorded without changes here. Only the messages are written, never a
request's headers or keys, and each line is redacted (`muspsy.redact`: a message may quote a
URL with credentials) and appended without following a symlink. Each line is one write call,
flushed; a line torn by a kill is cut when the run is resumed (`RunFolder.repair`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from langchain_core.messages import BaseMessage

from muspsy.redact import redact
from muspsy.runfolder import open_append

PROMPTS = "prompts.jsonl"
ROLE_OF_MESSAGE = {"system": "system", "human": "user", "ai": "assistant"}
FIELDS = ("run", "arc", "session", "turn", "role", "node")


class PromptLog(Protocol):
    def record(self, context: Mapping[str, Any], messages: Sequence[BaseMessage], **extra: Any) -> None: ...


def message_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": ROLE_OF_MESSAGE.get(m.type, m.type), "content": str(m.content)} for m in messages]


def prompt_line(context: Mapping[str, Any], messages: Sequence[BaseMessage], run: str | None, **extra: Any) -> str:
    """One call's line, redacted, without its newline; `run` fills in a context with no run id."""
    line: dict[str, Any] = {name: context.get(name) for name in FIELDS}
    line["run"] = line["run"] or run
    line.update(extra)
    line["messages"] = message_dicts(messages)
    return redact(json.dumps(line, ensure_ascii=False))


class JsonlPromptLog:
    """Appends one line per call to `path`; `run` fills in calls whose context has no run id."""

    def __init__(self, path: Path, run: str | None = None) -> None:
        self._file: IO[str] = open_append(path)
        self._run = run

    def record(self, context: Mapping[str, Any], messages: Sequence[BaseMessage], **extra: Any) -> None:
        self.write(prompt_line(context, messages, self._run, **extra))

    def write(self, line: str) -> None:
        """Append a line made by `prompt_line` (here, or in a Ray worker); redacted again here, as
        this process may know secrets the worker did not."""
        self._file.write(redact(line) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class BufferedPromptLog:
    """A Ray worker's prompt lines, made and redacted there, kept until the driver drains them
    into the run's log (the driver is the only writer of the run folder)."""

    def __init__(self, run: str) -> None:
        self.pending: list[str] = []
        self._run = run

    def record(self, context: Mapping[str, Any], messages: Sequence[BaseMessage], **extra: Any) -> None:
        self.pending.append(prompt_line(context, messages, self._run, **extra))

    def drain(self) -> list[str]:
        out, self.pending = self.pending, []
        return out


def read_prompts(path: Path) -> list[dict[str, Any]]:
    """The lines of a prompts file (a torn last line, from a kill, is skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    out = []
    for number, text in enumerate(lines, start=1):
        try:
            out.append(json.loads(text))
        except ValueError:
            if number != len(lines):
                raise
    return out
