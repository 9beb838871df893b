"""Whole arcs on the scripted backend: structure, limits, homework follow-up, crisis, views."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from conftest import arc_of, at_risk_level, overriding
from muspsy.config import Limits
from muspsy.llm import StructuredOutputError
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models

pytestmark = pytest.mark.graph

BUNDLED = [
    "hannah-work-anxiety",
    "zhou-lihua-job-loss",
    "ryan-drinking-ambivalent",
    "graham-chronic-pain-risk",
    "grace-okonkwo-widowhood",
    "mateo-social-anxiety",
]


@pytest.mark.parametrize("name", BUNDLED)
async def test_speakers_alternate_and_every_session_has_a_complete_memo(profile, name):
    record = await arc_of(profile(name))
    assert len(record.sessions) >= 2
    for session in record.sessions:
        speakers = [t.speaker for t in session.turns]
        assert speakers[0] == speakers[-1] == "counselor"
        assert all(a != b for a, b in pairwise(speakers)), speakers
        assert [t.index for t in session.turns] == list(range(1, len(session.turns) + 1))
        assert session.turns[0].kind == "open" and session.turns[-1].kind == "close"
        memo = session.memo
        for field in ("summary", "emotion_and_cognitive_state", "counselor_observations", "session_goal"):
            assert getattr(memo, field).strip()
        assert memo.counseling_assignments and memo.next_session_goal
    assert [s.index for s in record.sessions] == list(range(1, len(record.sessions) + 1))
    assert record.outcome.sessions == len(record.sessions)


def review(action: str, rationale: str, ending_in: int = 0) -> dict[str, Any]:
    return {
        "goal_review": [{"goal": 1, "attainment": "some"}],
        "score_trend": "not_measured",
        "action": action,
        "strategy": "none",
        "ending_in": ending_in,
        "referral_cue": "none",
        "rationale": rationale,
    }


def always_end(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    return review("schedule_ending", "Done after one more session.", ending_in=1)


def never_end(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    return review("continue", "Keep going.")


async def test_sessions_min_holds_when_the_supervisor_wants_to_stop_after_session_one(profile):
    record = await arc_of(profile("hannah-work-anxiety"), overriding(DecisionOutput=always_end), sessions_min=3)
    assert len(record.sessions) == 3
    assert record.outcome.end_reason == "goals_met"
    assert [s.termination for s in record.sessions] == [False, False, True]
    first = record.sessions[0].decision
    assert first is not None and first.proposed_action == "schedule_ending" and first.action == "continue"
    assert first.ending_at == 3
    assert first.overridden_by and "sessions_min" in first.overridden_by


async def test_sessions_max_holds_when_the_supervisor_never_stops(profile):
    record = await arc_of(profile("hannah-work-anxiety"), overriding(DecisionOutput=never_end), sessions_max=3)
    assert len(record.sessions) == 3
    assert record.outcome.end_reason == "max_sessions"


async def test_turn_cap_holds_when_the_counselor_never_closes(profile):
    def keep_talking(messages):
        reply = default_responder("CounselorTurnOutput", messages)  # its phase and technique
        return {**reply, "assessed_risk": "none", "text": "Tell me more about that.", "ready_to_close": False}

    record = await arc_of(profile("mateo-social-anxiety"), overriding(CounselorTurnOutput=keep_talking), turns_max=9)
    for session in record.sessions:
        assert len(session.turns) == 9
        assert session.end_reason == "turn_cap"


async def test_minimum_length_holds_when_the_counselor_wants_to_close_at_once(profile):
    def close_now(messages):
        reply = default_responder("CounselorTurnOutput", messages)  # its phase and technique
        return {**reply, "assessed_risk": "none", "text": "I think we can wrap up.", "ready_to_close": True}

    record = await arc_of(profile("mateo-social-anxiety"), overriding(CounselorTurnOutput=close_now), turns_min=7)
    for session in record.sessions:
        assert 7 <= len(session.turns) <= 11
        assert session.end_reason == "counselor_closed"


async def test_session_two_follows_up_the_homework_in_the_protocols_review_phase(profile):
    # CBT reviews the homework after the agenda (its homework_review phase), not in the opening.
    models = scripted_models()
    record = await simulate_arc(profile("hannah-work-anxiety"), models, limits=Limits(turns_min=5, turns_max=9))
    first_memo = record.sessions[0].memo
    second = record.sessions[1]
    assert second.homework_reviewed == first_memo.counseling_assignments
    assert second.turns[0].kind == "open"
    [review] = [t for t in second.turns if t.phase == "homework_review"]
    assert first_memo.counseling_assignments[0].lower() in review.text.lower()
    openings = [msgs for schema, msgs in models["counselor"].chat.calls if schema == "OpeningOutput"]
    assert "not now: your approach reviews it in the homework_review phase" in str(openings[1][-1].content)
    assert "none: this is the first session" in str(openings[0][-1].content)
    turns = [
        str(msgs[-1].content) for schema, msgs in models["counselor"].chat.calls if schema == "CounselorTurnOutput"
    ]
    assert any(first_memo.counseling_assignments[0] in prompt for prompt in turns)


async def test_a_disclosure_the_counselor_notices_takes_the_crisis_path(profile):
    record = await arc_of(profile("graham-chronic-pain-risk"))
    first = record.sessions[0]
    disclosed = [t for t in first.turns if t.risk not in (None, "none")]
    assert disclosed, "the high-risk client should disclose in session 1"
    after = first.turns[disclosed[0].index]  # the turn right after the disclosure (indices are 1-based)
    # The counselor notices it in the words (its own assessment), responds to it at once, and
    # after the client's answer the crisis protocol runs.
    assert after.speaker == "counselor" and after.assessed_risk == "active_ideation"
    assert first.turns[after.index + 1].kind == "crisis"
    assert first.crisis
    assert first.memo.risk in ("high", "imminent")
    # A first disclosure: the disposition keeps the arc going with the safety plan, and so does
    # the scripted supervisor (it refers when the thoughts persist, see test_adaptive_supervision.py).
    assert first.disposition == "continue_with_safety_plan"
    assert first.decision is not None and first.decision.action == "continue"


async def test_an_emergency_ends_the_arc_in_crisis_even_before_sessions_min(profile):
    """An imminent-risk client answers every screener item yes: intent and a plan, so code sets
    `emergency`, the session skips the safety plan, closes, and the arc ends in `crisis`."""
    record = await arc_of(at_risk_level(profile("graham-chronic-pain-risk"), "imminent"), sessions_min=3)
    assert len(record.sessions) == 1
    only = record.sessions[0]
    assert only.risk_assessment is not None and (only.risk_assessment.intent, only.risk_assessment.plan) == (
        "yes",
        "yes",
    )
    assert only.disposition == "emergency" and only.safety_plan is None
    assert only.turns[-1].kind == "close"
    assert record.outcome.end_reason == "crisis"
    assert only.decision is not None and only.decision.end_reason == "crisis"


async def test_the_crisis_path_follows_the_counselor_not_the_client_label(profile):
    """A disclosure the counselor misses takes no crisis path and ends nothing: the client's
    label is ground truth for measuring, not a signal to the counselor side."""

    def discloses_plan(messages):
        reply = default_responder("ClientTurnOutput", messages)
        if "turn 4." in str(messages[-1].content):
            return {"text": "I have the pills saved and I have picked a day.", "risk": "plan_with_intent"}
        return reply

    def misses_it(schema):
        return lambda messages: {**default_responder(schema, messages), "assessed_risk": "none"}

    responder = overriding(
        ClientTurnOutput=discloses_plan,
        CounselorTurnOutput=misses_it("CounselorTurnOutput"),
        ClosingOutput=misses_it("ClosingOutput"),
    )
    record = await arc_of(profile("graham-chronic-pain-risk"), responder, sessions_min=2)
    first = record.sessions[0]
    assert [t.risk for t in first.turns if t.risk == "plan_with_intent"] == ["plan_with_intent"]
    assert not first.crisis and all(t.kind != "crisis" for t in first.turns)
    assert first.risk_assessment is None and first.disposition is None
    assert record.outcome.end_reason != "crisis" and len(record.sessions) >= 2


async def test_the_client_never_sees_memos_or_the_plan(profile):
    def secret_memo(messages):
        memo = default_responder("MemoOutput", messages)
        return {
            **memo,
            "summary": "SECRET-SUMMARY",
            "counselor_observations": "SECRET-OBSERVATIONS",
            "emotion_and_cognitive_state": "SECRET-STATE",
            "next_session_goal": "SECRET-NEXT-GOAL",
        }

    def secret_plan(messages):
        plan = default_responder("PlanOutput", messages)
        return {**plan, "case_conceptualization": "SECRET-CONCEPT", "goals": ["SECRET-GOAL"]}

    models = scripted_models(overriding(MemoOutput=secret_memo, PlanOutput=secret_plan))
    record = await simulate_arc(profile("grace-okonkwo-widowhood"), models, limits=Limits(turns_min=5, turns_max=9))
    assert len(record.sessions) >= 2
    client_prompts = [str(m.content) for _, msgs in models["client"].chat.calls for m in msgs]
    assert client_prompts
    assert not [p for p in client_prompts if "SECRET" in p]
    # ... while the counselor does get the memo and the plan.
    counselor_prompts = " ".join(str(m.content) for _, msgs in models["counselor"].chat.calls for m in msgs)
    assert "SECRET-SUMMARY" in counselor_prompts and "SECRET-CONCEPT" in counselor_prompts


async def test_malformed_output_is_retried_then_the_arc_goes_on(profile):
    state = {"bad": 1}

    def flaky(messages):
        if state["bad"]:
            state["bad"] -= 1
            return "{not json"
        return default_responder("CounselorTurnOutput", messages)

    record = await arc_of(profile("hannah-work-anxiety"), overriding(CounselorTurnOutput=flaky))
    assert record.usage["counselor"].retries == 1


async def test_output_that_never_parses_fails_the_arc_with_a_clear_error(profile):
    def broken(messages):
        return {"text": ""}  # empty text and missing fields: schema-invalid every time

    with pytest.raises(StructuredOutputError, match="CounselorTurnOutput after 3 attempts"):
        await arc_of(profile("hannah-work-anxiety"), overriding(CounselorTurnOutput=broken))


async def test_chinese_profile_keeps_its_language_and_planned_states(profile):
    zh = profile("zhou-lihua-job-loss")
    record = await arc_of(zh)
    assert record.language == "zh"
    planned = zh.planned(2)
    assert planned is not None
    # Planned states belong to the director: its planned events happen, and the director is
    # told the planned emotion and thinking when it narrates the week.
    state = record.sessions[1].client_state
    assert state.recent_life_events[: len(planned.recent_life_events)] == planned.recent_life_events
    seen: list[str] = []

    def director_sees(messages):
        seen.append("\n".join(str(m.content) for m in messages))
        return default_responder("DirectorWeekOutput", messages)

    await arc_of(zh, overriding(DirectorWeekOutput=director_sees))
    assert planned.emotion_state in seen[0] and planned.cognitive_state in seen[0]


async def test_a_low_risk_client_cannot_disclose_a_plan(profile):
    def mislabels(messages):
        reply = default_responder("ClientTurnOutput", messages)
        return {**reply, "risk": "plan_with_intent"} if "turn 4." in str(messages[-1].content) else reply

    hannah = profile("hannah-work-anxiety")
    assert hannah.risk.level == "low"
    record = await arc_of(hannah, overriding(ClientTurnOutput=mislabels), sessions_min=2)
    assert record.outcome.end_reason != "crisis" and len(record.sessions) >= 2
    capped = [t for t in record.sessions[0].turns if t.risk not in (None, "none")]
    assert [t.risk for t in capped] == ["passive_ideation"]
    # The words said nothing of risk, so the counselor (who never sees the label) noticed none.
    answer = record.sessions[0].turns[capped[0].index]
    assert answer.kind == "dialogue" and answer.assessed_risk == "none"
