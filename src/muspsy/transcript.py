"""Human-readable Markdown transcript of one arc: from the canonical record once it is
finished, and from the arc's graph state while it runs (or after it failed).

Every text that comes from a model or a data file is escaped (`md`): Markdown renderers pass
raw HTML through, and model output can hold anything, `<script>` included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from muspsy.records import ArcRecord, InstrumentScore, SessionAppraisal, SessionRecord, TreatmentPlan, Turn, Week
from muspsy.views import level
from muspsy.views_crisis import assessment_text, safety_plan_text


def md(text: object) -> str:
    """Text safe to put in Markdown: no HTML tags or entities survive."""
    return escape(str(text), quote=False)


INSTRUMENT_TITLES = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR"}


def score_line(found: InstrumentScore) -> str:
    """E.g. `PHQ-9 12 (moderate)` or `WAI-SR 40 (task 13, bond 14, goal 13)`."""
    detail = found.band or ", ".join(f"{name} {value}" for name, value in found.subscales.items())
    return f"{INSTRUMENT_TITLES[found.instrument]} {found.total}" + (f" ({detail})" if detail else "")


def render_transcript(arc: ArcRecord) -> str:
    lines = [
        *_title(arc.profile, arc.client_id, arc.strategy),
        f"Arc `{md(arc.arc_id)}` of run `{md(arc.run_id)}`. Outcome: **{arc.outcome.end_reason}** after "
        f"{arc.outcome.sessions} session(s). {md(arc.outcome.rationale)}",
        *_plan_lines(arc.plan),
    ]
    for session in arc.sessions:
        lines += _session_lines(session)
    lines += _after_course_lines(arc)
    return "\n".join(lines) + "\n"


def _after_course_lines(arc: ArcRecord) -> list[str]:
    """Plan revisions, then the exit and follow-up questionnaires."""
    lines = [
        f"- Plan revised after session {v.after_session}: {md(v.reason)}" for v in arc.plan_versions if v.after_session
    ]
    for point in (arc.exit_measurement, arc.follow_up):
        if point is not None:
            title = "Exit" if point.point == "exit" else "Follow-up"
            lines.append(
                f"- {title}, {point.weeks_after_last_session} week(s) after the last session: "
                f"{score_line(point.phq9)}; {score_line(point.gad7)}"
            )
    return ["", "## After the course", "", *lines] if lines else []


def render_partial_transcript(state: Mapping[str, Any], current: Mapping[str, Any] | None = None) -> str:
    """An arc that has not finished: its plan, finished sessions, and the turns of the session
    in progress (`current`, else the state's own current session)."""
    profile = state["profile"]
    sessions = [SessionRecord.model_validate(s) for s in state.get("sessions", [])]
    lines = [
        *_title(profile, profile["id"], state["strategy"]),
        f"Arc `{md(state['arc_id'])}` of run `{md(state['run_id'])}`: **not finished**, "
        f"{len(sessions)} session(s) done so far.",
    ]
    if state.get("plan"):
        lines += _plan_lines(TreatmentPlan.model_validate(state["plan"]))
    for session in sessions:
        lines += _session_lines(session)
    current = current or state.get("session")
    if current and current["index"] > len(sessions) and current["turns"]:
        lines += ["", f"## Session {current['index']} (in progress)", "", f"Goal: {md(current['goal'])}", ""]
        lines += _turn_lines([Turn.model_validate(t) for t in current["turns"]])
    return "\n".join(lines) + "\n"


def _title(profile: Mapping[str, Any], client_id: str, strategy: str) -> list[str]:
    return [f"# {md(profile['name'])} ({md(client_id)}): {md(strategy)}", ""]


def _plan_lines(plan: TreatmentPlan) -> list[str]:
    return ["", "## Treatment plan", "", md(plan.case_conceptualization), "", *[f"- {md(goal)}" for goal in plan.goals]]


def _turn_lines(turns: Sequence[Turn]) -> list[str]:
    lines = []
    for turn in turns:
        risk = f" _(risk: {turn.risk})_" if turn.risk and turn.risk != "none" else ""
        if turn.assessed_risk and turn.assessed_risk != "none":
            risk = f" _(noticed risk: {turn.assessed_risk})_"
        # The protocol labels of a counselor turn: which phase it was in, which technique it used
        # (crisis turns: the crisis protocol's technique).
        labels = f" _[{md(turn.phase or '-')} / {md(turn.technique)}]_" if turn.technique else ""
        if turn.kind == "crisis":
            labels = f" _(crisis protocol: {md(turn.technique or 'crisis')})_"
        lines += [f"**{turn.speaker.capitalize()}:**{labels}{risk} {md(turn.text)}", ""]
    return lines


def _session_lines(session: SessionRecord) -> list[str]:
    state = session.client_state
    lines = [
        "",
        f"## Session {session.index}" + (" (termination session)" if session.termination else ""),
        "",
        *([f"Strategy: {md(session.strategy)}", ""] if session.strategy else []),
        f"Goal: {md(session.goal)}",
        "",
        f"Client state at start: {md(state.emotion_state)} / {md(state.cognitive_state)} "
        f"(distress {level(state.symptom_severity)}/10, alliance {level(state.alliance)}/5, "
        f"homework {state.homework_adherence}{f', risk level {state.risk_level}' if state.risk_level else ''})",
        "",
    ]
    start = [score_line(found) for found in (session.phq9, session.gad7) if found]
    if start:
        lines += [f"Self-report before the session: {'; '.join(start)}", ""]
    if session.safety_plan_reviewed:
        lines += ["Risk check and safety-plan review at the opening.", ""]
    lines += _turn_lines(session.turns)
    if session.relapse_prevention:
        lines += [f"Relapse-prevention plan: {md('; '.join(session.relapse_prevention))}", ""]
    lines += _crisis_lines(session)
    if session.wai_sr:
        lines += [f"Self-report after the session: {score_line(session.wai_sr)}", ""]
    if session.appraisal:
        lines += [f"Client's appraisal (simulation side): {appraisal_line(session.appraisal)}", ""]
    memo = session.memo
    lines += [
        "### Supervisor memo",
        "",
        f"- Summary: {md(memo.summary)}",
        f"- Emotion and cognitive state: {md(memo.emotion_and_cognitive_state)}",
        f"- Counselor observations: {md(memo.counselor_observations)}",
        f"- Counseling assignments: {md('; '.join(memo.counseling_assignments))}",
        f"- Session goal: {md(memo.session_goal)}",
        f"- Next session goal: {md(memo.next_session_goal)}",
        f"- Progress: {memo.progress}; risk: {memo.risk}",
    ]
    if session.decision:
        d = session.decision
        override = f" (overridden: {md(d.overridden_by)})" if d.overridden_by else ""
        applied = f", {d.applied}" if d.applied not in (None, "continue", "end") else ""
        switched = f" to {md(d.strategy)}" if d.strategy else ""
        ending = f" (ending at session {d.ending_at})" if d.ending_at else ""
        lines.append(
            f"- Decision: {d.action}{' (' + d.end_reason + ')' if d.end_reason else ''}{applied}{switched}{ending}"
            f"{override}: {md(d.rationale)}"
        )
    if session.week:
        lines += ["", "### The week after (director)", "", week_line(session.week)]
    return lines


def _crisis_lines(session: SessionRecord) -> list[str]:
    if session.risk_assessment is None:
        return []
    plan = [md(line) for line in safety_plan_text(session.safety_plan).splitlines()]
    return [
        "### Crisis protocol",
        "",
        f"- Risk assessment (C-SSRS screener items): {md(assessment_text(session.risk_assessment))}",
        f"- Disposition: {(session.disposition or 'none').replace('_', ' ')}",
        "- Safety plan:",
        *[f"  {line}" for line in plan],
        "",
    ]


def appraisal_line(a: SessionAppraisal) -> str:
    return (
        f"felt understood {a.felt_understood}/5, goals {a.goal_agreement}/5, tasks {a.task_agreement}/5, "
        f"rupture {'yes' if a.rupture else 'no'}, new insight {'yes' if a.new_insight else 'no'}, "
        f"homework accepted {'yes' if a.homework_accepted else 'no'}"
    )


def week_line(week: Week) -> str:
    event = f"{week.life_event.valence} event (impact {week.life_event.impact:.1f}); " if week.life_event else ""
    return (
        f"{md(week.narrative)} ({event}homework {week.homework_adherence.replace('_', ' ')}, "
        f"distress {week.symptom_change:+.2f}, alliance {week.alliance_change:+.2f}"
        f"{f', risk level {week.risk_level}' if week.risk_level else ''}"
        f"{', did not come back' if week.dropped_out else ''})"
    )
