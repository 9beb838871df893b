"""PatientHub motivational-interviewing characters (ConsistentMI style) -> profiles.

Stage of change sets the attitude; personas are the client's background; beliefs their
thinking; the motivation the counselor should draw out becomes a private fact shared from
session 2, and the plans the client would accept one shared from session 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    Where,
    as_sentences,
    build_profile,
    need,
    provenance,
    risk_from_text,
    slug,
    strings,
)
from muspsy.records import ClientProfile

LICENSE = "MIT"
# Transtheoretical stages -> attitude towards counseling about the behaviour.
STAGE_ATTITUDE = {
    "precontemplation": "negative",
    "contemplation": "neutral",
    "preparation": "positive",
    "action": "positive",
    "maintenance": "positive",
}
MAPPED = {"initial_stage", "topic", "Behavior", "Personas", "Beliefs"}


def import_patienthub_mi(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
    return (batch or Batch()).each_record(path, patienthub_mi_profiles)


def patienthub_mi_profiles(record: Any, where: Where) -> list[ClientProfile]:
    path = where.path
    number = where.record
    stage = need(record, "initial_stage", where)
    topic = need(record, "topic", where)
    behavior = need(record, "Behavior", where)
    attitude = STAGE_ATTITUDE.get(stage.strip().lower())
    if attitude is None:
        raise where.fail("initial_stage", f"unknown stage of change {stage!r} (known: {', '.join(STAGE_ATTITUDE)})")
    personas = strings(record, "Personas", where, required=True)
    beliefs = strings(record, "Beliefs", where)
    motivation = strings(record, "Motivation", where)
    plans = strings(record, "Acceptable Plans", where)
    private = []
    if motivation:
        private.append({"fact": motivation[-1], "share_from_session": 2})
    private += [{"fact": plan, "share_from_session": 3} for plan in plans]
    defaults = Defaults("en")
    # Several characters share one idx; the motivation's first tag tells them apart.
    tag = slug(motivation[0]) if motivation else ""
    data: dict[str, Any] = {
        "id": "-".join(p for p in ("patienthub-mi", slug(str(record.get("idx", number))), tag) if p),
        "name": defaults.text("name", None),
        "age": defaults.value("age", DEFAULT_AGE, "no age in the source"),
        "gender": defaults.text("gender", None),
        "language": "en",
        "culture": defaults.text("culture", None),
        "occupation": defaults.text("occupation", None),
        "intake": {
            "presenting_problem": f"{behavior} (counseling topic: {topic})",
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", None),
        },
        "personality": defaults.text("personality", None),
        "background": as_sentences(personas),
        "private_history": private,
        "attitude": attitude,
        "risk": risk_from_text(record, defaults),
        "initial_state": {
            "emotion_state": defaults.text("initial_state.emotion_state", None),
            "cognitive_state": defaults.text("initial_state.cognitive_state", as_sentences(beliefs)),
        },
        "provenance": provenance("patienthub-mi", path, LICENSE),
        "extra": {"initial_stage": stage, **{k: v for k, v in record.items() if k not in MAPPED}},
    }
    return [build_profile(data, where, defaults)]
