"""Deterministic protocol metrics from the counselor's turn labels (`phase`, `technique`): no
LLM, the same answer every time.

Per session and per arc: how many counselor turns carry a technique label, how often each
technique was used (counts and shares of the labelled turns), how many distinct techniques and
how evenly they were spread (Shannon entropy, bits), and how much of the strategy's protocol
the sessions went through (share of its phases reached per session). Imported arcs and records
written before protocols carry no labels: their labelled-turn share is 0 and the other values
are None, not zero.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from muspsy.agents.spec import SpecError, Strategy, load_strategy
from muspsy.records import ArcRecord, SessionRecord, Turn

SHARE_PREFIX = "technique:"


@functools.cache
def _strategy(name: str) -> Strategy | None:
    try:
        return load_strategy(name)
    except SpecError:  # an imported arc's strategy, or one whose file is gone
        return None


def _counselor(turns: Sequence[Turn]) -> list[Turn]:
    return [t for t in turns if t.speaker == "counselor"]


def _entropy(counts: Counter[str]) -> float | None:
    total = sum(counts.values())
    if not total:
        return None
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _phase_coverage(sessions: Sequence[SessionRecord], strategy_name: str) -> float | None:
    """Mean over the labelled sessions of the share of the strategy's phases they reached."""
    shares = []
    for session in sessions:
        # A session may name its own strategy (an arc that switched strategy); else the arc's.
        strategy = _strategy(session.strategy or strategy_name)
        names = {p.name for p in strategy.phases} if strategy else set()
        reached = {t.phase for t in _counselor(session.turns)} & names
        if reached:
            shares.append(len(reached) / len(names))
    return sum(shares) / len(shares) if shares else None


def technique_metrics(sessions: Sequence[SessionRecord], strategy: str) -> dict[str, Any]:
    """The protocol metrics over `sessions` (one session, or all of an arc's)."""
    counselor = [t for s in sessions for t in _counselor(s.turns)]
    counts = Counter(t.technique for t in counselor if t.technique)
    labelled = sum(counts.values())
    return {
        "technique_counts": dict(sorted(counts.items())),
        "technique_shares": {name: n / labelled for name, n in sorted(counts.items())},
        "labelled_turn_share": labelled / len(counselor) if counselor else None,
        "distinct_techniques": len(counts) if labelled else None,
        "technique_entropy": _entropy(counts),
        "protocol_phase_coverage": _phase_coverage(sessions, strategy),
        "phase_sequence": [[t.phase for t in _counselor(s.turns)] for s in sessions] if labelled else None,
    }


def technique_measures(arcs_metrics: Sequence[dict[str, Any]]) -> list[str]:
    """The technique-share measure keys for every technique any of these arcs used."""
    used = sorted({name for m in arcs_metrics for name in m["technique_shares"]})
    return [f"{SHARE_PREFIX}{name}" for name in used]


def technique_shares(metrics: dict[str, Any], keys: Sequence[str]) -> dict[str, float | None]:
    """An arc's share of each technique in `keys`: 0 for one it never used, None when the arc
    has no labelled turn at all."""
    if not metrics["technique_shares"]:
        return dict.fromkeys(keys)
    return {key: metrics["technique_shares"].get(key.removeprefix(SHARE_PREFIX), 0.0) for key in keys}


def arc_technique_metrics(arc: ArcRecord) -> dict[str, Any]:
    return technique_metrics(arc.sessions, arc.strategy)
