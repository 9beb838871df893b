"""PsychEval cases (one JSON object per case, or a list of them) -> profiles.

`client_info` gives the persona; `global_plan` and `core_demands` are kept in `extra` (a
planned arc needs a client state per session, which PsychEval does not have). The sessions
themselves are arc data: `muspsy arcs import --format psycheval` reads them.

Two layouts of `client_info`: one therapy (`static_traits`, `main_problem`, ... and the
therapy's own keys beside them) and *integrative* (`basic_info` with the persona, `theory`
with one conceptualisation per therapy). "未提及" and similar markers count as missing.
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
    detect_language,
    need,
    optional,
    provenance,
    risk_from_text,
    slug,
    source_name,
)
from muspsy.importers.values import gender_field, given, read_age
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
# Ages written as birth years are read as of the year the cases were written (the release is
# dated January 2026 and its cases were built in 2025).
REFERENCE_YEAR = 2025
# intake_profile keys that can stand in for a static trait the case leaves out.
INTAKE_TRAITS = ("name", "age", "gender", "occupation")


def therapy_of(record: dict[str, Any]) -> str:
    """The case's therapy: `theoretical`, or "integrative" for the multi-therapy layout."""
    info = record.get("client_info")
    integrative = isinstance(info, dict) and "basic_info" in info
    return str(record.get("theoretical") or ("integrative" if integrative else "unknown"))


def case_id(record: dict[str, Any], number: int) -> str:
    theory = slug(therapy_of(record)) or "case"
    source_id = slug(str(record.get("client_id", ""))) or str(number)
    return f"psycheval-{theory}-{source_id}"


def _persona(record: dict[str, Any], where: Where) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(persona, CBT conceptualisation, field prefix) of either layout."""
    info = need(record, "client_info", where, dict)
    if "basic_info" not in info:
        return info, info, "client_info"
    basic = need(record, "client_info.basic_info", where, dict)
    theory = optional(info, "theory", where, dict) or {}
    cbt = theory.get("cbt")
    return basic, cbt if isinstance(cbt, dict) else {}, "client_info.basic_info"


def _texts(values: Any, where: Where, field: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise where.fail(field, "expected a list of strings")
    return [v for v in values if v.strip()]


def profile_data(record: Any, where: Where, path: Path) -> tuple[dict[str, Any], Defaults]:
    persona, cbt, at = _persona(record, where)
    traits = need(record, f"{at}.static_traits", where, dict)
    main_problem = need(record, f"{at}.main_problem", where)
    info = record["client_info"]
    language = detect_language(info)
    defaults = Defaults(language)
    beliefs = _texts(cbt.get("core_beliefs"), where, "core_beliefs")
    growth = _texts(persona.get("growth_experiences"), where, f"{at}.growth_experiences")
    situations = optional(cbt, "special_situations", where, list) or []
    events = [str(s["event"]) for s in situations if isinstance(s, dict) and given(s.get("event"))]
    topic = given(optional(persona, "topic", where))
    intake_profile = record.get("intake_profile") if isinstance(record.get("intake_profile"), dict) else {}

    def trait(key: str) -> str | None:
        return given(traits.get(key)) or (given(intake_profile.get(key)) if key in INTAKE_TRAITS else None)

    age_text = trait("age") or ""
    age = read_age(age_text, REFERENCE_YEAR)
    if age is not None and age[1] != "stated":
        defaults.used["age"] = f"read from {age_text!r}: {age[1]}"
    extra: dict[str, Any] = {
        "theoretical": record.get("theoretical"),
        "client_id": record.get("client_id"),
        "static_traits": {k: v for k, v in traits.items() if k not in MAPPED_TRAITS},
        **{k: v for k, v in info.items() if k not in MAPPED_INFO and k != "basic_info"},
        **{k: v for k, v in persona.items() if persona is not info and k not in MAPPED_INFO},
        "special_situations": situations,
        "intake_profile": intake_profile,
        "global_plan": record.get("global_plan"),
        "sessions": f"{len(record.get('sessions') or [])} session(s): import them with `muspsy arcs import`",
    }
    data: dict[str, Any] = {
        "id": case_id(record, where.record or 1),
        "name": defaults.text("name", trait("name")),
        "age": age[0] if age is not None else defaults.value("age", DEFAULT_AGE, f"no usable age in {age_text!r}"),
        "gender": defaults.text("gender", gender_field(trait("gender"), language, defaults.used)),
        "language": language,
        "culture": defaults.text("culture", None),
        "occupation": defaults.text("occupation", trait("occupation")),
        "intake": {
            "presenting_problem": main_problem,
            "reason_for_counseling": defaults.text("intake.reason_for_counseling", topic),
            "history": trait("medical_history") or "",
            "functioning": trait("social_status") or "",
            "support": trait("family_status") or "",
        },
        "personality": defaults.text("personality", trait("language_features")),
        "background": defaults.text("background", as_sentences(growth, language)),
        "risk": risk_from_text(info, defaults),
        "initial_state": {
            "emotion_state": main_problem,
            "cognitive_state": defaults.text("initial_state.cognitive_state", as_sentences(beliefs, language)),
            "recent_life_events": events,
        },
        "provenance": {**provenance("psycheval", path, LICENSE), "source": f"psycheval: {source_name(path)}"},
        "extra": {k: v for k, v in extra.items() if v not in (None, {}, [])},
    }
    return data, defaults


def import_psycheval(path: Path, batch: Batch | None = None) -> list[ClientProfile]:
    return (batch or Batch()).each_record(path, psycheval_profiles)


def psycheval_profiles(record: Any, where: Where) -> list[ClientProfile]:
    data, defaults = profile_data(record, where, where.path)
    return [build_profile(data, where, defaults)]
