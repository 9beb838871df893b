"""Reading what `evaluate` and `compare` work on: run folders and arcs `.jsonl` files.

A source is a run folder (its `arcs.jsonl`, and `evaluation.jsonl` once evaluated) or an arcs
`.jsonl` file (its evaluation sits beside it as `<stem>.evaluation.jsonl`). Imported arcs may
lack `usage` and `provenance`; they default to empty. A bad line is reported with the file,
the line number, the field and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muspsy.arcfiles import ArcFileError, read_arcs, read_jsonl
from muspsy.records import ArcRecord

EVALUATION = "evaluation.jsonl"


class SourceError(ArcFileError):
    """A source path is missing, empty or holds a line that is not a valid arc."""


@dataclass
class Source:
    path: Path
    arcs: list[ArcRecord]
    evaluation: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem if self.path.suffix == ".jsonl" else self.path.name


def arcs_file(path: Path) -> Path:
    return path / "arcs.jsonl" if path.is_dir() else path


def evaluation_file(path: Path) -> Path:
    """Where the evaluation of a source lives by default."""
    return path / EVALUATION if path.is_dir() else path.with_name(f"{path.stem}.evaluation.jsonl")


def load_source(path: Path, with_evaluation: bool = True) -> Source:
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    file = arcs_file(path)
    if not file.is_file():
        raise SourceError(f"{path}: not a run folder (no arcs.jsonl) and not an arcs .jsonl file")
    arcs = read_arcs(file, full_profile=False)
    if not arcs:
        raise SourceError(f"{file}: holds no arcs")
    evaluation: list[dict[str, Any]] = []
    ev = evaluation_file(path)
    if with_evaluation and ev.is_file():
        evaluation = [row for _, row in read_jsonl(ev)]
    return Source(path, arcs, evaluation)


def unique_arcs(sources: list[Source]) -> list[Source]:
    """`sources` unchanged, or SourceError when one arc (run id, arc id) appears twice: counted
    twice it would weigh double in every mean, as export refuses too."""
    seen: dict[tuple[str, str], Path] = {}
    for source in sources:
        for arc in source.arcs:
            key = (arc.run_id, arc.arc_id)
            if key in seen:
                raise SourceError(
                    f"{source.path}: arc {arc.arc_id} of run {arc.run_id} is also in {seen[key]}: give each source once"
                )
            seen[key] = source.path
    return sources


def attach_evaluations(sources: list[Source], files: list[Path]) -> None:
    """Add the lines of extra evaluation files to every source; lines are matched to arcs by
    (run_id, arc_id) later, so lines of other sources are harmless."""
    for file in files:
        if not file.is_file():
            raise SourceError(f"{file}: no such evaluation file")
        rows = [row for _, row in read_jsonl(file)]
        for number, row in enumerate(rows, start=1):
            if row.get("kind") not in ("session", "arc") or "arc_id" not in row:
                raise SourceError(f"{file}: line {number}: field kind: not a muspsy evaluation line")
        for source in sources:
            source.evaluation.extend(rows)


def seed_of(arc: ArcRecord) -> Any:
    """The seed that pairs arcs of a paired design (None for imported arcs)."""
    return arc.provenance.get("seed")
