"""Who sees what in the crisis protocol: pure functions from the arc state to template variables.

Counselor side only. What they show is the counselor's own work: the risk it noticed in the
client's words (`assessed_risk`), its structured risk assessment, the safety plan it agreed with
the client and the disposition code set from that assessment. Never the client's risk label,
its current risk level or its risk notes (simulation side; `tests/test_canaries.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from muspsy import views  # a module reference: views imports this module for its crisis parts
from muspsy.crisis import CrisisProtocol, steps_missing, still_to_ask
from muspsy.graphs.state import ArcState
from muspsy.records import SAFETY_PLAN_STEPS, SCREENER_ITEMS, TURN_RISK_SEVERITY, RiskAssessment, SafetyPlan

STEP_TITLES = {
    "warning_signs": "Warning signs",
    "internal_coping": "Things I can do on my own",
    "distraction": "People and places that take my mind off it",
    "help_contacts": "People I can ask for help",
    "professionals": "Professionals and crisis lines",
    "means_restriction": "Making my surroundings safe",
}
ITEM_TITLES = {
    "wish_to_be_dead": "wish to be dead",
    "active_ideation": "thoughts of killing themselves",
    "method": "thought of a method",
    "intent": "intent to act",
    "plan": "a worked-out plan",
    "preparatory_behavior": "preparatory behaviour",
}


def _plan(value: dict[str, Any] | None) -> SafetyPlan | None:
    return SafetyPlan.model_validate(value) if value else None


def _assessment(value: dict[str, Any] | None) -> RiskAssessment | None:
    return RiskAssessment.model_validate(value) if value else None


def safety_plan_text(plan: SafetyPlan | None) -> str:
    """The plan step by step, as the counselor and the transcript show it."""
    if plan is None:
        return "(no safety plan yet)"
    return "\n".join(
        f"- {STEP_TITLES[step]}: {'; '.join(getattr(plan, step)) or '(not yet agreed)'}" for step in SAFETY_PLAN_STEPS
    )


def assessment_text(assessment: RiskAssessment | None) -> str:
    if assessment is None:
        return "(not assessed)"
    found = [f"{ITEM_TITLES[item]}: {getattr(assessment, item)}" for item in SCREENER_ITEMS]
    concerns = ", ".join(c.replace("_", " ") for c in assessment.other_concerns) or "none"
    return (
        f"{'; '.join(found)}; last time: {assessment.recency.replace('_', ' ')}; other concerns: {concerns}"
        f" ({'complete' if assessment.complete else 'incomplete'})"
    )


# --- the counselor ----------------------------------------------------------------------------


def counselor_safety_plan(state: ArcState) -> str:
    """For the counselor's system prompt: the safety plan agreed in an earlier session."""
    plan = _plan(state.get("safety_plan"))
    if plan is None:
        return ""
    return (
        f"Safety plan agreed with the client (session {plan.session}); go back to it whenever risk comes up:\n"
        f"{safety_plan_text(plan)}\n\n"
    )


def opening_risk_check(state: ArcState) -> str:
    """The risk check that opens every session after one with a safety plan, before homework."""
    plan = _plan(state.get("safety_plan"))
    if plan is None:
        return ""
    return (
        "Risk check first, before the homework: ask directly whether thoughts of suicide or self-harm have come "
        "back since you last met and how strong they have been, then go through the safety plan with them (did "
        "they use it, does each step still fit):\n"
        f"{safety_plan_text(plan)}\n\n"
    )


def _most_noticed(session: Mapping[str, Any]) -> str:
    """The most severe risk the counselor noticed so far this session."""
    noticed = [t["assessed_risk"] for t in session["turns"] if TURN_RISK_SEVERITY.get(t.get("assessed_risk") or "none")]
    return max(noticed, key=TURN_RISK_SEVERITY.__getitem__) if noticed else "risk"


def crisis_screen(state: ArcState, protocol: CrisisProtocol, recent_turns: int) -> dict[str, str]:
    session = state["session"]
    assessment = _assessment(session.get("risk_assessment"))
    missing = still_to_ask(assessment or RiskAssessment())
    asks = {i.item: i.ask for i in protocol.screener} | {"recency": "when the last such thought or act was"}
    return {
        "position": views.position(session),
        "noticed": _most_noticed(session).replace("_", " "),
        "known": assessment_text(assessment),
        "to_ask": views.bullets(asks[item] for item in missing),
        "dialogue": views.dialogue(session["turns"], recent_turns),
    }


def crisis_safety_plan(state: ArcState, protocol: CrisisProtocol, recent_turns: int) -> dict[str, str]:
    session = state["session"]
    plan = _plan(session.get("safety_plan"))
    asks = {s.step: s.ask for s in protocol.safety_plan}
    missing = steps_missing(plan)
    reviewing = plan is not None and session.get("safety_plan_reviewed") is not None
    return {
        "position": views.position(session),
        "plan": safety_plan_text(plan),
        "steps": views.bullets(f"{STEP_TITLES[s]}: {asks[s]}" for s in missing)
        if missing
        else "(every step has an entry: go over the plan and change what no longer fits)",
        "review": "You made this plan together in an earlier session: review it, step by step, with what the "
        "client says now."
        if reviewing
        else "Build the plan together, one or two steps per turn, in the client's own words.",
        "dialogue": views.dialogue(session["turns"], recent_turns),
    }


def crisis_action(state: ArcState, protocol: CrisisProtocol, recent_turns: int) -> dict[str, str]:
    session = state["session"]
    chosen = session.get("disposition") or "continue_with_safety_plan"
    return {
        "position": views.position(session),
        "disposition": chosen.replace("_", " "),
        "action": protocol.dispositions[chosen].action,
        "dialogue": views.dialogue(session["turns"], recent_turns),
    }


def closing_safety_note(state: ArcState) -> str:
    """The close's reminder when the counselor noticed risk this session."""
    session = state["session"]
    if not session["crisis"]:
        return ""
    chosen = session.get("disposition")
    if chosen in ("urgent_referral", "emergency"):
        return (
            f"The crisis protocol ended in {chosen.replace('_', ' ')}: counseling stops here. Close by going over "
            "the next steps you agreed and the crisis line; do not set ordinary homework beyond keeping safe."
        )
    return (
        "You noticed risk in what the client said this session: before saying goodbye, make sure the safety plan "
        "and crisis contacts are clear, and that the next session starts with how they have been."
    )


# --- the clinical supervisor ------------------------------------------------------------------


def supervisor_crisis(session: Mapping[str, Any]) -> str:
    """The crisis protocol of one session as the clinical supervisor sees it (counselor side)."""
    assessment = _assessment(session.get("risk_assessment"))
    if assessment is None:
        return "Crisis protocol: not run this session."
    chosen = session.get("disposition") or "none"
    return (
        f"Crisis protocol this session. Risk assessment: {assessment_text(assessment)}.\n"
        f"Disposition (set by the rules from the assessment): {chosen.replace('_', ' ')}.\n"
        f"Safety plan:\n{safety_plan_text(_plan(session.get('safety_plan')))}"
    )
