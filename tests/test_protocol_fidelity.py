"""Fidelity matched to the strategy: each strategy's sessions are judged on its own fidelity
scale, and the technique distribution is measured from the turn labels, in evaluate and compare."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.agents.spec import load_strategy
from muspsy.config import Limits
from muspsy.evaluation.compare import compare_groups, make_groups
from muspsy.evaluation.evaluate import evaluate_source
from muspsy.evaluation.judges import matched_fidelity
from muspsy.evaluation.metrics import arc_metrics
from muspsy.evaluation.rubrics import SCALES
from muspsy.evaluation.sources import Source
from muspsy.llm import RoleModel
from muspsy.records import ArcRecord
from muspsy.simulate import simulate_arc
from muspsy.testing import ScriptedChatModel, default_responder, scripted_models

LIMITS = Limits(sessions_min=2, sessions_max=2, turns_min=5, turns_max=9)
MATCHED = {
    "cbt": {"ctrs"},
    "motivational_interviewing": {"miti", "miti_behaviours"},
    "person_centred": {"pceps"},
    "solution_focused": {"sfbt"},
}
FIDELITY = {"ctrs", "miti", "miti_behaviours", "pceps", "sfbt"}


async def _arcs(profile) -> list[ArcRecord]:
    hannah = profile("hannah-work-anxiety")
    return [await simulate_arc(hannah, scripted_models(), strategy=name, limits=LIMITS) for name in MATCHED]


@pytest.mark.graph
async def test_each_strategy_is_judged_on_its_own_fidelity_scale(profile):
    arcs = await _arcs(profile)
    judge = RoleModel(ScriptedChatModel(responder=default_responder), "scripted")
    evaluation = await evaluate_source(
        Source(Path("/nowhere/arcs.jsonl"), arcs), judge, retries=0, concurrency=2, judge_name="scripted"
    )
    for row in (r for r in evaluation.rows if r["kind"] == "session"):
        assert set(row["judge"]) & FIDELITY == MATCHED[row["strategy"]], row["strategy"]
        assert 0 <= row["fidelity"] <= 1  # each session on its own strategy's scale
        for rubric in MATCHED[row["strategy"]]:
            low, high = SCALES[rubric]
            assert all(low <= v <= high for v in row["judge"][rubric]["scores"].values())
        if row["strategy"] == "motivational_interviewing":
            counts = row["judge"]["miti_behaviours"]
            assert counts["scores"]["question"] > 0 and counts["scores"]["persuade"] == 0
            assert set(counts["miti_summary"]) == {
                "reflection_to_question",
                "percent_complex_reflections",
                "mi_adherent",
                "mi_non_adherent",
            }
    arc_rows = {r["strategy"]: r for r in evaluation.rows if r["kind"] == "arc"}
    assert all(0 <= arc_rows[name]["fidelity"] <= 1 for name in MATCHED)
    # The 0-1 score is the strategy's own scale rescaled: CTRS for CBT.
    ctrs = arc_rows["cbt"]["judge"]["ctrs"]["summary"]
    assert arc_rows["cbt"]["fidelity"] == pytest.approx(ctrs / 66)
    assert matched_fidelity("cbt", {"pceps": {"summary": 6.0}}) is None  # another strategy's scale does not count


@pytest.mark.graph
async def test_the_technique_distribution_comes_from_the_turn_labels(profile):
    arcs = await _arcs(profile)
    for arc in arcs:
        metrics = arc_metrics(arc)
        repertoire = {t.name for t in load_strategy(arc.strategy).techniques}
        assert set(metrics["technique_counts"]) <= repertoire
        assert sum(metrics["technique_counts"].values()) == sum(
            t.speaker == "counselor" for s in arc.sessions for t in s.turns
        )
        assert sum(metrics["technique_shares"].values()) == pytest.approx(1.0)
        assert metrics["labelled_turn_share"] == 1.0 and metrics["protocol_phase_coverage"] > 0.5
    groups = make_groups([Source(Path("/nowhere/arcs.jsonl"), arcs)], "strategy")
    rows = {r.key: r for r in compare_groups(groups)}
    names = [g.name for g in groups]
    agenda = rows["technique:agenda_setting"].stats
    assert agenda[names.index("cbt")][1][0] > 0  # type: ignore[index]
    assert agenda[names.index("person_centred")][1][0] == 0  # type: ignore[index]
    assert "distinct_techniques" in rows and "protocol_phase_coverage" in rows


def test_arcs_without_labels_have_no_technique_distribution():
    from eval_arcs import arc, session

    old = arc([session(1, [("counselor", "Hello, how are you?"), ("client", "Tired.")])])
    metrics = arc_metrics(old)
    assert metrics["labelled_turn_share"] == 0.0
    assert metrics["technique_counts"] == {} and metrics["technique_entropy"] is None
    groups = make_groups([Source(Path("/nowhere/old.jsonl"), [old])], "strategy")
    assert not [r for r in compare_groups(groups) if r.key.startswith("technique:")]


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.cli
def test_a_paired_cbt_pc_run_compares_techniques_and_matched_fidelity(tmp_path):
    run = muspsy(
        "run", str(PROFILES / "hannah-work-anxiety.yaml"), "--backend", "scripted", "--strategy", "cbt,pc",
        "--sessions-max", "2", "--turns-max", "9", "--runs-dir", str(tmp_path), "-q",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    run_dir = Path(run.stdout.strip().splitlines()[-1])
    arcs = [json.loads(line) for line in (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()]
    by_strategy = {a["strategy"]: a for a in arcs}
    assert [bool(s["homework_given"]) for s in by_strategy["cbt"]["sessions"]] == [True, False]  # 2: termination
    assert by_strategy["cbt"]["sessions"][1]["termination"]
    assert not any(s["homework_given"] for s in by_strategy["person_centred"]["sessions"])
    evaluated = muspsy("evaluate", "--backend", "scripted", str(run_dir), "-q")
    assert evaluated.returncode == 0, evaluated.stderr
    summary = (run_dir / "evaluation.md").read_text(encoding="utf-8")
    assert "strategy-matched fidelity (0-1)" in summary and "person-centred process (1-6)" in summary
    compared = muspsy("compare", str(run_dir), "-o", str(tmp_path / "cmp"))
    assert compared.returncode == 0, compared.stderr
    with (tmp_path / "cmp" / "comparison.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    measures = {(r["measure"], r["group"]): r for r in rows}
    assert float(measures[("technique:agenda_setting", "cbt")]["mean"]) > 0
    assert float(measures[("technique:agenda_setting", "person_centred")]["mean"]) == 0
    assert float(measures[("technique:empathic_reflection", "person_centred")]["mean"]) > 0
    for group in ("cbt", "person_centred"):
        assert 0 <= float(measures[("judge_fidelity", group)]["mean"]) <= 1
    assert measures[("judge_ctrs", "cbt")]["mean"] and not measures[("judge_ctrs", "person_centred")]["mean"]
    assert "technique share: agenda_setting" in (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")


@pytest.mark.graph
async def test_a_strategy_without_homework_has_no_homework_follow_up_rate(profile):
    pc = await simulate_arc(profile("hannah-work-anxiety"), scripted_models(), strategy="pc", limits=LIMITS)
    assert all(s.memo.counseling_assignments for s in pc.sessions)  # the memo still notes something
    assert arc_metrics(pc)["homework_follow_up_rate"] is None
    cbt = await simulate_arc(profile("hannah-work-anxiety"), scripted_models(), strategy="cbt", limits=LIMITS)
    assert arc_metrics(cbt)["homework_follow_up_rate"] == 1.0  # reviewed in its homework_review phase
