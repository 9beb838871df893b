"""Rules code applies to the clinical supervisor's treatment plans: stage ranges within the
session limit, and the plan versions an arc keeps (the intake plan first, then revisions)."""

from __future__ import annotations

import re
from typing import Any

from muspsy.records import PlanStage, PlanVersion, TreatmentPlan

RANGE = re.compile(r"^\s*(\d+)\s*(?:(?:-|\u2013|to)\s*(\d+))?\s*$")  # 1-2, 1\u20132 (en dash), 1 to 2


def fit_stages(plan: TreatmentPlan, sessions_max: int) -> tuple[TreatmentPlan, list[str]]:
    """The plan with every stage's session range inside 1..sessions_max, and a note per change.

    A stage that starts after the last allowed session is dropped (the first stage is kept,
    clipped, so a plan always has one); a range that runs past it is cut there; a range that is
    not `N` or `N-M` is kept as written and noted, since code cannot check it.
    """
    stages: list[PlanStage] = []
    notes: list[str] = []
    for stage in plan.stages:
        match = RANGE.match(stage.sessions)
        if match is None:
            notes.append(f"stage {stage.name!r}: session range {stage.sessions!r} is not N or N-M; kept unchecked")
            stages.append(stage)
            continue
        first = max(1, int(match.group(1)))
        last = max(first, int(match.group(2) or first))
        if first > sessions_max and stages:
            notes.append(f"stage {stage.name!r} (sessions {stage.sessions}) dropped: sessions_max is {sessions_max}")
            continue
        first, last = min(first, sessions_max), min(last, sessions_max)
        fitted = f"{first}-{last}" if last > first else str(first)
        if last < int(match.group(2) or match.group(1)):
            notes.append(
                f"stage {stage.name!r}: sessions {stage.sessions} cut to {fitted} (sessions_max {sessions_max})"
            )
        stages.append(stage.model_copy(update={"sessions": fitted}))
    return plan.model_copy(update={"stages": stages}), notes


def plan_version(plan: TreatmentPlan, after_session: int, reason: str) -> dict[str, Any]:
    return PlanVersion(after_session=after_session, reason=reason, plan=plan).model_dump()


def next_stage_text(plan: TreatmentPlan, upcoming: int) -> str:
    """Where session `upcoming` falls in the plan, for the prompts that set its goal."""
    stage = stage_of(plan, upcoming)
    if stage is None:
        return f"Session {upcoming} falls in no stage of the plan."
    return f"Session {upcoming} falls in the plan's stage {stage.name!r}: {stage.focus}"


def stage_of(plan: TreatmentPlan, session: int) -> PlanStage | None:
    """The plan stage whose range holds `session` (ranges code could not read hold none)."""
    for stage in plan.stages:
        match = RANGE.match(stage.sessions)
        if match and int(match.group(1)) <= session <= int(match.group(2) or match.group(1)):
            return stage
    return None
