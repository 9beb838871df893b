"""Rules no model may break (`enforce`) and the plan's stage ranges (`fit_stages`). The seeded
week is the director's: see test_director.py."""

from __future__ import annotations

from typing import Any

import pytest

from muspsy.agents.outputs import DecisionOutput
from muspsy.agents.plan_rules import fit_stages
from muspsy.agents.supervisor import Course, enforce
from muspsy.graphs.state import Limits
from muspsy.records import ArcDecision, PlanStage, TreatmentPlan

pytestmark = pytest.mark.unit

CATALOG = ["cbt", "motivational_interviewing", "person_centred"]


def limits(sessions_min: int = 3, sessions_max: int = 6) -> Limits:
    return {"sessions_min": sessions_min, "sessions_max": sessions_max, "turns_min": 6, "turns_max": 20}


def proposal(action: str, rationale: str = "The supervisor's reasons.", **fields: Any) -> DecisionOutput:
    reply = {
        "goal_review": [{"goal": 1, "attainment": "some"}],
        "score_trend": "not_measured",
        "action": action,
        "strategy": "none",
        "ending_in": 0,
        "referral_cue": "none",
        "rationale": rationale,
        **fields,
    }
    return DecisionOutput.model_validate(reply)


def course(**fields: Any) -> Course:
    return Course(**{"strategy": "cbt", "catalog": CATALOG, "goals": ["Sleep better", "Worry less"], **fields})


# --- the session limits --------------------------------------------------------------------


@pytest.mark.parametrize("completed", [6, 7])
def test_continue_at_sessions_max_ends_with_max_sessions(completed: int) -> None:
    decision = enforce(proposal("continue"), completed=completed, limits=limits(sessions_max=6), disposition=None)
    assert decision.action == "end"
    assert decision.end_reason == "max_sessions"
    assert decision.overridden_by is not None and "sessions_max" in decision.overridden_by
    assert decision.proposed_action == "continue"
    assert decision.proposed_end_reason is None


def test_continue_below_sessions_max_stands() -> None:
    decision = enforce(proposal("continue"), completed=4, limits=limits(sessions_max=6), disposition=None)
    assert isinstance(decision, ArcDecision)
    assert (decision.action, decision.applied, decision.end_reason, decision.overridden_by) == (
        "continue",
        "continue",
        None,
        None,
    )


def test_the_session_before_sessions_max_schedules_the_termination_session() -> None:
    decision = enforce(proposal("continue"), completed=5, limits=limits(sessions_max=6), disposition=None)
    assert (decision.action, decision.ending_at) == ("continue", 6)
    assert decision.overridden_by is not None and "termination session" in decision.overridden_by


def test_after_the_termination_session_the_arc_ends_with_the_scheduled_reason() -> None:
    ending = {"at": 4, "reason": "goals_met"}
    decision = enforce(proposal("continue"), 4, limits(), disposition=None, course=course(ending=ending))
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("end", "goals_met", None)
    switch = proposal("switch_strategy", strategy="person_centred")
    switched = enforce(switch, 4, limits(), None, course(ending=ending))
    assert switched.action == "end" and switched.strategy is None
    assert switched.overridden_by and "termination session" in switched.overridden_by


# --- the proposals ---------------------------------------------------------------------------


SAID = [
    {"speaker": "counselor", "text": "What brings you here?"},
    {"speaker": "client", "text": "I haven't eaten properly in weeks, and I make myself sick after meals."},
]


def test_a_referral_quoting_the_client_ends_the_arc_even_before_sessions_min() -> None:
    refer = proposal("refer", referral_cue="  I make myself  SICK after meals ")
    decision = enforce(refer, completed=1, limits=limits(sessions_min=3), disposition=None, course=course(turns=SAID))
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("end", "referral", None)
    assert decision.proposed_end_reason == "referral"
    assert decision.referral_cue == "I make myself SICK after meals"


@pytest.mark.parametrize("cue", ["none", "sick", "she purges after every meal", "What brings you here"])
def test_a_referral_that_quotes_nothing_the_client_said_is_refused(cue: str) -> None:
    refer = proposal("refer", referral_cue=cue)
    decision = enforce(refer, completed=1, limits=limits(sessions_min=3), disposition=None, course=course(turns=SAID))
    assert (decision.action, decision.applied, decision.end_reason, decision.referral_cue) == (
        "continue",
        "continue",
        None,
        None,
    )
    assert decision.proposed_action == "refer"
    assert decision.overridden_by and "quotes nothing the client said" in decision.overridden_by


def test_an_ungrounded_referral_after_the_termination_session_ends_with_the_scheduled_reason() -> None:
    ending = {"at": 4, "reason": "goals_met"}
    for cue, reason in (("none", "goals_met"), ("make myself sick", "referral")):
        refer = proposal("refer", referral_cue=cue)
        decision = enforce(refer, 4, limits(), None, course(ending=ending, turns=SAID))
        assert (decision.action, decision.end_reason) == ("end", reason)


@pytest.mark.parametrize(
    ("completed", "ending_in", "at", "rule"),
    [(3, 1, 4, None), (3, 2, 5, None), (1, 1, 3, "sessions_min"), (4, 5, 6, "sessions_max"), (3, 0, 4, "next")],
)
def test_a_scheduled_ending_stays_within_the_limits(completed: int, ending_in: int, at: int, rule: str | None) -> None:
    decision = enforce(proposal("schedule_ending", ending_in=ending_in), completed, limits(3, 6), disposition=None)
    assert (decision.action, decision.applied, decision.ending_in, decision.ending_at) == (
        "continue",
        "schedule_ending",
        ending_in,
        at,
    )
    if rule is None:
        assert decision.overridden_by is None
    else:
        assert decision.overridden_by is not None and rule in decision.overridden_by


def test_a_switch_needs_adaptive() -> None:
    decision = enforce(proposal("switch_strategy", strategy="person_centred"), 2, limits(), None, course())
    assert (decision.applied, decision.strategy, decision.proposed_strategy) == ("continue", None, "person_centred")
    assert decision.overridden_by is not None and "adaptive off" in decision.overridden_by


def test_an_adaptive_switch_to_a_known_strategy_is_applied() -> None:
    switch = proposal("switch_strategy", strategy="person_centred")
    decision = enforce(switch, 2, limits(), None, course(adaptive=True))
    assert (decision.action, decision.applied, decision.strategy, decision.overridden_by) == (
        "continue",
        "switch_strategy",
        "person_centred",
        None,
    )


def test_no_switch_into_the_termination_session() -> None:
    switch = proposal("switch_strategy", strategy="person_centred")
    decision = enforce(switch, 5, limits(3, 6), None, course(adaptive=True))
    assert (decision.applied, decision.strategy, decision.ending_at) == ("continue", None, 6)
    assert decision.overridden_by is not None and "is the termination session" in decision.overridden_by


@pytest.mark.parametrize(("target", "why"), [("gestalt", "not a strategy of this run"), ("cbt", "already")])
def test_a_switch_to_an_unknown_or_the_same_strategy_is_refused(target: str, why: str) -> None:
    decision = enforce(proposal("switch_strategy", strategy=target), 2, limits(), None, course(adaptive=True))
    assert decision.applied == "continue" and decision.strategy is None
    assert decision.overridden_by is not None and why in decision.overridden_by


def test_the_goal_review_names_the_plan_goals_and_drops_unknown_numbers() -> None:
    review = [{"goal": 2, "attainment": "met"}, {"goal": 1, "attainment": "some"}, {"goal": 4, "attainment": "met"}]
    decision = enforce(proposal("continue", goal_review=review), 2, limits(), None, course())
    assert [(g.goal, g.attainment) for g in decision.goal_review] == [("Sleep better", "some"), ("Worry less", "met")]


# --- the crisis rule -------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "completed"), [("continue", 1), ("schedule_ending", 1), ("refer", 4)])
@pytest.mark.parametrize(("disposition", "ending"), [("emergency", "crisis"), ("urgent_referral", "referral")])
def test_a_crisis_disposition_ends_the_arc_even_before_sessions_min(
    action: str, completed: int, disposition: str, ending: str
) -> None:
    decision = enforce(proposal(action, ending_in=1), completed=completed, limits=limits(3, 6), disposition=disposition)
    assert (decision.action, decision.end_reason) == ("end", ending)
    assert decision.overridden_by is not None and "crisis rule" in decision.overridden_by


def test_continuing_with_a_safety_plan_follows_the_session_limits() -> None:
    decision = enforce(proposal("continue"), completed=1, limits=limits(3, 6), disposition="continue_with_safety_plan")
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("continue", None, None)


# --- plan stages within the session limit ----------------------------------------------------


def plan(*ranges: str) -> TreatmentPlan:
    stages = [PlanStage(name=f"stage {n}", sessions=r, focus="work") for n, r in enumerate(ranges, start=1)]
    return TreatmentPlan(case_conceptualization="c", goals=["g"], stages=stages, first_session_goal="f")


def test_stage_ranges_are_fitted_to_sessions_max() -> None:
    fitted, notes = fit_stages(plan("1-2", "3-5", "6-8"), sessions_max=4)
    assert [s.sessions for s in fitted.stages] == ["1-2", "3-4"]
    assert len(notes) == 2 and "cut to 3-4" in notes[0] and "dropped" in notes[1]


def test_stage_ranges_within_the_limit_are_kept_and_unreadable_ones_noted() -> None:
    fitted, notes = fit_stages(plan("1", "2 to 3", "later"), sessions_max=6)
    assert [s.sessions for s in fitted.stages] == ["1", "2-3", "later"]
    assert len(notes) == 1 and "not N or N-M" in notes[0]


def test_a_plan_keeps_its_first_stage() -> None:
    fitted, _ = fit_stages(plan("5-6"), sessions_max=2)
    assert [s.sessions for s in fitted.stages] == ["2"]
