"""Rules no model may break (`enforce`). The seeded week is the director's: see test_director.py."""

from __future__ import annotations

import pytest

from muspsy.agents.outputs import DecisionOutput
from muspsy.agents.supervisor import enforce
from muspsy.graphs.state import Limits
from muspsy.records import ArcDecision

pytestmark = pytest.mark.unit


def limits(sessions_min: int = 3, sessions_max: int = 6) -> Limits:
    return {"sessions_min": sessions_min, "sessions_max": sessions_max, "turns_min": 6, "turns_max": 20}


def proposal(action: str, end_reason: str = "none", rationale: str = "The supervisor's reasons.") -> DecisionOutput:
    return DecisionOutput.model_validate({"action": action, "end_reason": end_reason, "rationale": rationale})


# --- enforce -------------------------------------------------------------------------------


def test_end_before_sessions_min_is_overridden_to_continue() -> None:
    decision = enforce(proposal("end", "goals_met"), completed=1, limits=limits(sessions_min=3), disposition=None)
    assert isinstance(decision, ArcDecision)
    assert decision.action == "continue"
    assert decision.end_reason is None
    assert decision.overridden_by is not None and "sessions_min" in decision.overridden_by
    # What the supervisor proposed is kept for the record.
    assert decision.proposed_action == "end"
    assert decision.proposed_end_reason == "goals_met"
    assert decision.rationale == "The supervisor's reasons."


def test_end_once_sessions_min_is_reached_stands() -> None:
    decision = enforce(proposal("end", "referral"), completed=3, limits=limits(sessions_min=3), disposition=None)
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("end", "referral", None)


@pytest.mark.parametrize("completed", [6, 7])
def test_continue_at_sessions_max_ends_with_max_sessions(completed: int) -> None:
    decision = enforce(proposal("continue"), completed=completed, limits=limits(sessions_max=6), disposition=None)
    assert decision.action == "end"
    assert decision.end_reason == "max_sessions"
    assert decision.overridden_by is not None and "sessions_max" in decision.overridden_by
    assert decision.proposed_action == "continue"
    assert decision.proposed_end_reason is None


def test_continue_below_sessions_max_stands() -> None:
    decision = enforce(proposal("continue"), completed=5, limits=limits(sessions_max=6), disposition=None)
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("continue", None, None)


@pytest.mark.parametrize(
    ("action", "reason", "completed"),
    [("continue", "none", 1), ("end", "goals_met", 1), ("continue", "none", 6), ("end", "referral", 4)],
)
@pytest.mark.parametrize(("disposition", "ending"), [("emergency", "crisis"), ("urgent_referral", "referral")])
def test_a_crisis_disposition_ends_the_arc_even_before_sessions_min(
    action: str, reason: str, completed: int, disposition: str, ending: str
) -> None:
    decision = enforce(proposal(action, reason), completed=completed, limits=limits(3, 6), disposition=disposition)
    assert decision.action == "end"
    assert decision.end_reason == ending
    if (action, reason) != ("end", ending):
        assert decision.overridden_by is not None and "crisis rule" in decision.overridden_by


def test_crisis_proposed_on_an_emergency_is_not_an_override() -> None:
    decision = enforce(proposal("end", "crisis"), completed=1, limits=limits(3, 6), disposition="emergency")
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("end", "crisis", None)


def test_continuing_with_a_safety_plan_follows_the_session_limits() -> None:
    decision = enforce(proposal("continue"), completed=1, limits=limits(3, 6), disposition="continue_with_safety_plan")
    assert (decision.action, decision.end_reason, decision.overridden_by) == ("continue", None, None)


def test_end_without_a_reason_means_goals_met() -> None:
    decision = enforce(proposal("end", "none"), completed=4, limits=limits(3, 6), disposition=None)
    assert decision.action == "end"
    assert decision.end_reason == "goals_met"
    assert decision.proposed_end_reason is None
    assert decision.overridden_by is None


def test_plain_continue_stays_continue() -> None:
    decision = enforce(proposal("continue"), completed=2, limits=limits(3, 6), disposition=None)
    assert decision.action == "continue"
    assert decision.end_reason is None
    assert decision.overridden_by is None


def test_continue_with_a_stray_reason_drops_it() -> None:
    decision = enforce(proposal("continue", "goals_met"), completed=2, limits=limits(3, 6), disposition=None)
    assert decision.action == "continue"
    assert decision.end_reason is None
    assert decision.overridden_by is None
