"""Profile importers: every format on our own fixtures and on the real samples, nothing dropped,
every profile loadable and runnable, and bad input reported as one line naming file, record and field."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXTERNAL, REPO
from muspsy.importers import PROFILE_FORMATS, ImportDataError, import_profiles, write_profiles
from muspsy.importers.common import detect_language, sha256_file, strings_in
from muspsy.profiles import load_profile
from muspsy.records import ClientProfile

FIXTURES = REPO / "tests" / "fixtures" / "import"
SOURCES: dict[str, tuple[str, str | None]] = {
    "muspsy": ("muspsy/usercards_42.txt", "muspsy/usercards_1000.txt"),
    "psycheval": ("psycheval/case_7.json", "psycheval/cbt_1.json"),
    "cactus": ("cactus/records.json", "cactus/evaluation_sample.json"),
    "patient-psi": ("patient_psi/profiles.json", "patient_psi/profiles.json"),
    "patienthub-mi": ("patienthub/mi.json", "patienthub/consistentMI.json"),
    # No real samples of these on this machine: tests/test_patienthub_formats.py covers them.
    "patienthub-saps": ("patienthub/saps.json", None),
    "patienthub-patientact": ("patienthub/patientAct.json", None),
    "patienthub-deprofile": ("patienthub/deprofile.json", None),
    "patienthub-eeyore": ("patienthub/eeyore.json", None),
    "patienthub-talkdep": ("patienthub/talkDep.json", None),
    "patienthub-annaagent": ("patienthub/annaAgent.json", None),
    "patienthub-patientzero": ("patienthub/patientZero.json", None),
    "patienthub-simpatient": ("patienthub/simPatient.json", None),
    "patienthub-clientcast": ("patienthub/clientCast.json", "patienthub/clientCast.json"),
    "patienthub-cars": ("patienthub/cars.json", None),
    "patienthub-roleplaydoh": ("patienthub/roleplayDoh.json", None),
    "patienthub-mindvoyager": ("patienthub/mindVoyager.json", None),
    "patienthub-psyche": ("patienthub/psyche.json", None),
    "patienthub-adaptivevp": ("patienthub/adaptiveVP.json", None),
}
SAMPLES = {fmt: sample for fmt, (_, sample) in SOURCES.items() if sample}
needs_external = pytest.mark.skipif(not EXTERNAL.is_dir(), reason="../shared/data/external is absent")


def written(fmt: str, path: Path, out: Path) -> list[ClientProfile]:
    """Import, write, and load back through the public loader: what users will get."""
    paths = write_profiles(import_profiles(fmt, [path]), out)
    return [load_profile(p) for p in paths]


def profile_text(profile: ClientProfile) -> str:
    # Ages become numbers ("30岁" -> 30); every other value is kept as text.
    return "\n".join([*strings_in(profile.model_dump(mode="json", by_alias=True)), f"age {profile.age}"])


def assert_nothing_dropped(source: Any, profiles: list[ClientProfile]) -> None:
    """Every line of every string in the source shows up in some profile (titles and labels aside)."""
    text = "\n".join(profile_text(p) for p in profiles)
    for value in strings_in(source):
        for raw in value.splitlines():
            line = raw.strip()
            numbered = re.match(r"^\d+\.\s*", line)
            line = line[numbered.end() :] if numbered else line
            label, colon, rest = line.partition(":")
            if colon and len(label) <= 45:
                line = rest.strip()
            elif numbered:
                continue  # a section title such as "2. Presenting Problem"
            age = re.fullmatch(r"(\d+)\s*(?:岁|周岁)?", line)
            line = f"age {age.group(1)}" if age else line
            if line:
                assert line in text, f"source text not found in any profile: {line!r}"


# --- our own fixtures ------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("fmt", list(PROFILE_FORMATS))
def test_fixture_imports_into_loadable_profiles_with_provenance(fmt: str, tmp_path: Path) -> None:
    source = FIXTURES / SOURCES[fmt][0]
    profiles = written(fmt, source, tmp_path)
    assert profiles
    assert len({p.id for p in profiles}) == len(profiles)
    for profile in profiles:
        assert profile.provenance.kind == "imported"
        assert profile.provenance.source_sha256 == sha256_file(source)
        assert source.name in profile.provenance.source
        assert profile.provenance.license


@pytest.mark.unit
def test_muspsy_cards_become_a_planned_arc(tmp_path: Path) -> None:
    (profile,) = written("muspsy", FIXTURES / "muspsy/usercards_42.txt", tmp_path)
    assert profile.id == "muspsy-42"
    assert (profile.name, profile.age, profile.gender, profile.language) == ("Tom Reyes", 34, "male", "en")
    assert profile.occupation == "software tester"
    assert [p.session for p in profile.planned_arc] == [1, 2]
    assert profile.planned_arc[1].recent_life_events == [
        "A colleague invited him to a birthday dinner and he went for an hour."
    ]
    assert profile.planned_arc[0].goal.startswith("Build rapport") and "mood diary" in profile.planned_arc[0].goal
    assert profile.initial_state.cognitive_state == "Believes he will always end up alone."
    # A card field without a profile field of its own is kept under its heading and key.
    assert profile.extra["blocks"]["1"]["Client's Dynamic States"]["Hobbies"].startswith("Used to play")
    assert "personality" in profile.extra["muspsy_defaults"]
    assert profile.risk.level == "low" and "risk.level" in profile.extra["muspsy_defaults"]


@pytest.mark.unit
def test_psycheval_client_info_maps_to_intake_and_state(tmp_path: Path) -> None:
    (profile,) = written("psycheval", FIXTURES / "psycheval/case_7.json", tmp_path)
    assert profile.id == "psycheval-cbt-7"
    assert (profile.name, profile.age, profile.gender, profile.language) == ("林芳", 30, "女", "zh")
    assert profile.intake.presenting_problem.startswith("近两个月")
    assert "我必须把每件事都做好" in profile.initial_state.cognitive_state
    assert profile.initial_state.recent_life_events == ["夜班后忘记给女儿准备辅食"]
    assert profile.extra["static_traits"] == {"educational_background": "本科", "marital_status": "已婚"}
    assert profile.extra["global_plan"][1]["stage_name"] == "认知调整"
    assert profile.extra["core_demands"].startswith("帮助来访者")
    assert profile.extra["muspsy_defaults"]["culture"]


@pytest.mark.unit
def test_cactus_intake_sections_and_attitude(tmp_path: Path) -> None:
    profiles = written("cactus", FIXTURES / "cactus/records.json", tmp_path)
    assert [p.id for p in profiles] == ["cactus-marcus-lee-negative", "cactus-marcus-lee-positive"]
    assert [p.attitude for p in profiles] == ["negative", "positive"]
    marcus = profiles[0]
    assert (marcus.name, marcus.age, marcus.gender, marcus.occupation) == ("Marcus Lee", 52, "male", "Bus driver")
    assert marcus.intake.reason_for_counseling == "My younger son asked why I always leave early, and it stung."
    assert marcus.intake.support == "My sister calls me on Sundays."
    assert "Daily life: I eat irregularly." in marcus.intake.functioning
    assert "Marital Status: Divorced" in marcus.background
    assert marcus.extra["intake_form_sections"] == {"Hobbies": "I fix old radios."}
    assert marcus.extra["ground_truth_CBT"] == ["Decatastrophizing"]
    assert marcus.extra["attitude_instruction"].startswith("Plays the client")


@pytest.mark.unit
def test_patient_psi_gives_one_profile_per_style(tmp_path: Path) -> None:
    profiles = written("patient-psi", FIXTURES / "patient_psi/profiles.json", tmp_path)
    assert [(p.id, p.conversational_style) for p in profiles] == [
        ("patient-psi-9-1-reserved", "reserved"),
        ("patient-psi-9-1-upset", "upset"),
    ]
    dana = profiles[0]
    assert "Automatic thought: They only tolerate me." in dana.initial_state.cognitive_state
    assert "Unlovable core belief: I am unlikeable." in dana.initial_state.cognitive_state
    assert dana.extra["cognitive_model"]["behavior"] == "Left the lunch early."
    assert dana.age == 40 and dana.extra["muspsy_defaults"]["age"]


@pytest.mark.unit
def test_patienthub_mi_stage_personas_motivation(tmp_path: Path) -> None:
    profiles = written("patienthub-mi", FIXTURES / "patienthub/mi.json", tmp_path)
    # Same idx twice: the motivation tag keeps the ids apart.
    assert [p.id for p in profiles] == ["patienthub-mi-3-study", "patienthub-mi-3-sleep"]
    first = profiles[0]
    assert first.attitude == "neutral"  # Contemplation
    assert first.extra["initial_stage"] == "Contemplation"
    assert first.background.startswith("You play games on your phone until 2 am.")
    assert [(f.fact, f.share_from_session) for f in first.private_history] == [
        ("You are motivated because your grades are slipping.", 2),
        ("You would try leaving your phone in the kitchen at night.", 3),
    ]
    assert first.extra["suggestibilities"] == [2, 3, 3, 2, 2]


@pytest.mark.unit
@pytest.mark.parametrize("fmt", ["psycheval", "cactus", "patient-psi", "patienthub-mi"])
def test_no_source_text_is_dropped(fmt: str) -> None:
    source = FIXTURES / SOURCES[fmt][0]
    data = json.loads(source.read_text(encoding="utf-8"))
    if fmt == "psycheval":
        data = {k: v for k, v in data.items() if k != "sessions"}  # sessions are arc data
    assert_nothing_dropped(data, import_profiles(fmt, [source]))


@pytest.mark.unit
def test_ids_stay_unique_across_files(tmp_path: Path) -> None:
    source = FIXTURES / "cactus/records.json"
    ids = [p.id for p in import_profiles("cactus", [source, source])]
    assert ids == [
        "cactus-marcus-lee-negative",
        "cactus-marcus-lee-positive",
        "cactus-marcus-lee-negative-2",
        "cactus-marcus-lee-positive-2",
    ]


@pytest.mark.unit
def test_import_is_deterministic(tmp_path: Path) -> None:
    source = FIXTURES / "patienthub/mi.json"
    first = [p.read_bytes() for p in write_profiles(import_profiles("patienthub-mi", [source]), tmp_path / "a")]
    second = [p.read_bytes() for p in write_profiles(import_profiles("patienthub-mi", [source]), tmp_path / "b")]
    assert first == second


@pytest.mark.unit
def test_language_detection() -> None:
    assert detect_language("他最近睡不好。总是担心工作。") == "zh"
    assert detect_language("She has not slept well since the move.") == "en"
    assert detect_language(["SAS得分54 轻度焦虑", "All-or-Nothing Thinking"]) == "zh"


# --- bad input ---------------------------------------------------------------------------------


def _json(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _cactus_records() -> list[dict[str, Any]]:
    data = json.loads((FIXTURES / "cactus/records.json").read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


@pytest.mark.unit
def test_missing_field_names_file_record_and_field(tmp_path: Path) -> None:
    records = _cactus_records()
    del records[1]["AI_client"]["intake_form"]
    path = _json(tmp_path, "cactus_x.json", records)
    with pytest.raises(ImportDataError) as caught:
        import_profiles("cactus", [path])
    assert str(caught.value) == f"{path}: record 2: field AI_client.intake_form: missing"


@pytest.mark.unit
def test_invalid_value_names_the_profile_field(tmp_path: Path) -> None:
    records = _cactus_records()
    records[0]["AI_client"]["attitude"] = "hostile"
    path = _json(tmp_path, "cactus_y.json", records)
    with pytest.raises(ImportDataError, match=r"cactus_y\.json: record 1: profile field attitude: Input should be"):
        import_profiles("cactus", [path])


@pytest.mark.unit
def test_unknown_style_and_stage_are_named(tmp_path: Path) -> None:
    psi = json.loads((FIXTURES / "patient_psi/profiles.json").read_text(encoding="utf-8"))
    psi[0]["type"] = ["plain", "shouty"]
    with pytest.raises(ImportDataError, match=r"record 1: field type: unknown conversational style 'shouty'"):
        import_profiles("patient-psi", [_json(tmp_path, "psi.json", psi)])
    mi = json.loads((FIXTURES / "patienthub/mi.json").read_text(encoding="utf-8"))
    mi[1]["initial_stage"] = "Denial"
    with pytest.raises(ImportDataError, match=r"record 2: field initial_stage: unknown stage of change 'Denial'"):
        import_profiles("patienthub-mi", [_json(tmp_path, "mi.json", mi)])


@pytest.mark.unit
def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"name": "Dana",\n  "id": }\n]\n', encoding="utf-8")
    with pytest.raises(ImportDataError, match=r"broken\.json: line 3: malformed JSON"):
        import_profiles("patient-psi", [path])


@pytest.mark.unit
def test_card_block_without_emotion_state_is_named(tmp_path: Path) -> None:
    text = (FIXTURES / "muspsy/usercards_42.txt").read_text(encoding="utf-8")
    path = tmp_path / "usercards_9.txt"
    path.write_text(text.replace("[Emotion State]: Still low", "[Mood]: Still low"), encoding="utf-8")
    with pytest.raises(ImportDataError) as caught:
        import_profiles("muspsy", [path])
    assert str(caught.value) == f"{path}: block 2: field Client's Dynamic States.[Emotion State]: missing"


# --- the real samples ----------------------------------------------------------------------------


@pytest.mark.external
@needs_external
@pytest.mark.parametrize(
    ("fmt", "count"), [("muspsy", 1), ("psycheval", 1), ("cactus", 6), ("patient-psi", 18), ("patienthub-mi", 38)]
)
def test_real_samples_import_into_valid_profiles(fmt: str, count: int, tmp_path: Path) -> None:
    source = EXTERNAL / SAMPLES[fmt]
    profiles = written(fmt, source, tmp_path)
    assert len(profiles) == count
    assert len({p.id for p in profiles}) == count
    if fmt == "muspsy":
        (li,) = profiles
        assert (li.name, li.age, li.language, len(li.planned_arc)) == ("李某", 72, "zh", 6)
    if fmt == "psycheval":
        assert profiles[0].language == "zh" and profiles[0].age == 22
    if fmt == "cactus":
        assert sorted(p.attitude for p in profiles) == sorted(["positive", "neutral", "negative"] * 2)


@pytest.mark.external
@needs_external
@pytest.mark.parametrize("fmt", ["psycheval", "cactus", "patient-psi", "patienthub-mi"])
def test_real_samples_lose_no_text(fmt: str) -> None:
    source = EXTERNAL / SAMPLES[fmt]
    data = json.loads(source.read_text(encoding="utf-8"))
    if fmt == "psycheval":
        data = {k: v for k, v in data.items() if k != "sessions"}
    assert_nothing_dropped(data, import_profiles(fmt, [source]))


@pytest.mark.external
@needs_external
def test_a_clientcast_character_is_not_an_mi_character() -> None:
    path = EXTERNAL / "patienthub/clientCast.json"
    with pytest.raises(ImportDataError) as caught:
        import_profiles("patienthub-mi", [path])
    assert str(caught.value) == f"{path}: record 1: field initial_stage: missing"


# --- the console script ----------------------------------------------------------------------------


def muspsy(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script, on this checkout's sources, with no OpenAI settings from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(REPO / "src")
    command = ["muspsy", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.cli
def test_cli_imports_and_a_scripted_run_accepts_one_profile_of_each_format(tmp_path: Path) -> None:
    out = tmp_path / "imported"
    chosen = []
    for fmt, (fixture, _) in SOURCES.items():
        result = muspsy("profiles", "import", "--format", fmt, FIXTURES / fixture, "-o", out / fmt, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        paths = [Path(line) for line in result.stdout.splitlines()]
        assert paths and all(p.is_file() for p in paths)
        chosen.append(paths[0])
    runnable = tmp_path / "runnable"
    runnable.mkdir()
    for path in chosen:
        (runnable / path.name).write_bytes(path.read_bytes())
    result = muspsy(
        *("run", runnable, "--backend", "scripted", "--sessions-max", "2", "--turns-max", "6"),
        *("--runs-dir", tmp_path / "runs", "--quiet"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    arcs = [json.loads(line) for line in (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(a["client_id"] for a in arcs) == sorted(p.stem for p in chosen)
    assert all(1 <= len(a["sessions"]) <= 2 for a in arcs)


@pytest.mark.cli
@pytest.mark.external
@needs_external
def test_a_scripted_run_accepts_one_real_sample_profile_of_each_format(tmp_path: Path) -> None:
    runnable = tmp_path / "runnable"
    for fmt, sample in SAMPLES.items():
        first = import_profiles(fmt, [EXTERNAL / sample])[0]
        write_profiles([first], runnable)
    result = muspsy(
        *("run", runnable, "--backend", "scripted", "--sessions-max", "2", "--turns-max", "6"),
        *("--runs-dir", tmp_path / "runs", "--quiet"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    arcs = (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(arcs) == len(SAMPLES)


@pytest.mark.cli
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    records = _cactus_records()
    del records[2 - 1]["AI_client"]["intake_form"]
    path = _json(tmp_path, "cactus_x.json", records)
    out = tmp_path / "out"
    result = muspsy("profiles", "import", "--format", "cactus", path, "-o", out, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {path}: record 2: field AI_client.intake_form: missing"]
    assert not out.exists()  # nothing half-written
    unknown = muspsy("profiles", "import", "--format", "nope", path, "-o", out, cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown format 'nope'" in unknown.stderr


@pytest.mark.unit
def test_written_yaml_is_what_the_loader_reads(tmp_path: Path) -> None:
    (path,) = write_profiles(import_profiles("psycheval", [FIXTURES / "psycheval/case_7.json"]), tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["schema"] == "muspsy.profile/1" and data["id"] == path.stem
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.unit
def test_an_unwritable_output_folder_is_a_clean_error(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder", encoding="utf-8")
    profiles = import_profiles("patient-psi", [FIXTURES / "patient_psi/profiles.json"])
    with pytest.raises(ImportDataError, match=r"taken/out: cannot write"):
        write_profiles(profiles, blocker / "out")


@pytest.mark.unit
def test_cactus_support_heading_inside_section_5_fills_support() -> None:
    (profile,) = import_profiles("cactus", [FIXTURES / "cactus/support_inside_section_5.json"])
    assert profile.intake.support == "Social Support System: My flatmate listens when I come home upset."
    assert "flatmate" not in profile.intake.functioning and "manager" in profile.intake.functioning
