"""Questionnaire scoring from planted answers: totals, ranges, severity bands at every
boundary, WAI-SR subscales, the questionnaire files, and per-arc trajectories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from muspsy.agents.outputs import AllianceQuestionnaireOutput, SymptomQuestionnairesOutput
from muspsy.data import agents_dir
from muspsy.instruments import (
    INSTRUMENTS,
    InstrumentError,
    band,
    load_instrument,
    load_instruments,
    score,
    total_range,
    trajectory,
)

pytestmark = pytest.mark.unit


def answers(total: int, items: int, low: int = 0, high: int = 3) -> list[int]:
    """Planted answers that add up to `total`: fill items to `high` from the first one."""
    out = [low] * items
    left = total - low * items
    for i in range(items):
        step = min(high - low, left)
        out[i] += step
        left -= step
    assert left == 0 and sum(out) == total
    return out


PHQ9_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately severe"),
    (19, "moderately severe"),
    (20, "severe"),
    (27, "severe"),
]
GAD7_BANDS = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]


@pytest.mark.parametrize(("total", "expected"), PHQ9_BANDS)
def test_phq9_total_and_band_at_every_boundary(total: int, expected: str) -> None:
    scored = score("phq9", answers(total, 9))
    assert scored.total == total
    assert scored.band == expected
    assert scored.instrument == "phq9" and len(scored.items) == 9 and scored.subscales == {}


@pytest.mark.parametrize(("total", "expected"), GAD7_BANDS)
def test_gad7_total_and_band_at_every_boundary(total: int, expected: str) -> None:
    scored = score("gad7", answers(total, 7))
    assert (scored.total, scored.band) == (total, expected)


def test_ranges() -> None:
    assert total_range("phq9") == (0, 27)
    assert total_range("gad7") == (0, 21)
    assert total_range("wai_sr") == (12, 60)


def test_wai_sr_subscales_follow_the_published_item_keys() -> None:
    # Distinct values per item pin which item goes to which subscale.
    items = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]
    scored = score("wai_sr", items)
    assert scored.subscales == {
        "task": 1 + 2 + 5 + 2,  # items 1, 2, 10, 12
        "bond": 3 + 5 + 2 + 4,  # items 3, 5, 7, 9
        "goal": 4 + 1 + 3 + 1,  # items 4, 6, 8, 11
    }
    assert scored.total == sum(items) == sum(scored.subscales.values())
    assert scored.band is None


def test_wai_sr_extremes() -> None:
    assert score("wai_sr", [1] * 12).subscales == {"task": 4, "bond": 4, "goal": 4}
    top = score("wai_sr", [5] * 12)
    assert top.total == 60 and top.subscales == {"task": 20, "bond": 20, "goal": 20}


@pytest.mark.parametrize(
    ("instrument", "items", "message"),
    [
        ("phq9", [0] * 8, "expected 9 answers, got 8"),
        ("phq9", [0] * 8 + [4], "item 9 is 4, outside 0-3"),
        ("gad7", [-1] + [0] * 6, "item 1 is -1, outside 0-3"),
        ("wai_sr", [0] + [3] * 11, "item 1 is 0, outside 1-5"),
        ("wai_sr", [3] * 11 + [6], "item 12 is 6, outside 1-5"),
    ],
)
def test_out_of_range_or_miscounted_answers_are_refused(instrument: Any, items: list[int], message: str) -> None:
    with pytest.raises(InstrumentError, match=message):
        score(instrument, items)


def test_band_of_an_impossible_total_is_refused() -> None:
    with pytest.raises(InstrumentError, match="outside 0-27"):
        band("phq9", 28)


def test_output_schemas_reject_answers_out_of_range_or_count() -> None:
    ok = SymptomQuestionnairesOutput.model_validate({"phq9": [3] * 9, "gad7": [0] * 7})
    assert ok.phq9 == [3] * 9
    for bad in (
        {"phq9": [4] + [0] * 8, "gad7": [0] * 7},
        {"phq9": [0] * 9, "gad7": [0] * 6},
        {"phq9": [0] * 10, "gad7": [0] * 7},
    ):
        with pytest.raises(ValidationError):
            SymptomQuestionnairesOutput.model_validate(bad)
    # The WAI-SR shares its call with the client's appraisal of the session.
    appraisal = {
        "felt_understood": 4,
        "goal_agreement": 3,
        "task_agreement": 3,
        "rupture": False,
        "new_insight": True,
        "homework_accepted": True,
        "recollection": "We made a plan for my evenings.",
    }
    for bad_items in ([0] * 12, [5] * 11, [5] * 13):
        with pytest.raises(ValidationError):
            AllianceQuestionnaireOutput.model_validate({**appraisal, "wai_sr": bad_items})
    assert AllianceQuestionnaireOutput.model_validate({**appraisal, "wai_sr": [5] * 12}).wai_sr == [5] * 12
    with pytest.raises(ValidationError):
        AllianceQuestionnaireOutput.model_validate({**appraisal, "felt_understood": 6, "wai_sr": [5] * 12})


def test_bundled_questionnaires_fit_their_scoring() -> None:
    specs = load_instruments()
    assert set(specs) == set(INSTRUMENTS)
    assert [len(specs[name].items) for name in INSTRUMENTS] == [9, 7, 12]
    assert sorted(specs["phq9"].scale) == [0, 1, 2, 3]
    assert sorted(specs["wai_sr"].scale) == [1, 2, 3, 4, 5]
    assert specs["phq9"].when == "start" and specs["wai_sr"].when == "end"
    text = specs["phq9"].text
    assert "0 = Not at all" in text and "\n9. " in text


def _copy_instruments(tmp_path: Path) -> Path:
    folder = tmp_path / "client" / "instruments"
    folder.mkdir(parents=True)
    for name in INSTRUMENTS:
        source = agents_dir() / "client" / "instruments" / f"{name}.yaml"
        (folder / f"{name}.yaml").write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_a_questionnaire_file_with_a_missing_item_names_the_file_and_field(tmp_path: Path) -> None:
    folder = _copy_instruments(tmp_path)
    path = folder / "phq9.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["items"] = data["items"][:8]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"phq9\.yaml: field items: 8 items, the instrument has 9"):
        load_instrument("phq9", tmp_path)


def test_a_questionnaire_file_with_a_wrong_scale_is_refused(tmp_path: Path) -> None:
    folder = _copy_instruments(tmp_path)
    path = folder / "wai_sr.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["scale"] = {0: "Never", **data["scale"]}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InstrumentError, match=r"wai_sr\.yaml: field scale: answers must be 1-5"):
        load_instrument("wai_sr", tmp_path)


def _session(index: int, **scores: Any) -> dict[str, Any]:
    return {
        "index": index,
        "goal": "g",
        "client_state": {"emotion_state": "e", "cognitive_state": "c"},
        "turns": [],
        "end_reason": "counselor_closed",
        "memo": {
            "summary": "s",
            "emotion_and_cognitive_state": "e",
            "counselor_observations": "o",
            "counseling_assignments": [],
            "session_goal": "g",
            "next_session_goal": "n",
            "progress": "some",
            "risk": "low",
        },
        **{name: value.model_dump() for name, value in scores.items()},
    }


def test_trajectory_gives_totals_in_session_order_and_none_where_absent() -> None:
    arc = {
        "run_id": "r",
        "arc_id": "a",
        "client_id": "c",
        "language": "en",
        "profile": {},
        "strategy": "cbt",
        "plan": {"case_conceptualization": "x", "goals": [], "stages": [], "first_session_goal": "y"},
        "sessions": [
            _session(2),
            _session(1, phq9=score("phq9", answers(14, 9)), wai_sr=score("wai_sr", [3] * 12)),
            _session(3, phq9=score("phq9", answers(6, 9))),
        ],
        "outcome": {"end_reason": "goals_met", "sessions": 3, "rationale": "r"},
        "usage": {},
        "provenance": {},
    }
    assert trajectory(arc, "phq9") == [14, None, 6]
    assert trajectory(arc, "wai_sr") == [36, None, None]
    assert trajectory(arc, "gad7") == [None, None, None]
