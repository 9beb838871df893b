"""The MusPsy release's text files: per-session user cards, memories and dialogues.

User cards: one block per planned session, blocks separated by a line of `=`; each block has
headings (`Client's Static Traits:`, `Client's Dynamic States:`, `Counseling Goals:`) holding
`[Field]: value` lines or plain lines. Memories: `The Nth Counseling` blocks with bracketed
memory fields and a `Counseling Summary:`. Dialogues: `Consultant:` / `User:` lines, blocks
separated by a line of `#`; a line of `#` followed by a title (`##### Dialogue 3rd`) is a
block header: it starts a block of its own and its title is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muspsy.arcfiles import ArcFileError, read_jsonl
from muspsy.importers.common import ImportDataError, read_text

CARD_SEPARATOR = re.compile(r"^\s*={5,}\s*$")
DIALOGUE_SEPARATOR = re.compile(r"^\s*#{5,}\s*$")
DIALOGUE_HEADER = re.compile(r"^\s*#{2,}\s*(\S.*?)\s*#*\s*$")
FIELD_LINE = re.compile(r"^\[([^\]]+?)\]:?\s*(.*)$")
HEADING_LINE = re.compile(r"^([^\[\s][^:\uff1a]{1,60})[:\uff1a]\s*$")
MEMORY_START = re.compile(r"^\s*The\s+(\d+)\s*(?:st|nd|rd|th)\s+Counseling\s*$", re.IGNORECASE)
SPEAKER_LINE = re.compile(r"^(Consultant|Counselor|User|Client)\s*[:\uff1a]\s*(.*)$")
SPEAKERS = {"consultant": "counselor", "counselor": "counselor", "user": "client", "client": "client"}


@dataclass
class Section:
    fields: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def parse_sections(lines: list[str]) -> dict[str, Section]:
    """Headings -> their `[Field]: value` entries and plain lines; a value may span lines."""
    sections: dict[str, Section] = {}
    current: Section | None = None
    last_field: str | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            last_field = None
            continue
        heading = HEADING_LINE.match(line)
        match = FIELD_LINE.match(line)
        if match:
            current = current if current is not None else sections.setdefault("", Section())
            last_field = match.group(1).strip().rstrip(":")
            current.fields[last_field] = match.group(2).strip()
        elif heading:
            current = sections.setdefault(heading.group(1).strip(), Section())
            last_field = None
        elif current is not None and last_field is not None:
            current.fields[last_field] = f"{current.fields[last_field]}\n{line}".strip()
        else:
            current = current if current is not None else sections.setdefault("", Section())
            current.lines.append(line)
    return sections


def split_blocks(text: str, separator: re.Pattern[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if separator.match(line):
            blocks.append([])
        else:
            blocks[-1].append(line)
    return [b for b in blocks if any(line.strip() for line in b)]


def read_cards(path: Path) -> list[dict[str, Section]]:
    blocks = split_blocks(read_text(path), CARD_SEPARATOR)
    return [parse_sections(block) for block in blocks]


@dataclass
class MemoryEntry:
    number: int
    line: int
    sections: dict[str, Section]
    summary: str
    static_traits: str


def read_memories(path: Path) -> list[MemoryEntry]:
    lines = read_text(path).splitlines()
    starts = [(i, int(m.group(1))) for i, line in enumerate(lines) if (m := MEMORY_START.match(line))]
    if not starts:
        raise ImportDataError(f"{path}: line 1: no 'The 1th Counseling' heading: not a MusPsy memory file")
    entries = []
    for n, (start, number) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        body = lines[start + 1 : end]
        memory_at = next((i for i, line in enumerate(body) if line.strip().startswith("Counseling Memory")), None)
        summary_at = next((i for i, line in enumerate(body) if line.strip().startswith("Counseling Summary")), None)
        if memory_at is None:
            raise ImportDataError(f"{path}: line {start + 1}: field Counseling Memory: missing")
        if summary_at is None or summary_at < memory_at:
            raise ImportDataError(f"{path}: line {start + 1}: field Counseling Summary: missing")
        static = "\n".join(body[:memory_at]).strip()
        static = re.sub(r"^Client Profile:\s*", "", static).strip()
        static = re.sub(r"^Static Traits:\s*", "", static).strip()
        memory = parse_sections(["Counseling Memory:", *body[memory_at + 1 : summary_at]])
        summary = "\n".join(line.strip() for line in body[summary_at + 1 :] if line.strip())
        entries.append(MemoryEntry(number, start + 1, memory, summary, static))
    return entries


@dataclass
class DialogueLine:
    speaker: str
    text: str
    line: int


@dataclass
class DialogueBlock:
    """One `#`-separated block of a dialogue file; `header` is its `##### title` line, if any."""

    lines: list[DialogueLine] = field(default_factory=list)
    header: str | None = None


def read_dialogues(path: Path) -> list[DialogueBlock]:
    """The dialogue blocks; a line without a speaker tag continues the previous turn."""
    blocks = [DialogueBlock()]
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        if DIALOGUE_SEPARATOR.match(raw):
            blocks.append(DialogueBlock())
            continue
        header = DIALOGUE_HEADER.match(raw)
        if header:
            if blocks[-1].lines or blocks[-1].header:
                blocks.append(DialogueBlock())
            blocks[-1].header = header.group(1)
            continue
        line = raw.strip()
        if not line:
            continue
        current = blocks[-1].lines
        match = SPEAKER_LINE.match(line)
        if match:
            current.append(DialogueLine(SPEAKERS[match.group(1).lower()], match.group(2).strip(), number))
        elif current:
            current[-1].text = f"{current[-1].text}\n{line}"
        else:
            raise ImportDataError(f"{path}: line {number}: field speaker: expected 'Consultant:' or 'User:'")
    blocks = [b for b in blocks if b.lines]
    if not blocks:
        raise ImportDataError(f"{path}: no dialogue lines ('Consultant:' / 'User:')")
    return blocks


def sniff(path: Path) -> str:
    """Which MusPsy file this is, from its content: cards, memories or dialogues."""
    text = read_text(path)
    if "Static Traits" in text and "Dynamic States" in text:
        return "cards"
    if any(MEMORY_START.match(line) for line in text.splitlines()):
        return "memories"
    if any(SPEAKER_LINE.match(line.strip()) for line in text.splitlines()):
        return "dialogues"
    raise ImportDataError(
        f"{path}: line 1: not a MusPsy user-card, memory or dialogue file "
        "(expected 'Client's Static Traits:', 'The 1th Counseling' or 'Consultant:' lines)"
    )


EXPORT_INDEX = ".index.jsonl"


def export_index_entry(path: Path, key: str) -> dict[str, Any] | None:
    """The `.index.jsonl` entry of client number `key`, when `path` lies in a folder written by
    `muspsy export --format muspsy-raw` (it maps the file numbers back to the original ids)."""
    index = path.parent / EXPORT_INDEX
    if not index.is_file():
        return None
    try:
        rows = read_jsonl(index)
    except ArcFileError as exc:
        raise ImportDataError(str(exc)) from None
    for number, entry in rows:
        if "id" not in entry:
            raise ImportDataError(f"{index}: line {number}: field id: missing")
        if str(entry["id"]) == key:
            return entry
    return None
