"""Round trips through the paper's own layout: a scripted run, exported as `muspsy-raw`, then
imported again with `muspsy arcs import` and `muspsy profiles import`, keeps its content."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

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


def by_original_arc(back: list[ArcRecord], raw: Path) -> dict[str, ArcRecord]:
    # Exported files are numbered (`dialogues_3.txt`); the export's index maps numbers to arcs.
    numbers = {f"muspsy-{entry['id']}": entry["arc_id"] for entry in map(json.loads, (raw / ".index.jsonl").open())}
    return {numbers[arc.client_id]: arc for arc in back}


def test_every_arc_comes_back_with_its_sessions_turns_and_memos(round_trip) -> None:
    original, back, raw = round_trip
    assert len(back) == len(original)
    returned = by_original_arc(back, raw)
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
