"""PatientHub's client formats beyond MI: one fixture per format (our own records in each
format's shape), every record a loadable profile, nothing dropped, longitudinal content
mapped to later sessions, and a scripted run accepts one profile of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import EXTERNAL, REPO
from muspsy.importers import ImportDataError, import_profiles, write_profiles
from muspsy.profiles import load_profile
from muspsy.records import ClientProfile
from test_importers import assert_nothing_dropped, muspsy

HUB = REPO / "tests" / "fixtures" / "import" / "patienthub"
FORMATS = {
    "patienthub-saps": ("saps.json", 2),
    "patienthub-talkdep": ("talkDep.json", 1),
    "patienthub-eeyore": ("eeyore.json", 1),
    "patienthub-patientact": ("patientAct.json", 1),
    "patienthub-deprofile": ("deprofile.json", 1),
    "patienthub-annaagent": ("annaAgent.json", 1),
    "patienthub-patientzero": ("patientZero.json", 1),
    "patienthub-simpatient": ("simPatient.json", 1),
    "patienthub-clientcast": ("clientCast.json", 1),
    "patienthub-cars": ("cars.json", 1),
    "patienthub-roleplaydoh": ("roleplayDoh.json", 1),
    "patienthub-mindvoyager": ("mindVoyager.json", 1),
    "patienthub-psyche": ("psyche.json", 1),
    "patienthub-adaptivevp": ("adaptiveVP.json", 1),
}


@pytest.mark.unit
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_record_becomes_a_loadable_profile_and_no_text_is_dropped(fmt: str, tmp_path: Path) -> None:
    name, count = FORMATS[fmt]
    source = HUB / name
    profiles = [load_profile(p) for p in write_profiles(import_profiles(fmt, [source]), tmp_path)]
    assert len(profiles) == count
    assert all(p.provenance.kind == "imported" and p.provenance.license == "MIT" for p in profiles)
    assert all(p.id.startswith(f"{fmt}-") for p in profiles)
    assert_nothing_dropped(without_bare_numbers(json.loads(source.read_text(encoding="utf-8"))), profiles)
    # The checker reads a bare number as an age; ids such as "77" are checked in extra instead.
    assert all(p.extra for p in profiles)


def without_bare_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_bare_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_bare_numbers(v) for v in value]
    return None if isinstance(value, str) and value.strip().isdigit() else value


@pytest.mark.unit
def test_saps_reads_age_and_gender_from_the_vignette() -> None:
    first, second = import_profiles("patienthub-saps", [HUB / "saps.json"])
    assert (first.age, first.gender, second.age, second.gender) == (38, "male", 61, "female")
    assert first.intake.presenting_problem.startswith("A 38-year-old man presents")


@pytest.mark.unit
def test_talkdep_maps_bdi_symptoms_and_history() -> None:
    (noor,) = import_profiles("patienthub-talkdep", [HUB / "talkDep.json"])
    assert (noor.name, noor.age, noor.gender) == ("Noor", 29, "female")
    assert noor.initial_state.symptom_severity == 4  # BDI 24 of 63
    assert noor.initial_state.emotion_state.startswith("Fatigue: I wake up tired")
    assert noor.intake.reason_for_counseling == "Moderate Depression (BDI 24)"
    assert noor.extra["behavioral_constraints"] == ["Changes the subject when asked about her parents."]


@pytest.mark.unit
def test_eeyore_markers_resistance_and_distortions() -> None:
    (client,) = import_profiles("patienthub-eeyore", [HUB / "eeyore.json"])
    assert client.name == "Client" and client.age == 40  # "Cannot be identified", "0~24": not usable
    assert client.attitude == "neutral" and client.occupation == "Student"
    assert "Cognitive distortions: catastrophic thinking." in client.initial_state.cognitive_state
    assert "sleep disturbances" not in client.initial_state.emotion_state  # "Not exhibited"
    assert client.intake.history == ""  # "N/A"
    assert client.risk.level == "low" and "review" in client.risk.notes  # mentions suicidal ideation


@pytest.mark.unit
def test_patientact_memory_items_are_shared_by_disclosure_level() -> None:
    (ines,) = import_profiles("patienthub-patientact", [HUB / "patientAct.json"])
    assert (ines.age, ines.culture) == (25, "Portuguese")
    assert "age group" in ines.extra["muspsy_defaults"]["age"]
    assert [(f.fact[:20], f.share_from_session) for f in ines.private_history] == [
        ("Everyone can see I a", 2),
        ("Age 14: her grandmot", 3),
    ]


@pytest.mark.unit
def test_deprofile_life_events_become_recent_events_in_time_order() -> None:
    (client,) = import_profiles("patienthub-deprofile", [HUB / "deprofile.json"])
    assert client.language == "zh" and client.gender == "男" and client.age == 31
    assert client.initial_state.recent_life_events == [
        "Relationships_Changes: We decided to split up after five years.",
        "Work: Moved to the night shift this month.",
        "Financial: Rent went up again.",
    ]
    assert "depression_risk 2" in client.risk.notes and client.risk.level == "low"
    assert client.occupation == "来源未说明。"  # work_status "Unknown"


@pytest.mark.unit
def test_annaagent_complaint_chain_unfolds_over_sessions() -> None:
    (client,) = import_profiles("patienthub-annaagent", [HUB / "annaAgent.json"])
    assert client.intake.presenting_problem == "The new shifts leave me exhausted."
    assert [(f.share_from_session, f.fact[:12]) for f in client.private_history] == [
        (2, "I shout at t"),
        (3, "I'm turning "),
    ]
    assert client.extra["previous_conversations"][2]["content"] == "Work, mostly. The new shifts."
    assert "srisk 1" in client.risk.notes and client.personality == "Guarded, Brief answers, Warms up slowly"


@pytest.mark.unit
def test_patientzero_maps_the_trajectory_exam_and_style() -> None:
    (daniel,) = import_profiles("patienthub-patientzero", [HUB / "patientZero.json"])
    assert (daniel.name, daniel.age, daniel.gender) == ("Daniel Cho", 47, "male")
    assert daniel.culture == "Korean American, Urban" and daniel.conversational_style == "reserved"
    assert daniel.intake.reason_for_counseling == "Insomnia (mild)"
    assert daniel.initial_state.emotion_state.startswith("Tired and flat")
    assert "suicide_risk none" in daniel.risk.notes


@pytest.mark.unit
def test_simpatient_between_session_event_is_what_the_client_comes_in_with() -> None:
    (client,) = import_profiles("patienthub-simpatient", [HUB / "simPatient.json"])
    assert client.initial_state.recent_life_events == [client.intake.presenting_problem]
    assert client.initial_state.cognitive_state == "control 4/10; efficacy 3/10; awareness 6/10; reward 7/10"
    assert client.personality == "MBTI type ESFJ-T." and client.culture == "Irish"


@pytest.mark.unit
def test_the_case_formats_map_their_own_fields() -> None:
    def one(fmt: str) -> ClientProfile:
        return import_profiles(fmt, [HUB / FORMATS[fmt][0]])[0]

    cast = one("patienthub-clientcast")
    assert (cast.name, cast.occupation, cast.attitude) == ("Client", "Not stated in the source.", "negative")
    assert cast.intake.presenting_problem.startswith("gambling") and "Neuroticism 70%" in cast.personality
    cars = one("patienthub-cars")
    assert cars.gender == "Not stated in the source." and cars.age == 31  # "Not specified in the source fragment."
    assert cars.initial_state.recent_life_events == ["The counselor asks how the homework went."]
    doh = one("patienthub-roleplaydoh")
    assert (doh.name, doh.gender) == ("Priya", "female")
    voyager = one("patienthub-mindvoyager")
    assert voyager.conversational_style == "reserved" and voyager.initial_state.recent_life_events[0].startswith(
        "A former"
    )
    psyche = one("patienthub-psyche")
    assert psyche.intake.reason_for_counseling == "Insomnia and irritability (12 weeks)"
    assert "Suicidal ideation Low" in psyche.risk.notes and psyche.intake.history.startswith(
        "Past psychiatric history: No"
    )
    vp = one("patienthub-adaptivevp")
    assert (vp.name, vp.age, vp.occupation, vp.culture, vp.attitude) == (
        "Lena Wolf",
        71,
        "Retired librarian",
        "Catholic",
        "negative",
    )


@pytest.mark.external
@pytest.mark.skipif(not (EXTERNAL / "patienthub").is_dir(), reason="../shared/data/external is absent")
def test_the_published_clientcast_character_imports() -> None:
    source = EXTERNAL / "patienthub" / "clientCast.json"
    (cast,) = import_profiles("patienthub-clientcast", [source])
    assert cast.gender == "female" and cast.attitude == "positive" and cast.extra["symptoms"]
    assert_nothing_dropped(json.loads(source.read_text(encoding="utf-8")), [cast])


@pytest.mark.unit
def test_a_record_of_another_format_is_named(tmp_path: Path) -> None:
    with pytest.raises(ImportDataError) as caught:
        import_profiles("patienthub-annaagent", [HUB / "saps.json"])
    assert str(caught.value) == f"{HUB / 'saps.json'}: record 1: field profile: missing"


@pytest.mark.cli
def test_a_scripted_run_accepts_one_profile_of_each_format(tmp_path: Path) -> None:
    runnable = tmp_path / "runnable"
    for fmt, (name, _) in FORMATS.items():
        result = muspsy("profiles", "import", "-f", fmt, HUB / name, "-o", runnable, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    chosen = sorted(runnable.glob("*.yaml"))
    assert len(chosen) == len(FORMATS) + 1  # saps.json has two records
    result = muspsy(
        *("run", runnable, "--backend", "scripted", "--sessions-max", "2", "--turns-max", "6"),
        *("--runs-dir", tmp_path / "runs", "--quiet"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert len((run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()) == len(chosen)
