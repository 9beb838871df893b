"""The Postgres checkpointer path: a killed batch resumes from a real Postgres, exactly once.

Runs against a throwaway cluster started from the server binaries on the machine image; on a
machine without them it is skipped, except in CI, where their absence is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.testing import FakeOpenAIServer
from postgres_cluster import postgres_cluster, server_bin
from test_batch import arcs_of, clean_env, recorded_calls, the_run_dir, wait_until_arcs_run

pytestmark = pytest.mark.cli

if server_bin() is None and not os.environ.get("CI"):
    pytest.skip("no Postgres server binaries on this machine", allow_module_level=True)


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


def test_kill_and_resume_with_the_postgres_checkpointer(tmp_path, postgres_url):
    concurrency = 3
    with FakeOpenAIServer(latency_s=0.1) as server:
        command = [
            "muspsy", "run", str(PROFILES), "--backend", "openai", "--base-url", server.base_url,
            "--checkpointer", postgres_url, "--concurrency", str(concurrency), "--sessions-max", "2",
            "--turns-max", "9", "--runs-dir", str(tmp_path), "--quiet",
        ]  # fmt: skip
        process = subprocess.Popen(command, env=clean_env(), stdout=subprocess.DEVNULL)
        wait_until_arcs_run(tmp_path, process)
        time.sleep(1.0)
        assert process.poll() is None, "the batch finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait()
        run_dir = the_run_dir(tmp_path)
        assert not (run_dir / "checkpoints.sqlite").exists()
        resumed = subprocess.run(
            ["muspsy", "resume", str(run_dir), "--quiet"], env=clean_env(), capture_output=True, text=True, timeout=600
        )
        assert resumed.returncode == 0, resumed.stderr
        requests = server.requests
    arcs = arcs_of(run_dir)
    assert len({a["arc_id"] for a in arcs}) == len(arcs) == len(list(PROFILES.glob("*.yaml")))
    assert 0 <= requests - recorded_calls(arcs) <= concurrency
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["checkpointer"] == postgres_url and manifest["status"] == "completed"


def test_a_password_never_reaches_the_manifest(tmp_path, postgres_url):
    secret_url = postgres_url.replace("postgres@", "postgres:s3cret-pw@")
    result = subprocess.run(
        ["muspsy", "run", str(PROFILES / "mateo-social-anxiety.yaml"), "--backend", "scripted", "--checkpointer",
         secret_url, "--sessions-max", "2", "--turns-max", "7", "--runs-dir", str(tmp_path)],
        env=clean_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr  # trust auth: any password is accepted
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert b"s3cret-pw" not in path.read_bytes(), path
    assert "***" in json.loads((run_dir / "manifest.json").read_text())["checkpointer"]
    # The shared database already holds this arc id from other runs: it must not be mixed up.
    (arc,) = arcs_of(run_dir)
    assert arc["run_id"] == run_dir.name
    assert all(len(s["turns"]) <= 7 for s in arc["sessions"])
