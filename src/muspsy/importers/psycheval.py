"""PsychEval cases (one JSON object per case, or a list of them) -> profiles.

`client_info` gives the persona; `global_plan` and `core_demands` are kept in `extra` (a
planned arc needs a client state per session, which PsychEval does not have). The sessions
themselves are arc data: `muspsy arcs import --format psycheval` reads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from muspsy.importers.common import (
    DEFAULT_AGE,
    Batch,
    Defaults,
    Where,
    age_from,
    as_sentences,
    build_profile,
    detect_language,
    need,
    optional,
    provenance,
    risk_from_text,
    slug,
)
from muspsy.records import ClientProfile

LICENSE = "CC-BY-NC-4.0"
# static_traits keys with a profile field of their own; every other key goes to extra.
MAPPED_TRAITS = {
    "name",
    "age",
    "gender",
    "occupation",
    "family_status",
    "social_status",
    "medical_history",
    "language_features",
}
MAPPED_INFO = {"static_traits", "main_problem", "topic", "core_beliefs", "growth_experiences", "special_situations"}


def case_id(record: dict[str, Any], number: int) -> str:
    theory = slug(str(record.get("theoretical") or "")) or "case"
    source_id = slug(str(record.get("client_id", ""))) or str(number)
    return f"psycheval-{theory}-{source_id}"


def _texts(values: Any, where: Where, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise where.fail(field, "expected a list of strings")
    return [v for v in values if v.strip()]


def profile_data(record: Any, where: Where, path: Path) -> tuple[dict[str, Any], Defaults]:
    info = need(record, "client_info", where, dict)
    traits = need(record, "client_info.static_traits", where, dict)
    main_problem = need(record, "client_info.main_problem", where)
    language = detect_language(info)
    defaults = Defaults(language)
    beliefs = _texts(info.get("core_beliefs"), where, "client_info.core_beliefs")
    growth = _texts(info.get("growth_experiences"), where, "client_info.growth_experiences")
    situations = optional(info, "special_situations", where, list) or []
    events = [str(s["event"]) for s in situations if isinstance(s, dict) and s.get("event")]
    topic = optional(info, "topic", where)
    age_text = str(traits.get("age") or "")
    age = age_from(age_text)
    extra: dict[str, Any] = {
        "theoretical": record.get("theoretical"),
        "client_id": record.get("client_id"),
        "static_traits": {k: v for k, v in traits.items() if k not in MAPPED_TRAITS},
        **{k: v for k, v in info.items() if k not in MAPPED_INFO},
        "special_situations": situations,
        "global_plan": record.get("global_plan"),
        "sessions": f"{len(record.get('sessions') or [])} session(s): import them with `muspsy arcs import`",
    }
    data: dict[str, Any] = {
        "id": case_id(record, where.record or 1),
        "name": defaults.text("name", str(traits.get("name") or "")),
        "age": age if age is not None else defaults.value("age", DEFAULT_AGE, f"no usable age in {age_text!r}"),
        "gender": defaults.text("gender", str(traits.get("gender") or "")),
        "language": language,
        "culture": defaults.text("culture", None),
        "occupation": defaults.text("occupation", str(traits.get("occupation") or "")),
        "intake": {
            "presenting_problem": main_problem,
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", topic),
            "history": str(traits.get("medical_history") or ""),
            "functioning": str(traits.get("social_status") or ""),
            "support": str(traits.get("family_status") or ""),
        },
        "personality": defaults.text("personality", str(traits.get("language_features") or "")),
        "background": defaults.text("background", as_sentences(growth, language)),
        "risk": risk_from_text(info, defaults),
        "initial_state": {
            "emotion_state": main_problem,
            "cognitive_state": defaults.text("initial_state.cognitive_state", as_sentences(beliefs, language)),
            "recent_life_events": events,
        },
        "provenance": provenance("psycheval", path, LICENSE),
        "extra": {k: v for k, v in extra.items() if v not in (None, {}, [])},
    }
    return data, defaults


def import_psycheval(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
    profiles = []
    batch = batch or Batch()
    for number, record in batch.records(path):
        with batch.record(path, number):
            where = Where(path, number)
            data, defaults = profile_data(record, where, path)
            profiles.append(build_profile(data, where, defaults))
    return profiles
