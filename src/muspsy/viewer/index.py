"""An index of one source of arcs (a run folder or an arcs `.jsonl` file) for the viewer.

The viewer never holds a whole run in memory: the index keeps, per arc, the byte offset of its
line and a few summary fields (ids, strategy, end reason, sessions, tokens). A page reads the
one or two records it shows by seeking to their offsets. A running run's file grows; `refresh`
reads only the bytes appended since the last look, and never a line that is still being
written (no newline yet).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARCS = "arcs.jsonl"


class SourceError(ValueError):
    """A path given to the viewer is neither a run folder nor an arcs file, or a line is bad."""


@dataclass(frozen=True)
class ArcSummary:
    """What the arc list and the pair finder need of one arc, without the arc itself."""

    position: int
    offset: int
    arc_id: str
    client_id: str
    strategy: str
    seed: int | None
    end_reason: str
    sessions: int
    turns: int
    crisis: bool
    overrides: int
    tokens: int

    @property
    def pair_key(self) -> tuple[str, int | None]:
        return (self.client_id, self.seed)


def seed_of(record: dict[str, Any]) -> int | None:
    seed = record.get("provenance", {}).get("seed")
    if isinstance(seed, int):
        return seed
    arc_id = str(record.get("arc_id", ""))
    tail = arc_id.rsplit("--seed", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def summarize(record: dict[str, Any], position: int, offset: int) -> ArcSummary:
    sessions = record.get("sessions") or []
    usage = record.get("usage") or {}
    tokens = sum(int(u.get("prompt_tokens", 0)) + int(u.get("completion_tokens", 0)) for u in usage.values())
    return ArcSummary(
        position=position,
        offset=offset,
        arc_id=str(record.get("arc_id", f"line {position + 1}")),
        client_id=str(record.get("client_id", "?")),
        strategy=str(record.get("strategy", "?")),
        seed=seed_of(record),
        end_reason=str((record.get("outcome") or {}).get("end_reason", "?")),
        sessions=len(sessions),
        turns=sum(len(s.get("turns") or []) for s in sessions),
        crisis=any(s.get("crisis") for s in sessions),
        overrides=sum(1 for s in sessions if (s.get("decision") or {}).get("overridden_by")),
        tokens=tokens,
    )


@dataclass
class ArcIndex:
    """Byte offsets and summaries of the arcs in one arcs file, growing as the file grows."""

    path: Path
    arcs: list[ArcSummary] = field(default_factory=list)
    read_up_to: int = 0
    pairs: dict[tuple[str, int | None], list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refresh(self) -> bool:
        """Index the complete lines appended since the last call; True when there were any."""
        with self._lock:
            if not self.path.exists():
                return False
            size = self.path.stat().st_size
            if size < self.read_up_to:  # replaced by a shorter file: start again
                self.arcs, self.pairs, self.read_up_to = [], {}, 0
            if size == self.read_up_to:
                return False
            added = False
            with self.path.open("rb") as handle:
                handle.seek(self.read_up_to)
                offset = self.read_up_to
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # still being written
                    if line.strip():
                        record = self._parse(line, len(self.arcs))
                        summary = summarize(record, len(self.arcs), offset)
                        self.arcs.append(summary)
                        self.pairs.setdefault(summary.pair_key, []).append(summary.position)
                        added = True
                    offset += len(line)
                self.read_up_to = offset
            return added

    def _parse(self, line: bytes, position: int) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise SourceError(f"{self.path}: line {position + 1}: not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise SourceError(f"{self.path}: line {position + 1}: expected a JSON object")
        return record

    def load(self, position: int) -> dict[str, Any]:
        """The whole record of the arc at `position`, read from its line."""
        summary = self.arcs[position]
        with self.path.open("rb") as handle:
            handle.seek(summary.offset)
            return self._parse(handle.readline(), position)

    def strategies(self) -> Counter[str]:
        return Counter(a.strategy for a in self.arcs)

    def end_reasons(self) -> Counter[str]:
        return Counter(a.end_reason for a in self.arcs)

    def select(self, strategy: str | None = None, end_reason: str | None = None) -> list[ArcSummary]:
        return [
            a
            for a in self.arcs
            if (strategy is None or a.strategy == strategy) and (end_reason is None or a.end_reason == end_reason)
        ]

    def pair_of(self, summary: ArcSummary) -> list[ArcSummary]:
        """Every arc of the same client and seed (one per strategy in a paired run), in file order."""
        return [self.arcs[position] for position in self.pairs.get(summary.pair_key, [])]


def open_source(path: Path) -> tuple[Path | None, ArcIndex]:
    """(run folder or None, index of its arcs) for a run folder or an arcs `.jsonl` file."""
    if path.is_dir():
        if not (path / "manifest.json").exists() and not (path / ARCS).exists():
            raise SourceError(f"{path}: not a muspsy run folder (no manifest.json or {ARCS})")
        index = ArcIndex(path / ARCS)
        run_dir: Path | None = path
    elif path.is_file():
        index, run_dir = ArcIndex(path), None
    else:
        raise SourceError(f"{path}: no such file or folder")
    index.refresh()
    return run_dir, index
