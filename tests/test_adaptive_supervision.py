"""Adaptive supervision and a real ending, on whole scripted arcs: a strategy switch under the
`adaptive` switch (and none without it), plan revisions, a scheduled ending with a termination
session and an exit measurement, a follow-up, and a referral before `sessions_min`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from conftest import overriding
from muspsy.agents.spec import load_strategy
from muspsy.config import Limits
from muspsy.course import plan_in_force, session_strategy, strategy_switches
from muspsy.evaluation.compare import arc_measures
from muspsy.llm import RoleModel
from muspsy.records import ArcRecord, ClientProfile
from muspsy.simulate import simulate_arc
from muspsy.testing import ScriptedChatModel, default_responder, scripted_models
from muspsy.testing.scripted_crisis import RISK_CHECK
from muspsy.views import strategy_text

pytestmark = pytest.mark.graph

MI = "motivational_interviewing"
SMALL = {"sessions_min": 2, "sessions_max": 4, "turns_min": 5, "turns_max": 9}


async def run(
    profile: ClientProfile, responder: Any = default_responder, **options: Any
) -> tuple[ArcRecord, dict[str, RoleModel]]:
    models = scripted_models(responder)
    limits = Limits(**{**SMALL, **options.pop("limits", {})})
    record = await simulate_arc(profile, models, limits=limits, **options)
    return record, models


def calls(models: dict[str, RoleModel], role: str) -> list[tuple[str, list[BaseMessage]]]:
    model = models[role].chat
    assert isinstance(model, ScriptedChatModel)
    return model.calls


def in_session(messages: Sequence[BaseMessage], index: int) -> bool:
    return f"Session {index}, turn" in str(messages[-1].content)


async def test_an_adaptive_arc_switches_strategy_and_the_next_session_uses_it(profile):
    # Ryan responds poorly to CBT: its recollection of session 1 says so, it says so at the start
    # of session 2, the memo rates no progress, and the review switches to the first approach offered.
    record, models = await run(profile("ryan-drinking-ambivalent"), strategy="cbt", adaptive=True)
    assert record.strategy == "cbt"  # the arm as planned
    assert [s.strategy for s in record.sessions] == ["cbt", "cbt", MI, MI]
    decision = record.sessions[1].decision
    assert decision is not None
    assert (decision.proposed_action, decision.applied, decision.strategy) == ("switch_strategy", "switch_strategy", MI)
    assert "No progress" in decision.rationale and decision.overridden_by is None
    assert record.sessions[1].memo.progress == "no_change"  # the evidence it saw
    assert strategy_switches(record) == 1
    # The counselor's prompts of session 3 hold the new strategy and no longer the old one.
    third = [messages for schema, messages in calls(models, "counselor") if in_session(messages, 3)]
    assert third
    for messages in third:
        system = str(messages[0].content)
        assert strategy_text(load_strategy(MI)) in system
        assert strategy_text(load_strategy("cbt")) not in system
    # ... and so does the clinical supervisor's review of it.
    reviews = [m for schema, m in calls(models, "supervisor") if schema == "DecisionOutput"]
    assert strategy_text(load_strategy(MI)) in str(reviews[2][0].content)


async def test_without_adaptive_no_arc_switches_and_a_proposed_switch_is_refused(profile):
    ryan = profile("ryan-drinking-ambivalent")
    record, models = await run(ryan, strategy="cbt")
    assert {s.strategy for s in record.sessions} == {"cbt"}
    review = next(m for schema, m in calls(models, "supervisor") if schema == "DecisionOutput")
    assert "Switching approach is not possible" in str(review[-1].content)

    def insists(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        reply = default_responder("DecisionOutput", messages)
        assert isinstance(reply, dict)
        return {**reply, "action": "switch_strategy", "strategy": MI, "rationale": "Try motivational work."}

    forced, _ = await run(ryan, overriding(DecisionOutput=insists), strategy="cbt")
    assert {s.strategy for s in forced.sessions} == {"cbt"}
    first = forced.sessions[0].decision
    assert first is not None and first.applied == "continue" and first.strategy is None
    assert first.overridden_by and "adaptive off" in first.overridden_by


async def test_paired_arcs_stay_paired_without_adaptive(profile):
    ryan = profile("ryan-drinking-ambivalent")
    cbt, _ = await run(ryan, strategy="cbt")
    mi, _ = await run(ryan, strategy="mi")
    assert {s.strategy for s in cbt.sessions} == {"cbt"} and {s.strategy for s in mi.sessions} == {MI}
    assert cbt.sessions[0].client_state == mi.sessions[0].client_state
    assert cbt.profile == mi.profile


async def test_a_scheduled_ending_gives_a_termination_session_without_homework_and_an_exit_measurement(profile):
    record, models = await run(profile("hannah-work-anxiety"), strategy="cbt", limits={"sessions_max": 6})
    assert [s.termination for s in record.sessions] == [False, False, False, True]
    scheduled = record.sessions[2].decision
    assert scheduled is not None and (scheduled.applied, scheduled.ending_in, scheduled.ending_at) == (
        "schedule_ending",
        1,
        4,
    )
    last = record.sessions[-1]
    assert last.homework_given == [] and last.relapse_prevention
    assert all(s.homework_given for s in record.sessions[:-1])
    assert last.goal.startswith("Termination session")
    assert record.outcome.end_reason == "goals_met" and record.outcome.sessions == 4
    # The termination close asks for no homework; earlier closes do.
    ends = ("ClosingOutput", "TerminationOutput")
    closes = [(schema, m) for schema, m in calls(models, "counselor") if schema in ends]
    assert [schema for schema, _ in closes] == ["ClosingOutput"] * 3 + ["TerminationOutput"]
    assert "Give no new homework" in str(closes[-1][1][-1].content)
    memos = [m for schema, m in calls(models, "supervisor") if schema == "MemoOutput"]
    assert "Session 2 falls in the plan's stage 'Assessment'" in str(memos[0][-1].content)  # the next goal follows it
    opening = next(m for schema, m in calls(models, "counselor") if schema == "OpeningOutput" and in_session(m, 4))
    assert "last session of the course" in str(opening[-1].content)
    # The exit measurement: PHQ-9 and GAD-7 once more after the last session, a week on.
    exit_point = record.exit_measurement
    assert exit_point is not None and exit_point.point == "exit" and exit_point.weeks_after_last_session == 1
    assert len(exit_point.phq9.items) == 9 and len(exit_point.gad7.items) == 7
    assert record.follow_up is None
    first = record.sessions[0].phq9
    assert first is not None
    measures = arc_measures(record, None)
    assert measures["phq9_pre_post"] == exit_point.phq9.total - first.total
    assert measures["termination_session"] == 1.0


async def test_the_last_allowed_session_is_a_termination_session(profile):
    record, _ = await run(profile("hannah-work-anxiety"), limits={"sessions_max": 2})
    assert [s.termination for s in record.sessions] == [False, True]
    first = record.sessions[0].decision
    assert first is not None and first.ending_at == 2
    assert first.overridden_by and "sessions_max" in first.overridden_by
    assert record.outcome.end_reason == "max_sessions"
    assert record.exit_measurement is not None


async def test_a_follow_up_comes_weeks_after_the_exit(profile):
    record, models = await run(profile("hannah-work-anxiety"), limits={"sessions_max": 2}, follow_up_weeks=4)
    assert record.exit_measurement is not None and record.follow_up is not None
    assert record.follow_up.point == "follow_up" and record.follow_up.weeks_after_last_session == 5
    exits = [m for schema, m in calls(models, "client") if schema == "SymptomQuestionnairesOutput"]
    assert "5 weeks ago" in str(exits[-1][-1].content) and "one week ago" in str(exits[-2][-1].content)


async def test_no_exit_measurement_with_outcomes_off(profile):
    record, _ = await run(profile("hannah-work-anxiety"), limits={"sessions_max": 2}, outcomes=False)
    assert record.sessions[-1].termination and record.exit_measurement is None


async def test_a_referral_before_sessions_min_ends_the_arc(profile):
    # Graham discloses suicidal thoughts in session 1; a review that refers then ends the arc at
    # once although sessions_min asks for three sessions.
    def refers(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        reply = default_responder("DecisionOutput", messages)
        assert isinstance(reply, dict)
        return {
            **reply,
            "action": "refer",
            "referral_cue": "better off if I were not here",
            "rationale": "Needs specialist care for suicidal thoughts.",
        }

    graham = profile("graham-chronic-pain-risk")
    record, _ = await run(graham, overriding(DecisionOutput=refers), limits={"sessions_min": 3})
    assert len(record.sessions) == 1
    assert record.outcome.end_reason == "referral"
    decision = record.sessions[0].decision
    assert decision is not None
    assert (decision.proposed_action, decision.action, decision.end_reason) == ("refer", "end", "referral")
    assert decision.overridden_by is None and decision.referral_cue == "better off if I were not here"
    assert record.exit_measurement is not None  # measured as the client leaves the service


async def test_a_referral_that_quotes_nothing_the_client_said_does_not_end_the_arc(profile):
    # A small model may propose a referral for a client with nothing beyond work stress; with no
    # words of the client to show the need, code keeps the course going.
    def refers(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        reply = default_responder("DecisionOutput", messages)
        assert isinstance(reply, dict)
        return {**reply, "action": "refer", "referral_cue": "severe psychosis", "rationale": "Refer."}

    record, _ = await run(profile("hannah-work-anxiety"), overriding(DecisionOutput=refers), limits={"sessions_max": 2})
    assert len(record.sessions) == 2 and record.outcome.end_reason == "max_sessions"
    first = record.sessions[0].decision
    assert first is not None
    assert (first.proposed_action, first.applied, first.action) == ("refer", "continue", "continue")
    assert first.overridden_by and "quotes nothing the client said" in first.overridden_by


async def test_persisting_suicidal_thoughts_make_the_scripted_supervisor_refer(profile):
    def discloses_every_session(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        if "turn 4." in str(messages[-1].content):
            return {
                "text": "Some nights I think everyone would be better off if I were not here.",
                "risk": "active_ideation",
            }
        return default_responder("ClientTurnOutput", messages)

    def settles_after_the_plan(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        last_counselor_line = str(messages[-1].content).rsplit("Counselor:", 1)[-1]
        if RISK_CHECK in last_counselor_line:
            return {"text": "No, those thoughts have not come back. I kept the plan by the phone.", "risk": "none"}
        return default_responder("ClientTurnOutput", messages)

    graham = profile("graham-chronic-pain-risk")
    once, _ = await run(graham, overriding(ClientTurnOutput=settles_after_the_plan), limits={"sessions_min": 3})
    assert len(once.sessions) > 2 and once.outcome.end_reason != "referral"  # one disclosure: safety plan, go on
    again, _ = await run(graham, overriding(ClientTurnOutput=discloses_every_session), limits={"sessions_min": 3})
    assert len(again.sessions) == 3 and again.outcome.end_reason == "referral"


async def test_a_plan_revision_is_kept_as_a_version_and_the_counselor_sees_it(profile):
    def revise_once(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        reply = default_responder("DecisionOutput", messages)
        assert isinstance(reply, dict)
        if "Session 1, turn" in str(messages[-1].content):
            return {**reply, "action": "revise_plan", "rationale": "The client's doubts need a plan of their own."}
        return reply

    record, models = await run(profile("hannah-work-anxiety"), overriding(DecisionOutput=revise_once))
    versions = record.plan_versions
    assert [v.after_session for v in versions] == [0, 1]
    assert versions[0].reason.startswith("intake plan")
    assert versions[1].reason.startswith("The client's doubts")
    assert record.plan == versions[1].plan != versions[0].plan
    assert "stage 'Consolidation' (sessions 5-6) dropped: sessions_max is 4" in versions[0].reason
    assert plan_in_force(record, 1) == versions[0].plan and plan_in_force(record, 2) == versions[1].plan
    assert record.sessions[1].goal == versions[1].plan.first_session_goal
    second = next(m for schema, m in calls(models, "counselor") if in_session(m, 2))
    assert versions[1].plan.case_conceptualization in str(second[0].content)
    assert session_strategy(record, record.sessions[1]) == "cbt"


async def test_score_trends_come_only_with_measurement_based_care(profile):
    hannah = profile("hannah-work-anxiety")
    blind, models = await run(hannah)
    seeing, _ = await run(hannah, measurement_based_care=True)
    assert {s.decision.score_trend for s in blind.sessions if s.decision} == {"not_measured"}
    reviews = [m for schema, m in calls(models, "supervisor") if schema == "DecisionOutput"]
    assert all("PHQ-9" not in str(m[-1].content).split("Review the course")[0] for m in reviews)
    trends = [s.decision.score_trend for s in seeing.sessions if s.decision]
    assert trends[0] == "stable" and set(trends[1:]) <= {
        "improving",
        "stable",
        "worsening",
    }  # one score so far reads as stable
