"""The run folder on disk: atomic manifest, append-only JSON-lines files, transcripts.

A reader must never see a half-written manifest, and `arcs.jsonl` must never hold a torn line
or two lines for one arc, whenever the process dies: the manifest is replaced atomically, each
line is written with one write call and fsynced, and a resumed run first cuts off a torn tail.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from muspsy.records import ArcRecord, ClientProfile
from muspsy.transcript import render_partial_transcript, render_transcript

MANIFEST = "manifest.json"
ARCS = "arcs.jsonl"
FAILED = "failed.jsonl"
EVENTS = "events.jsonl"
PROFILES = "profiles.jsonl"
CHECKPOINTS = "checkpoints.sqlite"
PROMPTS = "prompts.jsonl"  # muspsy.promptlog.PROMPTS; written only with --record-prompts


class RunFolderError(ValueError):
    """The folder is not a muspsy run folder, or its files are damaged beyond repair."""


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


def repair_tail(path: Path) -> bool:
    """Cut a torn last line (no newline, or not JSON) left by a killed process; True if cut."""
    if not path.exists():
        return False
    data = path.read_bytes()
    end = len(data)
    if data.endswith(b"\n"):
        last_start = data.rfind(b"\n", 0, end - 1) + 1
        try:
            json.loads(data[last_start:end])
            return False
        except ValueError:
            end = last_start
    else:
        end = data.rfind(b"\n") + 1
    with path.open("r+b") as handle:
        handle.truncate(end)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            out.append(json.loads(line))
        except ValueError as exc:
            raise RunFolderError(f"{path}: line {number}: not JSON ({exc})") from None
    return out


class RunFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=False)
        (self.root / "transcripts").mkdir()

    def path(self, name: str) -> Path:
        return self.root / name

    def read_manifest(self) -> dict[str, Any]:
        path = self.path(MANIFEST)
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunFolderError(f"{path}: not found: {self.root} is not a muspsy run folder") from None
        except ValueError as exc:
            raise RunFolderError(f"{path}: not valid JSON: {exc}") from None
        if manifest.get("schema") != "muspsy.manifest/1":
            raise RunFolderError(f"{path}: field schema: expected muspsy.manifest/1")
        return manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.path(MANIFEST), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    def write_profiles(self, profiles: list[ClientProfile]) -> None:
        lines = "".join(p.model_dump_json(by_alias=True) + "\n" for p in profiles)
        write_atomic(self.path(PROFILES), lines)

    def read_profiles(self) -> dict[str, ClientProfile]:
        return {p["id"]: ClientProfile.model_validate(p) for p in read_lines(self.path(PROFILES))}

    def repair(self) -> list[str]:
        """Cut torn tails of the append-only files; returns the names of the files cut."""
        return [name for name in (ARCS, FAILED, EVENTS, PROMPTS) if repair_tail(self.path(name))]

    def finished_arc_ids(self) -> set[str]:
        return {line["arc_id"] for line in read_lines(self.path(ARCS))}

    def transcript_path(self, arc_id: str) -> Path:
        return self.root / "transcripts" / f"{arc_id}.md"

    def write_partial_transcript(self, state: dict[str, Any]) -> None:
        """The transcript of an arc still running: replaced after each session, and by the
        full transcript when the arc finishes."""
        write_atomic(self.transcript_path(state["arc_id"]), render_partial_transcript(state))

    def add_arc(self, arc: ArcRecord) -> None:
        write_atomic(self.transcript_path(arc.arc_id), render_transcript(arc))
        append_line(self.path(ARCS), arc.model_dump(mode="json", by_alias=True))

    def add_failure(self, arc_id: str, client_id: str, error: str) -> None:
        append_line(self.path(FAILED), {"arc_id": arc_id, "client_id": client_id, "error": error})
