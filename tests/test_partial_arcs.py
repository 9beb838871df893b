"""A failed arc stays readable: its failure line says where and what to do, its transcript
holds the sessions done, and `muspsy show` prints the dialogue down to the last turn."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.testing import FakeOpenAIServer, default_responder

pytestmark = pytest.mark.cli
ARC = "hannah-work-anxiety--cbt--seed0"


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=clean)


def run_hannah(base_url: str, runs: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return muspsy(
        "run",
        str(PROFILES / "hannah-work-anxiety.yaml"),
        "--backend",
        "openai",
        "--base-url",
        base_url,
        "--sessions-max",
        "2",
        "--turns-max",
        "7",
        "--runs-dir",
        str(runs),
        *extra,
    )


def test_a_failure_in_session_two_names_where_and_leaves_the_dialogue_readable(tmp_path):
    def client_stops_in_session_two(schema, messages):
        if schema == "ClientTurnOutput" and "Session 2, turn 2." in str(messages[-1].content):
            return "no JSON from me"
        return default_responder(schema, messages)

    with FakeOpenAIServer(responder=client_stops_in_session_two) as server:
        result = run_hannah(server.base_url, tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    failure = next(line for line in result.stderr.splitlines() if "FAILED" in line)
    assert "during client/turn, session 2, turn 2" in failure
    assert f"muspsy resume {run_dir}" in failure
    recorded = json.loads((run_dir / "failed.jsonl").read_text().splitlines()[0])
    assert "client/turn, session 2, turn 2" in recorded["error"]

    # Rewritten after each session: session 1 whole, with its memo.
    transcript = (run_dir / "transcripts" / f"{ARC}.md").read_text()
    assert "not finished" in transcript and "## Session 1" in transcript and "### Supervisor memo" in transcript

    shown = muspsy("show", str(run_dir), ARC)
    assert shown.returncode == 0, shown.stderr
    assert "## Session 1" in shown.stdout and "## Session 2 (in progress)" in shown.stdout
    in_progress = shown.stdout.split("## Session 2 (in progress)")[1]
    assert in_progress.count("**Counselor:**") == 1 and "**Client:**" not in in_progress

    missing = muspsy("show", str(run_dir), "nobody--cbt--seed0")
    assert missing.returncode == 2 and "no arc nobody--cbt--seed0" in missing.stderr


def test_a_timed_out_call_names_the_timeout_setting(tmp_path):
    config = tmp_path / "muspsy.yaml"
    config.write_text("models:\n  default:\n    timeout_s: 0.5\n    max_retries: 0\n")
    with FakeOpenAIServer(fault_rate=1.0, faults=("hang",), hang_s=3.0) as server:
        result = run_hannah(server.base_url, tmp_path / "runs", "--config", str(config))
    assert result.returncode == 1
    failure = next(line for line in result.stderr.splitlines() if "FAILED" in line)
    assert "during supervisor/plan" in failure
    assert "timeout_s=0.5 s" in failure and "models.supervisor.timeout_s" in failure and "muspsy resume" in failure
