"""CACTUS records -> profiles: the intake form's numbered sections become `intake`, and the
record's `attitude` the profile's attitude (the same client appears once per attitude, so the
id carries the attitude)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    Where,
    age_from,
    build_profile,
    need,
    provenance,
    risk_from_text,
    slug,
)
from muspsy.records import ClientProfile

LICENSE = "GPL-2.0"  # the CACTUS repository's licence
SECTION = re.compile(r"^\s*(\d+)\.\s*(.*)$")
HEADER_KEY = re.compile(r"^([A-Za-z][A-Za-z /]{0,40}):\s*(.*)$")
# Section titles -> intake field; matched on words, since the numbering is not a contract.
TITLES = (
    ("presenting", "presenting_problem"),
    ("reason", "reason_for_counseling"),
    ("history", "history"),
    ("functioning", "functioning"),
    ("support", "support"),
)
IDENTITY = {"name", "age", "gender", "occupation"}
# A numbered section 1 of identity lines, when a form has one, is read like the unnumbered header.
IDENTITY_TITLE = re.compile(r"basic|client information|personal|identif", re.IGNORECASE)


def _field_of(title: str) -> str | None:
    return next((name for word, name in TITLES if word in title.lower()), None)


def _inner_heading(line: str, current: str, intake: dict[str, str]) -> tuple[str, str] | None:
    """(title, text) when an unnumbered `Title: text` line names an intake section other than
    the current one that no section has filled yet."""
    match = HEADER_KEY.match(line.strip())
    if not match or len(match.group(1)) > 40:
        return None
    target = _field_of(match.group(1))
    if target is None or target == _field_of(current) or target in intake:
        return None
    return match.group(1).strip(), match.group(2).strip()


def parse_intake(form: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(identity header `Key: value` pairs, intake fields, unrecognised sections by title)."""
    header: dict[str, str] = {}
    intake: dict[str, str] = {}
    other: dict[str, str] = {}
    title: str | None = None
    body: list[str] = []
    pending_key: str | None = None

    def flush() -> None:
        if title is None:
            return
        text = "\n".join(line for line in body if line.strip()).strip()
        target = _field_of(title)
        if target and target not in intake:
            intake[target] = text
        else:
            other[title] = text

    for line in form.splitlines():
        section = SECTION.match(line)
        if section:
            flush()
            rest = section.group(2).strip()
            # "5. Academic/occupational functioning level: ..." carries its text on the title line.
            title, _, inline = rest.partition(":") if ":" in rest else (rest, "", "")
            title = title.strip()
            if IDENTITY_TITLE.search(title):
                title, body = None, []
                continue
            body = [f"{title}: {inline.strip()}"] if inline.strip() else []
        elif title is not None and (inner := _inner_heading(line, title, intake)):
            # "Social Support System: ..." without a number inside section 5 is a section of its own.
            flush()
            title, inline = inner
            body = [f"{title}: {inline}"] if inline else []
        elif title is not None and not IDENTITY_TITLE.search(title):
            body.append(line)
        elif pending_key is not None and line.strip():
            header[pending_key] = line.strip()
            pending_key = None
        elif match := HEADER_KEY.match(line.strip()):
            key, value = match.group(1).strip(), match.group(2).strip()
            if value:
                header[key] = value
            else:
                pending_key = key  # "Name:\nLaura" puts the value on the next line
    flush()
    return header, intake, other


def import_cactus(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
    return (batch or Batch()).each_record(path, cactus_profiles)


def cactus_profiles(record: Any, where: Where) -> list[ClientProfile]:
    path = where.path
    number = where.record
    client = need(record, "AI_client", where, dict)
    form = need(record, "AI_client.intake_form", where)
    attitude = need(record, "AI_client.attitude", where)
    header, intake, other = parse_intake(form)
    by_key = {k.lower(): v for k, v in header.items()}
    if "presenting_problem" not in intake:
        raise where.fail("AI_client.intake_form", "no 'Presenting Problem' section")
    defaults = Defaults("en")
    age = age_from(by_key.get("age", ""))
    background = "; ".join(f"{k}: {v}" for k, v in header.items() if k.lower() not in IDENTITY)
    problem = intake["presenting_problem"]
    name = by_key.get("name")
    extra: dict[str, Any] = {k: v for k, v in client.items() if k not in {"intake_form", "attitude"}}
    extra.update({k: v for k, v in record.items() if k != "AI_client"})
    if other:
        extra["intake_form_sections"] = other
    data: dict[str, Any] = {
        "id": f"cactus-{slug(name or '') or f'record-{number}'}-{slug(attitude) or 'attitude'}",
        "name": defaults.text("name", name),
        "age": age if age is not None else defaults.value("age", DEFAULT_AGE, "no age in the intake form"),
        "gender": defaults.text("gender", by_key.get("gender")),
        "language": "en",
        "culture": defaults.text("culture", None),
        "occupation": defaults.text("occupation", by_key.get("occupation")),
        "intake": {
            "presenting_problem": problem,
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", intake.get("reason_for_counseling")),
            **{k: intake[k] for k in ("history", "functioning", "support") if k in intake},
        },
        "personality": defaults.text("personality", None),
        "background": defaults.text("background", background),
        "attitude": attitude,
        "risk": risk_from_text(form, defaults),
        "initial_state": {
            # CACTUS presenting problems open with the client's distorted belief.
            "emotion_state": defaults.text("initial_state.emotion_state", None),
            "cognitive_state": re.split(r"(?<=[.!?])\s", problem, maxsplit=1)[0],
        },
        "provenance": provenance("cactus", path, LICENSE),
        "extra": extra,
    }
    return [build_profile(data, where, defaults)]
