"""Reading arcs for export and choosing which ones to export.

A source is a run folder (its `arcs.jsonl`, plus `failed.jsonl` for `--drop-failed`) or an
arcs `.jsonl` file of canonical `ArcRecord` lines (simulated or imported). Exports are built
from these records only, never from transcripts.

Filters, applied in this order, each counted in the `Selection`:
- `exclude_crisis`: drop arcs with a crisis session or a `crisis` outcome;
- `min_sessions`: drop arcs with fewer sessions;
- `drop_failed`: drop arcs the run recorded in `failed.jsonl` (they failed at least once and
  were resumed) and arcs whose record is incomplete (the outcome counts a different number of
  sessions than the record holds, or a session has no turns);
- `dedup`: near-duplicate sessions (see `muspsy.exports.dedup`) are marked to skip; the arc
  stays, so later sessions keep their true context (the previous memo).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muspsy.arcfiles import ArcFileError, read_arcs
from muspsy.records import ArcRecord
from muspsy.runfolder import ARCS, FAILED, MANIFEST


class ExportError(ArcFileError):
    """Bad input or a record that breaks a format's rules; the message names file, record and field."""


# (run_id, arc_id): arc ids are unique within a run, not across runs.
ArcKey = tuple[str, str]
SessionKey = tuple[str, str, int]


def arc_key(arc: ArcRecord) -> ArcKey:
    return (arc.run_id, arc.arc_id)


@dataclass
class Selection:
    """The arcs to export, the sessions to leave out, and what each filter removed."""

    arcs: list[ArcRecord]
    skip: set[SessionKey] = field(default_factory=set)
    read: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def skipped(self, arc: ArcRecord, session_index: int) -> bool:
        return (arc.run_id, arc.arc_id, session_index) in self.skip

    def summary(self) -> str:
        parts = [f"{self.read} arc(s) read"]
        parts += [f"{count} {label}" for label, count in self.dropped.items() if count]
        parts.append(f"{len(self.arcs)} arc(s) exported")
        return ", ".join(parts)


def _failed_ids(folder: Path) -> set[str]:
    path = folder / FAILED
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    ids = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            # A torn last line (killed run) names no arc; anything else is damage worth reporting.
            if number == len(lines):
                continue
            raise ExportError(f"{path}: line {number}: not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("arc_id"), str):
            raise ExportError(f"{path}: line {number}: field arc_id: missing or not a string")
        ids.add(data["arc_id"])
    return ids


@dataclass
class Loaded:
    arcs: list[ArcRecord]
    failed: set[ArcKey]


def load_sources(sources: Iterable[Path]) -> Loaded:
    """Read every source in order; arcs listed in a run's `failed.jsonl` are remembered."""
    arcs: list[ArcRecord] = []
    failed: set[ArcKey] = set()
    seen: dict[ArcKey, Path] = {}
    for source in sources:
        if source.is_dir():
            path = source / ARCS
            if not path.is_file():
                hint = "" if (source / MANIFEST).is_file() else " (not a muspsy run folder)"
                raise ExportError(f"{path}: not found{hint}")
            folder = source
        elif source.is_file():
            path, folder = source, source.parent
        else:
            raise ExportError(f"{source}: no such file or directory")
        found = read_arcs(path)
        failed_here = _failed_ids(folder)
        for arc in found:
            key = arc_key(arc)
            if key in seen:
                raise ExportError(
                    f"{path}: arc {arc.arc_id} of run {arc.run_id} is also in {seen[key]}: give each source once"
                )
            seen[key] = path
            if arc.arc_id in failed_here:
                failed.add(key)
        arcs += found
    if not arcs:
        raise ExportError(f"no arcs in {', '.join(str(s) for s in sources)}")
    return Loaded(arcs, failed)


def has_crisis(arc: ArcRecord) -> bool:
    return arc.outcome.end_reason == "crisis" or any(s.crisis for s in arc.sessions)


def is_incomplete(arc: ArcRecord) -> bool:
    return arc.outcome.sessions != len(arc.sessions) or any(not s.turns for s in arc.sessions)


def select(
    loaded: Loaded,
    *,
    exclude_crisis: bool = False,
    min_sessions: int = 0,
    drop_failed: bool = False,
    dedup_threshold: float | None = None,
) -> Selection:
    """Apply the filters in the documented order; `dedup_threshold=None` keeps every session."""
    from muspsy.exports.dedup import near_duplicate_sessions

    arcs = list(loaded.arcs)
    dropped: dict[str, int] = {}

    def keep(label: str, rule: Any) -> None:
        nonlocal arcs
        kept = [arc for arc in arcs if rule(arc)]
        dropped[label] = len(arcs) - len(kept)
        arcs = kept

    if exclude_crisis:
        keep("dropped for crisis content", lambda arc: not has_crisis(arc))
    if min_sessions:
        keep(f"dropped with fewer than {min_sessions} sessions", lambda arc: len(arc.sessions) >= min_sessions)
    if drop_failed:
        keep(
            "dropped as failed or incomplete", lambda arc: arc_key(arc) not in loaded.failed and not is_incomplete(arc)
        )
    if not arcs:
        summary = ", ".join(f"{n} {label}" for label, n in dropped.items() if n)
        raise ExportError(f"no arcs left to export after the filters ({summary})")
    skip: set[SessionKey] = set()
    if dedup_threshold is not None:
        skip = near_duplicate_sessions(arcs, dedup_threshold)
        dropped["near-duplicate session(s) dropped"] = len(skip)
    return Selection(arcs=arcs, skip=skip, read=len(loaded.arcs), dropped=dropped)
