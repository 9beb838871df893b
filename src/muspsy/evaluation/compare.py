"""`muspsy compare`: every outcome and fidelity measure per group, with differences and CIs.

Groups are sources (run folders, arcs files) or strategies. Every measure is computed per arc
(`arc_measures`); a group's value is the mean over its arcs with a bootstrap 95% confidence
interval. Each later group is compared with the first: arcs are paired on (client_id, seed),
as a paired design runs every strategy on the same clients with the same seeds, and the CI
is for the mean paired difference. Without at least two pairs the difference is unpaired
(difference of means, groups resampled independently), and the table says so.

Bootstrap: percentile method, `RESAMPLES` resamples, numpy generator seeded with `SEED`, so
the same inputs always give the same intervals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from muspsy.course import strategy_switches
from muspsy.crisis import most_severe
from muspsy.evaluation.judges import matched_fidelity
from muspsy.evaluation.metrics import arc_metrics
from muspsy.evaluation.rubrics import RUBRICS
from muspsy.evaluation.sources import Source, seed_of
from muspsy.evaluation.tables import Table
from muspsy.evaluation.techniques import SHARE_PREFIX
from muspsy.records import DISPOSITIONS, ArcRecord, ExitMeasurement

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
END_REASONS = ("goals_met", "max_sessions", "referral", "crisis", "dropout")
GroupBy = Literal["strategy", "source"]

# (key, label), in table order: outcomes first, then process, fidelity, judges.
MEASURES: list[tuple[str, str]] = [
    ("phq9_change", "PHQ-9 change, first to last session"),
    ("gad7_change", "GAD-7 change, first to last session"),
    ("phq9_pre_post", "PHQ-9 pre-post change, first session to exit"),
    ("gad7_pre_post", "GAD-7 pre-post change, first session to exit"),
    ("phq9_follow_up", "PHQ-9 change, first session to follow-up"),
    ("wai_sr_final", "WAI-SR total, last session (12-60)"),
    ("sessions", "sessions per arc"),
    ("strategy_switches", "strategy switches per arc"),
    ("termination_session", "share ending with a termination session"),
    *[(f"end_{r}", f"share ended: {r}") for r in END_REASONS],
    *[(f"disposition_{d}", f"share, worst crisis disposition: {d}") for d in DISPOSITIONS],
    ("client_leaks", "client role-leak turns per arc"),
    ("counselor_leaks", "counselor role-leak turns per arc"),
    ("alternation_violation_rate", "speaker alternation violation rate"),
    ("homework_follow_up_rate", "homework follow-up rate"),
    ("memo_completeness", "memo completeness"),
    ("counselor_distinct_2", "counselor distinct-2"),
    ("client_distinct_2", "client distinct-2"),
    ("counselor_repeated_turn_share", "counselor turns repeating an earlier n-gram"),
    ("client_repeated_turn_share", "client turns repeating an earlier n-gram"),
    ("counselor_len_mean", "counselor turn length (mean)"),
    ("risk_sensitivity", "risk detection sensitivity"),
    ("risk_specificity", "risk detection specificity"),
    ("risk_detection_latency", "risk detection latency (turns)"),
    ("client_len_mean", "client turn length (mean)"),
    ("labelled_turn_share", "counselor turns with a technique label"),
    ("distinct_techniques", "distinct techniques per arc"),
    ("technique_entropy", "technique entropy (bits)"),
    ("protocol_phase_coverage", "share of the protocol's phases reached per session"),
    ("judge_fidelity", "judge: strategy-matched fidelity (0-1)"),
    ("judge_ctrs", "judge: CTRS total (0-66)"),
    ("judge_miti", "judge: MITI globals (1-5)"),
    ("judge_miti_behaviours", "judge: MITI reflections per question"),
    ("judge_pceps", "judge: person-centred process (1-6)"),
    ("judge_sfbt", "judge: SFBT fidelity (1-5)"),
    ("judge_alliance", "judge: observer alliance (1-7)"),
    ("judge_crisis", "judge: crisis handling (1-5)"),
    ("judge_persona", "judge: persona consistency (1-5)"),
]


@dataclass
class Group:
    name: str
    arcs: list[ArcRecord]
    measures: list[dict[str, float | None]] = field(default_factory=list)


def _change(arc: ArcRecord, instrument: str) -> float | None:
    totals = [getattr(s, instrument).total for s in arc.sessions if getattr(s, instrument) is not None]
    return float(totals[-1] - totals[0]) if len(totals) >= 2 else None


def _pre_post(arc: ArcRecord, instrument: str, point: ExitMeasurement | None) -> float | None:
    """Change from the first session's start to a measurement after the course (exit, follow-up)."""
    first = next((getattr(s, instrument) for s in arc.sessions if getattr(s, instrument) is not None), None)
    if first is None or point is None:
        return None
    return float(getattr(point, instrument).total - first.total)


def arc_measures(
    arc: ArcRecord, judged: dict[str, Any] | None, fidelity: float | None = None
) -> dict[str, float | None]:
    """Every measure of MEASURES for one arc (None when it does not apply or is missing);
    `fidelity` is the arc's strategy-matched fidelity from its evaluation, when it has one."""
    m = arc_metrics(arc)
    worst = most_severe([s.disposition for s in arc.sessions])
    wai = [s.wai_sr.total for s in arc.sessions if s.wai_sr is not None]
    out: dict[str, float | None] = {
        "phq9_change": _change(arc, "phq9"),
        "gad7_change": _change(arc, "gad7"),
        "phq9_pre_post": _pre_post(arc, "phq9", arc.exit_measurement),
        "gad7_pre_post": _pre_post(arc, "gad7", arc.exit_measurement),
        "phq9_follow_up": _pre_post(arc, "phq9", arc.follow_up),
        "wai_sr_final": float(wai[-1]) if wai else None,
        "sessions": float(m["sessions"]),
        "strategy_switches": float(strategy_switches(arc)),
        "termination_session": float(any(s.termination for s in arc.sessions)),
        **{f"end_{r}": float(m["end_reason"] == r) for r in END_REASONS},
        **{f"disposition_{d}": float(worst == d) for d in DISPOSITIONS},
    }
    for key, _ in MEASURES:
        if key in m:
            value = m[key]
            out[key] = None if value is None else float(value)
    for rubric in RUBRICS:
        entry = (judged or {}).get(rubric)
        out[f"judge_{rubric}"] = float(entry["summary"]) if entry else None
    if fidelity is None and judged:  # an evaluation written before the score was stored
        fidelity = matched_fidelity(arc.strategy, judged)
    out["judge_fidelity"] = fidelity
    out.update({f"{SHARE_PREFIX}{name}": share for name, share in m["technique_shares"].items()})
    return out


def technique_rows(groups: Sequence[Group]) -> list[tuple[str, str]]:
    """One measure per technique any arc used (its share of the arc's labelled counselor
    turns), after filling in 0 for the arcs that never used it (None for unlabelled arcs)."""
    keys = sorted({k for g in groups for m in g.measures for k in m if k.startswith(SHARE_PREFIX)})
    for measures in (m for g in groups for m in g.measures):
        labelled = bool(measures.get("labelled_turn_share"))
        for key in keys:
            measures.setdefault(key, 0.0 if labelled else None)
    return [(key, f"technique share: {key.removeprefix(SHARE_PREFIX)}") for key in keys]


def run_strategies(source: Source) -> list[str]:
    """The strategies of a run folder in the order its config names them (none for an arcs file)."""
    manifest = source.path / "manifest.json"
    if not manifest.is_file():
        return []
    try:
        named = json.loads(manifest.read_text(encoding="utf-8")).get("config", {}).get("strategy", [])
    except (OSError, ValueError, AttributeError):
        return []  # a damaged manifest changes only the order of the groups
    return [named] if isinstance(named, str) else [n for n in named if isinstance(n, str)]


def make_groups(sources: Sequence[Source], by: GroupBy) -> list[Group]:
    """Groups in first-seen order, strategies of a run folder in its config's order; the first
    group is the baseline of the differences.

    Arcs finish in any order when they run concurrently: the run's own strategy list, not the
    first finished arc, decides which strategy is the baseline, so the signs stay put."""
    groups: dict[str, Group] = {}
    if by == "strategy":
        for name in (n for source in sources for n in run_strategies(source)):
            groups.setdefault(name, Group(name, []))
    labels = source_labels(sources)
    for source, label in zip(sources, labels, strict=True):
        arc_rows = {(r["run_id"], r["arc_id"]): r for r in source.evaluation if r.get("kind") == "arc"}
        for arc in source.arcs:
            name = arc.strategy if by == "strategy" else label
            group = groups.setdefault(name, Group(name, []))
            group.arcs.append(arc)
            row = arc_rows.get((arc.run_id, arc.arc_id), {})
            group.measures.append(arc_measures(arc, row.get("judge"), row.get("fidelity")))
    return [group for group in groups.values() if group.arcs]


def source_labels(sources: Sequence[Source]) -> list[str]:
    """A source's label: its strategy when it holds one strategy no other source holds (the
    usual one run per strategy), else its file or folder name; duplicates get a number."""
    strategies = [{a.strategy for a in s.arcs} for s in sources]
    labels: list[str] = []
    for index, (source, own) in enumerate(zip(sources, strategies, strict=True)):
        others = set().union(*(st for i, st in enumerate(strategies) if i != index))
        label = next(iter(own)) if len(own) == 1 and not own & others else source.name
        labels.append(f"{label} ({index + 1})" if label in labels else label)
    return labels


# ---------------------------------------------------------------- bootstrap


def _interval(samples: np.ndarray[Any, Any], level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(
    values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL
) -> tuple[float, float, float] | None:
    """Mean and percentile-bootstrap CI; None without data."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    return (float(x.mean()), *_interval(means, level))


def bootstrap_difference(
    a: Sequence[float],
    b: Sequence[float],
    paired: bool,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> tuple[float, float, float] | None:
    """Mean of b - a (paired: element-wise; else difference of means) with a bootstrap CI."""
    if paired:
        return bootstrap_mean([y - x for x, y in zip(a, b, strict=True)], resamples, seed, level)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.size == 0 or xb.size == 0:
        return None
    rng = np.random.default_rng(seed)
    ma = xa[rng.integers(0, xa.size, size=(resamples, xa.size))].mean(axis=1)
    mb = xb[rng.integers(0, xb.size, size=(resamples, xb.size))].mean(axis=1)
    return (float(xb.mean() - xa.mean()), *_interval(mb - ma, level))


def pair_key(arc: ArcRecord) -> tuple[str, Any]:
    return (arc.client_id, seed_of(arc))


def paired_values(base: Group, other: Group, key: str) -> tuple[list[float], list[float]]:
    """Values of `key` for the arcs of both groups that share (client_id, seed)."""
    first: dict[tuple[str, Any], float] = {}
    for arc, m in zip(base.arcs, base.measures, strict=True):
        if (value := m[key]) is not None and seed_of(arc) is not None:
            first.setdefault(pair_key(arc), value)
    a: list[float] = []
    b: list[float] = []
    used: set[tuple[str, Any]] = set()
    for arc, m in zip(other.arcs, other.measures, strict=True):
        k = pair_key(arc)
        value = m[key]
        if value is not None and k in first and k not in used:
            used.add(k)
            a.append(first[k])
            b.append(value)
    return a, b


@dataclass
class Row:
    key: str
    label: str
    stats: list[tuple[int, tuple[float, float, float] | None]]
    diffs: list[tuple[str, int, tuple[float, float, float] | None]]


def compare_groups(groups: Sequence[Group]) -> list[Row]:
    rows = []
    for key, label in [*MEASURES, *technique_rows(groups)]:
        values = [[v for m in g.measures if (v := m[key]) is not None] for g in groups]
        if not any(values):
            continue
        stats = [(len(v), bootstrap_mean(v)) for v in values]
        diffs = []
        for group, other in zip(groups[1:], values[1:], strict=True):
            a, b = paired_values(groups[0], group, key)
            if len(a) >= 2:
                diffs.append(("paired", len(a), bootstrap_difference(a, b, paired=True)))
            else:
                diffs.append(("unpaired", len(other), bootstrap_difference(values[0], other, paired=False)))
        rows.append(Row(key, label, stats, diffs))
    return rows


def _ci(stat: tuple[float, float, float] | None, signed: bool = False) -> str:
    if stat is None:
        return "-"
    mean, low, high = stat
    fmt = "+.2f" if signed else ".2f"
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def comparison_table(groups: Sequence[Group], rows: Sequence[Row]) -> Table:
    base = groups[0].name
    header = ["measure", *(f"{g.name} (n={len(g.arcs)})" for g in groups), *(f"{g.name} - {base}" for g in groups[1:])]
    table = Table(
        "Comparison",
        header,
        notes=[
            f"Cells: mean over arcs [{LEVEL:.0%} bootstrap CI, {RESAMPLES} resamples, seed {SEED}]. "
            f"Differences vs {base}: paired on (client_id, seed) when at least two pairs exist (p = pairs), "
            "else unpaired difference of means (u = arcs in the group). - = no data.",
        ],
    )
    for row in rows:
        cells = [_ci(stat) for _, stat in row.stats]
        diffs = [f"{_ci(stat, signed=True)} ({kind[0]}={n})" for kind, n, stat in row.diffs]
        table.add([row.label, *cells, *diffs])
    if any(kind == "unpaired" for row in rows for kind, _, _ in row.diffs):
        table.notes.append(
            "Some differences are UNPAIRED: fewer than two arcs of those groups share (client_id, seed) for them."
        )
    return table


def long_csv(groups: Sequence[Group], rows: Sequence[Row]) -> Table:
    """The same numbers in long form for spreadsheets: one line per measure and group."""
    table = Table(
        "comparison",
        [
            "measure",
            "group",
            "n",
            "mean",
            "ci_low",
            "ci_high",
            "vs",
            "difference",
            "diff_low",
            "diff_high",
            "pairing",
            "pairs",
        ],
        digits=4,
    )
    for row in rows:
        for i, (group, (n, stat)) in enumerate(zip(groups, row.stats, strict=True)):
            mean, low, high = stat if stat else (None, None, None)
            if i == 0:
                table.add([row.key, group.name, n, mean, low, high, "", None, None, None, "", ""])
                continue
            kind, pairs, diff = row.diffs[i - 1]
            d, dl, dh = diff if diff else (None, None, None)
            table.add([row.key, group.name, n, mean, low, high, groups[0].name, d, dl, dh, kind, pairs])
    table.rows = [[c if c != "-" else "" for c in r] for r in table.rows]
    return table
