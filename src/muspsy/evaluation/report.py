"""Write a comparison to a folder: `comparison.md`, `comparison.csv` and the PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from muspsy.evaluation.compare import GroupBy, compare_groups, comparison_table, long_csv, make_groups
from muspsy.evaluation.plots import write_plots
from muspsy.evaluation.sources import Source
from muspsy.evaluation.tables import Table
from muspsy.runfolder import write_atomic

# Everything a comparison may write; replaced together, so no stale plot survives a rerun.
COMPARISON_FILES = ("comparison.md", "comparison.csv", "trajectories.png", "sessions.png", "judges.png")


def default_grouping(sources: Sequence[Source]) -> GroupBy:
    """Several sources: one group each; one source: its strategies."""
    return "source" if len(sources) > 1 else "strategy"


def write_comparison(sources: Sequence[Source], by: GroupBy, out_dir: Path) -> tuple[Table, list[Path]]:
    groups = make_groups(sources, by)
    rows = compare_groups(groups)
    table = comparison_table(groups, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in COMPARISON_FILES:  # a plot this comparison does not draw must not linger from the last
        (out_dir / name).unlink(missing_ok=True)
    if len(groups) < 2:
        table.notes.append(f"Only one group ({groups[0].name}): nothing to compare it with.")
    if not any(s.evaluation for s in sources):
        table.notes.append("No evaluation.jsonl found: run `muspsy evaluate` first for judge scores.")
    listing = "\n".join(f"- `{s.path}`: {len(s.arcs)} arc(s)" for s in sources)
    md = out_dir / "comparison.md"
    write_atomic(md, f"# muspsy comparison (grouped by {by})\n\nSources:\n\n{listing}\n\n{table.markdown()}")
    csv = out_dir / "comparison.csv"
    write_atomic(csv, long_csv(groups, rows).csv())
    return table, [md, csv, *write_plots(groups, out_dir)]
