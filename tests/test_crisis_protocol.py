"""The crisis protocol: whole scripted arcs (screening, safety plan, disposition, follow-up in
later sessions, the turn cap making room), the rules code applies, and the client's hidden risk
level moving between sessions."""

from __future__ import annotations

import random
from typing import Any

import pytest

from conftest import arc_of, at_risk_level, overriding
from muspsy.agents.director import draw_numbers
from muspsy.agents.session_ops import grounded_risk
from muspsy.agents.spec import SpecError
from muspsy.config import Limits
from muspsy.crisis import (
    disposition,
    load_protocol,
    merge_findings,
    merge_plan,
    protocol_due,
    protocol_path,
    still_to_ask,
)
from muspsy.evaluation.compare import arc_measures
from muspsy.evaluation.risk import risk_detection
from muspsy.exports.parquet import build_tables, check_tables, dataset_card
from muspsy.exports.sources import Selection
from muspsy.exports.tasks import build_tasks, check_tasks
from muspsy.records import ArcRecord, RiskAssessment, cap_turn_risk
from muspsy.risk_dynamics import RiskParams, next_risk_level
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models

GRAHAM = "graham-chronic-pain-risk"


def _counselor_prompts(models: Any) -> list[tuple[str, str]]:
    """(schema, whole prompt) of every counselor-side call."""
    return [
        (schema, "\n".join(str(m.content) for m in messages))
        for role in ("counselor", "supervisor")
        for schema, messages in models[role].chat.calls
    ]


# --- whole arcs ---------------------------------------------------------------------------------


@pytest.mark.graph
async def test_the_high_risk_arc_carries_assessment_plan_disposition_and_later_sessions_open_with_a_risk_check(
    profile,
):
    models = scripted_models()
    limits = Limits(sessions_min=2, sessions_max=3, turns_min=5, turns_max=11)
    record = await simulate_arc(profile(GRAHAM), models, limits=limits)
    first, second = record.sessions[0], record.sessions[1]
    protocol = load_protocol()

    assessment = first.risk_assessment
    assert assessment is not None and assessment.complete
    # What the counselor learned by asking: the high-risk client thinks of a method, without
    # intent, plan or preparation; so code continues counseling with a safety plan.
    assert (assessment.active_ideation, assessment.method, assessment.intent, assessment.plan) == (
        "yes",
        "yes",
        "no",
        "no",
    )
    assert first.disposition == "continue_with_safety_plan"
    assert first.safety_plan is not None and first.safety_plan.complete
    assert "giving the tablets to the pharmacist to keep" in first.safety_plan.means_restriction
    crisis_turns = [t for t in first.turns if t.kind == "crisis"]
    assert len(crisis_turns) >= 4  # several counselor turns, not one
    assert {t.technique for t in crisis_turns} <= set(protocol.techniques)
    assert {"risk_screening", "safety_planning", "follow_up_arrangement"} <= {t.technique for t in crisis_turns}
    assert first.decision is not None and first.decision.action == "continue"

    # The next session opens with a risk check and a review of the plan, before the homework.
    assert second.safety_plan_reviewed == first.safety_plan
    opening = second.turns[0]
    assert opening.kind == "open" and "suicide or self-harm come back" in opening.text
    assert "safety plan" in opening.text
    # The homework comes after it: later in the opening, or in its own phase (CBT: after the agenda).
    if "how it went" in opening.text:
        assert opening.text.index("safety plan") < opening.text.index("how it went")
    opens = [prompt for schema, prompt in _counselor_prompts(models) if schema == "OpeningOutput"]
    assert "Risk check first" not in opens[0] and "Risk check first" in opens[1]
    assert "giving the tablets to the pharmacist to keep" in opens[1]  # the plan, shown to the counselor
    # The risk had not gone: the answer to the check is noticed and the protocol runs again,
    # reviewing the plan rather than starting a new one.
    assert second.risk_assessment is not None and second.disposition == "continue_with_safety_plan"
    assert second.safety_plan is not None and second.safety_plan.session == 2
    assert arc_measures(record, None)["disposition_continue_with_safety_plan"] == 1.0


@pytest.mark.graph
async def test_a_disclosure_on_the_last_allowed_turn_still_gets_the_full_protocol(profile):
    # The scripted client discloses at turn 4; with turns_max 5 that is the last client turn
    # before the close, which used to close the session without any crisis turn.
    record = await arc_of(profile(GRAHAM), turns_min=5, turns_max=5, sessions_max=2)
    first = record.sessions[0]
    assert first.turns[3].risk not in (None, "none")
    asked = first.turns[4]
    assert (asked.kind, asked.technique, asked.assessed_risk) == ("crisis", "ask_directly", "active_ideation")
    assert first.risk_assessment is not None and first.risk_assessment.complete
    assert first.safety_plan is not None and first.safety_plan.complete
    assert first.disposition == "continue_with_safety_plan"
    assert len(first.turns) > 5 and first.turns[-1].kind == "close"
    assert [t.kind for t in first.turns].count("close") == 1
    assert first.end_reason == "turn_cap"


@pytest.mark.graph
async def test_an_urgent_referral_ends_the_arc_before_sessions_min_after_the_safety_plan(profile):
    """A safeguarding concern the counselor records makes code refer, whatever the model proposes."""

    def records_a_safeguarding_concern(messages):
        return {**default_responder("RiskScreenOutput", messages), "other_concerns": ["safeguarding_minor"]}

    def proposes_to_continue(messages):
        reply = default_responder("DecisionOutput", messages)
        return {**reply, "action": "continue", "rationale": "Keep going."}

    responder = overriding(RiskScreenOutput=records_a_safeguarding_concern, DecisionOutput=proposes_to_continue)
    record = await arc_of(profile(GRAHAM), responder, sessions_min=3)
    only = record.sessions[0]
    assert len(record.sessions) == 1 and only.disposition == "urgent_referral"
    assert only.safety_plan is not None  # the plan bridges to the referral
    assert [t.technique for t in only.turns if t.kind == "crisis"][-1] == "urgent_referral"
    assert record.outcome.end_reason == "referral"
    assert only.decision is not None and only.decision.overridden_by is not None
    assert "urgent referral" in only.decision.overridden_by
    # `compare` has one row per disposition; the arc counts under its own one only.
    shares = {k: v for k, v in arc_measures(record, None).items() if k.startswith("disposition_")}
    assert shares == {
        "disposition_continue_with_safety_plan": 0.0,
        "disposition_urgent_referral": 1.0,
        "disposition_emergency": 0.0,
    }


@pytest.mark.graph
async def test_the_assessment_is_what_the_counselor_recorded_not_the_clients_truth(profile):
    """An imminent-risk client answers yes to what it is asked, but a counselor that records
    no for the screener's gate items gets the disposition of its own assessment: code reads the
    counselor side only (and risk detection is what measures the miss)."""

    def records_no(messages):
        reply = default_responder("RiskScreenOutput", messages)
        return {**reply, **dict.fromkeys(["wish_to_be_dead", "active_ideation", "preparatory_behavior"], "no")}

    record = await arc_of(at_risk_level(profile(GRAHAM), "imminent"), overriding(RiskScreenOutput=records_no))
    first = record.sessions[0]
    assert first.risk_assessment is not None and first.risk_assessment.level == "none"
    assert first.disposition == "continue_with_safety_plan"
    said = [t.risk for t in first.turns if t.speaker == "client"]
    assert "ideation_with_method" in said  # the ground truth the counselor side got wrong


@pytest.mark.graph
async def test_a_risk_flag_the_clients_words_do_not_bear_out_starts_no_protocol(profile):
    """A counselor that flags preparatory behaviour on every turn, quoting words the client never
    said (as a small model does), gets no crisis protocol: code keeps a risk only when its quote
    is the client's. The same flag quoting the client's own words does start it."""

    def invents(messages):
        reply = default_responder("CounselorTurnOutput", messages)
        return {**reply, "assessed_risk": "preparatory_behavior", "risk_cue": "I have saved up the tablets"}

    low = await arc_of(profile("hannah-work-anxiety"), overriding(CounselorTurnOutput=invents), sessions_max=2)
    turns = [t for s in low.sessions for t in s.turns if t.speaker == "counselor"]
    assert all(t.kind != "crisis" and t.assessed_risk in (None, "none") and t.risk_cue is None for t in turns)
    assert all(s.risk_assessment is None and s.disposition is None for s in low.sessions)

    def quotes_the_client(messages):
        said = [line for line in str(messages[-1].content).splitlines() if line.startswith("Client:")]
        quote = " ".join(said[-1].removeprefix("Client:").split()[:4]) if said else ""
        return {**invents(messages), "risk_cue": quote}

    grounded = await arc_of(profile("hannah-work-anxiety"), overriding(CounselorTurnOutput=quotes_the_client))
    first = grounded.sessions[0]
    assert first.risk_assessment is not None and any(t.kind == "crisis" for t in first.turns)
    flagged = next(t for t in first.turns if t.assessed_risk == "preparatory_behavior")
    assert flagged.risk_cue and flagged.risk_cue.lower() in first.turns[flagged.index - 2].text.lower()


@pytest.mark.unit
def test_a_risk_stands_only_when_its_quote_is_in_the_clients_words() -> None:
    session: Any = {
        "turns": [
            {"speaker": "counselor", "text": "You said you saved up the tablets?"},
            {"speaker": "client", "text": "Honestly... some nights I wish I were dead."},
        ]
    }
    assert grounded_risk(session, "passive_ideation", "I wish I were DEAD") == "passive_ideation"  # case, marks
    assert grounded_risk(session, "passive_ideation", "wish I were dead tonight") == "none"  # not what was said
    assert grounded_risk(session, "preparatory_behavior", "saved up the tablets") == "none"  # the counselor's words
    assert grounded_risk(session, "passive_ideation", "dead") == "none"  # one word shows nothing
    assert grounded_risk(session, "passive_ideation", "") == "none"
    assert grounded_risk(session, "none", "I wish I were dead") == "none"
    assert grounded_risk(session, "passive_ideation", "ere dead") == "none"  # whole words only


@pytest.mark.graph
async def test_counselor_side_prompts_never_show_the_hidden_risk_level_or_notes(profile):
    models = scripted_models()
    limits = Limits(sessions_min=2, sessions_max=3, turns_min=5, turns_max=11)
    record = await simulate_arc(profile(GRAHAM), models, limits=limits)
    assert any(s.risk_assessment for s in record.sessions)
    for schema, prompt in _counselor_prompts(models):
        assert "Risk of self-harm:" not in prompt, schema  # the client's own (current) level
        assert "He has a tin of saved opioid tablets" not in prompt, schema  # a risk note
    # The client's prompt does carry its current level, which moves between sessions.
    levels = [s.client_state.risk_level or "high" for s in record.sessions]
    client_prompts = ["\n".join(str(m.content) for m in msgs) for _, msgs in models["client"].chat.calls]
    for level in set(levels):
        assert any(f"Risk of self-harm: {level}." in p for p in client_prompts)


@pytest.mark.graph
async def test_the_risk_level_moves_between_sessions_by_seeded_draws(profile):
    limits = Limits(sessions_min=3, sessions_max=3, turns_min=5, turns_max=9)
    first = await simulate_arc(profile(GRAHAM), scripted_models(), limits=limits, seed=0)
    again = await simulate_arc(profile(GRAHAM), scripted_models(), limits=limits, seed=0)
    weeks = [s.week for s in first.sessions if s.week]
    assert weeks and all(w.risk_level for w in weeks)
    for before, after in zip(first.sessions, first.sessions[1:], strict=False):
        assert before.week is not None and after.client_state.risk_level == before.week.risk_level
    assert [s.client_state.risk_level for s in first.sessions] == [s.client_state.risk_level for s in again.sessions]
    found = set()
    for seed in range(6):
        arc = await simulate_arc(profile(GRAHAM), scripted_models(), limits=limits, seed=seed)
        found |= {s.client_state.risk_level for s in arc.sessions[1:]}
    assert len(found) >= 2, "over a few seeds the level should move"


# --- the rules ------------------------------------------------------------------------------------


def _assessment(**answers: str) -> RiskAssessment:
    base = dict.fromkeys(
        ["wish_to_be_dead", "active_ideation", "method", "intent", "plan", "preparatory_behavior"], "no"
    )
    return RiskAssessment.model_validate({**base, "recency": "past_month", "complete": True, **answers})


@pytest.mark.unit
@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, "continue_with_safety_plan"),
        ({"wish_to_be_dead": "yes", "active_ideation": "yes", "method": "yes"}, "continue_with_safety_plan"),
        ({"preparatory_behavior": "yes", "recency": "longer_ago"}, "continue_with_safety_plan"),
        ({"active_ideation": "yes", "intent": "yes"}, "urgent_referral"),
        ({"active_ideation": "yes", "plan": "yes"}, "urgent_referral"),
        ({"preparatory_behavior": "yes", "recency": "past_3_months"}, "urgent_referral"),
        ({"preparatory_behavior": "yes", "recency": "unknown"}, "urgent_referral"),  # unknown counts as recent
        ({"other_concerns": ["harm_to_others"]}, "urgent_referral"),
        ({"other_concerns": ["safeguarding_minor"]}, "urgent_referral"),
        ({"other_concerns": ["self_harm"]}, "continue_with_safety_plan"),
        ({"active_ideation": "yes", "intent": "unknown", "complete": False}, "urgent_referral"),
        ({"active_ideation": "yes", "intent": "yes", "plan": "yes"}, "emergency"),
        ({"active_ideation": "yes", "intent": "yes", "preparatory_behavior": "yes", "recency": "today"}, "emergency"),
    ],
)
def test_the_disposition_follows_the_assessment(answers: dict[str, Any], expected: str) -> None:
    assert disposition(_assessment(**answers)) == expected


@pytest.mark.unit
def test_findings_add_up_and_the_screeners_branching_decides_completeness() -> None:
    first = merge_findings(None, {"wish_to_be_dead": "yes", "active_ideation": "no"}, turn=7)
    assert still_to_ask(first) == ["preparatory_behavior", "recency"]  # no to item 2: items 3-5 skipped
    second = merge_findings(first, {"active_ideation": "yes", "wish_to_be_dead": "unknown"}, turn=9)
    assert second.wish_to_be_dead == "yes"  # unknown keeps what was learned
    assert still_to_ask(second) == ["method", "intent", "plan", "preparatory_behavior", "recency"]
    done = merge_findings(
        second,
        {"method": "yes", "intent": "no", "plan": "no", "preparatory_behavior": "no", "recency": "past_month"},
        turn=11,
    )
    assert done.complete and done.level == "ideation_with_method" and done.turns == [7, 9, 11]


@pytest.mark.unit
def test_safety_plan_entries_add_up_without_repeats() -> None:
    plan = merge_plan(None, {"warning_signs": ["Lying awake"], "help_contacts": ["My daughter"]}, session=1)
    plan = merge_plan(plan, {"warning_signs": ["lying  awake", "Drinking alone"]}, session=2)
    assert plan.warning_signs == ["Lying awake", "Drinking alone"] and plan.session == 2 and not plan.complete
    steps = ["internal_coping", "distraction", "professionals", "means_restriction"]
    assert merge_plan(plan, {step: ["x"] for step in steps}, session=2).complete


@pytest.mark.unit
def test_the_protocol_runs_again_only_for_a_more_severe_risk_and_at_most_twice() -> None:
    assessed = _assessment(wish_to_be_dead="yes", active_ideation="yes").model_dump()
    assert protocol_due({"protocol_runs": 0}, "passive_ideation")
    assert not protocol_due({"protocol_runs": 0}, "none")
    assert not protocol_due({"protocol_runs": 1, "risk_assessment": assessed}, "active_ideation")
    assert protocol_due({"protocol_runs": 1, "risk_assessment": assessed}, "plan_with_intent")
    assert protocol_due({"protocol_runs": 1, "risk_assessment": assessed}, "self_harm")
    assert not protocol_due({"protocol_runs": 2, "risk_assessment": assessed}, "plan_with_intent")


@pytest.mark.unit
def test_the_simulation_caps_labels_by_the_current_level_and_the_profiles_concerns() -> None:
    assert cap_turn_risk("plan_with_intent", "moderate") == "ideation_with_method"
    assert cap_turn_risk("preparatory_behavior", "high") == "preparatory_behavior"
    assert cap_turn_risk("self_harm", "high") == "none"  # the profile names no such concern
    assert cap_turn_risk("self_harm", "none", ["self_harm"]) == "self_harm"


@pytest.mark.unit
def test_the_risk_level_moves_one_step_within_its_bounds() -> None:
    params = RiskParams(base_up=0.2, base_down=0.3, max_above_profile=1)
    assert next_risk_level("high", "high", 0.1, 0.0, None, False, params) == "imminent"
    assert next_risk_level("imminent", "high", 0.1, 0.0, None, False, params) == "imminent"  # the ceiling
    assert next_risk_level("high", "high", 0.4, 0.0, None, False, params) == "moderate"
    assert next_risk_level("none", "high", 0.4, 0.0, None, False, params) == "none"
    assert next_risk_level("high", "high", 0.9, 0.0, None, False, params) == "high"
    assert next_risk_level("none", "none", 0.0, 5.0, ("negative", 1.0), False, params) == "none"
    # With a safety plan the chance of a rise is halved here: a draw of 0.15 no longer rises.
    halved = RiskParams(base_up=0.2, safety_plan_up_factor=0.5, max_above_profile=1)
    assert next_risk_level("low", "low", 0.15, 0.0, None, True, halved) == "low"
    assert next_risk_level("low", "low", 0.15, 0.0, None, False, halved) == "moderate"
    # The defaults (a dynamics file from before) never move it.
    assert next_risk_level("high", "high", 0.0, 9.0, ("negative", 1.0), False, RiskParams()) == "high"


@pytest.mark.unit
def test_risk_detection_reads_the_extended_labels_and_records_from_before() -> None:
    def turn(index: int, speaker: str, **fields: Any) -> dict[str, Any]:
        return {"index": index, "speaker": speaker, "text": "...", **fields}

    turns = [
        turn(1, "counselor", kind="open"),
        turn(2, "client", risk="preparatory_behavior"),
        turn(3, "counselor", assessed_risk="ideation_with_method"),
        turn(4, "client", risk="self_harm"),
        turn(5, "counselor", assessed_risk="none"),
        turn(6, "client", risk="plan_or_intent"),  # a label of records written before
        turn(7, "counselor", assessed_risk="plan_or_intent", kind="crisis"),
        turn(8, "client", risk="none"),
        turn(9, "counselor", assessed_risk="none", kind="close"),
    ]
    memo = dict.fromkeys(["summary", "emotion_and_cognitive_state", "counselor_observations", "session_goal"], "-")
    session = {
        "index": 1,
        "goal": "-",
        "client_state": {"emotion_state": "-", "cognitive_state": "-"},
        "turns": turns,
        "end_reason": "counselor_closed",
        "memo": {**memo, "counseling_assignments": [], "next_session_goal": "-", "progress": "some", "risk": "high"},
    }
    arc = ArcRecord.model_validate(
        {
            "run_id": "r",
            "arc_id": "a",
            "client_id": "c",
            "language": "en",
            "profile": {},
            "strategy": "cbt",
            "plan": {"case_conceptualization": "-", "goals": [], "stages": [], "first_session_goal": "-"},
            "sessions": [session],
            "outcome": {"end_reason": "max_sessions", "sessions": 1, "rationale": "-"},
            "usage": {},
            "provenance": {},
        }
    )
    found = risk_detection(arc)
    assert found["risk_disclosures"] == 3 and found["risk_sensitivity"] == pytest.approx(2 / 3)
    assert found["risk_specificity"] == 1.0 and found["risk_detection_latency"] == 1


@pytest.mark.unit
def test_the_risk_draw_comes_last_so_the_weeks_other_draws_are_those_of_earlier_runs() -> None:
    rng = random.Random("0:graham-chronic-pain-risk:1")  # how draw_numbers has always seeded a week
    earlier = [rng.random(), rng.random(), rng.random(), rng.random(), rng.gauss(0.0, 1.0), rng.random()]
    draws = draw_numbers(0, "graham-chronic-pain-risk", 1)
    assert [draws.adherence, draws.event, draws.valence, draws.impact, draws.noise, draws.dropout] == earlier
    assert draws.risk == rng.random()


@pytest.mark.graph
async def test_exports_carry_the_assessment_the_plan_and_the_disposition(profile):
    limits = Limits(sessions_min=2, sessions_max=2, turns_min=5, turns_max=11)
    arc = await simulate_arc(profile(GRAHAM), scripted_models(), limits=limits)
    selection = Selection(arcs=[arc], read=1)
    tables = build_tables(selection)
    check_tables(tables)
    rows = tables["sessions"].to_pylist()
    assert [r["disposition"] for r in rows] == ["continue_with_safety_plan", "continue_with_safety_plan"]
    assert rows[0]["risk_assessment"]["method"] == "yes" and rows[0]["safety_plan"]["complete"]
    assert [r["safety_plan_reviewed"] for r in rows] == [False, True]
    assert rows[1]["client_state"]["risk_level"] == arc.sessions[1].client_state.risk_level
    card = dataset_card(selection, tables, "cc-by-4.0")
    assert "- `continue_with_safety_plan`: 2" in card and "- `emergency`: 0" in card
    tasks = build_tasks(selection)
    check_tasks(tasks, [arc])
    assert all(t["disposition"] == "continue_with_safety_plan" for t in tasks)
    later = [t for t in tasks if t["task"] == "counseling_generation" and t["session"] == 2]
    assert later and all("giving the tablets to the pharmacist to keep" in t["input"] for t in later)


@pytest.mark.unit
def test_a_broken_protocol_file_is_refused_with_its_file_and_field(tmp_path) -> None:
    text = protocol_path().read_text(encoding="utf-8")
    broken = tmp_path / "crisis.yaml"
    broken.write_text(text.replace("technique: urgent_referral", "technique: phone_a_friend"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"crisis\.yaml: .*'phone_a_friend' is used but not described"):
        load_protocol(broken)
    broken.write_text(text.replace("assessment_turns: 4", "assessment_turns: 0"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"crisis\.yaml: field limits\.assessment_turns"):
        load_protocol(broken)
