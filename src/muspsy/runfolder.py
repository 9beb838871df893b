"""The run folder on disk: atomic manifest, append-only JSON-lines files, transcripts.

A reader must never see a half-written manifest, and `arcs.jsonl` must never hold a torn line
or two lines for one arc, whenever the process dies: the manifest is replaced atomically, each
line is written with one write call and fsynced, and a resumed run first cuts off a torn tail.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from muspsy.records import ArcRecord, ClientProfile
from muspsy.redact import redact
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


class DuplicateArc(RunFolderError):
    """An arc id is already in `arcs.jsonl`: writing it again would make two records of one arc."""


# Run-folder files are never followed through symlinks: a link planted in a run folder must not
# make muspsy read or append to a file elsewhere.
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def read_text(path: Path) -> str:
    """A run-folder file's text, refusing a symlink (ELOOP) like any other OSError."""
    fd = os.open(path, os.O_RDONLY | NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read().decode("utf-8")


def open_append(path: Path) -> Any:
    """A run-folder file opened for appending text, created if missing, never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW, 0o644)
    return os.fdopen(fd, "a", encoding="utf-8")


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` (redacted) in one rename; a reader sees the old or the new file."""
    text = redact(text)
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
    line = redact(json.dumps(record, ensure_ascii=False)) + "\n"
    with open_append(path) as handle:
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


def read_lines(path: Path, on_torn: Callable[[Path], None] | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file. A torn last line (no newline, not JSON: a killed
    process) is an error, unless `on_torn` is given: then it is reported to it and left out
    (read-only commands)."""
    if not path.exists() and not path.is_symlink():  # a symlink is refused below, not taken as absent
        return []
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise RunFolderError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    lines = text.splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except ValueError as exc:
            if number == len(lines) and not text.endswith("\n") and on_torn is not None:
                on_torn(path)
                break
            raise RunFolderError(f"{path}: line {number}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise RunFolderError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}")
        out.append(row)
    return out


class RunFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._written: set[str] | None = None  # arc ids in arcs.jsonl, read at the first write

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=False)
        (self.root / "transcripts").mkdir()

    def path(self, name: str) -> Path:
        return self.root / name

    def read_manifest(self) -> dict[str, Any]:
        path = self.path(MANIFEST)
        try:
            manifest = json.loads(read_text(path))
        except FileNotFoundError:
            raise RunFolderError(f"{path}: not found: {self.root} is not a muspsy run folder") from None
        except NotADirectoryError:
            raise RunFolderError(f"{self.root}: not a folder, so not a muspsy run folder") from None
        except ValueError as exc:  # not JSON, or not UTF-8
            raise RunFolderError(f"{path}: not valid JSON: {exc}") from None
        check_manifest_shape(path, manifest)
        return dict(manifest)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.path(MANIFEST), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    def write_profiles(self, profiles: list[ClientProfile]) -> None:
        lines = "".join(p.model_dump_json(by_alias=True) + "\n" for p in profiles)
        write_atomic(self.path(PROFILES), lines)

    def read_profiles(self) -> dict[str, ClientProfile]:
        path = self.path(PROFILES)
        if not path.is_file():
            raise RunFolderError(f"{path}: not found: the run folder is damaged (its arcs cannot be resumed)")
        profiles = {}
        for number, line in enumerate(read_lines(path), start=1):
            try:
                profile = ClientProfile.model_validate(line)
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(str(part) for part in first["loc"]) or "(line)"
                raise RunFolderError(f"{path}: line {number}: field {field}: {first['msg']}") from None
            profiles[profile.id] = profile
        return profiles

    def repair(self) -> list[str]:
        """Cut torn tails of the append-only files and remove temporary files left by a killed
        process; returns the names of the files cut or removed."""
        cut = [name for name in (ARCS, FAILED, EVENTS, PROMPTS) if repair_tail(self.path(name))]
        for folder in (self.root, self.root / "transcripts"):
            for stale in folder.glob(".*.tmp") if folder.is_dir() else ():
                stale.unlink(missing_ok=True)
                cut.append(str(stale.relative_to(self.root)))
        return cut

    def finished_arc_ids(self, on_torn: Callable[[Path], None] | None = None) -> set[str]:
        ids = set()
        for number, line in enumerate(read_lines(self.path(ARCS), on_torn), start=1):
            if not isinstance(line.get("arc_id"), str):
                raise RunFolderError(f"{self.path(ARCS)}: line {number}: field arc_id: missing or not a string")
            ids.add(line["arc_id"])
        return ids

    def transcript_path(self, arc_id: str) -> Path:
        """Where an arc's transcript goes; the folder is recreated if someone deleted it mid-run."""
        transcripts = self.root / "transcripts"
        if transcripts.is_symlink():
            raise RunFolderError(f"{transcripts}: is a symlink; muspsy writes only inside the run folder")
        transcripts.mkdir(exist_ok=True)
        return transcripts / f"{arc_id}.md"

    def write_partial_transcript(self, state: dict[str, Any]) -> None:
        """The transcript of an arc still running: replaced after each session, and by the
        full transcript when the arc finishes."""
        write_atomic(self.transcript_path(state["arc_id"]), render_partial_transcript(state))

    def add_arc(self, arc: ArcRecord) -> None:
        """Write the arc's transcript, then its line; an arc id already written is refused."""
        if self._written is None:
            self._written = self.finished_arc_ids()
        if arc.arc_id in self._written:
            raise DuplicateArc(f"{self.path(ARCS)}: arc {arc.arc_id} is already there; not written twice")
        write_atomic(self.transcript_path(arc.arc_id), render_transcript(arc))
        append_line(self.path(ARCS), arc.model_dump(mode="json", by_alias=True))
        self._written.add(arc.arc_id)

    def add_failure(self, arc_id: str, client_id: str, error: str) -> None:
        append_line(self.path(FAILED), {"arc_id": arc_id, "client_id": client_id, "error": error})


def check_manifest_shape(path: Path, manifest: Any) -> None:
    """The fields every reader of a manifest relies on, so damage is one line, not a KeyError."""
    if not isinstance(manifest, dict):
        raise RunFolderError(f"{path}: expected a JSON object, got {type(manifest).__name__}")
    if manifest.get("schema") != "muspsy.manifest/1":
        raise RunFolderError(f"{path}: field schema: expected muspsy.manifest/1")
    required = {"run_id": str, "status": str, "backend": str, "config_fingerprint": str}
    for name, kind in {**required, "arcs": dict, "config": dict, "attempts": list, "prompt_hashes": dict}.items():
        if not isinstance(manifest.get(name), kind):
            raise RunFolderError(f"{path}: field {name}: missing or not a {kind.__name__}")
    for arc, entry in manifest["arcs"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), str):
            raise RunFolderError(f"{path}: field arcs.{arc}: expected an object with a status")
        if not isinstance(entry.get("client_id"), str) or not isinstance(entry.get("seed"), int):
            raise RunFolderError(f"{path}: field arcs.{arc}: client_id and seed are required")
