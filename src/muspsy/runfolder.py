"""The run folder on disk: atomic manifest, append-only `arcs.jsonl`, transcripts.

A reader must never see a half-written manifest or a torn arc line: the manifest is replaced
atomically and each arc line is written with one write call, flushed and fsynced.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from muspsy.records import ArcRecord
from muspsy.transcript import render_transcript

MANIFEST = "manifest.json"
ARCS = "arcs.jsonl"
FAILED = "failed.jsonl"
EVENTS = "events.jsonl"
CHECKPOINTS = "checkpoints.sqlite"


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes owner-only files; outputs are meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: Path, record: dict[str, Any]) -> None:
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


class RunFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=False)
        (self.root / "transcripts").mkdir()

    def path(self, name: str) -> Path:
        return self.root / name

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.path(MANIFEST), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    def add_arc(self, arc: ArcRecord) -> None:
        write_atomic(self.root / "transcripts" / f"{arc.arc_id}.md", render_transcript(arc))
        append_line(self.path(ARCS), arc.model_dump(mode="json", by_alias=True))

    def add_failure(self, arc_id: str, client_id: str, error: str) -> None:
        append_line(self.path(FAILED), {"arc_id": arc_id, "client_id": client_id, "error": error})
