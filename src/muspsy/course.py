"""What adaptive supervision and the ending did in an arc record: the strategy and plan each
session was run with, strategy switches, plan revisions, termination sessions, exit and
follow-up measurements (for exports, `compare` and the dataset card). Records from before these
existed have one strategy, one plan and none of the rest."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from muspsy.records import ArcRecord, SessionRecord, TreatmentPlan


def strategy_switches(arc: ArcRecord) -> int:
    """How often the strategy changed from one session to the next."""
    used = [s.strategy for s in arc.sessions if s.strategy]
    return sum(1 for before, after in pairwise(used) if before != after)


def course_counts(arcs: Iterable[ArcRecord]) -> dict[str, int]:
    counts = dict.fromkeys(
        (
            "arcs_with_switch",
            "strategy_switches",
            "plan_revisions",
            "termination_sessions",
            "exit_measurements",
            "follow_ups",
        ),
        0,
    )
    for arc in arcs:
        switches = strategy_switches(arc)
        counts["arcs_with_switch"] += switches > 0
        counts["strategy_switches"] += switches
        counts["plan_revisions"] += max(0, len(arc.plan_versions) - 1)
        counts["termination_sessions"] += sum(s.termination for s in arc.sessions)
        counts["exit_measurements"] += arc.exit_measurement is not None
        counts["follow_ups"] += arc.follow_up is not None
    return counts


def session_strategy(arc: ArcRecord, session: SessionRecord) -> str:
    """The strategy the counselor used in `session` (the arc's for older records)."""
    return session.strategy or arc.strategy


def plan_in_force(arc: ArcRecord, session_index: int) -> TreatmentPlan:
    """The plan the counselor saw in session `session_index`: the last version written before it."""
    versions = [v for v in arc.plan_versions if v.after_session < session_index]
    return versions[-1].plan if versions else arc.plan
