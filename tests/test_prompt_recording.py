"""`--record-prompts` and the measurement-based-care switch, end to end: one prompts.jsonl line
per LLM call, off by default, a torn line cut on resume, judges recorded by `muspsy evaluate`;
questionnaire scores reach the clinical supervisor only with measurement-based care, which is
in the manifest and the fingerprint."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from muspsy.config import Limits, RunConfig, fingerprint
from muspsy.data import profiles_dir
from muspsy.profiles import load_profile
from muspsy.promptlog import read_prompts
from muspsy.simulate import simulate_arc
from muspsy.testing import scripted_models

HANNAH = str(profiles_dir() / "hannah-work-anxiety.yaml")
SMALL = ["--backend", "scripted", "--sessions-max", "2", "--turns-max", "7", "--quiet"]


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=300)


def run_dir_of(result: subprocess.CompletedProcess[str]) -> Path:
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.mark.cli
def test_prompts_are_recorded_only_when_asked_and_a_torn_line_is_cut_on_resume(tmp_path):
    plain = run_dir_of(muspsy("run", HANNAH, *SMALL, "--runs-dir", str(tmp_path / "a")))
    assert not (plain / "prompts.jsonl").exists()
    assert json.loads((plain / "manifest.json").read_text())["config"]["record_prompts"] is False

    run_dir = run_dir_of(muspsy("run", HANNAH, *SMALL, "--record-prompts", "--runs-dir", str(tmp_path / "b")))
    path = run_dir / "prompts.jsonl"
    lines = read_prompts(path)
    calls = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert len(lines) == sum(c["event"] == "llm_call" for c in calls)
    first_turn = next(x for x in lines if x["role"] == "counselor" and x["node"] == "turn")
    assert first_turn["session"] == 1 and first_turn["turn"] >= 2 and first_turn["run"] == run_dir.name
    assert [m["role"] for m in first_turn["messages"]] == ["system", "user"]
    assert "Session 1, turn" in first_turn["messages"][1]["content"]
    # Recording does not change what is produced: same fingerprint, same arcs.
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (plain, run_dir)]
    assert manifests[0]["config_fingerprint"] == manifests[1]["config_fingerprint"]
    strip = [
        {k: v for k, v in json.loads((d / "arcs.jsonl").read_text()).items() if k in ("sessions", "disclosures")}
        for d in (plain, run_dir)
    ]
    assert strip[0] == strip[1]

    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"run": "torn by a ki')
    assert len(read_prompts(path)) == len(lines)  # a reader tolerates the torn tail
    result = muspsy("resume", str(run_dir), "--quiet")
    assert result.returncode == 0, result.stderr
    assert path.read_text(encoding="utf-8").endswith("}\n") and len(read_prompts(path)) == len(lines)
    repairs = json.loads((run_dir / "manifest.json").read_text())["repairs"]
    assert "prompts.jsonl" in repairs[-1]["files"]


@pytest.mark.cli
def test_evaluate_records_the_judge_prompts(tmp_path):
    run_dir = run_dir_of(muspsy("run", HANNAH, *SMALL, "--runs-dir", str(tmp_path)))
    out = tmp_path / "judge_prompts.jsonl"
    result = muspsy("evaluate", str(run_dir), "--backend", "scripted", "--record-prompts", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    lines = read_prompts(out)
    assert lines and {x["role"] for x in lines} == {"judge"}
    assert {x["node"] for x in lines} >= {"ctrs", "alliance", "persona"}
    assert all(x["run"] == run_dir.name and x["session"] in (1, 2) for x in lines)


def test_measurement_based_care_changes_the_fingerprint_and_recording_does_not():
    base = fingerprint(RunConfig())
    assert fingerprint(RunConfig(measurement_based_care=True)) != base
    assert fingerprint(RunConfig(record_prompts=True)) == base


@pytest.mark.cli
def test_resume_refuses_a_changed_measurement_based_care_switch(tmp_path):
    run_dir = run_dir_of(muspsy("run", HANNAH, *SMALL, "--measurement-based-care", "--runs-dir", str(tmp_path)))
    assert json.loads((run_dir / "manifest.json").read_text())["config"]["measurement_based_care"] is True
    off = tmp_path / "off.yaml"
    off.write_text("measurement_based_care: false\n")
    refused = muspsy("resume", str(run_dir), "--config", str(off), "--quiet")
    assert refused.returncode == 2 and "config changed" in refused.stderr and "Traceback" not in refused.stderr
    assert muspsy("resume", str(run_dir), "--config", str(off), "--force", "--quiet").returncode == 0


@pytest.mark.graph
@pytest.mark.parametrize("care", [False, True])
async def test_scores_reach_the_clinical_supervisor_only_with_measurement_based_care(care):
    models = scripted_models()
    limits = Limits(sessions_min=2, sessions_max=2, turns_min=5, turns_max=7)
    record = await simulate_arc(load_profile(Path(HANNAH)), models, limits=limits, measurement_based_care=care)
    phq9 = record.sessions[0].phq9
    assert phq9 is not None
    supervisor = {
        schema: "\n".join(str(m.content) for m in messages)
        for schema, messages in models["supervisor"].chat.calls
        if schema in ("MemoOutput", "DecisionOutput")
    }
    for prompt in supervisor.values():
        assert (f"PHQ-9 {phq9.total}" in prompt) is care
    counselor = " ".join(str(m.content) for _, messages in models["counselor"].chat.calls for m in messages)
    assert "PHQ-9" not in counselor and "Questionnaire scores" not in counselor
