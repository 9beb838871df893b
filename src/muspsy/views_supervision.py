"""What the clinical supervisor sees when it reviews the course after a session and when it
revises the plan (counselor side of the one-way mirror, like `muspsy.views`): the plan with
numbered goals, its own memories with their ratings, the risk the counselor noticed, the
questionnaire scores only with measurement-based care, the strategies used so far, those it may
switch to when the run is adaptive, and the scheduled ending. And what the client (simulation
side) is asked at the exit and follow-up measurements."""

from __future__ import annotations

from collections.abc import Sequence

from muspsy.agents.plan_rules import next_stage_text
from muspsy.graphs.state import ArcState
from muspsy.records import TreatmentPlan
from muspsy.views import _memos, memories_text, plan_text, supervisor_decide


def numbered_goals(plan: TreatmentPlan) -> str:
    return "\n".join(f"{n}. {goal}" for n, goal in enumerate(plan.goals, start=1))


def _ending_text(state: ArcState) -> str:
    completed = len(state["sessions"])
    at = (state.get("ending") or {}).get("at")
    if at is None:
        return "No ending is scheduled yet."
    if at <= completed:
        return f"Session {at} was the termination session: the course ends now whatever you propose."
    return f"The ending is scheduled: session {at} will be the termination session."


def _switch_text(state: ArcState, catalog: Sequence[str]) -> str:
    others = [name for name in catalog if name != state["strategy"]]
    if not state.get("adaptive") or not others:
        return "Switching approach is not possible in this course: do not propose switch_strategy."
    return f"{_used_text(state)} Approaches you may switch to (use the name): {', '.join(others)}."


def strategy_runs(state: ArcState) -> list[tuple[str, int, int]]:
    """The strategies used so far, as (name, first session, last session) runs in order."""
    runs: list[tuple[str, int, int]] = []
    for session in state["sessions"]:
        name = session.get("strategy") or state["strategy"]
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1], session["index"])
        else:
            runs.append((name, session["index"], session["index"]))
    return runs


def _used_text(state: ArcState) -> str:
    runs = strategy_runs(state)
    parts = [f"{name} in sessions {a}-{b}" if b > a else f"{name} in session {a}" for name, a, b in runs]
    return "Approaches used so far: " + ", ".join(parts) + "." if parts else ""


def _since(state: ArcState) -> int:
    """The first session of the current strategy's run of sessions."""
    runs = strategy_runs(state)
    return runs[-1][1] if runs and runs[-1][0] == state["strategy"] else len(state["sessions"]) + 1


def supervisor_review(state: ArcState, catalog: Sequence[str]) -> dict[str, str]:
    plan = TreatmentPlan.model_validate(state["plan"])
    return {
        **supervisor_decide(state),
        "goals": numbered_goals(plan),
        "strategy": f"{state['strategy']}, since session {_since(state)}",
        "switch": _switch_text(state, catalog),
        "ending": _ending_text(state),
        "next_stage": next_stage_text(plan, len(state["sessions"]) + 1),
    }


def client_self_report_exit(state: ArcState, weeks: int, purpose: str, questionnaires: str) -> dict[str, str]:
    """After the course (simulation side): the client answers from its persona and its state
    `weeks` after the last session (in the system prompt)."""
    return {
        "name": state["profile"]["name"],
        "weeks": "one week" if weeks == 1 else f"{weeks} weeks",
        "purpose": purpose,
        "questionnaires": questionnaires,
    }


def supervisor_revise(state: ArcState) -> dict[str, str]:
    decision = state["sessions"][-1].get("decision") or {}
    limits = state["limits"]
    return {
        "plan": plan_text(TreatmentPlan.model_validate(state["plan"])),
        "memos": memories_text(_memos(state), ratings=True),
        "completed": str(len(state["sessions"])),
        "sessions": f"between {limits['sessions_min']} and {limits['sessions_max']}",
        "reason": decision.get("rationale", ""),
    }
