"""MusPsy dialogue, memory and user-card files -> one arc record per client.

Files are recognised by content and grouped by the client number in their names
(`dialogues_1000.txt`, `memories_1000.txt`, `usercards_1000.txt`). Block 0 of a dialogue
file holds every session back to back. When blocks 1.. repeat sessions 2.. verbatim (muspsy's
own `muspsy-raw` export) they mark the boundaries; otherwise a session starts where the counselor
greets the client again (a greeting plus a sign of return: "again", "welcome back", the homework).
When a memory file says how many sessions there were and the greetings find fewer, the next
best greetings are taken. Blocks 1.. are longer versions of sessions 2..; they are kept in
`source_extra.full_length_sessions`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from muspsy.importers.arcs import Placeholders, arc_record, imported_session, make_turns, memo_of
from muspsy.importers.common import (
    DEFAULT_AGE,
    Defaults,
    ImportDataError,
    Where,
    build_profile,
    detect_language,
    provenance,
    risk_from_text,
)
from muspsy.importers.muspsy_cards import LICENSE, client_key, import_cards
from muspsy.importers.muspsy_text import DialogueLine, MemoryEntry, read_dialogues, read_memories, sniff
from muspsy.records import ArcRecord, ClientProfile, ClientState, SessionRecord, TreatmentPlan

GREETING = re.compile(r"\b(hi|hello|hey|welcome|good (morning|afternoon|evening)|(nice|good|great) to see)\b|你好|欢迎")
RETURN = re.compile(
    r"\b(again|welcome back|since (we|our) last|last (time|session|week)|past week|this past|how did .{0,40} go|"
    r"homework|assignment)\b|又见|上次|上周|这一周|作业"
)
MEMORY_FIELDS = {
    "state": "Emotion and Cognitive State",
    "observations": "Counselor Observations",
    "assignments": "Counseling Assignments",
    "goal": "Session Goal",
}


def anchored_starts(compact: Sequence[DialogueLine], later: Sequence[Sequence[DialogueLine]]) -> list[int] | None:
    """Session starts found by locating blocks 1.. verbatim in block 0, or None.

    Files written by `muspsy export --format muspsy-raw` repeat each later session exactly, so
    the boundaries are known for certain; the paper's own blocks 1.. are rewritten, longer
    versions and do not match, and the greeting heuristic takes over.
    """
    texts = [(line.speaker, line.text) for line in compact]
    starts, position = [0], 1
    for block in later:
        wanted = [(line.speaker, line.text) for line in block]
        found = next(
            (i for i in range(position, len(texts) - len(wanted) + 1) if texts[i : i + len(wanted)] == wanted), None
        )
        if not wanted or found is None:
            return None
        starts.append(found)
        position = found + len(wanted)
    return starts if len(starts) > 1 else None


def session_starts(lines: Sequence[DialogueLine], expected: int | None) -> list[int]:
    """Indexes in `lines` where sessions begin (always 0 first), found by greetings."""
    scores: dict[int, int] = {}
    for i in range(1, len(lines)):
        # A new session opens with the counselor, after either speaker's last line.
        if lines[i].speaker != "counselor":
            continue
        text = lines[i].text.lower()
        score = (1 if GREETING.search(text) else 0) + (2 if RETURN.search(text) else 0)
        if score:
            scores[i] = score
    starts = [i for i, s in scores.items() if s == 3]
    if expected is not None and len(starts) + 1 < expected:
        rest = sorted((i for i in scores if i not in starts), key=lambda i: (-scores[i], i))
        starts += rest[: expected - 1 - len(starts)]
    return [0, *sorted(starts)]


def group_files(paths: Sequence[Path]) -> dict[str, dict[str, Path]]:
    groups: dict[str, dict[str, Path]] = {}
    for path in paths:
        kind = sniff(path)
        group = groups.setdefault(client_key(path), {})
        if kind in group:
            raise ImportDataError(f"{path}: a second {kind} file for client {client_key(path)} ({group[kind]})")
        group[kind] = path
    for key, group in groups.items():
        if "dialogues" not in group:
            named = next(iter(group.values()))
            raise ImportDataError(f"{named}: no dialogue file for client {key} (dialogues_{key}*.txt)")
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
        "id": f"muspsy-{key}",
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


def import_client(key: str, files: dict[str, Path], run_id: str, full_length: bool = False) -> ArcRecord:
    dialogue_path = files["dialogues"]
    blocks = read_dialogues(dialogue_path)
    memories = read_memories(files["memories"]) if "memories" in files else []
    by_number = {m.number: m for m in memories}
    profile = (
        import_cards(files["cards"])[0]
        if "cards" in files
        else _fallback_profile(key, memories, files.get("memories", dialogue_path))
    )
    compact = blocks[0]
    replaced: list[dict[str, Any]] = []  # compact sessions that full-length blocks stand in for
    starts = anchored_starts(compact, blocks[1:]) or session_starts(compact, len(memories) or None)
    marks = Placeholders()
    sessions: list[SessionRecord] = []
    previous_homework: list[str] = []
    for n, start in enumerate(starts, start=1):
        end = starts[n] if n < len(starts) else len(compact)
        lines = compact[start:end]
        if full_length and n >= 2 and n - 1 < len(blocks):
            replaced.append(_turn_dicts(n, lines))
            lines = blocks[n - 1]
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
    extra: dict[str, Any] = {"session_start_lines": [compact[i].line for i in starts]}
    if replaced:
        extra["compact_sessions"] = replaced
    elif len(blocks) > 1:
        extra["full_length_sessions"] = [_turn_dicts(k + 1, b) for k, b in enumerate(blocks[1:], start=1)]
    if memories:
        extra["memory_static_traits"] = {str(m.number): m.static_traits for m in memories}
    extra_numbers = sorted(set(by_number) - set(range(1, len(sessions) + 1)))
    if extra_numbers:
        extra["memories_without_dialogue"] = {
            str(k): {**_memory_section(by_number[k]), "Counseling Summary": by_number[k].summary} for k in extra_numbers
        }
    language = detect_language([line.text for line in compact])
    sources = [files[k] for k in ("dialogues", "memories", "cards") if k in files]
    return arc_record(
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


def import_muspsy_arcs(paths: Sequence[Path], run_id: str, full_length: bool = False) -> list[ArcRecord]:
    """One arc per client; with `full_length`, sessions 2.. use blocks 1.. where they exist."""
    return [import_client(key, files, run_id, full_length) for key, files in group_files(paths).items()]
