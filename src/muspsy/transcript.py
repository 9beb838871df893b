"""Human-readable Markdown transcript of one arc: from the canonical record once it is
finished, and from the arc's graph state while it runs (or after it failed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from muspsy.records import ArcRecord, InstrumentScore, SessionRecord, TreatmentPlan, Turn

INSTRUMENT_TITLES = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR"}


def score_line(found: InstrumentScore) -> str:
    """E.g. `PHQ-9 12 (moderate)` or `WAI-SR 40 (task 13, bond 14, goal 13)`."""
    detail = found.band or ", ".join(f"{name} {value}" for name, value in found.subscales.items())
    return f"{INSTRUMENT_TITLES[found.instrument]} {found.total}" + (f" ({detail})" if detail else "")


def render_transcript(arc: ArcRecord) -> str:
    lines = [
        *_title(arc.profile, arc.client_id, arc.strategy),
        f"Arc `{arc.arc_id}` of run `{arc.run_id}`. Outcome: **{arc.outcome.end_reason}** after "
        f"{arc.outcome.sessions} session(s). {arc.outcome.rationale}",
        *_plan_lines(arc.plan),
    ]
    for session in arc.sessions:
        lines += _session_lines(session)
    return "\n".join(lines) + "\n"


def render_partial_transcript(state: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> str:
    """An arc that has not finished: its plan, finished sessions, and the turns of the session
    in progress (`current`, else the state's own current session)."""
    profile = state["profile"]
    sessions = [SessionRecord.model_validate(s) for s in state.get("sessions", [])]
    lines = [
        *_title(profile, profile["id"], state["strategy"]),
        f"Arc `{state['arc_id']}` of run `{state['run_id']}`: **not finished**, "
        f"{len(sessions)} session(s) done so far.",
    ]
    if state.get("plan"):
        lines += _plan_lines(TreatmentPlan.model_validate(state["plan"]))
    for session in sessions:
        lines += _session_lines(session)
    current = current or state.get("session")
    if current and current["index"] > len(sessions) and current["turns"]:
        lines += ["", f"## Session {current['index']} (in progress)", "", f"Goal: {current['goal']}", ""]
        lines += _turn_lines([Turn.model_validate(t) for t in current["turns"]])
    return "\n".join(lines) + "\n"


def _title(profile: Mapping[str, Any], client_id: str, strategy: str) -> list[str]:
    return [f"# {profile['name']} ({client_id}): {strategy}", ""]


def _plan_lines(plan: TreatmentPlan) -> list[str]:
    return ["", "## Treatment plan", "", plan.case_conceptualization, "", *[f"- {goal}" for goal in plan.goals]]


def _turn_lines(turns: Sequence[Turn]) -> list[str]:
    lines = []
    for turn in turns:
        risk = f" _(risk: {turn.risk})_" if turn.risk and turn.risk != "none" else ""
        lines += [f"**{turn.speaker.capitalize()}:**{risk} {turn.text}", ""]
    return lines


def _session_lines(session: SessionRecord) -> list[str]:
    state = session.client_state
    lines = [
        "",
        f"## Session {session.index}",
        "",
        f"Goal: {session.goal}",
        "",
        f"Client state at start: {state.emotion_state} / {state.cognitive_state} "
        f"(distress {state.symptom_severity}/10, alliance {state.alliance}/5, homework {state.homework_adherence})",
        "",
    ]
    start = [score_line(found) for found in (session.phq9, session.gad7) if found]
    if start:
        lines += [f"Self-report before the session: {'; '.join(start)}", ""]
    lines += _turn_lines(session.turns)
    if session.wai_sr:
        lines += [f"Self-report after the session: {score_line(session.wai_sr)}", ""]
    memo = session.memo
    lines += [
        "### Supervisor memo",
        "",
        f"- Summary: {memo.summary}",
        f"- Emotion and cognitive state: {memo.emotion_and_cognitive_state}",
        f"- Counselor observations: {memo.counselor_observations}",
        f"- Counseling assignments: {'; '.join(memo.counseling_assignments)}",
        f"- Session goal: {memo.session_goal}",
        f"- Next session goal: {memo.next_session_goal}",
        f"- Progress: {memo.progress}; risk: {memo.risk}",
    ]
    if session.decision:
        d = session.decision
        override = f" (overridden: {d.overridden_by})" if d.overridden_by else ""
        lines.append(f"- Decision: {d.action}{' (' + d.end_reason + ')' if d.end_reason else ''}{override}")
    return lines
