"""PATIENT-Psi cognitive models -> profiles, one per model and conversational style.

PATIENT-Psi simulates every cognitive model in each of its listed styles (`type`), so one
source record yields one profile per style; the cognitive model itself is also kept whole in
`extra["cognitive_model"]` for exporters and reviewers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    Where,
    build_profile,
    joined,
    need,
    optional,
    provenance,
    risk_from_text,
    slug,
    strings,
)
from muspsy.records import ClientProfile, ConversationalStyle

LICENSE = "MIT"
STYLES: tuple[str, ...] = get_args(ConversationalStyle)
BELIEF_KINDS = ("helpless_belief", "unlovable_belief", "worthless_belief")


def import_patient_psi(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
    return (batch or Batch()).each_record(path, patient_psi_profiles)


def patient_psi_profiles(record: Any, where: Where) -> list[ClientProfile]:
    path = where.path
    number = where.record
    profiles = []
    name = need(record, "name", where)
    history = need(record, "history", where)
    situation = need(record, "situation", where)
    thought = need(record, "auto_thought", where)
    styles = strings(record, "type", where) or ["plain"]
    for style in styles:
        if style not in STYLES:
            raise where.fail("type", f"unknown conversational style {style!r} (known: {', '.join(STYLES)})")
    source_id = slug(str(record.get("id", ""))) or str(number)
    beliefs = [
        f"{kind.split('_')[0].capitalize()} core belief: {belief}"
        for kind in BELIEF_KINDS
        for belief in strings(record, kind, where)
    ]
    intermediate = optional(record, "intermediate_belief", where)
    cognition = joined([*beliefs, f"Intermediate belief: {intermediate}" if intermediate else None])
    emotion = joined(strings(record, "emotion", where), "; ")
    cognitive_model = {k: v for k, v in record.items() if k not in {"name", "id", "type"}}
    for style in styles:
        defaults = Defaults("en")
        data: dict[str, Any] = {
            "id": f"patient-psi-{source_id}-{style}",
            "name": name,
            "age": defaults.value("age", DEFAULT_AGE, "no age in the source"),
            "gender": defaults.text("gender", None),
            "language": "en",
            "culture": defaults.text("culture", None),
            "occupation": defaults.text("occupation", None),
            "intake": {
                "presenting_problem": joined([f"Situation: {situation}", f"Emotion: {emotion}." if emotion else None]),
                "reason_for_counseling": defaults.text("intake.reason_for_counseling", None),
            },
            "personality": defaults.text("personality", optional(record, "coping_strategies", where)),
            "background": history,
            "conversational_style": style,
            "risk": risk_from_text(record, defaults),
            "initial_state": {
                "emotion_state": defaults.text("initial_state.emotion_state", emotion),
                "cognitive_state": joined([f"Automatic thought: {thought}", cognition]),
                "recent_life_events": [situation],
            },
            "provenance": provenance("patient-psi", path, LICENSE),
            "extra": {
                "id": record.get("id"),
                "type": styles,
                "cognitive_model": cognitive_model,
            },
        }
        profiles.append(build_profile(data, where, defaults))
    return profiles
