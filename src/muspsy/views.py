"""Who sees what: pure functions from the arc state to each agent's template variables.

This is where simulators usually go wrong, so it is kept in one place and tested directly
(canary tokens in every private profile field, `tests/test_canaries.py`). Two sides of a
one-way mirror:
- simulation side: the client sees its persona, its own state and memories, the homework it
  heard, the dialogue, and each private fact or risk note (with its ledger id) only once the
  ledger has unlocked it (`muspsy.ledger`); never memos or the plan;
- counselor side: the counselor sees the intake, the plan, the clinical supervisor's memos, the
  session goal, its strategy and the dialogue; the clinical supervisor sees the intake, the
  transcripts, its own plan and memos and, with measurement-based care on, the questionnaire
  scores. Neither sees any other profile field (private history, risk notes, background,
  planned states or goals) nor the client's own risk labels: what they know of risk is what
  the counselor noticed in the client's words (`assessed_risk` on counselor turns).
- the director (simulation side) sees the whole profile and writes nothing the counselor side
  sees; the client's session appraisal is simulation-side too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from muspsy import views_crisis
from muspsy.agents.plan_rules import next_stage_text
from muspsy.agents.spec import Strategy
from muspsy.graphs.state import ArcState, CurrentSession
from muspsy.ledger import unlocked
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


NOTICED_MARK = "noticed risk:"  # how transcripts for the clinical supervisor mark a noticed risk


def dialogue(turns: list[dict[str, Any]], last: int | None = None, with_assessment: bool = False) -> str:
    """The turns as `Counselor:` / `Client:` lines; never the client's own risk labels.

    `with_assessment` marks counselor turns with the risk the counselor noticed in the
    client's words before it, and the words it quoted (counselor-side knowledge, for the
    clinical supervisor).
    """
    shown = turns[-last:] if last else turns
    if not shown:
        return "(the session has not started yet)"
    lines = []
    for turn in shown:
        label = "Counselor" if turn["speaker"] == "counselor" else "Client"
        noticed = turn.get("assessed_risk") if turn["speaker"] == "counselor" else None
        mark = ""
        if with_assessment and noticed not in (None, "none"):
            cue = f'; the client\'s words: "{turn["risk_cue"]}"' if turn.get("risk_cue") else ""
            mark = f" [{NOTICED_MARK} {noticed}{cue}]"
        lines.append(f"{label}{mark}: {turn['text']}")
    return "\n".join(lines)


def position(session: CurrentSession) -> str:
    return f"Session {session['index']}, turn {len(session['turns']) + 1}."


def level(value: float) -> str:
    """A state number as shown in prompts: one decimal, none when whole (6, 5.4)."""
    return f"{round(value, 1):g}"


def sentences(items: list[str]) -> str:
    """Items as one line of sentences: events are often full sentences, and "; " between them
    read "grounds.; The". Chinese full stops count as sentence ends too."""
    parts = [item.strip() for item in items if item.strip()]
    return " ".join(part if part[-1] in ".!?\u3002\uff01\uff1f" else f"{part}." for part in parts)


def state_text(state: ClientState) -> str:
    events = sentences(state.recent_life_events) or "nothing notable"
    return (
        f"Emotion: {state.emotion_state}\nThinking: {state.cognitive_state}\n"
        f"Recent events: {events}\nDistress (0-10): {level(state.symptom_severity)}\n"
        f"Trust in the counselor (1-5): {level(state.alliance)}"
    )


def intake_text(profile: ClientProfile) -> str:
    intake = profile.intake
    return (
        f"{profile.name}, {profile.age}, {profile.gender}, {profile.occupation}; {profile.culture.rstrip('.')}.\n"
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
    """A memo in the one memory layout of prompts and training data (the MusPsy paper's four
    labelled fields, then the summary), each field on one line."""
    return (
        f"[Emotion and Cognitive State:] {_one_line(memo.emotion_and_cognitive_state)}\n"
        f"[Counselor Observations:] {_one_line(memo.counselor_observations)}\n"
        f"[Counseling Assignments:] {_one_line('; '.join(memo.counseling_assignments))}\n"
        f"[Session Goal:] {_one_line(memo.session_goal)}\n"
        f"Counseling Summary:\n{_one_line(memo.summary)}"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def memories_text(memos: list[Memo], first: int = 1, ratings: bool = False) -> str:
    """Several memories, each under its session number; with `ratings`, the supervisor's own
    progress and risk ratings after each (they are not part of the memory layout)."""
    return "\n\n".join(
        f"Session {first + i}:\n{memo_text(m)}"
        + (f"\nRated: progress {m.progress}; suicide risk {m.risk}" if ratings else "")
        for i, m in enumerate(memos)
    )


def last_memo_block(memos: list[Memo], earlier_memos: int) -> str:
    """What the counselor carries into a session: the last memory in the memory layout, the
    supervisor's risk rating after it, and one-line summaries of a few earlier sessions."""
    if not memos:
        return "(no sessions yet)"
    earlier = (
        [f"Session {i + 1}: {_one_line(m.summary)}" for i, m in enumerate(memos[:-1])][-earlier_memos:]
        if earlier_memos
        else []
    )
    return (
        f"{memo_text(memos[-1])}\nSuicide risk rated after that session: {memos[-1].risk}\n"
        f"Earlier sessions:\n{bullets(earlier)}"
    )


HOMEWORK_POLICY = {
    "required": "always agree one to three between-session assignments at the close.",
    "optional": "agree a between-session assignment only when the client wants one.",
    "none": "no between-session assignments.",
}


def strategy_text(strategy: Strategy) -> str:
    """The strategy as a protocol: stance, the phases of a session, techniques, homework policy."""
    phases = "\n".join(f"{n}. {p.name}: {p.description}" for n, p in enumerate(strategy.phases, start=1))
    techniques = bullets(f"{t.name}: {t.description}" for t in strategy.techniques)
    return (
        f"{strategy.title}\nStance: {strategy.stance}\n"
        f"Session phases, in order (the first opens the session, the last closes it):\n{phases}\n"
        f"Techniques:\n{techniques}\n"
        f"Homework: {HOMEWORK_POLICY[strategy.homework]} {strategy.homework_style}"
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
    current = ClientState.model_validate(state["client_state"])
    items = unlocked(profile, session_index, current.alliance, state.get("disclosures", []))
    shareable = [f"[{item.id}] {item.text}" for item in items if item.kind == "fact"]
    risk_notes = [f"[{item.id}] {item.text}" for item in items if item.kind == "risk"]
    return {
        **_persona(profile),
        "language": language_name(state["language"]),
        "style": STYLE_NOTES[profile.conversational_style],
        "attitude": ATTITUDE_NOTES[profile.attitude],
        "shareable_facts": bullets(shareable),
        "risk": f"Risk of self-harm: {current.risk_level or profile.risk.level}.",
        "risk_notes": bullets(risk_notes),
        "state": state_text(current),
        "homework": _client_homework(state, current),
        "memories": bullets(state.get("client_memories", []), empty="(this is your first session)"),
    }


def _persona(profile: ClientProfile) -> dict[str, str]:
    """Who the client is and the story it brought to counseling: what the client knows of
    itself, and what the director keeps its week true to."""
    return {
        "name": profile.name,
        "age": str(profile.age),
        "gender": profile.gender,
        "culture": profile.culture.rstrip("."),  # the template ends the sentence
        "occupation": profile.occupation,
        "personality": profile.personality,
        "background": profile.background,
        "presenting_problem": profile.intake.presenting_problem,
        "story": _own_story(profile),
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
    plan = TreatmentPlan.model_validate(state["plan"])
    return {
        "language": language_name(state["language"]),
        "strategy": strategy_text(strategy),
        "intake": intake_text(profile),
        "plan": plan_text(plan),
        "memos": last_memo_block(_memos(state), earlier_memos),
        "safety_plan": views_crisis.counselor_safety_plan(state),
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
        "ending_note": ENDING_NOTE if session.get("termination") else "",
        "risk_check": views_crisis.opening_risk_check(state),  # crisis follow-up, before the homework
    }


ENDING_NOTE = (
    "This is the last session of the course, as agreed: after greeting the client, say so, and invite them to look "
    "back together at what has changed since the start."
)


# --- supervisor (the clinical supervisor: counselor side) ---------------------------------


def supervisor_system(state: ArcState, strategy: Strategy) -> dict[str, str]:
    return {
        "language": language_name(state["language"]),
        "strategy": strategy_text(strategy),
        "intake": intake_text(_profile(state)),
    }


def supervisor_plan(state: ArcState) -> dict[str, str]:
    limits = state["limits"]
    return {"sessions": f"between {limits['sessions_min']} and {limits['sessions_max']}"}


def supervisor_memo(state: ArcState, earlier_memos: int) -> dict[str, str]:
    """Transcript + earlier memories -> memory (and, with measurement-based care, the scores)."""
    session = state["session"]
    memos = _memos(state)
    shown = memos[-earlier_memos:] if earlier_memos else []
    return {
        "plan": plan_text(TreatmentPlan.model_validate(state["plan"])),
        "memories": memories_text(shown, len(memos) - len(shown) + 1, ratings=True)
        if shown
        else "(none: this was the first session)",
        "position": f"Session {session['index']}, turn {len(session['turns'])}.",
        "goal": session["goal"],
        "transcript": dialogue(session["turns"], with_assessment=True),
        "homework_given": bullets(session["homework_given"]),
        "crisis": views_crisis.supervisor_crisis(session),
        "scores": scores_block(state, state.get("reports", {})),
        "next_stage": next_stage_text(TreatmentPlan.model_validate(state["plan"]), session["index"] + 1),
    }


def supervisor_decide(state: ArcState) -> dict[str, str]:
    sessions = state["sessions"]
    last = sessions[-1]
    noticed = [t for t in last["turns"] if t["speaker"] == "counselor" and t.get("assessed_risk") not in (None, "none")]
    return {
        "plan": plan_text(TreatmentPlan.model_validate(state["plan"])),
        "memos": memories_text(_memos(state), ratings=True),
        "position": f"Session {last['index']}, turn {len(last['turns'])}.",
        "completed": str(len(sessions)),
        "limits": f"between {state['limits']['sessions_min']} and {state['limits']['sessions_max']} sessions",
        "risk_turns": (dialogue(noticed, with_assessment=True) if noticed else "(the counselor noticed no risk)")
        + f"\n{views_crisis.supervisor_crisis(last)}",
        "scores": scores_block(state),
    }


MEASURES = (("phq9", "PHQ-9"), ("gad7", "GAD-7"), ("wai_sr", "WAI-SR"))


def scores_block(state: ArcState, current: dict[str, Any] | None = None) -> str:
    """The questionnaire scores the client filled in, only with measurement-based care on;
    `current` holds the scores of the session being written up, not yet in `sessions`."""
    if not state.get("measurement_based_care"):
        return ""
    rows = [(s["index"], s) for s in state.get("sessions", [])]
    if current is not None:
        rows.append((state["session"]["index"], current))
    lines = []
    for index, scores in rows:
        parts = [
            f"{label} {scores[key]['total']}" + (f" ({scores[key]['band']})" if scores[key].get("band") else "")
            for key, label in MEASURES
            if scores.get(key)
        ]
        lines.append(f"- Session {index}: {', '.join(parts) or 'not measured'}")
    shown = "\n".join(lines) or "(none yet)"
    return f"Questionnaire scores (measurement-based care; PHQ-9 0-27, GAD-7 0-21, WAI-SR 12-60):\n{shown}\n"


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


def director_system(state: ArcState, plan: WeekPlan) -> dict[str, str]:
    """The director sees who the client is, as the client knows itself, and of the private facts
    and risk notes only those the client is ready to tell in the next session: what it writes
    becomes the client's next state, so a locked item narrated there would reach the client's
    prompt before the ledger unlocks it. The week's own facts (the last state, the planned
    state, the drawn numbers, the risk level) come in the week's task, each once."""
    profile = _profile(state)
    ready = unlocked(profile, len(state["sessions"]) + 1, plan.alliance, state.get("disclosures", []))
    return {
        **_persona(profile),
        "language": language_name(state["language"]),
        "ready_to_tell": bullets((item.text for item in ready), empty="(nothing yet)"),
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
        f"Recent events: {sentences(planned.recent_life_events)}\nEmotion: {planned.emotion_state}\n"
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
            f"trust in the counselor (1-5) from {level(current.alliance)} to {level(plan.alliance)}; "
            f"risk of self-harm from {current.risk_level or profile.risk.level} to {plan.risk_level}."
        ),
        "planned_state": planned_text,
    }
