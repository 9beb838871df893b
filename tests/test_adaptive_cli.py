"""Adaptive supervision and the ending as a researcher tries them: `adaptive: true` in a config
file, `muspsy run --backend scripted --record-prompts`, then `compare` and the exports."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import PROFILES
from muspsy.agents.spec import load_strategy
from muspsy.promptlog import read_prompts
from muspsy.views import strategy_text

pytestmark = pytest.mark.cli

MI = "motivational_interviewing"


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adaptive")
    config = root / "muspsy.yaml"
    config.write_text("adaptive: true\nfollow_up_weeks: 4\nlimits: {sessions_min: 2, sessions_max: 4}\n")
    profiles = [str(PROFILES / "ryan-drinking-ambivalent.yaml"), str(PROFILES / "hannah-work-anxiety.yaml")]
    result = muspsy(
        "run", *profiles, "--backend", "scripted", "--config", str(config), "--strategy", "cbt",
        "--turns-max", "9", "--record-prompts", "--runs-dir", str(root / "runs"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ", adaptive" in result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def arcs_of(run_dir: Path) -> dict[str, dict[str, Any]]:
    lines = (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()
    return {arc["client_id"]: arc for arc in map(json.loads, lines)}


def test_an_arc_switches_with_its_reason_and_the_prompts_show_it(run_dir):
    arcs = arcs_of(run_dir)
    ryan, hannah = arcs["ryan-drinking-ambivalent"], arcs["hannah-work-anxiety"]
    assert [s["strategy"] for s in ryan["sessions"]] == ["cbt", "cbt", MI, MI]
    assert {s["strategy"] for s in hannah["sessions"]} == {"cbt"}  # CBT helps her: no switch
    switch = ryan["sessions"][1]["decision"]
    assert switch["applied"] == "switch_strategy" and switch["strategy"] == MI and "No progress" in switch["rationale"]
    for arc in (ryan, hannah):
        assert arc["strategy"] == "cbt"
        assert arc["sessions"][-1]["termination"] and arc["sessions"][-1]["homework_given"] == []
        assert arc["exit_measurement"]["point"] == "exit" and arc["follow_up"]["weeks_after_last_session"] == 5
    prompts = read_prompts(run_dir / "prompts.jsonl")
    third = [p for p in prompts if p["arc"] == ryan["arc_id"] and p["role"] == "counselor" and p["session"] == 3]
    assert third and all(strategy_text(load_strategy(MI)) in p["messages"][0]["content"] for p in third)
    transcript = (run_dir / "transcripts" / f"{ryan['arc_id']}.md").read_text()
    assert f"Strategy: {MI}" in transcript and "(termination session)" in transcript and "Exit, 1 week(s)" in transcript


def test_compare_reports_pre_post_change_and_switches(run_dir, tmp_path):
    result = muspsy("compare", str(run_dir), "-o", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    for label in ("PHQ-9 pre-post change, first session to exit", "GAD-7 pre-post change", "strategy switches per arc"):
        assert label in table
    rows = (tmp_path / "cmp" / "comparison.csv").read_text().splitlines()
    arcs = arcs_of(run_dir)
    changes = [a["exit_measurement"]["phq9"]["total"] - a["sessions"][0]["phq9"]["total"] for a in arcs.values()]
    mean = sum(changes) / len(changes)
    assert any("phq9_pre_post" in row and f"{mean:.4g}" in row for row in rows), rows


def test_exports_carry_strategy_termination_and_exit_and_the_card_counts_them(run_dir, tmp_path):
    out = tmp_path / "hf"
    result = muspsy("export", str(run_dir), "--format", "parquet", "-o", str(out))
    assert result.returncode == 0, result.stderr
    sessions = pq.read_table(out / "sessions" / "train.parquet").to_pylist()
    ryan = [s for s in sessions if s["client_id"] == "ryan-drinking-ambivalent"]
    assert [s["session_strategy"] for s in ryan] == ["cbt", "cbt", MI, MI]
    assert [s["termination"] for s in ryan] == [False, False, False, True] and ryan[-1]["relapse_prevention"]
    arcs = {a["client_id"]: a for a in pq.read_table(out / "arcs" / "train.parquet").to_pylist()}
    assert arcs["ryan-drinking-ambivalent"]["strategy_switches"] == 1
    assert (
        arcs["hannah-work-anxiety"]["exit_phq9"]
        == arcs_of(run_dir)["hannah-work-anxiety"]["exit_measurement"]["phq9"]["total"]
    )
    card = (out / "README.md").read_text()
    assert "- strategy switches: 1 (in 1 arc(s))" in card and "- termination sessions: 2" in card
    tasks = tmp_path / "tasks.jsonl"
    assert muspsy("export", str(run_dir), "--format", "muspsy-tasks", "-o", str(tasks)).returncode == 0
    records = [json.loads(line) for line in tasks.read_text().splitlines()]
    later = [r for r in records if r["arc_id"].startswith("ryan") and r["session"] == 3]
    assert later and all(r["strategy"] == MI for r in later)
    generation = next(r for r in later if r["task"] == "counseling_generation")
    assert strategy_text(load_strategy(MI)) in generation["input"]
