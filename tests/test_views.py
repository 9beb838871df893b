"""Who sees what: planted strings prove the client never sees memos or the plan, and neither the
counselor nor the clinical supervisor (the counselor side) sees the client's hidden facts, risk
notes, background or planned arc; the clinical supervisor sees the intake, transcripts, its
own plan and memos, and questionnaire scores only with measurement-based care."""

from __future__ import annotations

from typing import Any

import pytest

from muspsy import views, views_protocol, views_supervision
from muspsy.agents.base import Agent
from muspsy.agents.counselor import Counselor
from muspsy.agents.spec import load_spec, load_strategy
from muspsy.data import profiles_dir
from muspsy.events import NullEventLog
from muspsy.graphs.state import ArcState
from muspsy.llm import RoleModel
from muspsy.profiles import load_profile
from muspsy.records import ClientState, Memo, SessionRecord, TreatmentPlan
from muspsy.testing import ScriptedChatModel

pytestmark = pytest.mark.unit

# Memo and plan text: only the supervisor and the counselor may see these.
MEMO = {
    "summary": "ZZ-SUMMARY quail orchard ledger",
    "emotion_and_cognitive_state": "ZZ-EMOCOG brittle lantern",
    "counselor_observations": "ZZ-OBSERVED copper heron",
    "counseling_assignments": ["ZZ-ASSIGNED Chart bedtime and wake time nightly"],
    "session_goal": "ZZ-SESSIONGOAL map the worry",
    "next_session_goal": "ZZ-NEXTGOAL test one prediction about mistakes",
    "progress": "some",
    "risk": "low",
}
PLAN = {
    "case_conceptualization": "ZZ-CONCEPT perfectionism keeps the checking loop alive",
    "goals": ["ZZ-GOAL-ONE sleep six hours", "ZZ-GOAL-TWO stop email at nine"],
    "stages": [{"name": "ZZ-STAGE Engagement", "sessions": "1-2", "focus": "ZZ-FOCUS map the loop"}],
    "first_session_goal": "ZZ-FIRSTGOAL agree on goals",
}
# Hidden from the counselor.
FACTS = [
    ("ZZ-FACT-2 she pours wine to fall asleep", 2),
    ("ZZ-FACT-3 she applied to two rival firms", 3),
    ("ZZ-FACT-4 her brother burned out and was hospitalised", 4),
]
RISK_NOTES = "ZZ-RISKNOTE watch alcohol as a sleep aid"
BACKGROUND = "ZZ-BACKGROUND grew up above a bakery"
PLANNED_GOAL = "ZZ-PLANNEDGOAL name the wine habit"
PLANNED_STATE = "ZZ-PLANNEDSTATE dreads Monday"
# What the client legitimately hears at the close of session 1.
HOMEWORK_GIVEN = "ZZ-HOMEWORK keep a sleep diary"
MEMORY = "ZZ-MEMORY we talked about deadlines"


def _profile() -> dict[str, Any]:
    profile = load_profile(profiles_dir() / "hannah-work-anxiety.yaml")
    data = profile.model_dump(mode="json", by_alias=True)
    data["private_history"] = [{"fact": fact, "share_from_session": n} for fact, n in FACTS]
    data["risk"] = {"level": "low", "notes": RISK_NOTES}
    data["background"] = BACKGROUND
    data["planned_arc"] = [
        {"session": n, "emotion_state": PLANNED_STATE, "cognitive_state": PLANNED_STATE, "goal": PLANNED_GOAL}
        for n in range(1, 7)
    ]
    return data


def _client_state() -> dict[str, Any]:
    return ClientState(
        emotion_state="Tired but a little hopeful.",
        cognitive_state="Still expects disaster from small errors.",
        recent_life_events=["A calm one-to-one with her manager"],
        homework_adherence="partial",
    ).model_dump(mode="json")


def _finished_session(index: int) -> dict[str, Any]:
    return SessionRecord(
        index=index,
        goal=MEMO["session_goal"],
        client_state=_client_state(),
        turns=[
            {"index": 1, "speaker": "counselor", "text": "What brings you in today?", "kind": "open"},
            {"index": 2, "speaker": "client", "text": "Work worry, and I barely sleep.", "risk": "none"},
            {"index": 3, "speaker": "counselor", "text": "Could you keep a sleep diary this week?", "kind": "close"},
        ],
        homework_given=[HOMEWORK_GIVEN],
        end_reason="counselor_closed",
        memo=Memo.model_validate(MEMO),
    ).model_dump(mode="json")


def arc_state(session_index: int) -> ArcState:
    """State in the middle of session `session_index`, after `session_index - 1` finished sessions."""
    finished = [_finished_session(i) for i in range(1, session_index)]
    reviewed = list(MEMO["counseling_assignments"]) if finished else []
    goal = MEMO["next_session_goal"] if finished else PLAN["first_session_goal"]
    return {
        "run_id": "run-views",
        "arc_id": "hannah-work-anxiety--cbt--seed0",
        "seed": 0,
        "strategy": "cbt",
        "language": "en",
        "profile": _profile(),
        "limits": {"sessions_min": 2, "sessions_max": 6, "turns_min": 6, "turns_max": 20},
        "plan": TreatmentPlan.model_validate(PLAN).model_dump(mode="json"),
        "client_state": _client_state(),
        "client_memories": [MEMORY] if finished else [],
        "next_goal": goal,
        "sessions": finished,
        "history": [{"index": s["index"], "memo": s["memo"], "homework_given": s["homework_given"]} for s in finished],
        "session": {
            "index": session_index,
            "goal": goal,
            "client_state": _client_state(),
            "homework_reviewed": reviewed,
            "turns": [
                {"index": 1, "speaker": "counselor", "text": "Welcome. How has the week been?", "kind": "open"},
                {"index": 2, "speaker": "client", "text": "Busy, and I still lie awake a lot.", "risk": "none"},
            ],
            "ready_to_close": False,
            "crisis": False,
            "homework_given": [],
        },
        "usage": {},
    }


def _render(role: str, name: str, values: dict[str, str]) -> str:
    template = load_spec(role).templates[name]  # type: ignore[arg-type]
    if "response_format" in template.variables:
        values = {**values, "response_format": "(format)"}
    return template.render(values)


def client_view(state: ArcState) -> str:
    recent = load_spec("client").settings.recent_turns
    return (
        _render("client", "system", views.client_system(state))
        + "\n"
        + _render("client", "turn", views.client_turn(state, recent))
    )


def counselor_views(state: ArcState) -> dict[str, str]:
    spec = load_spec("counselor")
    strategy = load_strategy("cbt")
    return {
        "system": _render("counselor", "system", views.counselor_system(state, strategy, spec.settings.earlier_memos)),
        "task": _render(
            "counselor",
            "turn",
            {
                **views.counselor_task(state, spec.settings.recent_turns),
                **views_protocol.dialogue_turn(state["session"], strategy),
            },
        ),
        "open": _render(
            "counselor", "open", {**views.counselor_open(state), **views_protocol.opening(state["session"], strategy)}
        ),
    }


def supervisor_views(state: ArcState) -> str:
    strategy = load_strategy("cbt")
    earlier = load_spec("supervisor").settings.earlier_memos
    parts = [
        _render("supervisor", "system", views.supervisor_system(state, strategy)),
        _render("supervisor", "plan", views.supervisor_plan(state)),
        _render("supervisor", "memo", views.supervisor_memo(state, earlier)),
    ]
    if state["sessions"]:
        parts.append(_render("supervisor", "decide", views_supervision.supervisor_review(state, ["cbt"])))
    return "\n".join(parts)


MEMO_STRINGS = [
    MEMO["summary"],
    MEMO["emotion_and_cognitive_state"],
    MEMO["counselor_observations"],
    MEMO["next_session_goal"],
    MEMO["session_goal"],
    *MEMO["counseling_assignments"],
]
PLAN_STRINGS = [PLAN["case_conceptualization"], *PLAN["goals"], PLAN["first_session_goal"], PLAN["stages"][0]["focus"]]


# --- client --------------------------------------------------------------------------------


@pytest.mark.parametrize("session_index", [1, 2, 3, 5])
def test_client_never_sees_memos_or_the_plan(session_index: int) -> None:
    state = arc_state(session_index)
    text = client_view(state)
    for planted in MEMO_STRINGS + PLAN_STRINGS:
        assert planted not in text, f"client view leaks {planted!r}"
    # The only planted markers a client may see are its own facts, risk, homework and memories.
    markers = {word for word in text.split() if word.startswith("ZZ-")}
    own = {"ZZ-FACT-2", "ZZ-FACT-3", "ZZ-FACT-4", "ZZ-RISKNOTE", "ZZ-HOMEWORK", "ZZ-MEMORY", "ZZ-BACKGROUND"}
    assert markers <= own, markers


def test_client_view_does_show_what_the_client_knows() -> None:
    """Positive control: the same renderer does show homework, memories, state and dialogue."""
    text = client_view(arc_state(2))
    assert HOMEWORK_GIVEN in text
    assert MEMORY in text
    assert "Still expects disaster from small errors." in text
    assert "Busy, and I still lie awake a lot." in text
    assert "Hannah Cole" in text


@pytest.mark.parametrize("session_index", [1, 2, 3, 4, 5])
def test_client_private_facts_unlock_by_session(session_index: int) -> None:
    text = client_view(arc_state(session_index))
    for fact, share_from in FACTS:
        if share_from <= session_index:
            assert fact in text, f"{fact!r} should be shareable in session {session_index}"
        else:
            assert fact not in text, f"{fact!r} leaked before session {share_from}"


def test_client_system_without_a_current_session_uses_session_one() -> None:
    state = arc_state(3)
    del state["session"]
    facts = views.client_system(state)["shareable_facts"]
    assert all(fact not in facts for fact, _ in FACTS)


# --- counselor -----------------------------------------------------------------------------


@pytest.mark.parametrize("session_index", [1, 2, 4, 6])
def test_counselor_never_sees_hidden_facts_or_risk_notes(session_index: int) -> None:
    for name, text in counselor_views(arc_state(session_index)).items():
        for fact, _ in FACTS:
            assert fact not in text, f"counselor {name} view leaks a private fact"
        assert RISK_NOTES not in text, f"counselor {name} view leaks the risk notes"


def test_counselor_sees_intake_plan_and_last_memo() -> None:
    state = arc_state(2)
    rendered = counselor_views(state)
    presenting = state["profile"]["intake"]["presenting_problem"]
    assert presenting in rendered["system"]
    for planted in PLAN_STRINGS[:3]:
        assert planted in rendered["system"]
    assert MEMO["summary"] in rendered["system"]
    assert MEMO["next_session_goal"] in rendered["task"]  # the session goal is the memo's next goal
    for assignment in MEMO["counseling_assignments"]:
        assert assignment in rendered["system"]
        assert assignment in rendered["task"]  # CBT reviews homework after the agenda, not in the opening


def test_counselor_first_session_has_no_homework_to_review() -> None:
    rendered = counselor_views(arc_state(1))
    assert "(none: this is the first session)" in rendered["open"]
    assert "(no sessions yet)" in rendered["system"]
    assert MEMO["counseling_assignments"][0] not in rendered["open"]


async def test_counselor_open_reviews_the_last_memo_assignments() -> None:
    """The real Counselor.open takes the homework to review from the last memo (in a strategy
    whose opening phase reviews homework)."""
    state = {**arc_state(2), "strategy": "solution_focused"}
    del state["session"]
    reply = {"technique": "eliciting_whats_better", "text": "Welcome back. How did the week go?"}
    chat = ScriptedChatModel.from_replies([reply])
    agent = Agent(load_spec("counselor"), RoleModel(chat, "scripted", "function_calling"), NullEventLog(), 0)
    update = await Counselor(agent, {"solution_focused": load_strategy("solution_focused")}).open(state)
    assert update["session"]["index"] == 2
    assert update["session"]["homework_reviewed"] == MEMO["counseling_assignments"]
    [(_, messages)] = chat.calls
    prompt = "\n".join(str(m.content) for m in messages)
    assert MEMO["counseling_assignments"][0] in str(messages[-1].content)
    assert state["profile"]["intake"]["presenting_problem"] in prompt
    for fact, _ in FACTS:
        assert fact not in prompt
    assert RISK_NOTES not in prompt


# --- the clinical supervisor (counselor side) -----------------------------------------------

COUNSELOR_SIDE_SECRETS = [*(fact for fact, _ in FACTS), RISK_NOTES, BACKGROUND, PLANNED_GOAL, PLANNED_STATE]


@pytest.mark.parametrize("session_index", [1, 2, 3])
def test_counselor_side_never_sees_private_profile_fields(session_index: int) -> None:
    state = arc_state(session_index)
    state["sessions"] = [_finished_session(i) for i in range(1, session_index + 1)]  # decide runs after a memo
    texts = {"supervisor": supervisor_views(state), **counselor_views(state)}
    for name, text in texts.items():
        for secret in COUNSELOR_SIDE_SECRETS:
            assert secret not in text, f"{name} view leaks {secret!r}"


def test_clinical_supervisor_sees_intake_transcript_plan_and_memos() -> None:
    state = arc_state(3)
    text = supervisor_views(state)
    assert state["profile"]["intake"]["presenting_problem"] in text
    assert "Busy, and I still lie awake a lot." in text  # the current session's transcript
    assert PLAN["case_conceptualization"] in text
    assert MEMO["summary"] in text and MEMO["counselor_observations"] in text  # its earlier memories
    assert "Rated: progress some; suicide risk low" in text  # and its own ratings after them


def test_transcripts_show_what_the_counselor_noticed_never_the_client_label() -> None:
    state = arc_state(1)
    state["session"]["turns"] = [
        {"index": 1, "speaker": "counselor", "text": "Welcome.", "kind": "open"},
        {"index": 2, "speaker": "client", "text": "Some days I wish I were gone.", "risk": "passive_ideation"},
        {"index": 3, "speaker": "counselor", "text": "Tell me more.", "assessed_risk": "passive_ideation"},
        {"index": 4, "speaker": "client", "text": "I have no plan at all.", "risk": "plan_or_intent"},
    ]
    memo = views.supervisor_memo(state, 3)["transcript"]
    assert "Counselor [noticed risk: passive_ideation]: Tell me more." in memo
    assert "plan_or_intent" not in memo and "[risk:" not in memo
    assert "risk" not in views.counselor_task(state, 12)["dialogue"]


def _with_scores(state: ArcState) -> ArcState:
    scores = {
        "phq9": {"instrument": "phq9", "items": [1] * 9, "total": 9, "band": "mild"},
        "wai_sr": {"instrument": "wai_sr", "items": [3] * 12, "total": 36, "subscales": {}},
    }
    state["sessions"] = [{**s, **scores} for s in state["sessions"]]
    state["reports"] = {"phq9": {**scores["phq9"], "total": 7, "band": "mild"}}
    return state


@pytest.mark.parametrize("care", [False, True])
def test_scores_reach_the_supervisor_only_with_measurement_based_care(care: bool) -> None:
    state = _with_scores(arc_state(2))
    state["measurement_based_care"] = care
    supervisor = supervisor_views(state)
    counselor = "\n".join(counselor_views(state).values())
    assert ("PHQ-9 9 (mild)" in supervisor and "PHQ-9 7 (mild)" in supervisor) is care
    assert ("WAI-SR 36" in supervisor) is care
    assert "PHQ-9" not in counselor


# --- the disclosure ledger in the client's prompt -------------------------------------------


def test_client_sees_each_unlocked_fact_with_its_id() -> None:
    text = client_view(arc_state(2))
    assert f"[fact-1] {FACTS[0][0]}" in text
    assert f"[risk-1] {RISK_NOTES}" in text


@pytest.mark.parametrize(("alliance", "shown"), [(1, False), (3, False), (4, True), (5, True)])
def test_a_fact_needs_enough_trust_as_well_as_its_session(alliance: int, shown: bool) -> None:
    state = arc_state(3)
    state["profile"]["private_history"][0]["min_alliance"] = 4
    state["client_state"]["alliance"] = alliance
    assert (FACTS[0][0] in client_view(state)) is shown


def test_a_told_fact_stays_in_the_client_prompt_when_trust_drops() -> None:
    state = arc_state(3)
    state["profile"]["private_history"][0]["min_alliance"] = 4
    state["client_state"]["alliance"] = 1
    state["disclosures"] = [{"fact": "fact-1", "session": 2, "turn": 6}]
    assert FACTS[0][0] in client_view(state)


def test_recent_events_read_as_sentences() -> None:
    state = ClientState(
        emotion_state="tired",
        cognitive_state="doubting",
        recent_life_events=["A row with her sister on the school grounds.", "The deadline moved ", "  "],
    )
    assert "Recent events: A row with her sister on the school grounds. The deadline moved.\n" in views.state_text(
        state
    )
    assert "Recent events: nothing notable" in views.state_text(state.model_copy(update={"recent_life_events": []}))
