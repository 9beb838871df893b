"""The arc's graph state. Values are plain JSON-able dicts and lists so any checkpointer can
store them; nodes convert to and from the typed records in `muspsy.records`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired

# typing_extensions' TypedDict: pydantic (which LangGraph Studio uses to publish the input and
# output schemas) cannot read `typing.TypedDict` before Python 3.12.
from typing_extensions import TypedDict


def add_usage(
    left: Mapping[str, Mapping[str, float]], right: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Per-role usage counters added up.

    Not a LangGraph reducer on purpose: the session subgraph hands its whole state back to the
    arc graph, so a reducer would count the session's usage twice. Nodes store the new total.
    """
    merged = {role: dict(counts) for role, counts in (left or {}).items()}
    for role, counts in (right or {}).items():
        target = merged.setdefault(role, {})
        for key, value in counts.items():
            target[key] = target.get(key, 0) + value
    return merged


class Limits(TypedDict):
    sessions_min: int
    sessions_max: int
    turns_min: int
    turns_max: int


class CrisisFields(TypedDict, total=False):
    """The crisis protocol's part of the current session (counselor side; absent in sessions
    checkpointed before the protocol had it). Records as in `muspsy.records`, dumped."""

    risk_assessment: dict[str, Any] | None  # RiskAssessment: what the counselor learned by asking
    safety_plan: dict[str, Any] | None  # SafetyPlan: as agreed so far this session
    disposition: str | None  # set by code from the assessment (`muspsy.crisis.disposition`)
    safety_plan_reviewed: dict[str, Any] | None  # the earlier plan the opening went over
    protocol_runs: int  # how often the protocol started this session
    protocol_turns: int  # counselor turns of the current protocol step


class CurrentSession(CrisisFields):
    index: int
    goal: str
    client_state: dict[str, Any]
    homework_reviewed: list[str]
    turns: list[dict[str, Any]]
    ready_to_close: bool
    crisis: bool  # the counselor noticed risk in this session (its own assessment)
    homework_given: list[str]
    # Adaptive supervision and the ending; absent in states checkpointed before them.
    strategy: NotRequired[str]  # the strategy the counselor uses in this session
    termination: NotRequired[bool]  # the scheduled last session: review, relapse prevention, no homework
    relapse_prevention: NotRequired[list[str]]


class SessionState(TypedDict, total=False):
    """What the session subgraph works on: no finished transcripts, only their `history`.

    Every turn is a checkpoint, and the SQLite saver writes the whole state each time; keeping
    earlier sessions' dialogue out of it keeps a turn's cost flat however long the arc runs.
    """

    # Set once, at the start of the arc.
    run_id: str
    arc_id: str
    seed: int
    strategy: str
    language: str
    profile: dict[str, Any]
    limits: Limits
    outcomes: bool  # the client fills in PHQ-9, GAD-7 (session start) and WAI-SR (session end)
    measurement_based_care: bool  # the clinical supervisor sees the questionnaire scores
    adaptive: bool  # the clinical supervisor may switch the strategy between sessions
    assigned_strategy: str  # the arc's strategy as planned; `strategy` is the current one
    follow_up_weeks: int  # a follow-up PHQ-9 and GAD-7 this many weeks after the exit; 0: none
    # Written as the arc goes.
    plan: dict[str, Any]  # the plan in force
    plan_versions: list[dict[str, Any]]  # every version, the intake plan first
    ending: dict[str, Any]  # the scheduled ending: {"at": session index, "reason": end reason}
    client_state: dict[str, Any]
    client_memories: list[str]
    next_goal: str
    history: list[dict[str, Any]]  # compact finished sessions: index, memo, homework given
    session: CurrentSession
    # The current session's client reports: questionnaire scores by instrument, and the
    # client's `appraisal` of the session (simulation side).
    reports: dict[str, Any]
    disclosures: list[dict[str, Any]]  # the disclosure ledger: {fact, session, turn}, first disclosures
    safety_plan: dict[str, Any] | None  # the latest safety plan agreed with the client (counselor side)
    usage: dict[str, dict[str, float]]


class ArcState(SessionState, total=False):
    """The arc graph's state: the session state plus whole finished sessions and the outcome."""

    sessions: list[dict[str, Any]]
    outcome: dict[str, Any]
    exit_measurement: dict[str, Any]
    follow_up: dict[str, Any]
