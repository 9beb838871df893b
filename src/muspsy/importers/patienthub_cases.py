"""Readers for PatientHub's remaining client formats: ClientCAST, CARS, roleplayDoh,
mindVoyager, Psyche (MFC) and AdaptiveVP. Each maps a record to `HubFields`; see
docs/importers.md for the tables. Like the others, none plans sessions; what a record says
about one situation becomes the client's recent life events.
"""

from __future__ import annotations

import re
from typing import Any

from muspsy.importers.common import Where, joined, need
from muspsy.importers.patienthub import HubFields, sentences, text_of
from muspsy.importers.patienthub_formats import RESISTANCE_ATTITUDE
from muspsy.importers.values import given

# mindVoyager's style words -> muspsy's conversational styles (PATIENT-Psi's six).
STYLE_WORDS = {
    "plain": "plain",
    "verbose": "verbose",
    "go off on tangents": "tangent",
    "tangent": "tangent",
    "hostile": "upset",
    "upset": "upset",
    "guarded": "reserved",
    "reserved": "reserved",
    "ingratiating": "pleasing",
    "pleasing": "pleasing",
}
GENDER_WORD = re.compile(r"\b(woman|man|boy|girl|male|female)\b", re.IGNORECASE)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _resistance(text: Any) -> str | None:
    """`Low - the client is open ...` (any dash) -> positive: the first word is the rating."""
    words = str(text or "").strip().lower().split()
    return RESISTANCE_ATTITUDE.get(words[0].strip("-–,.:")) if words else None  # noqa: RUF001


def read_clientcast(record: dict[str, Any], where: Where) -> HubFields:
    """ClientCAST: a basic profile (topic, situation, emotion, reasons, resistance), Big Five
    percentages with explanations and questionnaire items identified in a conversation."""
    basic = need(record, "basic_profile", where, dict)
    five = _mapping(record.get("big_five"))
    traits = [f"{k} {v.get('score_percent')}%" for k, v in five.items() if isinstance(v, dict)]
    age = basic.get("age")
    return HubFields(
        source_id=str(where.record),
        name=basic.get("name"),
        age_text=str(age) if isinstance(age, int) and age > 0 else "",
        gender=basic.get("gender"),
        occupation=basic.get("occupation"),
        presenting_problem=given(basic.get("problem")) or need(record, "basic_profile.situation", where),
        reason=given(basic.get("reasons")),
        personality=f"Big Five: {', '.join(traits)}." if traits else None,
        background=given(basic.get("topic")),
        emotion=given(basic.get("emotion")),
        events=[s for s in [given(basic.get("situation"))] if s],
        attitude=_resistance(basic.get("resistance")),
    )


def read_cars(record: dict[str, Any], where: Where) -> HubFields:
    """CARS: a persona, a main and a session-specific cognitive conceptualization diagram,
    preferences, characteristics and example utterances."""
    persona = _mapping(record.get("persona"))
    main = _mapping(record.get("main_cognitive_conceptualization_diagram"))
    session = _mapping(record.get("session_specific_cognitive_conceptualization_diagram"))
    thought = _mapping(session.get("automatic_thought"))
    belief = _mapping(session.get("intermediate_belief"))
    state = _mapping(record.get("example_state_update"))
    characteristics = _mapping(record.get("client_characteristics"))
    return HubFields(
        source_id=joined([str(record.get("name") or ""), str(where.record)], "-"),
        name=record.get("name") or persona.get("name"),
        age_text=str(persona.get("age") or _mapping(record.get("demographics")).get("age") or ""),
        gender=persona.get("gender"),
        occupation=persona.get("occupation"),
        presenting_problem=given(persona.get("chief_complaint")) or need(record, "background", where),
        reason=given(record.get("background")),
        history=given(main.get("relevant_history")) or "",
        functioning=given(persona.get("lifestyle")) or "",
        support=given(persona.get("interpersonal_relationships")) or "",
        personality=sentences(
            [*_items(main.get("coping_strategies")), *characteristics.get("other_client_characteristics", [])]
        )
        or None,
        background=given(persona.get("family_background")),
        emotion=given(state.get("emotion")) or given(thought.get("reaction")),
        cognition=sentences([*_items(main.get("core_beliefs")), thought.get("cognition"), belief.get("assumption")])
        or None,
        events=[s for s in [given(thought.get("situation"))] if s],
    )


def read_roleplaydoh(record: dict[str, Any], where: Where) -> HubFields:
    """roleplayDoh: one free-text `description` of the client."""
    text = need(record, "description", where)
    name = re.match(r"^([A-Z][a-z]+) is\b", text.strip())
    gender = GENDER_WORD.search(text.split(".")[0])
    return HubFields(
        source_id=joined([name.group(1) if name else "", str(where.record)], "-"),
        name=name.group(1) if name else None,
        gender=gender.group(1) if gender else None,
        presenting_problem=text,
        background=text,
        taken={"description"},
    )


def read_mindvoyager(record: dict[str, Any], where: Where) -> HubFields:
    """mindVoyager: styles, an internal cognitive diagram and external experiences
    (situation and reaction), the first of which is the one the client comes in with."""
    diagram = _mapping(record.get("internal_cognitive_diagram"))
    experiences = [e for e in _items(record.get("external_experiences")) if isinstance(e, dict)]
    situations = [str(e["situation"]) for e in experiences if given(e.get("situation"))]
    styles = [STYLE_WORDS[s.lower()] for s in _items(record.get("style")) if str(s).lower() in STYLE_WORDS]
    return HubFields(
        source_id=str(record.get("id") or where.record),
        name=record.get("name"),
        presenting_problem=situations[0] if situations else need(record, "internal_cognitive_diagram", where, dict),
        personality=given(diagram.get("coping_strategies")),
        background=given(diagram.get("relevant_history")),
        emotion=given(experiences[0].get("reaction")) if experiences else None,
        cognition=sentences([*_items(diagram.get("core_beliefs")), *_items(diagram.get("intermediate_beliefs"))])
        or None,
        events=situations[:1],
        style=styles[0] if styles else None,
    )


def read_psyche(record: dict[str, Any], where: Where) -> HubFields:
    """Psyche: an MFC profile (identifying data, chief complaint, present illness, histories,
    medication, impulsivity), a first-person history and a mental status examination."""
    profile = need(record, "MFC-Profile", where, dict)
    who = _mapping(profile.get("Identifying data"))
    symptom = _mapping(_mapping(profile.get("Present illness")).get("Symptom"))
    behavior = _mapping(record.get("MFC-Behavior"))
    social = _mapping(profile.get("Developmental/social history"))
    histories = ("Past psychiatric history", "Past medical history", "Current medication", "Family history")
    return HubFields(
        source_id=str(where.record),
        age_text=str(who.get("Age") or ""),
        gender=who.get("Sex"),
        occupation=who.get("Occupation"),
        presenting_problem=need(record, "MFC-Profile.Chief complaint", where),
        reason=joined([given(symptom.get("Name")), f"({symptom['Length']})" if given(symptom.get("Length")) else None])
        or None,
        history=joined((f"{h}: {text_of(profile.get(h), '; ')}" for h in histories if text_of(profile.get(h))), "\n"),
        functioning=given(social.get("Work history")) or "",
        personality=given(behavior.get("General appearance/attitude/behavior")),
        background=given(record.get("MFC-History")),
        emotion=joined([given(behavior.get("Mood")), given(behavior.get("Affect"))], "; ") or None,
        cognition=joined([given(behavior.get("Thought content")), given(behavior.get("Insight"))], "; ") or None,
        events=[s for s in [given(symptom.get("Triggering factor"))] if s],
        risk_scores=_mapping(profile.get("Impulsivity")),
    )


def read_adaptivevp(record: dict[str, Any], where: Where) -> HubFields:
    """AdaptiveVP: a hospital patient of a communication type (dependent, authoritarian,
    aggressive, non-cooperative) with a situation, chief complaint and medical history."""
    social = given(record.get("social history")) or ""
    kind = str(record.get("type-text") or "").strip().lower()
    return HubFields(
        source_id=str(record.get("id", where.record)),
        name=record.get("name"),
        age_text=str(record.get("age") or ""),
        gender=record.get("gender"),
        occupation=social.split(",")[0].strip() or None,
        culture=record.get("religion"),
        presenting_problem=given(record.get("Chief complaint")) or need(record, "situation", where),
        reason=given(record.get("Main symptom")),
        history=sentences(
            [record.get(k) for k in ("History of present illness", "past medical history", "family medical history")]
        ),
        support=social,
        personality=given(record.get("communication_summary")),
        background=given(record.get("situation")),
        attitude="negative" if kind == "non-cooperative" else None,
    )
