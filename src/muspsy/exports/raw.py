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
the hidden `.index.jsonl` maps each number to its run id, arc id and client id, and
`muspsy arcs import` / `profiles import` read it back to restore the ids.
A profile imported from MusPsy user cards gets its `[Basic Info]` line and its other card
fields written back as they were; other profiles get a `name, gender, age, occupation,
culture.` sentence in front of their background. An arc imported with MusPsy's full-length
blocks (`source_extra.full_length_sessions`, or `compact_sessions` after `--full-length`) gets
them back as blocks 1.., with the compact sessions in block 0.
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
STATIC, DYNAMIC = "Client's Static Traits", "Client's Dynamic States"
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


def from_user_cards(profile: ClientProfile) -> bool:
    return profile.provenance.kind == "imported" and (profile.provenance.source or "").startswith("muspsy user cards")


def _basic_info(profile: ClientProfile) -> str:
    if from_user_cards(profile):
        return one_line(profile.background)  # the card's own [Basic Info], unchanged
    # Fields an import filled with a default are left out: "Not stated in the source." would
    # read back as the client's occupation, or split the sentence.
    defaults = profile.extra.get("muspsy_defaults", {})
    zh = profile.language == "zh"
    age = f"{profile.age}岁" if zh else f"{profile.age} years old"
    parts = {"name": profile.name, "gender": profile.gender, "age": age, "occupation": profile.occupation}
    parts["culture"] = profile.culture.rstrip(".\u3002")
    who = ("\uff0c" if zh else ", ").join(v for k, v in parts.items() if k not in defaults and v.strip())
    stop = "\u3002" if zh else "."
    return one_line(f"{who}{stop} {profile.background}" if who else profile.background)


def _card_fields(profile: ClientProfile, session: int, heading: str) -> str:
    """The card's fields of `heading` that no profile field took, back in their place."""
    block = profile.extra.get("blocks", {}).get(str(session), {}) if from_user_cards(profile) else {}
    fields = block.get(heading, {}) if isinstance(block, dict) else {}
    return "".join(
        f"[{key}]: {one_line(str(value))}\n"
        for key, value in fields.items()
        if key != "(lines)" and not (heading == STATIC and key == "Basic Info")
    )


def usercard(profile: ClientProfile, session: SessionRecord) -> str:
    state = session.client_state
    return (
        f"Client's Static Traits:\n[Basic Info]: {_basic_info(profile)}\n"
        f"{_card_fields(profile, session.index, STATIC)}\n"
        f"Client's Dynamic States:\n"
        f"[Recent Life Events]: {one_line('; '.join(state.recent_life_events)) or 'None.'}\n"
        f"[Emotion State]: {one_line(state.emotion_state)}\n"
        f"[Cognitive State]: {one_line(state.cognitive_state)}\n"
        f"{_card_fields(profile, session.index, DYNAMIC)}\n"
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


def _lines(turns: list[tuple[str, str]]) -> str:
    lines = [f"{SPEAKERS[speaker]}: {one_line(text)}" for speaker, text in turns if text.strip()]
    return "\n\n".join(lines) + "\n"


def _turns(session: SessionRecord) -> list[tuple[str, str]]:
    return [(t.speaker, t.text) for t in session.turns]


def _stored(arc: ArcRecord, key: str) -> dict[int, list[tuple[str, str]]]:
    """Sessions kept in `source_extra[key]` by an import (session number -> turns)."""
    stored = (arc.model_extra or {}).get("source_extra", {}).get(key) or []
    return {int(s["session"]): [(t["speaker"], t["text"]) for t in s["turns"]] for s in stored}


def dialogue_blocks(arc: ArcRecord) -> list[str]:
    """Block 0: every session in its compact form; blocks 1..: sessions 2.. in full length,
    as the paper lays them out. For an arc that never had two versions both are the session."""
    full, compact = _stored(arc, "full_length_sessions"), _stored(arc, "compact_sessions")
    later = arc.sessions[1:]
    block0 = [turn for s in arc.sessions for turn in compact.get(s.index, _turns(s))]
    return [_lines(block0)] + [_lines(full.get(s.index, _turns(s))) for s in later]


def arc_files(arc: ArcRecord, file_id: str) -> dict[str, str]:
    profile = profile_of(arc)
    cards = "\n".join(f"{usercard(profile, s)}\n{CARD_SEPARATOR}\n" for s in arc.sessions)
    memories = "\n\n".join(memory(profile, s) for s in arc.sessions) + "\n\n"
    return {
        f"usercards_{file_id}.txt": cards,
        f"memories_{file_id}.txt": memories,
        f"dialogues_{file_id}.txt": f"{DIALOGUE_SEPARATOR}\n".join(dialogue_blocks(arc)),
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
