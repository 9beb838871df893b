"""One reader per PatientHub client format: SAPS, patientAct, DEPROFILE, Eeyore, TalkDep,
AnnaAgent, patientZero and SimPatient. Each maps a record to `HubFields`; see
docs/importers.md for the tables.

Longitudinal content goes where a multi-session arc can use it: patientAct's memory items and
AnnaAgent's complaint chain become private facts shared from later sessions, DEPROFILE's life
events and SimPatient's between-session event the client's recent life events. None of these
formats plans sessions (no per-session goal or state), so none gets a planned arc; previous
sessions and timelines stay in `extra`.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from muspsy.importers.common import Where, joined, need
from muspsy.importers.patienthub import HubFields, sentences, share_from, text_of
from muspsy.importers.values import given
from muspsy.records import ConversationalStyle

# PatientHub's resistance ratings -> attitude towards counseling.
RESISTANCE_ATTITUDE = {"low": "positive", "medium": "neutral", "moderate": "neutral", "high": "negative"}
# patientAct age groups -> a representative age (listed in muspsy_defaults as an estimate).
AGE_GROUPS = {
    "child": 10,
    "adolescent": 15,
    "teen": 15,
    "young adult": 25,
    "adult": 40,
    "middle-aged": 50,
    "middle aged": 50,
    "older adult": 70,
    "elderly": 72,
    "senior": 72,
}
BDI_MAX = 63  # Beck Depression Inventory-II total score range 0-63
RECENT_EVENTS = 3


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float:
    """A timestamp or stage for sorting; records without one sort first."""
    return float(value) if isinstance(value, int | float) else 0.0


def _first_text(record: dict[str, Any], where: Where, *keys: str) -> str:
    """The first of `keys` with text, as sentences; the first key is named when none has any."""
    for key in keys:
        text = sentences(record.get(key))
        if text:
            return text
    raise where.fail(keys[0], "missing")


def read_saps(record: dict[str, Any], where: Where) -> HubFields:
    """SAPS: a clinical vignette in `patient_info` ("A 26-year-old woman presents with ...")."""
    info = need(record, "patient_info", where)
    first = re.split(r"(?<=\.)\s", info.strip(), maxsplit=1)[0]
    gender = re.search(r"\b(woman|man|boy|girl|male|female)\b", first.lower())
    return HubFields(
        source_id=str(where.record),
        presenting_problem=info,
        age_text=first,
        gender=gender.group(1) if gender else None,
        background=info,
        taken={"patient_info"},
    )


def read_talkdep(record: dict[str, Any], where: Where) -> HubFields:
    """TalkDep: a depression persona with a BDI score, key symptoms and life history."""
    name = need(record, "name", where)
    symptoms = [s for s in _items(record.get("key_negative_symptoms")) if isinstance(s, dict)]
    bdi = record.get("bdi_score")
    level = given(record.get("depression_level"))
    return HubFields(
        source_id=name,
        name=name,
        age_text=str(record.get("age") or ""),
        gender=record.get("gender"),
        presenting_problem=_first_text(record, where, "typical_topics", "depression_level", "life_history"),
        reason=joined([level, f"(BDI {bdi})" if isinstance(bdi, int) else None]) or None,
        history=sentences(record.get("past_interactions")),
        support=sentences(record.get("social_context")),
        personality=sentences([*_items(record.get("linguistic_patterns")), *_items(record.get("emotional_tone"))]),
        background=sentences(record.get("life_history")),
        emotion=joined((f"{s.get('name')}: {s.get('description')}" for s in symptoms), "; ") or level,
        symptom_severity=round(10 * bdi / BDI_MAX) if isinstance(bdi, int) and 0 <= bdi <= BDI_MAX else None,
        taken={"name", "age", "gender", "life_history", "social_context", "past_interactions"},
    )


def read_eeyore(record: dict[str, Any], where: Where) -> HubFields:
    """Eeyore: a profile built from a support conversation, with symptom severities,
    cognitive distortions and a CBT cognitive profile; the conversation stays in extra."""
    profile = need(record, "profile", where, dict)
    cognitive = _mapping(record.get("cognitive profile"))
    severities = _mapping(profile.get("symptom severity"))
    shown = [f"{k}: {v}" for k, v in severities.items() if given(v) and "not exhibited" not in str(v).lower()]
    distortions = _mapping(profile.get("cognition distortion exhibition"))
    exhibited = [k for k, v in distortions.items() if re.search(r"(?<!not )exhibited", str(v).lower())]
    resistance = str(profile.get("resistance toward the support") or "").strip().lower()
    return HubFields(
        source_id=joined([str(record.get("source") or ""), str(record.get("id_source") or where.record)], "-"),
        name=profile.get("name"),
        age_text=str(profile.get("age") or ""),
        gender=profile.get("gender"),
        occupation=profile.get("occupation"),
        presenting_problem=need(record, "profile.situation of the client", where),
        reason=given(profile.get("depression severity")),
        history=given(profile.get("counseling history")) or "",
        personality=given(cognitive.get("coping_strategies")),
        background=given(cognitive.get("life_history")),
        emotion=joined(shown, "; ") or None,
        cognition=joined(
            [
                given(cognitive.get("core_belief_description")),
                given(cognitive.get("intermediate_beliefs")),
                f"Cognitive distortions: {', '.join(exhibited)}." if exhibited else None,
            ]
        )
        or None,
        attitude=RESISTANCE_ATTITUDE.get(resistance),
    )


def read_patientact(record: dict[str, Any], where: Where) -> HubFields:
    """patientAct: demographics, a problem formulation (presenting problem, precipitating,
    predisposing, perpetuating and protective factors), a psychological formulation and memory
    items with a disclosure level (how hard each is to tell)."""
    profile = need(record, "profile", where, dict)
    people = _mapping(profile.get("demographics"))
    problem = _mapping(profile.get("problem_formulation"))
    psych = _mapping(profile.get("psychological_formulation"))
    presenting = _mapping(problem.get("presenting_problem"))
    items = [i for i in _items(_mapping(record.get("memory")).get("items")) if isinstance(i, dict)]
    rated = [(i, float(i["disclosure_level"])) for i in items if isinstance(i.get("disclosure_level"), int | float)]
    levels = [level for _, level in rated]
    private = [
        {"fact": str(item["content"]), "share_from_session": share_from(level, levels)}
        for item, level in rated
        if given(item.get("content")) and share_from(level, levels) > 1
    ]
    group = str(people.get("age_group") or "").strip().lower()
    return HubFields(
        source_id=joined([str(people.get("name") or ""), str(where.record)], "-"),
        name=people.get("name"),
        age_text=f"{AGE_GROUPS[group]} years old" if group in AGE_GROUPS else group,
        age_note=f"estimated from the age group {people.get('age_group')!r}" if group in AGE_GROUPS else None,
        gender=people.get("gender"),
        occupation=people.get("occupation"),
        culture=people.get("cultural_background"),
        presenting_problem=need(record, "profile.problem_formulation.presenting_problem.situation", where),
        reason=sentences(problem.get("precipitating_factors")) or None,
        functioning=sentences(presenting.get("impact")),
        support=sentences(problem.get("protective_factors")),
        personality=sentences(psych.get("coping_patterns")) or None,
        background=sentences(problem.get("predisposing_factors")) or None,
        emotion=given(psych.get("emotional_range")),
        cognition=sentences([*_items(psych.get("intermediate_beliefs")), *_items(psych.get("automatic_thoughts"))])
        or None,
        private=private,
    )


def read_deprofile(record: dict[str, Any], where: Where) -> HubFields:
    """DEPROFILE: a clinical profile (symptoms, Big Five, risk ratings, a summation), assessment
    and counseling dialogues, and timelines of symptoms and life events from social media."""
    clinical = need(record, "clinical_profile", where, dict)
    positive = [str(s) for s in _items(clinical.get("positive_symptoms"))]
    five = _mapping(clinical.get("big_five"))
    timeline = [e for e in _items(_mapping(record.get("life_event_timeline")).get("timeline")) if isinstance(e, dict)]
    timeline.sort(key=lambda e: _number(e.get("timestamp")))
    events = [joined([str(e.get("life_event") or ""), str(e.get("tweet") or "")], ": ") for e in timeline]
    return HubFields(
        source_id=str(record.get("profile_id") or where.record),
        age_text=str(clinical.get("age") or ""),
        gender=clinical.get("gender"),
        occupation=clinical.get("work_status"),
        presenting_problem=need(record, "clinical_profile.summation", where),
        personality="Big Five: " + ", ".join(f"{k} {v}" for k, v in five.items()) if five else None,
        emotion="; ".join(s.split("-")[-1] for s in positive) or None,
        events=[e for e in events if e][-RECENT_EVENTS:],
        risk_scores={k: clinical[k] for k in ("depression_risk", "suicide_risk") if k in clinical},
    )


def read_annaagent(record: dict[str, Any], where: Where) -> HubFields:
    """AnnaAgent: a profile with risk ratings, the current situation, speaking style, a chain
    of complaints revealed stage by stage, the status since the last session, a case report and
    the previous session's conversation."""
    profile = need(record, "profile", where, dict)
    report = _mapping(record.get("report"))
    chain = sorted(
        (c for c in _items(record.get("complaint_chain")) if isinstance(c, dict) and given(c.get("content"))),
        key=lambda c: _number(c.get("stage")),
    )
    situation = given(record.get("situation"))
    previous = _items(record.get("previous_conversations"))
    history = sentences(report.get("case_summary"))
    if previous:
        history = joined([history, f"One previous session ({len(previous)} turns) is kept in extra."])
    return HubFields(
        source_id=str(where.record),
        age_text=str(profile.get("age") or ""),
        gender=profile.get("gender"),
        occupation=profile.get("occupation"),
        presenting_problem=str(chain[0]["content"]) if chain else need(record, "situation", where),
        reason=given(report.get("case_title")),
        history=history,
        personality=", ".join(str(s) for s in _items(record.get("style"))) or None,
        background=sentences(report.get("counseling_process")) or None,
        emotion=given(profile.get("symptoms")),
        cognition=text_of(report.get("insights_and_reflections")) or None,
        events=[situation] if situation else [],
        # Later complaints of the chain come out as trust grows: one more per session.
        private=[{"fact": str(c["content"]), "share_from_session": n} for n, c in enumerate(chain[1:], start=2)],
        risk_scores={k: profile[k] for k in ("drisk", "srisk") if k in profile},
    )


def read_patientzero(record: dict[str, Any], where: Where) -> HubFields:
    """patientZero: sampled attributes, a patient profile (lifestyle and histories), a symptom
    trajectory (chief complaint, onset, course, functional impact) and examination results
    (mental status, scales, risk assessment, clinical summary)."""
    meta = _mapping(record.get("metadata"))
    person = need(record, "patient_profile", where, dict)
    course = _mapping(record.get("symptom_trajectory"))
    exam = _mapping(record.get("examination_results"))
    status = _mapping(exam.get("mental_status_exam"))
    risk = _mapping(exam.get("risk_assessment"))
    style = str(person.get("communication_style") or "").strip().lower()
    disease = given(meta.get("disease_name"))
    return HubFields(
        source_id=str(meta.get("case_id") or where.record),
        name=person.get("name"),
        age_text=str(person.get("age") or ""),
        gender=person.get("biological_sex"),
        occupation=person.get("occupation_type"),
        culture=joined([given(person.get("ethnicity")), given(person.get("geography"))], ", ") or None,
        presenting_problem=need(record, "symptom_trajectory.chief_complaint", where),
        reason=joined([disease, f"({meta['severity_level']})" if disease and meta.get("severity_level") else None])
        or None,
        history=sentences([person.get(k) for k in ("past_medical_history", "family_history", "medication_history")]),
        functioning=given(course.get("functional_impact")) or "",
        background=sentences([person.get("lifestyle_summary"), course.get("onset"), course.get("progression")]) or None,
        emotion=given(status.get("mood_affect")),
        cognition=sentences([status.get("thought_process"), status.get("insight_judgment")]) or None,
        style=style if style in get_args(ConversationalStyle) else None,
        risk_scores={k: v for k, v in risk.items() if k.endswith("_risk")},
    )


def read_simpatient(record: dict[str, Any], where: Where) -> HubFields:
    """SimPatient: a persona, a cognitive model of four 1-10 ratings and the event that
    happened since the last session."""
    persona = need(record, "persona", where, dict)
    event = need(record, "between_session_event", where)
    model = _mapping(record.get("cognitive_model"))
    mbti = given(persona.get("mbti"))
    return HubFields(
        source_id=str(where.record),
        age_text=str(persona.get("age") or ""),
        gender=persona.get("gender"),
        occupation=persona.get("occupation"),
        culture=persona.get("ethnicity"),
        presenting_problem=event,
        personality=f"MBTI type {mbti}." if mbti else None,
        cognition="; ".join(f"{k.removeprefix('patient_')} {v}/10" for k, v in model.items()) or None,
        # The event happened since the last session: it is what the client comes in with.
        events=[event],
    )
