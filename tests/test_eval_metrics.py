"""Deterministic fidelity metrics on hand-made arcs whose answers are known."""

# ruff: noqa: RUF001  (full-width Chinese punctuation is the test data)
from __future__ import annotations

import pytest

from eval_arcs import CLEAN_S1, CLEAN_S2, arc, session
from muspsy.evaluation.metrics import arc_metrics, leak_reasons, session_metrics, tokens
from muspsy.records import Turn

pytestmark = pytest.mark.unit


def clean_arc():
    return arc([session(1, CLEAN_S1), session(2, CLEAN_S2)])


def test_a_clean_arc_has_no_leak_no_violation_and_full_memos():
    m = arc_metrics(clean_arc())
    assert m["client_leaks"] == m["counselor_leaks"] == m["own_label_turns"] == 0
    assert m["alternation_violations"] == 0 and m["alternation_violation_rate"] == 0.0
    assert m["memo_completeness"] == 1.0
    assert m["sessions"] == 2 and m["end_reason"] == "goals_met" and m["turns"] == 9
    assert session_metrics(clean_arc(), 0)["leaks"] == []


@pytest.mark.parametrize(
    "text",
    [
        "Counselor: and how does that make you feel?",
        "I keep thinking.\n**Therapist:** Let's look at that thought.",
        "咨询师：你最近睡得怎么样？",
        "As your therapist, I suggest we slow down.",
    ],
)
def test_a_client_turn_speaking_as_the_counselor_is_a_leak(text):
    turns = [*CLEAN_S1[:3], ("client", text), CLEAN_S1[4]]
    planted = arc([session(1, turns), session(2, CLEAN_S2)])
    m = arc_metrics(planted)
    assert m["client_leaks"] == 1 and m["counselor_leaks"] == 0
    (leak,) = session_metrics(planted, 0)["leaks"]
    assert leak["turn"] == 4 and leak["speaker"] == "client" and leak["reasons"][0].startswith("counselor")


@pytest.mark.parametrize("text", ["Client: I think I am useless.", "来访者：我觉得很累。", "User: thanks, that helps"])
def test_a_counselor_turn_speaking_as_the_client_is_a_leak(text):
    turns = [*CLEAN_S2[:2], ("counselor", text), CLEAN_S2[3]]
    planted = arc([session(1, CLEAN_S1), session(2, turns)])
    m = arc_metrics(planted)
    assert m["counselor_leaks"] == 1 and m["client_leaks"] == 0
    (leak,) = session_metrics(planted, 1)["leaks"]
    assert leak == {"turn": 3, "speaker": "counselor", "reasons": ["client speaker label"]}


def test_leak_rules_stay_conservative():
    # A role word that is not a speaker label at the start of a line is ordinary speech.
    for text in ["I saw a therapist: it did not help.", "My counselor at school was kind.", "The user manual: useless"]:
        assert leak_reasons(Turn(index=2, speaker="client", text=text)) == []
    # A client's own label is an artefact, counted apart, not a leak.
    own = arc([session(1, [CLEAN_S1[0], ("client", "Client: I am tired."), CLEAN_S1[2]])])
    m = arc_metrics(own)
    assert m["client_leaks"] == 0 and m["own_label_turns"] == 1


def test_two_turns_of_one_speaker_in_a_row_violate_alternation():
    turns = [*CLEAN_S1[:2], ("client", "And another thing about work."), *CLEAN_S1[2:]]
    m = session_metrics(arc([session(1, turns)]), 0)
    assert m["alternation_violations"] == 1
    assert m["alternation_violation_rate"] == pytest.approx(1 / 5)


def test_planted_repetition_is_measured():
    line = "I just cannot stop thinking about the meeting tomorrow"
    turns = [
        ("counselor", "a b c"),
        ("client", line),
        ("counselor", "a b d"),
        ("client", "I am so tired, I am so tired of it"),
        ("counselor", "e f g"),
        ("client", "Well, " + line + " again"),
    ]
    m = session_metrics(arc([session(1, turns)]), 0)
    # Counselor: 9 words, 7 distinct; bigrams (a b) twice, (b c), (b d), (e f), (f g): 5 of 6.
    assert m["counselor_distinct_1"] == pytest.approx(7 / 9)
    assert m["counselor_distinct_2"] == pytest.approx(5 / 6)
    # Client: turn 4 repeats a 4-gram inside itself; turn 6 repeats a 6-gram of turn 2.
    assert m["client_within_turn_repetition"] == pytest.approx(1 / 3)
    assert m["client_repeated_turn_share"] == pytest.approx(1 / 3)
    assert m["counselor_within_turn_repetition"] == 0.0 and m["counselor_repeated_turn_share"] == 0.0


def test_turn_lengths_in_words_and_in_characters_for_cjk():
    turns = [("counselor", "one two"), ("client", "x"), ("counselor", "one two three four")]
    turns += [("client", "y"), ("counselor", "1 2 3 4 5 6"), ("client", "z"), ("counselor", "1 2 3 4 5 6 7 8")]
    m = session_metrics(arc([session(1, turns)]), 0)
    assert m["length_unit"] == "words"
    assert (m["counselor_len_mean"], m["counselor_len_median"]) == (5.0, 5.0)
    assert m["counselor_len_p90"] == pytest.approx(7.4)  # linear interpolation between 6 and 8
    zh = [("counselor", "你好，今天想谈什么？"), ("client", "我睡不好。")]
    m = session_metrics(arc([session(1, zh)], language="zh"), 0)
    assert m["length_unit"] == "chars" and m["counselor_len_mean"] == 8.0 and m["client_len_mean"] == 4.0
    assert tokens("OK好的 don't") == ["ok", "好", "的", "don't"]


def test_homework_follow_up_is_one_when_the_next_session_refers_back():
    assert arc_metrics(clean_arc())["homework_follow_up_rate"] == 1.0
    assert session_metrics(clean_arc(), 0)["homework_followed_up_next"] is True
    assert session_metrics(clean_arc(), 1)["homework_followed_up_next"] is None  # no next session


def test_homework_follow_up_is_zero_when_the_next_session_ignores_it():
    # homework_reviewed says the counselor was shown the task; only the dialogue is evidence.
    ignored = [("counselor", "Welcome back. What would you like to talk about today?"), *CLEAN_S2[1:]]
    planted = arc([session(1, CLEAN_S1), session(2, ignored, reviewed=["Keep a thought diary every evening"])])
    assert arc_metrics(planted)["homework_follow_up_rate"] == 0.0


def test_homework_follow_up_in_chinese_and_from_memo_assignments():
    s1 = [("counselor", "这周请你每天晚上写情绪日记。"), ("client", "好的，我试试。")]
    s2 = [("counselor", "上次的情绪日记写得怎么样？"), ("client", "写了三天。")]
    imported = arc(
        [session(1, s1, homework=[], memo={"counseling_assignments": ["每天晚上写情绪日记"]}), session(2, s2)],
        language="zh",
    )
    assert arc_metrics(imported)["homework_follow_up_rate"] == 1.0


def test_no_assignments_means_no_follow_up_rate():
    none = arc([session(1, CLEAN_S1, homework=[], memo={"counseling_assignments": []}), session(2, CLEAN_S2)])
    assert arc_metrics(none)["homework_follow_up_rate"] is None


def test_memo_completeness_counts_empty_and_placeholder_fields():
    bad = {"summary": "N/A", "counselor_observations": "<counselor_observations>", "counseling_assignments": []}
    planted = arc([session(1, CLEAN_S1), session(2, CLEAN_S2, memo=bad)])
    assert session_metrics(planted, 0)["memo_complete"] is True
    second = session_metrics(planted, 1)
    assert second["memo_complete"] is False
    assert second["memo_missing"] == ["summary", "counselor_observations", "counseling_assignments"]
    assert arc_metrics(planted)["memo_completeness"] == 0.5


def test_fields_an_importer_marked_as_placeholders_count_as_missing():
    marked = {"sessions[1].memo.counselor_observations": "not in the source", "sessions[1].memo.progress": "enum"}
    imported = arc([session(1, CLEAN_S1), session(2, CLEAN_S2)])
    imported = imported.model_copy(update={"import_placeholders": marked})
    assert session_metrics(imported, 0)["memo_missing"] == ["counselor_observations"]
    assert arc_metrics(imported)["memo_completeness"] == 0.5


def test_sessions_end_reasons_and_turn_caps():
    capped = session(1, CLEAN_S1)
    capped["end_reason"] = "turn_cap"
    m = arc_metrics(arc([capped, session(2, CLEAN_S2)], end_reason="dropout"))
    assert (m["sessions"], m["end_reason"], m["turn_cap_sessions"]) == (2, "dropout", 1)
