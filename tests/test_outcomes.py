"""Client-reported outcomes in whole scripted arcs: every session carries PHQ-9 and GAD-7 from
its start and WAI-SR from its end, crisis sessions too; bad answers are re-asked; switching
outcomes off removes the calls and the fields and leaves the dialogue alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from conftest import at_risk_level, overriding
from muspsy import views
from muspsy.config import Limits
from muspsy.instruments import band, score, total_range, trajectory
from muspsy.llm import StructuredOutputError
from muspsy.records import ArcRecord, ClientProfile
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models
from muspsy.transcript import render_transcript

pytestmark = pytest.mark.graph

LIMITS = Limits(sessions_min=2, sessions_max=5, turns_min=5, turns_max=11)


async def run(profile: ClientProfile, responder: Any = default_responder, **options: Any) -> tuple[ArcRecord, Any]:
    models = scripted_models(responder)
    record = await simulate_arc(profile, models, limits=options.pop("limits", LIMITS), **options)
    return record, models


@pytest.mark.parametrize("name", ["hannah-work-anxiety", "graham-chronic-pain-risk", "zhou-lihua-job-loss"])
async def test_every_session_has_all_three_questionnaires_scored_in_range(profile, name):
    record, _ = await run(profile(name))
    assert len(record.sessions) >= 2
    for session in record.sessions:
        for instrument in ("phq9", "gad7", "wai_sr"):
            found = getattr(session, instrument)
            assert found is not None, (session.index, instrument)
            low, high = total_range(instrument)
            assert low <= found.total <= high
            assert found == score(instrument, found.items)  # stored scoring is the scoring
        assert 0 <= session.phq9.total <= 27  # type: ignore[union-attr]
        assert session.phq9.band == band("phq9", session.phq9.total)  # type: ignore[union-attr]
        assert set(session.wai_sr.subscales) == {"task", "bond", "goal"}  # type: ignore[union-attr]


BUNDLED = ["hannah-work-anxiety", "ryan-drinking-ambivalent", "grace-okonkwo-widowhood", "mateo-social-anxiety"]


async def test_scripted_answers_follow_the_clients_state(profile):
    # Answers come from the client's state alone: more distress, higher PHQ-9 and GAD-7; more
    # trust, higher WAI-SR. So arcs that make progress show falling symptoms and a rising alliance.
    sessions = []
    improving = strengthening = 0
    for name in BUNDLED:
        record, _ = await run(profile(name))
        sessions += record.sessions
        severity = [s.client_state.symptom_severity for s in record.sessions]
        alliance = [s.client_state.alliance for s in record.sessions]
        phq9, gad7, wai = (trajectory(record, name) for name in ("phq9", "gad7", "wai_sr"))
        if severity[-1] < severity[0]:
            improving += 1
            assert phq9[-1] < phq9[0] and gad7[-1] < gad7[0], (name, severity, phq9, gad7)  # type: ignore[operator]
        if alliance[-1] > alliance[0]:
            strengthening += 1
            assert wai[-1] > wai[0], (name, alliance, wai)  # type: ignore[operator]
    assert improving and strengthening  # the scripted arcs do make progress
    # The state is fractional (the change engine moves it by tenths) and answers are whole
    # numbers: a difference large enough to move one answer must move the totals.
    for a in sessions:
        for b in sessions:
            sa, sb = a.client_state.symptom_severity, b.client_state.symptom_severity
            if sa >= sb + 0.6:
                assert a.phq9.total > b.phq9.total and a.gad7.total > b.gad7.total  # type: ignore[union-attr]
            if sa >= sb:
                assert a.phq9.total >= b.phq9.total and a.gad7.total >= b.gad7.total  # type: ignore[union-attr]
            ta, tb = a.client_state.alliance, b.client_state.alliance
            if ta >= tb + 1.1:
                assert a.wai_sr.total > b.wai_sr.total  # type: ignore[union-attr]
            if ta >= tb:
                assert a.wai_sr.total >= b.wai_sr.total  # type: ignore[union-attr]


async def test_the_client_answers_from_its_own_view(profile):
    def secret_memo(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        return {**default_responder("MemoOutput", messages), "summary": "SUPERVISOR-ONLY memo summary."}

    record, models = await run(profile("hannah-work-anxiety"), overriding(MemoOutput=secret_memo))
    calls = models["client"].chat.calls
    symptoms = [msgs for schema, msgs in calls if schema == "SymptomQuestionnairesOutput"]
    starts, exit_point = symptoms[:-1], symptoms[-1]  # the last one is the exit measurement
    ends = [msgs for schema, msgs in calls if schema == "AllianceQuestionnaireOutput"]
    assert len(starts) == len(ends) == len(record.sessions)
    assert "Your course of counseling has ended" in str(exit_point[-1].content)
    for messages in [*starts, *ends, exit_point]:
        text = "\n".join(str(m.content) for m in messages)
        assert "SUPERVISOR-ONLY" not in text and record.plan.case_conceptualization not in text
        assert "Hannah" in text  # in character: its persona is the system prompt
    second_start = "\n".join(str(m.content) for m in starts[1])
    assert "Session 2 is about to begin" in second_start
    assert "Little interest or pleasure in doing things" in second_start  # the PHQ-9 item, from data
    assert f"Distress (0-10): {views.level(record.sessions[1].client_state.symptom_severity)}" in second_start
    first_end = "\n".join(str(m.content) for m in ends[0])
    assert record.sessions[0].turns[-1].text in first_end  # it saw the session it just had
    assert "My counselor and I respect each other." in first_end


async def test_an_arc_that_ends_in_crisis_still_has_its_sessions_measured(profile):
    # An imminent-risk client tells the counselor of intent and a plan: the protocol's
    # disposition is an emergency, which ends the arc in crisis.
    record, _ = await run(at_risk_level(profile("graham-chronic-pain-risk"), "imminent"))
    assert record.outcome.end_reason == "crisis" and len(record.sessions) == 1
    (only,) = record.sessions
    assert only.crisis and only.phq9 and only.gad7 and only.wai_sr
    assert only.phq9.items[8] >= 1  # the high-risk client reports thoughts of death on item 9
    # No session is invented to measure after a crisis: the trajectory ends with the arc.
    assert trajectory(record, "phq9") == [only.phq9.total]


async def test_out_of_range_answers_are_asked_again(profile):
    asked: list[int] = []

    def first_one_out_of_range(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        asked.append(1)
        reply = default_responder("SymptomQuestionnairesOutput", messages)
        return {**reply, "phq9": [4, *reply["phq9"][1:]]} if len(asked) == 1 else reply

    responder = overriding(SymptomQuestionnairesOutput=first_one_out_of_range)
    record, _ = await run(profile("hannah-work-anxiety"), responder)
    assert len(asked) == len(record.sessions) + 2  # one retry in session 1, and the exit measurement
    assert record.usage["client"].retries == 1
    assert all(0 <= item <= 3 for s in record.sessions for item in s.phq9.items)  # type: ignore[union-attr]


async def test_answers_that_stay_out_of_range_fail_the_arc_after_bounded_retries(profile):
    def always_five(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        return {"wai_sr": [6] * 12}

    models = scripted_models(overriding(AllianceQuestionnaireOutput=always_five))
    with pytest.raises(StructuredOutputError, match="no valid AllianceQuestionnaireOutput after 2 attempts"):
        await simulate_arc(profile("hannah-work-anxiety"), models, limits=LIMITS, retries=1)
    assert [schema for schema, _ in models["client"].chat.calls].count("AllianceQuestionnaireOutput") == 2


async def test_outcomes_off_removes_fields_and_calls_but_not_the_dialogue(profile):
    on, models_on = await run(profile("mateo-social-anxiety"))
    off, models_off = await run(profile("mateo-social-anxiety"), outcomes=False)
    assert all(s.phq9 is None and s.gad7 is None and s.wai_sr is None for s in off.sessions)
    assert trajectory(off, "phq9") == [None] * len(off.sessions)
    # Measuring does not change what is said: the counselor never sees the answers.
    assert [[t.text for t in s.turns] for s in on.sessions] == [[t.text for t in s.turns] for s in off.sessions]
    # The end-of-session call stays (the change engine needs the appraisal), without the WAI-SR;
    # the exit measurement goes too.
    sessions = len(on.sessions)
    assert on.exit_measurement is not None and off.exit_measurement is None
    assert on.usage["client"].calls == off.usage["client"].calls + sessions + 1
    assert len(models_on["client"].chat.calls) == len(models_off["client"].chat.calls) + sessions + 1
    assert on.usage["counselor"].calls == off.usage["counselor"].calls
    schemas_off = [schema for schema, _ in models_off["client"].chat.calls]
    assert not set(schemas_off) & {"SymptomQuestionnairesOutput", "AllianceQuestionnaireOutput"}
    assert schemas_off.count("AppraisalOutput") == sessions
    assert [s.appraisal for s in on.sessions] == [s.appraisal for s in off.sessions]
    assert all(s.appraisal is not None for s in off.sessions)
    assert [s.client_state for s in on.sessions] == [s.client_state for s in off.sessions]


async def test_client_usage_counts_the_questionnaire_calls(profile):
    record, models = await run(profile("zhou-lihua-job-loss"))
    assert record.usage["client"].calls == len(models["client"].chat.calls)
    turns = sum(1 for s in record.sessions for t in s.turns if t.speaker == "client")
    assert record.usage["client"].calls == turns + 2 * len(record.sessions) + 1  # + the exit measurement
    # The weeks between sessions are the director's calls, not the client's.
    assert record.usage["director"].calls == len(models["director"].chat.calls) == len(record.sessions) - 1


async def test_the_transcript_shows_the_scores(profile):
    record, _ = await run(profile("hannah-work-anxiety"))
    text = render_transcript(record)
    first = record.sessions[0]
    assert f"PHQ-9 {first.phq9.total} ({first.phq9.band})" in text  # type: ignore[union-attr]
    assert f"GAD-7 {first.gad7.total} ({first.gad7.band})" in text  # type: ignore[union-attr]
    assert f"WAI-SR {first.wai_sr.total} (task {first.wai_sr.subscales['task']}" in text  # type: ignore[union-attr]


async def test_simulate_arc_accepts_a_strategy_alias_and_records_the_canonical_name(profile):
    record, _ = await run(profile("ryan-drinking-ambivalent"), strategy="mi")
    assert record.strategy == "motivational_interviewing"
    assert record.arc_id == "ryan-drinking-ambivalent--motivational_interviewing--seed0"
    with pytest.raises(ValueError, match="runs one strategy"):
        await run(profile("ryan-drinking-ambivalent"), strategy="cbt,mi")
