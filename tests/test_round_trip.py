"""Round trips through the paper's own layout: a scripted run, exported as `muspsy-raw`, then
imported again with `muspsy arcs import` and `muspsy profiles import`, keeps its content."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import EXTERNAL
from muspsy.profiles import load_profile
from muspsy.records import ArcRecord

pytestmark = pytest.mark.cli


def muspsy(*args: str | Path) -> None:
    result = subprocess.run(["muspsy", *map(str, args)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[ArcRecord], list[ArcRecord], Path]:
    tmp = tmp_path_factory.mktemp("round-trip")
    muspsy("run", "--backend", "scripted", "--sessions-min", "3", "--runs-dir", tmp / "runs", "-q")
    run_dir = next((tmp / "runs").iterdir())
    original = [ArcRecord.model_validate_json(line) for line in (run_dir / "arcs.jsonl").open()]
    muspsy("export", run_dir, "--format", "muspsy-raw", "-o", tmp / "raw", "--quiet")
    muspsy("arcs", "import", "--format", "muspsy", *sorted((tmp / "raw").glob("*.txt")), "-o", tmp / "back.jsonl")
    back = [ArcRecord.model_validate_json(line) for line in (tmp / "back.jsonl").open()]
    return original, back, tmp / "raw"


def test_every_arc_comes_back_with_its_ids_sessions_turns_and_memos(round_trip) -> None:
    original, back, _ = round_trip
    assert len(back) == len(original)
    # Exported files are numbered (`dialogues_3.txt`); the export's index gives the ids back.
    returned = {arc.arc_id: arc for arc in back}
    assert set(returned) == {arc.arc_id for arc in original}
    assert {arc.arc_id: arc.client_id for arc in back} == {arc.arc_id: arc.client_id for arc in original}
    for arc in original:
        again = returned[arc.arc_id]
        assert len(again.sessions) == len(arc.sessions), arc.arc_id
        for session, session_again in zip(arc.sessions, again.sessions, strict=True):
            assert [(t.speaker, t.text) for t in session_again.turns] == [(t.speaker, t.text) for t in session.turns]
            assert session_again.goal == session.goal
            assert session_again.client_state.emotion_state == session.client_state.emotion_state
            for field in ("summary", "emotion_and_cognitive_state", "counselor_observations", "session_goal"):
                assert getattr(session_again.memo, field) == getattr(session.memo, field), (arc.arc_id, field)


def test_user_cards_import_into_profiles_with_the_arcs_planned_states(round_trip, tmp_path) -> None:
    original, _, raw = round_trip
    muspsy("profiles", "import", "--format", "muspsy", *sorted(raw.glob("usercards_*.txt")), "-o", tmp_path)
    profiles = [load_profile(path) for path in sorted(tmp_path.glob("*.yaml"))]
    assert len(profiles) == len(original)
    states = {tuple(p.emotion_state for p in profile.planned_arc) for profile in profiles}
    assert states == {tuple(s.client_state.emotion_state for s in arc.sessions) for arc in original}
    index = [json.loads(line) for line in (raw / ".index.jsonl").open()]
    assert sorted(entry["arc_id"] for entry in index) == sorted(arc.arc_id for arc in original)
    assert {p.id for p in profiles} == {arc.client_id for arc in original}


MUSPSY = Path(__file__).parent / "fixtures" / "import" / "muspsy"


@pytest.mark.parametrize("client", ["42", "43", "44"])
def test_muspsy_files_survive_import_export_import(client: str, tmp_path: Path) -> None:
    """Published MusPsy files -> arcs -> muspsy-raw -> arcs: ids, cards, turns and the
    full-length blocks are the same the second time."""
    sources = sorted(MUSPSY.glob(f"*_{client}.txt"))
    first = ArcRecord.model_validate_json(import_one(sources, tmp_path / "first.jsonl"))
    muspsy("export", tmp_path / "first.jsonl", "--format", "muspsy-raw", "-o", tmp_path / "raw", "--quiet")
    exported = sorted((tmp_path / "raw").glob("*.txt"))
    second = ArcRecord.model_validate_json(import_one(exported, tmp_path / "second.jsonl"))
    assert (second.arc_id, second.client_id) == (first.arc_id, first.client_id)
    assert [[(t.speaker, t.text) for t in s.turns] for s in second.sessions] == [
        [(t.speaker, t.text) for t in s.turns] for s in first.sessions
    ]
    extra = ("full_length_sessions",)
    assert {k: v for k, v in second.model_extra["source_extra"].items() if k in extra} == {
        k: v for k, v in first.model_extra["source_extra"].items() if k in extra
    }
    if client == "44":
        return  # no user cards: the export writes cards from the profile, and they read back as cards
    # The card lines are written as they were: the profile reads back the same.
    for field in ("name", "age", "gender", "culture", "occupation", "intake", "background", "planned_arc"):
        assert second.profile[field] == first.profile[field], field
    card = (MUSPSY / f"usercards_{client}.txt").read_text(encoding="utf-8")
    again = (tmp_path / "raw" / "usercards_1.txt").read_text(encoding="utf-8")
    basic = [line for line in card.splitlines() if line.startswith("[Basic Info]")]
    assert [line for line in again.splitlines() if line.startswith("[Basic Info]")] == basic


def import_one(files: list[Path], out: Path) -> str:
    muspsy("arcs", "import", "--format", "muspsy", *files, "-o", out)
    (line,) = out.read_text(encoding="utf-8").splitlines()
    return line


@pytest.mark.external
@pytest.mark.skipif(not (EXTERNAL / "muspsy").is_dir(), reason="../shared/data/external is absent")
def test_the_published_muspsy_sample_survives_import_export_import(tmp_path: Path) -> None:
    folder = EXTERNAL / "muspsy"
    sources = [
        folder / "dialogues_1000_excerpt.txt",
        folder / "memories_1000_first2.txt",
        folder / "usercards_1000.txt",
    ]
    first = ArcRecord.model_validate_json(import_one(sources, tmp_path / "first.jsonl"))
    muspsy("export", tmp_path / "first.jsonl", "--format", "muspsy-raw", "-o", tmp_path / "raw", "--quiet")
    second = ArcRecord.model_validate_json(
        import_one(sorted((tmp_path / "raw").glob("*.txt")), tmp_path / "again.jsonl")
    )
    assert (second.arc_id, second.client_id) == ("muspsy-1000--imported", "muspsy-1000")
    assert [[t.text for t in s.turns] for s in second.sessions] == [[t.text for t in s.turns] for s in first.sessions]
    assert (
        second.model_extra["source_extra"]["full_length_sessions"]
        == first.model_extra["source_extra"]["full_length_sessions"]
    )
    for field in ("name", "age", "culture", "occupation", "intake", "background"):
        assert second.profile[field] == first.profile[field], field
