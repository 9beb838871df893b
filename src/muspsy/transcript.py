"""Human-readable Markdown transcript of one arc, written from the canonical record.

Every text that comes from a model or a data file is escaped (`md`): Markdown renderers pass
raw HTML through, and model output can hold anything, `<script>` included.
"""

from __future__ import annotations

from html import escape

from muspsy.records import ArcRecord, InstrumentScore, SessionAppraisal, Week
from muspsy.views import level


def md(text: object) -> str:
    """Text safe to put in Markdown: no HTML tags or entities survive."""
    return escape(str(text), quote=False)


INSTRUMENT_TITLES = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR"}


def score_line(found: InstrumentScore) -> str:
    """E.g. `PHQ-9 12 (moderate)` or `WAI-SR 40 (task 13, bond 14, goal 13)`."""
    detail = found.band or ", ".join(f"{name} {value}" for name, value in found.subscales.items())
    return f"{INSTRUMENT_TITLES[found.instrument]} {found.total}" + (f" ({detail})" if detail else "")


def render_transcript(arc: ArcRecord) -> str:
    profile = arc.profile
    lines = [
        f"# {md(profile['name'])} ({md(arc.client_id)}): {md(arc.strategy)}",
        "",
        f"Arc `{md(arc.arc_id)}` of run `{md(arc.run_id)}`. Outcome: **{arc.outcome.end_reason}** after "
        f"{arc.outcome.sessions} session(s). {md(arc.outcome.rationale)}",
        "",
        "## Treatment plan",
        "",
        md(arc.plan.case_conceptualization),
        "",
        *[f"- {md(goal)}" for goal in arc.plan.goals],
    ]
    for session in arc.sessions:
        state = session.client_state
        lines += [
            "",
            f"## Session {session.index}",
            "",
            f"Goal: {md(session.goal)}",
            "",
            f"Client state at start: {md(state.emotion_state)} / {md(state.cognitive_state)} "
            f"(distress {level(state.symptom_severity)}/10, alliance {level(state.alliance)}/5, "
            f"homework {state.homework_adherence})",
            "",
        ]
        start = [score_line(found) for found in (session.phq9, session.gad7) if found]
        if start:
            lines += [f"Self-report before the session: {'; '.join(start)}", ""]
        for turn in session.turns:
            risk = f" _(risk: {turn.risk})_" if turn.risk and turn.risk != "none" else ""
            if turn.assessed_risk and turn.assessed_risk != "none":
                risk = f" _(noticed risk: {turn.assessed_risk})_"
            lines.append(f"**{turn.speaker.capitalize()}:**{risk} {md(turn.text)}")
            lines.append("")
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
            lines.append(f"- Decision: {d.action}{' (' + d.end_reason + ')' if d.end_reason else ''}{override}")
        if session.week:
            lines += ["", "### The week after (director)", "", week_line(session.week)]
    return "\n".join(lines) + "\n"


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
        f"{', did not come back' if week.dropped_out else ''})"
    )
