"""`muspsy-raw`: arcs in the MusPsy paper's own file layout, one set of three files per arc.

- `usercards_<id>.txt`: one block per session, blocks separated by a line of 60 `=` and blank
  lines: `Client's Static Traits:` / `[Basic Info]:`, `Client's Dynamic States:` /
  `[Recent Life Events]:` `[Emotion State]:` `[Cognitive State]:`, `Counseling Goals:` (the
  session goal).
- `memories_<id>.txt`: per session `The <n>th Counseling` (the paper writes "1th", "2th"),
  `Client Profile:` with `Static Traits: ## User Background` and three bracketed sections,
  `Counseling Memory:` with the four labelled memo fields, then `Counseling Summary:`;
  sessions separated by two blank lines.
- `dialogues_<id>.txt`: `Consultant: ...` / `User: ...` lines separated by blank lines; blocks
  separated by a line `#######`. As in the paper, block 0 holds every session back to back and
  blocks 1.. hold sessions 2.. again, one per block.
Every text is put on one line (the layout is line-based). `<id>` is a number, as in the
published files (1, 2, ... in export order; readers take the client number from the file name);
the hidden `.index.jsonl` maps each number to its run id, arc id and client id.
With `--dedup` an arc is left out only when all its sessions are near-duplicates: the layout
is whole courses of counseling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from muspsy.exports.context import one_line, profile_of
from muspsy.exports.sources import ExportError, Selection
from muspsy.records import ArcRecord, ClientProfile, SessionRecord

CARD_SEPARATOR = "=" * 60
DIALOGUE_SEPARATOR = "#######"
SPEAKERS = {"counselor": "Consultant", "client": "User"}
CARD_LABELS = (
    "Client's Static Traits:",
    "[Basic Info]:",
    "Client's Dynamic States:",
    "[Recent Life Events]:",
    "[Emotion State]:",
    "[Cognitive State]:",
    "Counseling Goals:",
)
MEMORY_LABELS = (
    "Client Profile:",
    "Static Traits: ## User Background",
    "[Personal Profile]",
    "[Personal Characteristics]",
    "[Assessment and Diagnosis]",
    "Counseling Memory:",
    "[Emotion and Cognitive State:]",
    "[Counselor Observations:]",
    "[Counseling Assignments:]",
    "[Session Goal:]",
    "Counseling Summary:",
)


def _basic_info(profile: ClientProfile) -> str:
    who = f"{profile.name}, {profile.gender}, {profile.age}, {profile.occupation}, {profile.culture.rstrip('.')}."
    return one_line(f"{who} {profile.background}")


def usercard(profile: ClientProfile, session: SessionRecord) -> str:
    state = session.client_state
    return (
        f"Client's Static Traits:\n[Basic Info]: {_basic_info(profile)}\n\n"
        f"Client's Dynamic States:\n"
        f"[Recent Life Events]: {one_line('; '.join(state.recent_life_events)) or 'None.'}\n"
        f"[Emotion State]: {one_line(state.emotion_state)}\n"
        f"[Cognitive State]: {one_line(state.cognitive_state)}\n\n"
        f"Counseling Goals:\n{one_line(session.goal)}\n"
    )


def memory(profile: ClientProfile, session: SessionRecord) -> str:
    intake, memo = profile.intake, session.memo
    assessment = one_line(f"{intake.presenting_problem} {intake.functioning}")
    return (
        f"The {session.index}th Counseling\nClient Profile:\nStatic Traits: ## User Background\n"
        f"[Personal Profile]  \n{_basic_info(profile)}\n\n"
        f"[Personal Characteristics]  \n{one_line(profile.personality)}\n\n"
        f"[Assessment and Diagnosis]  \n{assessment}\n"
        "Counseling Memory:\n"
        f"[Emotion and Cognitive State:] {one_line(memo.emotion_and_cognitive_state)}\n"
        f"[Counselor Observations:] {one_line(memo.counselor_observations)}\n"
        f"[Counseling Assignments:] {one_line('; '.join(memo.counseling_assignments))}\n"
        f"[Session Goal:] {one_line(memo.session_goal)}\n"
        f"Counseling Summary:\n{one_line(memo.summary)}\n"
    )


def _dialogue_block(sessions: list[SessionRecord]) -> str:
    lines = [f"{SPEAKERS[t.speaker]}: {one_line(t.text)}" for s in sessions for t in s.turns if t.text.strip()]
    return "\n\n".join(lines) + "\n"


def arc_files(arc: ArcRecord, file_id: str) -> dict[str, str]:
    profile = profile_of(arc)
    cards = "\n".join(f"{usercard(profile, s)}\n{CARD_SEPARATOR}\n" for s in arc.sessions)
    memories = "\n\n".join(memory(profile, s) for s in arc.sessions) + "\n\n"
    blocks = [_dialogue_block(arc.sessions)] + [_dialogue_block([s]) for s in arc.sessions[1:]]
    return {
        f"usercards_{file_id}.txt": cards,
        f"memories_{file_id}.txt": memories,
        f"dialogues_{file_id}.txt": f"{DIALOGUE_SEPARATOR}\n".join(blocks),
    }


INDEX = ".index.jsonl"


def build_raw(selection: Selection) -> dict[str, str]:
    """File name -> text for every exported arc, plus the `.index.jsonl` of numbers to arcs."""
    arcs = [a for a in selection.arcs if not all(selection.skipped(a, s.index) for s in a.sessions)]
    files: dict[str, str] = {}
    index = []
    for number, arc in enumerate(arcs, start=1):
        files.update(arc_files(arc, str(number)))
        entry = {"id": number, "run_id": arc.run_id, "arc_id": arc.arc_id, "client_id": arc.client_id}
        index.append(json.dumps(entry, ensure_ascii=False) + "\n")
    files[INDEX] = "".join(index)
    return files


def _check_labels(name: str, block_no: int, text: str, labels: tuple[str, ...]) -> None:
    lines = text.splitlines()
    position = 0
    for label in labels:
        found = next((i for i in range(position, len(lines)) if lines[i].startswith(label)), None)
        if found is None:
            raise ExportError(f"{name}: block {block_no}: field {label!r}: missing or out of order")
        rest = lines[found][len(label) :].strip()
        following = lines[found + 1].strip() if found + 1 < len(lines) else ""
        if label.startswith("[") and not (rest or following):
            raise ExportError(f"{name}: block {block_no}: field {label!r}: empty")
        position = found + 1


def check_raw(files: Mapping[str, str]) -> None:
    """Per arc: the three files exist, every block has its labels in order with content, and
    the files agree on the number of sessions; dialogue lines are all `Consultant:`/`User:`."""
    texts = [n for n in files if n.endswith(".txt")]
    ids = {m.group(2) for n in texts if (m := re.fullmatch(r"(usercards|memories|dialogues)_(\d+)\.txt", n))}
    if len(ids) * 3 != len(texts):
        raise ExportError("muspsy-raw: every arc needs exactly usercards_<n>, memories_<n> and dialogues_<n> files")
    if INDEX in files:
        listed = {str(json.loads(line)["id"]) for line in files[INDEX].splitlines() if line.strip()}
        if listed != ids:
            raise ExportError(f"{INDEX}: field id: lists {sorted(listed)}, the files are {sorted(ids)}")
    for file_id in sorted(ids):
        names = [f"{kind}_{file_id}.txt" for kind in ("usercards", "memories", "dialogues")]
        missing = [n for n in names if n not in files]
        if missing:
            raise ExportError(f"{missing[0]}: missing")
        cards_name, memories_name, dialogues_name = names
        cards = [b for b in files[cards_name].split(f"\n{CARD_SEPARATOR}\n") if b.strip()]
        for i, block in enumerate(cards, start=1):
            _check_labels(cards_name, i, block, CARD_LABELS)
        memories = re.split(r"(?m)^The (\d+)th Counseling$", files[memories_name])
        numbers = [int(n) for n in memories[1::2]]
        if numbers != list(range(1, len(cards) + 1)):
            raise ExportError(
                f"{memories_name}: field 'The <n>th Counseling': sessions {numbers}, expected 1..{len(cards)}"
            )
        for i, block in enumerate(memories[2::2], start=1):
            _check_labels(memories_name, i, block, MEMORY_LABELS)
        blocks = files[dialogues_name].split(f"{DIALOGUE_SEPARATOR}\n")
        if len(blocks) != len(cards):
            raise ExportError(f"{dialogues_name}: {len(blocks)} dialogue block(s) for {len(cards)} session(s)")
        for b, block in enumerate(blocks):
            lines = [line for line in block.splitlines() if line.strip()]
            if not lines:
                raise ExportError(f"{dialogues_name}: block {b}: empty")
            for line in lines:
                speaker, sep, text = line.partition(": ")
                if speaker not in SPEAKERS.values() or not sep or not text.strip():
                    raise ExportError(
                        f"{dialogues_name}: block {b}: line {line[:40]!r}: expected 'Consultant: ' or 'User: ' and text"
                    )
