"""Human-readable Markdown transcript of one arc, written from the canonical record."""

from __future__ import annotations

from muspsy.records import ArcRecord


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
        for turn in session.turns:
            risk = f" _(risk: {turn.risk})_" if turn.risk and turn.risk != "none" else ""
            lines.append(f"**{turn.speaker.capitalize()}:**{risk} {turn.text}")
            lines.append("")
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
