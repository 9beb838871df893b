"""Who sees what: pure functions from the arc state to each agent's template variables.

This is where simulators usually go wrong, so it is kept in one place and tested directly:
- the client sees its persona, the private facts it is ready to share, its own state and
  memories, the homework it heard, and the dialogue; never memos or the plan;
- the counselor sees the intake (not the client's hidden facts), the plan, its memos, the
  session goal, its strategy and the dialogue;
- the supervisor sees everything;
- the director (simulation side) sees everything and writes nothing the counselor side sees;
  the client's session appraisal is simulation-side too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from muspsy.agents.spec import Strategy
from muspsy.graphs.state import ArcState, CurrentSession
from muspsy.records import ClientProfile, ClientState, Memo, TreatmentPlan

if TYPE_CHECKING:
    from muspsy.agents.director import WeekPlan

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese"}

STYLE_NOTES = {
    "plain": "You speak plainly and answer what you are asked.",
    "verbose": "You talk at length and give more detail than needed.",
    "tangent": "You drift to side stories and need steering back.",
    "upset": "You are easily upset and sometimes push back sharply.",
    "reserved": "You say little, give short answers and open up slowly.",
    "pleasing": "You try to please the counselor and agree too quickly.",
}
ATTITUDE_NOTES = {
    "positive": "You want help and engage willingly.",
    "neutral": "You are unsure counseling will help but you give it a chance.",
    "negative": "You doubt counseling, resist suggestions and may not do homework.",
}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def bullets(items: Iterable[str], empty: str = "(none)") -> str:
    lines = [f"- {item}" for item in items if item]
    return "\n".join(lines) if lines else empty


def dialogue(turns: list[dict[str, Any]], last: int | None = None, with_risk: bool = False) -> str:
    shown = turns[-last:] if last else turns
    if not shown:
        return "(the session has not started yet)"
    lines = []
    for turn in shown:
        label = "Counselor" if turn["speaker"] == "counselor" else "Client"
        risk = f" [risk: {turn['risk']}]" if with_risk and turn.get("risk") not in (None, "none") else ""
        lines.append(f"{label}:{risk} {turn['text']}")
    return "\n".join(lines)


def position(session: CurrentSession) -> str:
    return f"Session {session['index']}, turn {len(session['turns']) + 1}."


def level(value: float) -> str:
    """A state number as shown in prompts: one decimal, none when whole (6, 5.4)."""
    return f"{round(value, 1):g}"


def state_text(state: ClientState) -> str:
    events = "; ".join(state.recent_life_events) or "nothing notable"
    return (
        f"Emotion: {state.emotion_state}\nThinking: {state.cognitive_state}\n"
        f"Recent events: {events}\nDistress (0-10): {level(state.symptom_severity)}\n"
        f"Trust in the counselor (1-5): {level(state.alliance)}"
    )


def intake_text(profile: ClientProfile) -> str:
    intake = profile.intake
    return (
        f"{profile.name}, {profile.age}, {profile.gender}, {profile.occupation}; {profile.culture}.\n"
        f"Presenting problem: {intake.presenting_problem}\n"
        f"Reason for counseling: {intake.reason_for_counseling}\n"
        f"History: {intake.history or 'not reported'}\n"
        f"Functioning: {intake.functioning or 'not reported'}\n"
        f"Support: {intake.support or 'not reported'}"
    )


def plan_text(plan: TreatmentPlan) -> str:
    stages = "\n".join(f"- {s.name} (sessions {s.sessions}): {s.focus}" for s in plan.stages)
    return f"Conceptualization: {plan.case_conceptualization}\nGoals:\n{bullets(plan.goals)}\nStages:\n{stages}"


def memo_text(memo: Memo) -> str:
    return (
        f"Summary: {memo.summary}\n"
        f"Emotion and cognitive state: {memo.emotion_and_cognitive_state}\n"
        f"Counselor observations: {memo.counselor_observations}\n"
        f"Counseling assignments:\n{bullets(memo.counseling_assignments)}\n"
        f"Session goal: {memo.session_goal}\nNext session goal: {memo.next_session_goal}\n"
        f"Progress: {memo.progress}; risk: {memo.risk}"
    )


def strategy_text(strategy: Strategy) -> str:
    return (
        f"{strategy.title}\nStance: {strategy.stance}\nTechniques:\n{bullets(strategy.techniques)}\n"
        f"Session structure: {strategy.session_structure}\nHomework style: {strategy.homework_style}"
    )


def _memos(state: ArcState) -> list[Memo]:
    return [Memo.model_validate(s["memo"]) for s in state.get("history", [])]


def _profile(state: ArcState) -> ClientProfile:
    return ClientProfile.model_validate(state["profile"])


# --- client -----------------------------------------------------------------------------


def client_system(state: ArcState, session_index: int | None = None) -> dict[str, str]:
    """The client's persona and state; `session_index` when `state["session"]` is not (yet) it."""
    profile = _profile(state)
    if session_index is None:
        session_index = state["session"]["index"] if "session" in state else 1
    shareable = [f.fact for f in profile.private_history if f.share_from_session <= session_index]
    current = ClientState.model_validate(state["client_state"])
    return {
        "name": profile.name,
        "age": str(profile.age),
        "gender": profile.gender,
        "culture": profile.culture,
        "occupation": profile.occupation,
        "language": language_name(state["language"]),
        "personality": profile.personality,
        "background": profile.background,
        "presenting_problem": profile.intake.presenting_problem,
        "story": _own_story(profile),
        "style": STYLE_NOTES[profile.conversational_style],
        "attitude": ATTITUDE_NOTES[profile.attitude],
        "shareable_facts": bullets(shareable),
        "risk": f"Risk of self-harm: {profile.risk.level}. {profile.risk.notes}".strip(),
        "state": state_text(current),
        "homework": _client_homework(state, current),
        "memories": bullets(state.get("client_memories", []), empty="(this is your first session)"),
    }


def _own_story(profile: ClientProfile) -> str:
    # The client knows its own intake story; it is the counselor who learns it only from intake.
    intake = profile.intake
    parts = [
        ("Why now", intake.reason_for_counseling),
        ("History", intake.history),
        ("Daily life", intake.functioning),
        ("Support", intake.support),
    ]
    return "\n".join(f"{label}: {text}" for label, text in parts if text)


def _client_homework(state: ArcState, current: ClientState) -> str:
    # The client knows the homework because the counselor said it aloud at the last close,
    # not because it read the supervisor's memo.
    history = state.get("history", [])
    if not history:
        return "(none yet)"
    given = history[-1].get("homework_given", [])
    return f"{bullets(given)}\nWhat you did about it: {current.homework_adherence.replace('_', ' ')}"


def client_turn(state: ArcState, recent_turns: int) -> dict[str, str]:
    session = state["session"]
    return {
        "name": state["profile"]["name"],
        "position": position(session),
        "dialogue": dialogue(session["turns"], recent_turns),
    }


def upcoming_session_index(state: ArcState) -> int:
    """The number of the session about to start: one after the finished ones."""
    return len(state.get("history", [])) + 1


def client_self_report_start(state: ArcState, questionnaires: str) -> dict[str, str]:
    """Before the session: the client answers from its persona and state (in the system prompt)."""
    return {
        "name": state["profile"]["name"],
        "session_index": str(upcoming_session_index(state)),
        "questionnaires": questionnaires,
    }


# --- counselor --------------------------------------------------------------------------


def counselor_system(state: ArcState, strategy: Strategy, earlier_memos: int) -> dict[str, str]:
    profile = _profile(state)
    memos = _memos(state)
    if memos:
        earlier = (
            [f"Session {i + 1}: {m.summary}" for i, m in enumerate(memos[:-1])][-earlier_memos:]
            if earlier_memos
            else []
        )
        memo_block = f"{memo_text(memos[-1])}\nEarlier sessions:\n{bullets(earlier)}"
    else:
        memo_block = "(no sessions yet)"
    plan = TreatmentPlan.model_validate(state["plan"])
    return {
        "language": language_name(state["language"]),
        "strategy": strategy_text(strategy),
        "intake": intake_text(profile),
        "plan": plan_text(plan),
        "memos": memo_block,
    }


def counselor_task(state: ArcState, recent_turns: int) -> dict[str, str]:
    session = state["session"]
    turns_left = state["limits"]["turns_max"] - len(session["turns"])
    return {
        "position": position(session),
        "goal": session["goal"],
        "turns_left": str(max(turns_left, 0)),
        "dialogue": dialogue(session["turns"], recent_turns),
    }


def counselor_open(state: ArcState) -> dict[str, str]:
    session = state["session"]
    return {
        "position": position(session),
        "goal": session["goal"],
        "homework": bullets(session["homework_reviewed"], empty="(none: this is the first session)"),
    }


# --- supervisor -------------------------------------------------------------------------


def supervisor_system(state: ArcState, strategy: Strategy) -> dict[str, str]:
    profile = _profile(state)
    return {
        "language": language_name(state["language"]),
        "strategy": strategy_text(strategy),
        "profile": profile.model_dump_json(by_alias=True, exclude={"provenance", "extra"}, indent=1),
    }


def supervisor_plan(state: ArcState) -> dict[str, str]:
    profile = _profile(state)
    planned = [f"Session {p.session}: {p.goal}" for p in profile.planned_arc]
    limits = state["limits"]
    return {
        "sessions": f"between {limits['sessions_min']} and {limits['sessions_max']}",
        "planned_goals": bullets(planned, empty="(the profile has no planned arc)"),
    }


def supervisor_memo(state: ArcState) -> dict[str, str]:
    session = state["session"]
    return {
        "plan": plan_text(TreatmentPlan.model_validate(state["plan"])),
        "position": f"Session {session['index']}, turn {len(session['turns'])}.",
        "goal": session["goal"],
        "transcript": dialogue(session["turns"], with_risk=True),
        "homework_given": bullets(session["homework_given"]),
    }


def supervisor_decide(state: ArcState) -> dict[str, str]:
    sessions = state["sessions"]
    last = sessions[-1]
    profile = _profile(state)
    upcoming = profile.planned(last["index"] + 1)
    risky = [t for t in last["turns"] if t.get("risk") not in (None, "none")]
    return {
        "plan": plan_text(TreatmentPlan.model_validate(state["plan"])),
        "memos": "\n\n".join(f"Session {i + 1}:\n{memo_text(m)}" for i, m in enumerate(_memos(state))),
        "position": f"Session {last['index']}, turn {len(last['turns'])}.",
        "completed": str(len(sessions)),
        "limits": f"between {state['limits']['sessions_min']} and {state['limits']['sessions_max']} sessions",
        "planned_next": upcoming.goal if upcoming else "(no planned next session)",
        "risk_turns": dialogue(risky, with_risk=True) if risky else "(no risk disclosed in the last session)",
    }


# --- director ---------------------------------------------------------------------------
# The simulation side: the client's appraisal of a session and the director's week. None of
# this is ever shown to the counselor side.

FIT_HELPS, FIT_PUTS_OFF = 0.6, 0.4


def client_preferences(profile: ClientProfile, strategies: dict[str, Strategy]) -> str:
    """What tends to help this client and what puts it off, in lay words, from its strategy fit."""
    canonical = {alias: s.name for s in strategies.values() for alias in s.aliases}
    fit = {canonical.get(name, name): value for name, value in profile.strategy_fit.items()}
    ranked = sorted((n for n in fit if n in strategies and strategies[n].client_view), key=lambda n: (-fit[n], n))
    helps = [strategies[name].client_view for name in ranked if fit[name] >= FIT_HELPS]
    puts_off = [strategies[name].client_view for name in ranked if fit[name] <= FIT_PUTS_OFF]
    return (
        f"What tends to help you:\n{bullets(helps, empty='(nothing in particular)')}\n"
        f"What tends to put you off:\n{bullets(puts_off, empty='(nothing in particular)')}"
    )


def client_appraisal(state: ArcState, questionnaires: str, recent_turns: int, preferences: str) -> dict[str, str]:
    """After the session: the client looks back on it as it lived it (and, with outcomes on,
    fills in the WAI-SR); `questionnaires` is empty when outcomes are off."""
    session = state["session"]
    return {
        "name": state["profile"]["name"],
        "session_index": str(session["index"]),
        "session": dialogue(session["turns"], recent_turns),
        "homework": bullets(session["homework_given"]),
        "preferences": preferences,
        "questionnaires": questionnaires or "(no questionnaire this time: give only your appraisal)",
    }


def director_system(state: ArcState) -> dict[str, str]:
    """The director sees the whole profile: it owns the client's world."""
    return {
        "language": language_name(state["language"]),
        "profile": _profile(state).model_dump_json(by_alias=True, exclude={"provenance", "extra"}, indent=1),
    }


def _event_text(plan: WeekPlan) -> str:
    if plan.event is None:
        return "A quiet week: nothing notable happens."
    valence, impact = plan.event
    return f"Something {valence} happens, of impact {impact:.1f} (0 slight .. 1 major)."


def director_week(state: ArcState, plan: WeekPlan) -> dict[str, str]:
    """The director's view of the week it narrates, with the numbers code already decided."""
    profile = _profile(state)
    last = state["sessions"][-1]
    current = ClientState.model_validate(state["client_state"])
    planned = profile.planned(last["index"] + 1)
    planned_text = (
        f"Recent events: {'; '.join(planned.recent_life_events)}\nEmotion: {planned.emotion_state}\n"
        f"Thinking: {planned.cognitive_state}"
        if planned
        else "(no planned state: invent a plausible one)"
    )
    return {
        "name": profile.name,
        "state": state_text(current),
        "session_index": str(last["index"]),
        "last_session": dialogue(last["turns"], 12),
        "homework": bullets(last.get("homework_given", [])),
        "adherence": plan.adherence.replace("_", " "),
        "life_event": _event_text(plan),
        "change": (
            f"Distress (0-10) goes from {level(current.symptom_severity)} to {level(plan.severity)}; "
            f"trust in the counselor (1-5) from {level(current.alliance)} to {level(plan.alliance)}."
        ),
        "planned_state": planned_text,
    }
