"""MusPsy user cards -> one profile whose planned arc has one session per card block.

The static traits of the first block give the persona; each block's dynamic states and
counseling goals become a `PlannedSession`. See docs/importers.md for the field table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    ImportDataError,
    Where,
    age_from,
    build_profile,
    detect_language,
    joined,
    provenance,
    risk_from_text,
    slug,
)
from muspsy.importers.muspsy_text import Section, export_index_entry, read_cards
from muspsy.records import ClientProfile

STATIC = "Client's Static Traits"
DYNAMIC = "Client's Dynamic States"
GOALS = "Counseling Goals"
BASIC = "Basic Info"
EVENTS, EMOTION, COGNITION = "Recent Life Events", "Emotion State", "Cognitive State"
LICENSE = "MIT"  # badge of the public fork of the MusPsy release

GENDER = re.compile(r"^(男性?|女性?|male|female|man|woman|non-binary)$", re.IGNORECASE)
CULTURE = re.compile(r"(族$|宗教|信仰|religio|ethnic|national)", re.IGNORECASE)
OCCUPATION = re.compile(
    r"(退休|工人|学生|教师|老师|职员|员工|医生|护士|工程师|经理|会计|司机|农民|无业|待业|自由职业|公务员|销售|"
    r"个体|retired|student|teacher|worker|engineer|nurse|doctor|manager|unemployed|clerk|driver|farmer|tester|developer|"
    r"programmer|accountant|designer|cook|chef|cleaner|lawyer)",
    re.IGNORECASE,
)


def client_key(path: Path) -> str:
    """The client number in a MusPsy file name (usercards_1000.txt -> 1000), else the stem."""
    match = re.search(r"\d+", path.stem)
    return match.group(0) if match else slug(path.stem) or "client"


def restored_id(path: Path) -> str | None:
    """The original client id of a file exported as `muspsy-raw` (from its `.index.jsonl`)."""
    entry = export_index_entry(path, client_key(path))
    return str(entry["client_id"]) if entry and entry.get("client_id") else None


def _segments(sentence: str) -> list[str]:
    return [s.strip() for s in re.split(r"[\uff0c,、;\uff1b]", sentence) if s.strip()]


def demographics(basic: str, defaults: Defaults) -> dict[str, Any]:
    """Name, age, gender, culture and occupation from a `[Basic Info]` sentence; defaults when absent."""
    sentences = [s.strip() for s in re.split(r"(?<=[。.!?\uff01\uff1f])", basic) if s.strip()]
    first = _segments(sentences[0]) if sentences else []
    name = first[0] if first and len(first[0]) <= 30 and not age_from(first[0]) else None
    gender = next((s for s in first if GENDER.match(s)), None)
    culture = joined((s for s in first if CULTURE.search(s)), "\uff0c" if defaults.language == "zh" else ", ")
    occupation = next((s for s in first if OCCUPATION.search(s)), None)
    age = age_from(basic)
    return {
        "name": defaults.text("name", name),
        "age": age if age is not None else defaults.value("age", DEFAULT_AGE, "no age in the source"),
        "gender": defaults.text("gender", gender),
        "culture": defaults.text("culture", culture),
        "occupation": defaults.text("occupation", occupation),
        "presenting_problem": joined(sentences[1:], "") or basic,
    }


def _need(block: dict[str, Section], heading: str, key: str | None, where: Where) -> str:
    section = block.get(heading)
    label = f"{heading}.[{key}]" if key else heading
    if section is None:
        raise where.fail(label, "missing")
    value = section.fields.get(key, "") if key else "\n".join(section.lines)
    if not value.strip():
        raise where.fail(label, "missing" if key and key not in section.fields else "empty")
    return value.strip()


def _leftovers(block: dict[str, Section], used: dict[str, set[str]]) -> dict[str, Any]:
    """Everything in a block that no profile field took, under its original heading and key."""
    out: dict[str, Any] = {}
    for heading, section in block.items():
        taken = used.get(heading, set())
        rest: dict[str, Any] = {k: v for k, v in section.fields.items() if k not in taken}
        if section.lines and "(lines)" not in taken:
            rest["(lines)"] = section.lines
        if rest:
            out[heading or "(no heading)"] = rest
    return out


def import_cards(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
    """The profile of one user-card file (a file is one record: a bad one is skipped whole)."""
    batch = batch or Batch()
    with batch.record(path):
        return [card_profile(path)]
    return []


def card_profile(path: Path) -> ClientProfile:
    blocks = read_cards(path)
    if not blocks:
        raise ImportDataError(f"{path}: no user-card blocks")
    first = Where(path, 1, "block")
    basic = _need(blocks[0], STATIC, BASIC, first)
    language = detect_language([basic, *(s.fields for b in blocks for s in b.values())])
    defaults = Defaults(language)
    people = demographics(basic, defaults)
    planned: list[dict[str, Any]] = []
    extra_sessions: dict[str, Any] = {}
    used = {STATIC: {BASIC}, DYNAMIC: {EVENTS, EMOTION, COGNITION}, GOALS: {"(lines)"}}
    for number, block in enumerate(blocks, start=1):
        where = Where(path, number, "block")
        events = block.get(DYNAMIC, None)
        recent = events.fields.get(EVENTS, "").strip() if events else ""
        planned.append(
            {
                "session": number,
                "recent_life_events": [recent] if recent else [],
                "emotion_state": _need(block, DYNAMIC, EMOTION, where),
                "cognitive_state": _need(block, DYNAMIC, COGNITION, where),
                "goal": " ".join(_need(block, GOALS, None, where).splitlines()),
            }
        )
        left = _leftovers(block, used)
        static = block.get(STATIC)
        if number > 1 and static and static.fields.get(BASIC, "").strip() not in ("", basic):
            left.setdefault(STATIC, {})[BASIC] = static.fields[BASIC]
        if left:
            extra_sessions[str(number)] = left
    session_one = planned[0]
    reason = joined(session_one["recent_life_events"])
    data: dict[str, Any] = {
        "id": restored_id(path) or f"muspsy-{client_key(path)}",
        "name": people["name"],
        "age": people["age"],
        "gender": people["gender"],
        "language": language,
        "culture": people["culture"],
        "occupation": people["occupation"],
        "intake": {
            "presenting_problem": people["presenting_problem"],
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", reason),
        },
        "personality": defaults.text("personality", None),
        "background": basic,
        "risk": risk_from_text([basic, planned], defaults),
        "initial_state": {
            "emotion_state": session_one["emotion_state"],
            "cognitive_state": session_one["cognitive_state"],
            "recent_life_events": session_one["recent_life_events"],
        },
        "planned_arc": planned,
        "provenance": provenance("muspsy user cards", path, LICENSE),
        "extra": {"blocks": extra_sessions} if extra_sessions else {},
    }
    return build_profile(data, first, defaults)
