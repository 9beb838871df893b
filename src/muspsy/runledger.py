"""The run ledger: what state each arc is in (pending, running, finished, failed), kept flat
as runs grow (not the disclosure ledger of `muspsy.ledger`).

`manifest.json` lists every planned arc and is replaced whole, so it is written only when an
attempt starts and ends. In between, each change of an arc's state is one appended line of
`arc_states.jsonl` (flushed, not fsynced: `arcs.jsonl` and `failed.jsonl` are the durable truth of
what ended; the ledger says what is running). Writing the manifest folds the ledger into it and
then empties the ledger, so neither grows beyond one attempt's changes. Like every run-folder
file it is never followed through a symlink, and its lines are redacted (errors may echo a key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from muspsy.planning import now
from muspsy.redact import redact
from muspsy.runfolder import RunFolder, open_append, read_text, write_atomic

ARC_STATES = "arc_states.jsonl"


def read_changes(folder: RunFolder) -> list[dict[str, Any]]:
    """The ledger's lines, a torn last one (the process died mid-write) left out."""
    path = folder.path(ARC_STATES)
    if not path.exists() and not path.is_symlink():  # a symlink is refused by read_text, not taken as absent
        return []
    lines = read_text(path).splitlines()
    changes = []
    for line in lines:
        try:
            changes.append(json.loads(line))
        except ValueError:
            continue  # only the last line can be torn; the manifest and arcs.jsonl hold the rest
    return changes


def apply_changes(arcs: dict[str, dict[str, Any]], changes: list[dict[str, Any]]) -> None:
    for change in changes:
        entry = arcs.get(change["arc"])
        if entry is None:
            continue
        entry["status"] = change["status"]
        entry.pop("error", None)
        entry.pop("worker", None)
        if change.get("error"):
            entry["error"] = change["error"]
        if change["status"] == "running" and change.get("worker"):
            entry["worker"] = change["worker"]


def marked_arcs(folder: RunFolder, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every arc's state as marked: the manifest's, then the ledger's changes since it was written."""
    arcs = {arc: dict(entry) for arc, entry in manifest["arcs"].items()}
    apply_changes(arcs, read_changes(folder))
    return arcs


def current_arcs(
    folder: RunFolder,
    manifest: dict[str, Any],
    on_torn: Callable[[Path], None] | None = None,
    marked: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every arc's latest state: as marked (`marked_arcs`, read unless given), then `arcs.jsonl`,
    which wins: finished means written there, whatever the others say.
    `on_torn`: see `runfolder.read_lines` (read-only commands pass it to go past a torn tail)."""
    arcs = {arc: dict(entry) for arc, entry in (marked or marked_arcs(folder, manifest)).items()}
    finished = folder.finished_arc_ids(on_torn)
    for arc, entry in arcs.items():
        if arc in finished:
            entry["status"] = "finished"
            entry.pop("error", None)
        elif entry["status"] == "finished":
            entry["status"] = "pending"
    return arcs


class RunLedger:
    """The run's manifest in memory and its ledger file, for the process that runs the arcs."""

    def __init__(self, folder: RunFolder, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.manifest = manifest
        marked = marked_arcs(folder, manifest)
        manifest["arcs"] = current_arcs(folder, manifest, marked=marked)
        # In arcs.jsonl but never marked finished: the process stopped after writing the record
        # and before its checkpoints were deleted (the mark comes last); the next attempt sweeps.
        self.unswept = [
            arc
            for arc, entry in manifest["arcs"].items()
            if entry["status"] == "finished" and marked[arc]["status"] != "finished"
        ]
        self._file: IO[str] | None = None

    @property
    def arcs(self) -> dict[str, dict[str, Any]]:
        arcs: dict[str, dict[str, Any]] = self.manifest["arcs"]
        return arcs

    def mark(self, arc: str, status: str, *, error: str | None = None, worker: str | None = None) -> None:
        apply_changes(self.arcs, [{"arc": arc, "status": status, "error": error, "worker": worker}])
        line: dict[str, Any] = {"arc": arc, "status": status, "at": now()}
        if error:
            line["error"] = error
        if worker:
            line["worker"] = worker
        if self._file is None:
            self._file = open_append(self.folder.path(ARC_STATES))
        self._file.write(redact(json.dumps(line, ensure_ascii=False)) + "\n")
        self._file.flush()

    def save(self) -> None:
        """Replace the manifest (atomically), then empty the ledger it now contains."""
        self.manifest["updated_at"] = now()
        self.folder.write_manifest(self.manifest)
        self.close()
        write_atomic(self.folder.path(ARC_STATES), "")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def counts(self) -> dict[str, int]:
        statuses = [entry["status"] for entry in self.arcs.values()]
        return {
            "arcs": len(statuses),
            "finished": statuses.count("finished"),
            "failed": statuses.count("failed"),
            "pending": statuses.count("pending") + statuses.count("running"),
        }
