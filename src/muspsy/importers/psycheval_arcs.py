"""PsychEval cases -> arc records: each session's dialogue becomes turns and its
`session_summary` the memo; `global_plan` becomes the treatment plan.

Counselor turns in PsychEval carry the model's reasoning in a leading `<think>...</think>`;
the spoken text goes into the turn and the reasoning into `source_extra` (by session and turn),
with every other session field that has no place in the record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from muspsy.importers.arcs import Placeholders, arc_record, imported_session, memo_of
from muspsy.importers.common import Batch, ImportDataError, Where, build_profile, detect_language, joined, need
from muspsy.importers.psycheval import profile_data
from muspsy.records import ArcRecord, ClientState, PlanStage, SessionRecord, TreatmentPlan

THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)
ROLES = {"counselor": "counselor", "client": "client", "咨询师": "counselor", "来访者": "client"}
# Summary fields copied whole into the memo; the others are only partly used and kept as they are.
SUMMARY_MAPPED = {"session_summary_abstract", "homework"}


OBSERVATIONS = ("behavioral_patterns", "therapeutic_alliance", "unresolved_points_or_tensions")
SESSION_MAPPED = {"session_number", "session_dialogue", "session_summary"}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _focus_title(block: Any) -> str | None:
    if isinstance(block, dict):
        focus = block.get("session_focus")
        if isinstance(focus, dict) and isinstance(focus.get("stage_title"), str):
            return str(focus["stage_title"])
    return None


def _plan(record: dict[str, Any], sessions: list[SessionRecord], marks: Placeholders) -> TreatmentPlan:
    stages: list[PlanStage] = []
    themes: list[str] = []
    for stage in record.get("global_plan") or []:
        if not isinstance(stage, dict):
            continue
        content = _mapping(stage.get("content"))
        stage_themes = [str(c["theme"]) for c in content.values() if isinstance(c, dict) and c.get("theme")]
        themes += stage_themes
        stages.append(
            PlanStage(
                name=str(stage.get("stage_name") or stage.get("stage_number") or "stage"),
                sessions=str(stage.get("sessions") or ""),
                focus=marks.text(f"plan.stages[{len(stages) + 1}].focus", joined(stage_themes, "; ")),
            )
        )
    info = _mapping(record.get("client_info"))
    return TreatmentPlan(
        case_conceptualization=marks.text("plan.case_conceptualization", str(info.get("core_demands") or "")),
        goals=themes or [s.goal for s in sessions],
        stages=stages,
        first_session_goal=sessions[0].goal,
    )


def import_case(record: Any, where: Where, path: Path, run_id: str) -> ArcRecord:
    data, defaults = profile_data(record, where, path)
    profile = build_profile(data, where, defaults)
    raw_sessions = need(record, "sessions", where, list)
    marks = Placeholders()
    sessions: list[SessionRecord] = []
    extra_sessions: list[dict[str, Any]] = []
    state = profile.initial_state
    previous_homework: list[str] = []
    for k, raw in enumerate(raw_sessions, start=1):
        field = f"sessions[{k}]"
        if not isinstance(raw, dict):
            raise where.fail(field, "expected an object")
        dialogue = raw.get("session_dialogue")
        if not isinstance(dialogue, list) or not dialogue:
            raise where.fail(f"{field}.session_dialogue", "missing or empty")
        lines: list[tuple[str, str]] = []
        reasoning: dict[str, str] = {}
        for t, turn in enumerate(dialogue, start=1):
            role = str(turn.get("role", "")).strip().lower() if isinstance(turn, dict) else ""
            text = turn.get("text") if isinstance(turn, dict) else None
            if role not in ROLES or not isinstance(text, str):
                raise where.fail(f"{field}.session_dialogue[{t}]", "expected {role: Counselor|Client, text}")
            think = THINK.match(text)
            if think:
                reasoning[str(t)] = think.group(1).strip()
                text = text[think.end() :]
            lines.append((ROLES[role], text.strip()))
        summary = _mapping(raw.get("session_summary"))
        analysis = _mapping(summary.get("client_state_analysis"))
        goals = _mapping(summary.get("goal_assessment"))
        homework = [h for h in summary.get("homework") or [] if isinstance(h, str)]
        goal = _focus_title(raw.get("session_goals"))
        memo = memo_of(
            marks,
            k,
            summary=summary.get("session_summary_abstract"),
            state=joined([analysis.get("affective_state"), analysis.get("cognitive_patterns")]),
            observations=joined([analysis.get(key) for key in OBSERVATIONS]),
            assignments=homework,
            goal=goals.get("objective_recap") or goal,
            next_goal=_focus_title(summary.get("next_session_plan")),
        )
        sessions.append(
            imported_session(
                marks,
                k,
                goal=goal,
                client_state=state,
                homework_reviewed=previous_homework,
                lines=lines,
                memo=memo,
            )
        )
        previous_homework = memo.counseling_assignments
        # The state analysed at the end of session k is where the client starts session k+1.
        if analysis.get("affective_state") and analysis.get("cognitive_patterns"):
            state = ClientState(
                emotion_state=str(analysis["affective_state"]), cognitive_state=str(analysis["cognitive_patterns"])
            )
        extra_sessions.append(
            {
                "session_number": raw.get("session_number"),
                "counselor_reasoning": reasoning,
                **{key: v for key, v in raw.items() if key not in SESSION_MAPPED},
                "session_summary": {key: v for key, v in summary.items() if key not in SUMMARY_MAPPED},
            }
        )
    strategy = str(record.get("theoretical") or "unknown")
    return arc_record(
        fmt="psycheval",
        run_id=run_id,
        sources=[path],
        profile=profile,
        language=detect_language([text for s in sessions for text in (t.text for t in s.turns)]),
        strategy=strategy,
        plan=_plan(record, sessions, marks),
        sessions=sessions,
        marks=marks,
        source_extra={
            "sessions_check": {
                "found": len(sessions),
                "expected": len(raw_sessions),
                "expected_from": f"{len(raw_sessions)} entries in {where.path.name} record {where.record} sessions",
            },
            "sessions": extra_sessions,
        },
    )


def import_psycheval_arcs(
    paths: Sequence[Path], run_id: str, full_length: bool = False, batch: Batch | None = None
) -> list[ArcRecord]:
    if full_length:
        raise ImportDataError("--full-length: only the muspsy format has compact and full-length sessions")
    batch = batch or Batch()
    arcs = []
    for path in paths:
        for number, record in batch.records(path):
            with batch.record(path, number):
                arcs.append(import_case(record, Where(path, number), path, run_id))
    return arcs
