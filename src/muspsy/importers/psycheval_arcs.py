"""PsychEval cases -> arc records: each session's dialogue becomes turns and its
`session_summary` the memo; `global_plan` becomes the treatment plan.

Counselor turns in PsychEval carry the model's reasoning in `<think>...</think>`; the spoken
text goes into the turn and the reasoning into `source_extra` (by session and turn), with every
other session field that has no place in the record (`psycheval_turns`).

Each therapy's summary describes the client in its own terms (`client_state_analysis`:
`affective_state` for all, then `cognitive_patterns` for CBT, `subconscious_manifestation`
for psychodynamic, `existentialism_topic` for humanistic-existential, `personal_agency` for
postmodern, `target_behavior` for behavioural therapy); the next session's client state is built
from whichever of these the summary has, so the state moves forward in every therapy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from muspsy.importers.arcs import Placeholders, arc_record, imported_session, memo_of
from muspsy.importers.common import (
    Batch,
    ImportDataError,
    Where,
    build_profile,
    detect_language,
    joined,
    need,
    source_name,
    strings_in,
)
from muspsy.importers.psycheval import profile_data, therapy_of
from muspsy.importers.psycheval_turns import spoken_turns
from muspsy.records import ArcRecord, ClientState, PlanStage, SessionRecord, TreatmentPlan

# The analysis fields that say how the client thinks, per therapy (see the module docstring).
THINKING_FIELDS = (
    "cognitive_patterns",
    "subconscious_manifestation",
    "existentialism_topic",
    "personal_agency",
    "target_behavior",
)
# Summary fields copied whole into the memo; the others are only partly used and kept as they are.
SUMMARY_MAPPED = {"session_summary_abstract", "homework"}


OBSERVATIONS = ("behavioral_patterns", "therapeutic_alliance", "unresolved_points_or_tensions")
SESSION_MAPPED = {"session_number", "session_dialogue", "session_summary"}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """Any summary value (text, list or object) as one line of text."""
    return joined(strings_in(value), "; ")


def thinking(analysis: dict[str, Any]) -> str:
    """How the client thinks, from the therapy's own fields (labelled when there are several,
    as in integrative cases), else from the behavioural patterns."""
    found = [(key, _text(analysis.get(key))) for key in THINKING_FIELDS]
    found = [(key, text) for key, text in found if text]
    if len(found) > 1:
        return "\n".join(f"{key}: {text}" for key, text in found)
    return found[0][1] if found else _text(analysis.get("behavioral_patterns"))


def next_state(analysis: dict[str, Any], state: ClientState, k: int, marks: Placeholders) -> ClientState:
    """The state analysed at the end of session k: where the client starts session k+1. A part
    the summary does not describe is carried over, and listed."""
    emotion, cognition = _text(analysis.get("affective_state")), thinking(analysis)
    for part, value in (("emotion_state", emotion), ("cognitive_state", cognition)):
        if not value:
            marks.mark(
                f"sessions[{k + 1}].client_state.{part}", f"session {k}'s summary does not describe it: carried over"
            )
    return ClientState(
        emotion_state=emotion or state.emotion_state,
        cognitive_state=cognition or state.cognitive_state,
        recent_life_events=[] if emotion or cognition else state.recent_life_events,
    )


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
    demands = info.get("core_demands") or _mapping(info.get("basic_info")).get("core_demands")
    return TreatmentPlan(
        case_conceptualization=marks.text("plan.case_conceptualization", _text(demands)),
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
        turns = spoken_turns(dialogue, where, f"{field}.session_dialogue")
        summary = _mapping(raw.get("session_summary"))
        analysis = _mapping(summary.get("client_state_analysis"))
        goals = _mapping(summary.get("goal_assessment"))
        homework = [h for h in summary.get("homework") or [] if isinstance(h, str)]
        goal = _focus_title(raw.get("session_goals"))
        memo = memo_of(
            marks,
            k,
            summary=summary.get("session_summary_abstract"),
            state=joined([_text(analysis.get("affective_state")), thinking(analysis)], "\n"),
            observations=joined([_text(analysis.get(key)) for key in OBSERVATIONS], "\n"),
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
                lines=turns.lines,
                memo=memo,
            )
        )
        previous_homework = memo.counseling_assignments
        state = next_state(analysis, state, k, marks)
        extra_sessions.append(
            {
                "session_number": raw.get("session_number"),
                "counselor_reasoning": turns.reasoning,
                **({"turns_without_speech": turns.dropped} if turns.dropped else {}),
                **({"turns_merged_into_the_one_before": turns.merged} if turns.merged else {}),
                **{key: v for key, v in raw.items() if key not in SESSION_MAPPED},
                "session_summary": {key: v for key, v in summary.items() if key not in SUMMARY_MAPPED},
            }
        )
    return arc_record(
        fmt="psycheval",
        run_id=run_id,
        sources=[path],
        profile=profile,
        language=detect_language([text for s in sessions for text in (t.text for t in s.turns)]),
        strategy=therapy_of(record),
        plan=_plan(record, sessions, marks),
        sessions=sessions,
        marks=marks,
        source_extra={
            "sessions_check": {
                "found": len(sessions),
                "expected": len(raw_sessions),
                "expected_from": f"{len(raw_sessions)} entries in {source_name(path)} record {where.record} sessions",
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
    return [arc for path in paths for arc in batch.each_record(path, lambda r, w: [import_case(r, w, w.path, run_id)])]
