"""PatientHub's client-character formats (beyond the MI characters): what they share.

Each format module maps one record to a `HubFields`; `hub_profile` turns it into a profile with
the usual honest defaults, and keeps every top-level source key the mapping did not take whole
in `extra` under its own name, so nothing is dropped. The formats are documented in PatientHub's
repository (`data/characters/*.json`); docs/importers.md has one table per format.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    Where,
    as_sentences,
    build_profile,
    detect_language,
    joined,
    provenance,
    risk_from_text,
    slug,
    strings_in,
)
from muspsy.importers.values import gender_field, given, read_age
from muspsy.records import ClientProfile

LICENSE = "MIT"


@dataclass
class HubFields:
    """A PatientHub record read into profile terms; None/empty means the source does not say."""

    source_id: str
    presenting_problem: str
    name: str | None = None
    age_text: str | None = None
    age_note: str | None = None  # how an estimated age was derived
    gender: str | None = None
    occupation: str | None = None
    culture: str | None = None
    reason: str | None = None
    history: str = ""
    functioning: str = ""
    support: str = ""
    personality: str | None = None
    background: str | None = None
    emotion: str | None = None
    cognition: str | None = None
    events: list[str] = field(default_factory=list)
    private: list[dict[str, Any]] = field(default_factory=list)
    attitude: str | None = None
    style: str | None = None  # a PATIENT-Psi conversational style, when the source names one
    symptom_severity: int | None = None
    risk_scores: dict[str, Any] = field(default_factory=dict)  # the source's own ratings, for review
    planned_arc: list[dict[str, Any]] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)  # top-level keys whose whole content went into fields
    extra: dict[str, Any] = field(default_factory=dict)


def text_of(value: Any, sep: str = " ") -> str:
    """Every string in a value (text, list, object), in order, as one text."""
    return joined((s for s in strings_in(value) if given(s)), sep)


def sentences(value: Any, language: str = "en") -> str:
    items = [value] if isinstance(value, str) else list(strings_in(value))
    return as_sentences((s for s in items if given(s)), language)


def share_from(level: float, levels: Iterable[float]) -> int:
    """A disclosure level (higher = harder to tell) -> the first session it may be shared in:
    by thirds of the levels the source uses, session 1 (easiest), 2 or 3 (hardest)."""
    scale = sorted(set(levels))
    low, high = scale[0], scale[-1]
    if high == low:
        return 2
    return 1 + min(2, math.floor(3 * (level - low) / (high - low)))


def hub_profile(fmt: str, record: dict[str, Any], where: Where, path: Path, mapped: HubFields) -> ClientProfile:
    language = detect_language(record)
    defaults = Defaults(language)
    age = read_age(mapped.age_text or "")
    if age is not None and (mapped.age_note or age[1] != "stated"):
        defaults.used["age"] = mapped.age_note or f"read from {mapped.age_text!r}: {age[1]}"
    risk = risk_from_text(record, defaults)
    if mapped.risk_scores:
        scores = ", ".join(f"{k} {v}" for k, v in mapped.risk_scores.items())
        risk["notes"] += f" Source ratings: {scores}; review the level by hand."
    extra = {k: v for k, v in record.items() if k not in mapped.taken}
    data: dict[str, Any] = {
        "id": f"patienthub-{fmt}-{slug(mapped.source_id) or where.record}",
        "name": defaults.text("name", given(mapped.name)),
        "age": age[0]
        if age is not None
        else defaults.value("age", DEFAULT_AGE, f"no usable age in {mapped.age_text!r}"),
        "gender": defaults.text("gender", gender_field(mapped.gender, language, defaults.used)),
        "language": language,
        "culture": defaults.text("culture", given(mapped.culture)),
        "occupation": defaults.text("occupation", given(mapped.occupation)),
        "intake": {
            "presenting_problem": mapped.presenting_problem,
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", mapped.reason),
            "history": mapped.history,
            "functioning": mapped.functioning,
            "support": mapped.support,
        },
        "personality": defaults.text("personality", mapped.personality),
        "background": defaults.text("background", mapped.background),
        "private_history": mapped.private,
        "risk": risk,
        "initial_state": {
            "emotion_state": defaults.text("initial_state.emotion_state", mapped.emotion),
            "cognitive_state": defaults.text("initial_state.cognitive_state", mapped.cognition),
            "recent_life_events": mapped.events,
            **({"symptom_severity": mapped.symptom_severity} if mapped.symptom_severity is not None else {}),
        },
        "planned_arc": mapped.planned_arc,
        "provenance": provenance(f"patienthub-{fmt}", path, LICENSE),
        "extra": {**extra, **mapped.extra},
    }
    if mapped.attitude:
        data["attitude"] = mapped.attitude
    if mapped.style:
        data["conversational_style"] = mapped.style
    return build_profile(data, where, defaults)


RecordReader = Callable[[dict[str, Any], Where], HubFields]


def importer(fmt: str, read: RecordReader) -> Callable[[Path, Batch], list[ClientProfile]]:
    """A profile importer for one PatientHub format: a JSON list (or one object) of records."""

    def profiles_of(record: Any, where: Where) -> list[ClientProfile]:
        if not isinstance(record, dict):
            raise where.fail("(record)", "expected an object")
        return [hub_profile(fmt, record, where, where.path, read(record, where))]

    def import_file(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
        return (batch or Batch()).each_record(path, profiles_of)

    import_file.__doc__ = f"PatientHub {fmt} characters -> profiles."
    return import_file
