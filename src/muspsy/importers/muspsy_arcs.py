"""MusPsy dialogue, memory and user-card files -> one arc record per client.

Files are recognised by content and grouped by the client number in their names
(`dialogues_1000.txt`, `memories_1000.txt`, `usercards_1000.txt`). `muspsy_sessions` finds
the dialogue file's layout and session boundaries; the number of sessions found must equal the
number the memories (else the user cards, else the dialogue blocks) imply, or the client is
refused: a wrong split would attach memos and goals to the wrong dialogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from muspsy.importers.arcs import Placeholders, arc_record, imported_session, make_turns, memo_of
from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    ImportDataError,
    Where,
    build_profile,
    detect_language,
    provenance,
    risk_from_text,
)
from muspsy.importers.muspsy_cards import LICENSE, card_profile, client_key, restored_id
from muspsy.importers.muspsy_sessions import SessionSplit, split_sessions
from muspsy.importers.muspsy_text import (
    DialogueLine,
    MemoryEntry,
    export_index_entry,
    read_dialogues,
    read_memories,
    sniff,
)
from muspsy.records import ArcRecord, ClientProfile, ClientState, SessionRecord, TreatmentPlan

MEMORY_FIELDS = {
    "state": "Emotion and Cognitive State",
    "observations": "Counselor Observations",
    "assignments": "Counseling Assignments",
    "goal": "Session Goal",
}


def group_files(paths: Sequence[Path], batch: Batch) -> dict[str, dict[str, Path]]:
    """The files of each client by kind; a file that is no MusPsy file is a bad record."""
    groups: dict[str, dict[str, Path]] = {}
    for path in paths:
        with batch.record(path):
            kind = sniff(path)
            group = groups.setdefault(client_key(path), {})
            if kind in group:
                raise ImportDataError(f"{path}: a second {kind} file for client {client_key(path)} ({group[kind]})")
            group[kind] = path
    return groups


def _memory_field(entry: MemoryEntry, name: str) -> str | None:
    section = entry.sections.get("Counseling Memory")
    value = section.fields.get(MEMORY_FIELDS[name]) if section else None
    return value.strip() if value and value.strip() else None


def _memory_section(entry: MemoryEntry) -> dict[str, str]:
    section = entry.sections.get("Counseling Memory")
    return dict(section.fields) if section else {}


def _fallback_profile(key: str, memories: list[MemoryEntry], source: Path) -> ClientProfile:
    """A profile when no user cards are given: the memory file's static traits, the rest defaults."""
    traits = memories[0].static_traits if memories else ""
    language = detect_language(traits) if traits else "en"
    defaults = Defaults(language)
    where = Where(source)
    data: dict[str, Any] = {
        "id": restored_id(source) or f"muspsy-{key}",
        "name": defaults.text("name", None),
        "age": defaults.value("age", DEFAULT_AGE, "no user cards given"),
        "gender": defaults.text("gender", None),
        "language": language,
        "culture": defaults.text("culture", None),
        "occupation": defaults.text("occupation", None),
        "intake": {
            "presenting_problem": defaults.text("intake.presenting_problem", None),
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", None),
        },
        "personality": defaults.text("personality", None),
        "background": defaults.text("background", traits),
        "risk": risk_from_text(traits, defaults),
        "initial_state": {
            "emotion_state": defaults.text("initial_state.emotion_state", None),
            "cognitive_state": defaults.text("initial_state.cognitive_state", None),
        },
        "provenance": provenance("muspsy", source, LICENSE),
    }
    return build_profile(data, where, defaults)


def expected_sessions(
    files: dict[str, Path], memories: list[MemoryEntry], profile: ClientProfile | None
) -> tuple[int | None, str]:
    """How many sessions the client had according to the files beside the dialogue."""
    if memories:
        noun = "memory" if len(memories) == 1 else "memories"
        return len(memories), f"{len(memories)} {noun} in {files['memories'].name}"
    if profile is not None and profile.planned_arc:
        return len(profile.planned_arc), f"{len(profile.planned_arc)} user-card blocks in {files['cards'].name}"
    return None, "no memory or user-card file"


def checked_split(
    key: str, files: dict[str, Path], memories: list[MemoryEntry], profile: ClientProfile | None
) -> tuple[SessionSplit, dict[str, Any]]:
    """The dialogue's sessions, refused unless their number is the one the source implies."""
    path = files["dialogues"]
    blocks = read_dialogues(path)
    expected, expected_from = expected_sessions(files, memories, profile)
    split = split_sessions(blocks, expected)
    if expected is None and len(blocks) > 1:
        expected, expected_from = len(blocks), f"{len(blocks)} dialogue blocks"
    found = len(split.sessions)
    if expected is not None and found != expected:
        reason = f"{found} found in the dialogue ({split.layout} layout), {expected} expected ({expected_from})"
        raise ImportDataError(f"{path}: client {key}: field sessions: {reason}", field="sessions", reason=reason)
    check = {
        "layout": split.layout,
        "found": found,
        "expected": expected,
        "expected_from": expected_from,
        "boundaries": split.found_by,
        "session_start_lines": [lines[0].line for lines in split.sessions],
    }
    headers = [b.header for b in blocks]
    if any(headers):
        check["block_headers"] = headers
    return split, check


def import_client(key: str, files: dict[str, Path], run_id: str, full_length: bool = False) -> ArcRecord:
    memories = read_memories(files["memories"]) if "memories" in files else []
    by_number = {m.number: m for m in memories}
    cards = card_profile(files["cards"]) if "cards" in files else None
    split, check = checked_split(key, files, memories, cards)
    profile = cards or _fallback_profile(key, memories, files.get("memories", files["dialogues"]))
    replaced: list[dict[str, Any]] = []  # compact sessions that full-length blocks stand in for
    marks = Placeholders()
    sessions: list[SessionRecord] = []
    previous_homework: list[str] = []
    for n, compact_lines in enumerate(split.sessions, start=1):
        lines = compact_lines
        if full_length and n in split.full_length:
            replaced.append(_turn_dicts(n, lines))
            lines = split.full_length[n]
        entry, following = by_number.get(n), by_number.get(n + 1)
        planned, planned_next = profile.planned(n), profile.planned(n + 1)
        # The user card holds the goal set before the session; the memory's goal is the one
        # recorded after it. Each goes where it belongs, standing in for the other if absent.
        memo_goal = _memory_field(entry, "goal") if entry else None
        goal = (planned.goal if planned else None) or memo_goal
        memo_goal = memo_goal or goal
        next_goal = _memory_field(following, "goal") if following else None
        next_goal = next_goal or (planned_next.goal if planned_next else None)
        assignments = [_memory_field(entry, "assignments") or ""] if entry else []
        memo = memo_of(
            marks,
            n,
            summary=entry.summary if entry else None,
            state=_memory_field(entry, "state") if entry else None,
            observations=_memory_field(entry, "observations") if entry else None,
            assignments=assignments,
            goal=memo_goal,
            next_goal=next_goal,
        )
        if planned is None:
            marks.mark(
                f"sessions[{n}].client_state",
                "no user card for this session: the memo's emotion and cognitive state (written after it) stands in",
            )
        state = ClientState(
            emotion_state=planned.emotion_state if planned else memo.emotion_and_cognitive_state,
            cognitive_state=planned.cognitive_state if planned else memo.emotion_and_cognitive_state,
            recent_life_events=planned.recent_life_events if planned else [],
        )
        sessions.append(
            imported_session(
                marks,
                n,
                goal=goal,
                client_state=state,
                homework_reviewed=previous_homework,
                lines=[(line.speaker, line.text) for line in lines],
                memo=memo,
            )
        )
        previous_homework = memo.counseling_assignments
    marks.mark("plan.case_conceptualization", "MusPsy has no treatment plan")
    planned_goals = [p.goal for p in profile.planned_arc] or [s.goal for s in sessions]
    plan = TreatmentPlan(
        case_conceptualization=marks.text("plan.case_conceptualization", None),
        goals=planned_goals,
        stages=[],
        first_session_goal=sessions[0].goal,
    )
    extra: dict[str, Any] = {"sessions_check": check}
    if replaced:
        extra["compact_sessions"] = replaced
    elif split.full_length:
        extra["full_length_sessions"] = [_turn_dicts(n, lines) for n, lines in sorted(split.full_length.items())]
    if memories:
        extra["memory_static_traits"] = {str(m.number): m.static_traits for m in memories}
    extra_numbers = sorted(set(by_number) - set(range(1, len(sessions) + 1)))
    if extra_numbers:
        extra["memories_without_dialogue"] = {
            str(k): {**_memory_section(by_number[k]), "Counseling Summary": by_number[k].summary} for k in extra_numbers
        }
    language = detect_language([line.text for lines in split.sessions for line in lines])
    sources = [files[k] for k in ("dialogues", "memories", "cards") if k in files]
    exported = export_index_entry(files["dialogues"], key)
    if exported:
        extra["muspsy_raw_index"] = exported
    return arc_record(
        arc_id=str(exported["arc_id"]) if exported and exported.get("arc_id") else None,
        fmt="muspsy",
        run_id=run_id,
        sources=sources,
        profile=profile,
        language=language,
        strategy="unknown",
        plan=plan,
        sessions=sessions,
        marks=marks,
        source_extra=extra,
    )


def _turn_dicts(session: int, lines: Sequence[DialogueLine]) -> dict[str, Any]:
    turns = make_turns([(line.speaker, line.text) for line in lines])
    return {"session": session, "turns": [t.model_dump(mode="json") for t in turns]}


def import_muspsy_arcs(
    paths: Sequence[Path], run_id: str, full_length: bool = False, batch: Batch | None = None
) -> list[ArcRecord]:
    """One arc per client; with `full_length`, compact sessions 2.. are replaced by their
    full-length blocks (in the one-block-per-session layout every block is full-length already)."""
    batch = batch or Batch()
    arcs = []
    for key, files in group_files(paths, batch).items():
        named = files.get("dialogues") or next(iter(files.values()))
        with batch.record(named, f"client {key}"):
            if "dialogues" not in files:
                raise ImportDataError(
                    f"{named}: no dialogue file for client {key} (dialogues_{key}*.txt)",
                    field="dialogues",
                    reason="no dialogue file",
                )
            arcs.append(import_client(key, files, run_id, full_length))
    return arcs
