"""Human-readable Markdown transcript of one arc, written from the canonical record."""

from __future__ import annotations

from muspsy.records import ArcRecord, InstrumentScore

INSTRUMENT_TITLES = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR"}


def score_line(found: InstrumentScore) -> str:
    """E.g. `PHQ-9 12 (moderate)` or `WAI-SR 40 (task 13, bond 14, goal 13)`."""
    detail = found.band or ", ".join(f"{name} {value}" for name, value in found.subscales.items())
    return f"{INSTRUMENT_TITLES[found.instrument]} {found.total}" + (f" ({detail})" if detail else "")


def render_transcript(arc: ArcRecord) -> str:
    profile = arc.profile
    lines = [
        f"# {profile['name']} ({arc.client_id}): {arc.strategy}",
        "",
        f"Arc `{arc.arc_id}` of run `{arc.run_id}`. Outcome: **{arc.outcome.end_reason}** after "
        f"{arc.outcome.sessions} session(s). {arc.outcome.rationale}",
        "",
        "## Treatment plan",
        "",
        arc.plan.case_conceptualization,
        "",
        *[f"- {goal}" for goal in arc.plan.goals],
    ]
    for session in arc.sessions:
        state = session.client_state
        lines += [
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
        for turn in session.turns:
            risk = f" _(risk: {turn.risk})_" if turn.risk and turn.risk != "none" else ""
            if turn.assessed_risk and turn.assessed_risk != "none":
                risk = f" _(noticed risk: {turn.assessed_risk})_"
            lines.append(f"**{turn.speaker.capitalize()}:**{risk} {turn.text}")
            lines.append("")
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
    return "\n".join(lines) + "\n"
