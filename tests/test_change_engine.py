"""The client-side change engine: planted appraisals through `muspsy.dynamics`, whole scripted
arcs where only the client's appraisal (never the supervisor's memo) moves the outcome, and a
scripted paired run whose strategy differences show up in `muspsy compare`."""

from __future__ import annotations

import csv
import os
import random
import subprocess
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from conftest import PROFILES, arc_of, overriding
from muspsy.calibration import improved_by_session
from muspsy.config import Limits
from muspsy.dynamics import load_params, next_alliance, next_severity
from muspsy.instruments import trajectory
from muspsy.records import ArcRecord, SessionAppraisal, Valence
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models

PARAMS = load_params()


def appraisal(rating: int, rupture: bool = False, insight: bool = False) -> SessionAppraisal:
    return SessionAppraisal(
        felt_understood=rating,
        goal_agreement=rating,
        task_agreement=rating,
        rupture=rupture,
        new_insight=insight,
        homework_accepted=True,
    )


GOOD = appraisal(5, insight=True)
NEUTRAL = appraisal(3)
RUPTURED = appraisal(2, rupture=True)


def course(planted: SessionAppraisal, seed: int, fit: float = 0.5, sessions: int = 6) -> list[float]:
    """Distress over `sessions` weeks with the same appraisal every session."""
    rng = random.Random(seed)
    severity, alliance = 6.0, 3.0
    path = [severity]
    for _ in range(sessions):
        event: tuple[Valence, float] | None = ("negative", 0.5) if rng.random() < 0.3 else None
        severity = next_severity(
            severity,
            appraisal=planted,
            adherence="done" if rng.random() < 0.6 else "not_done",
            event=event,
            attitude="neutral",
            fit=fit,
            alliance=alliance,
            noise=rng.gauss(0.0, 1.0),
            params=PARAMS.symptoms,
        )
        alliance = next_alliance(alliance, planted, PARAMS)
        path.append(severity)
    return path


def mean_change(planted: SessionAppraisal, fit: float = 0.5, seeds: int = 300) -> float:
    return sum(course(planted, seed, fit)[-1] - 6.0 for seed in range(seeds)) / seeds


@pytest.mark.unit
def test_good_sessions_improve_most_clients_over_many_seeds() -> None:
    finals = [course(GOOD, seed)[-1] for seed in range(300)]
    assert sum(final < 6.0 for final in finals) > 0.85 * len(finals)
    assert mean_change(GOOD) < -1.5


@pytest.mark.unit
def test_ruptures_worsen() -> None:
    assert mean_change(RUPTURED) > 0.5
    assert mean_change(RUPTURED) > mean_change(NEUTRAL) + 1.5


@pytest.mark.unit
def test_setbacks_happen_even_in_good_courses() -> None:
    # Noise and negative events: some weeks go backwards although every session was good.
    paths = [course(GOOD, seed) for seed in range(100)]
    setbacks = sum(any(b > a for a, b in pairwise(path)) for path in paths)
    assert 10 < setbacks < 100


@pytest.mark.unit
def test_strategy_fit_changes_the_slope() -> None:
    assert mean_change(GOOD, fit=0.8) < mean_change(GOOD, fit=0.3) - 0.5
    assert mean_change(NEUTRAL, fit=0.8) < mean_change(NEUTRAL, fit=0.3)


@pytest.mark.unit
def test_same_seed_same_course() -> None:
    assert course(GOOD, 7) == course(GOOD, 7)
    assert course(GOOD, 7) != course(GOOD, 8)


@pytest.mark.unit
def test_alliance_follows_the_felt_session_and_drops_after_an_unrepaired_rupture() -> None:
    assert next_alliance(3, GOOD, PARAMS) > 3 > next_alliance(3, RUPTURED, PARAMS)
    repaired = SessionAppraisal(**{**RUPTURED.model_dump(), "felt_understood": 5})
    assert next_alliance(3, repaired, PARAMS) > next_alliance(3, RUPTURED, PARAMS)


# --- whole scripted arcs -----------------------------------------------------------------


def states(record: ArcRecord) -> list[tuple[float, float]]:
    return [(s.client_state.symptom_severity, s.client_state.alliance) for s in record.sessions]


def memo_says(progress: str, summary: str) -> Any:
    def reply(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        return {**default_responder("MemoOutput", messages), "progress": progress, "summary": summary}

    return reply


@pytest.mark.graph
async def test_the_supervisors_memo_does_not_move_the_client_but_its_own_appraisal_does(profile):
    hannah = profile("hannah-work-anxiety")
    baseline = await arc_of(hannah, sessions_min=4)
    for progress, summary in (("worse", "Nothing helped; the client is deteriorating."), ("substantial", "Big gains.")):
        rated = await arc_of(hannah, overriding(MemoOutput=memo_says(progress, summary)), sessions_min=4)
        assert {s.memo.progress for s in rated.sessions} == {progress}
        assert states(rated) == states(baseline)
        assert trajectory(rated, "phq9") == trajectory(baseline, "phq9")

    def unhappy(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        reply = default_responder("AllianceQuestionnaireOutput", messages)
        return {**reply, "felt_understood": 1, "goal_agreement": 2, "task_agreement": 1, "rupture": True}

    disappointed = await arc_of(hannah, overriding(AllianceQuestionnaireOutput=unhappy), sessions_min=4)
    assert [s.appraisal.rupture for s in disappointed.sessions] == [True] * len(disappointed.sessions)  # type: ignore[union-attr]
    assert states(disappointed)[0] == states(baseline)[0]  # the same client at the start
    assert states(disappointed)[1][0] > states(baseline)[1][0]  # more distress after a ruptured session
    assert trajectory(disappointed, "phq9")[-1] > trajectory(baseline, "phq9")[-1]  # type: ignore[operator]


@pytest.mark.graph
async def test_the_scripted_client_appraises_what_the_counselor_did(profile):
    # Hannah responds to structure (CBT fit 0.8) and is put off by pure reflection (0.35).
    hannah = profile("hannah-work-anxiety")
    limits = Limits(sessions_min=2, sessions_max=3, turns_min=5, turns_max=11)
    cbt = await simulate_arc(hannah, scripted_models(), strategy="cbt", limits=limits)
    pc = await simulate_arc(hannah, scripted_models(), strategy="person_centred", limits=limits)
    first_cbt, first_pc = cbt.sessions[0].appraisal, pc.sessions[0].appraisal
    assert first_cbt is not None and first_pc is not None
    assert first_cbt.task_agreement > first_pc.task_agreement
    assert first_cbt.homework_accepted and not first_pc.homework_accepted
    assert any("evidence" in t.text for t in cbt.sessions[0].turns if t.speaker == "counselor")
    assert any("It sounds like" in t.text for t in pc.sessions[0].turns if t.speaker == "counselor")
    assert cbt.sessions[1].client_state.symptom_severity < pc.sessions[1].client_state.symptom_severity


# --- a scripted paired run through the console script ------------------------------------


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=600)


def paired_phq9(tmp_path: Path, name: str) -> tuple[dict[str, str], int]:
    profiles = [str(PROFILES / f"{p}.yaml") for p in ("hannah-work-anxiety", "mateo-social-anxiety")]
    run = muspsy(
        "run", *profiles, "--backend", "scripted", "--strategy", "cbt,pc", "--sessions-min", "3",
        "--sessions-max", "4", "--turns-max", "9", "--concurrency", "1", "--runs-dir", str(tmp_path / name), "-q",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    run_dir = Path(run.stdout.strip().splitlines()[-1])
    out = tmp_path / f"{name}-compare"
    compared = muspsy("compare", str(run_dir), "-o", str(out))
    assert compared.returncode == 0, compared.stderr
    with (out / "comparison.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["measure"] == "phq9_change" and r["pairing"]]
    return rows[0], len((run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines())


@pytest.mark.cli
def test_a_scripted_paired_run_shows_reproducible_strategy_differences(tmp_path):
    first, arcs = paired_phq9(tmp_path, "one")
    second, _ = paired_phq9(tmp_path, "two")
    # One arc at a time, so arcs.jsonl (and so compare's baseline, its first group) is in
    # planned order: cbt first.
    assert (first["vs"], first["group"]) == ("cbt", "person_centred")
    assert first["pairing"] == "paired" and first["pairs"] == "2"
    # Both clients respond better to CBT than to person-centred counseling (profile fit), and
    # the scripted sessions carry that into their appraisals: PHQ-9 falls less under PC.
    assert float(first["difference"]) > 0
    assert first == second  # deterministic: the same run twice gives the same comparison
    assert arcs == 4


@pytest.mark.unit
def test_the_default_parameters_follow_the_published_dose_response_curve() -> None:
    # Howard et al. (1986), as stored in the dynamics file: ~50% improved by session 8, ~75% by
    # 26, ~85% by 52. A change to the parameters that leaves the curve fails here.
    curve = improved_by_session(PARAMS, clients=1500, seed=1)
    for session, published in PARAMS.calibration.published.items():
        assert abs(curve[session - 1] - published) < 0.07, (session, curve[session - 1], published)
    assert curve[0] < curve[7] < curve[25] <= curve[51] + 0.02  # negatively accelerated, rising
