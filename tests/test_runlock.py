"""One process per run: a second `resume` (or a resume while the run goes on) refuses with one
line naming the holder, and every arc is written exactly once; SQLite and Postgres."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import PROFILES, arc_of
from muspsy.runfolder import DuplicateArc, RunFolder
from muspsy.runlock import RunLocked, run_folder_lock, run_in_use
from muspsy.testing import FakeOpenAIServer
from postgres_cluster import postgres_cluster, server_bin
from test_batch import arcs_of, clean_env, muspsy, the_run_dir, wait_until_arcs_run

pytestmark = pytest.mark.cli

# Slow enough that the run is still going when the second process has started (a few seconds
# of imports on a loaded machine); set to 0 once the refusal is seen, so the run ends quickly.
SLOW = 1.0
ARC_OPTIONS = ["--sessions-max", "2", "--turns-max", "9", "--concurrency", "2", "--quiet"]


def start_run(runs: Path, base_url: str, *extra: str) -> subprocess.Popen[str]:
    command = [
        "muspsy", "run", str(PROFILES), "--backend", "openai", "--base-url", base_url,
        *ARC_OPTIONS, "--runs-dir", str(runs), *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_resume(run_dir: Path, *extra: str) -> subprocess.Popen[str]:
    command = ["muspsy", "resume", str(run_dir), "--quiet", *extra]
    return subprocess.Popen(command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_refused(result: subprocess.CompletedProcess[str], holder_pid: int) -> None:
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "in use by process" in line or "another process holds it" in line, line
    assert str(holder_pid) in line or "another process holds it" in line, line
    assert "Traceback" not in result.stderr


def assert_each_arc_once(run_dir: Path) -> None:
    ids = [a["arc_id"] for a in arcs_of(run_dir)]
    assert len(ids) == len(set(ids)) == len(list(PROFILES.glob("*.yaml")))


def test_resume_while_the_run_goes_on_is_refused_and_every_arc_is_written_once(tmp_path):
    with FakeOpenAIServer(latency_s=SLOW) as server:
        process = start_run(tmp_path, server.base_url)
        wait_until_arcs_run(tmp_path, process)  # type: ignore[arg-type]
        run_dir = the_run_dir(tmp_path)
        assert run_in_use(run_dir)
        second = muspsy("resume", str(run_dir), "--quiet")
        assert_refused(second, process.pid)
        server.latency_s = 0.0
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    assert not run_in_use(run_dir)
    assert_each_arc_once(run_dir)


def test_two_resumes_at_once_run_the_arcs_once(tmp_path):
    with FakeOpenAIServer(latency_s=SLOW) as server:
        process = start_run(tmp_path, server.base_url)
        wait_until_arcs_run(tmp_path, process)  # type: ignore[arg-type]
        process.send_signal(signal.SIGKILL)  # a dead holder leaves no stale lock behind
        process.wait()
        run_dir = the_run_dir(tmp_path)
        first = start_resume(run_dir)
        wait_until_arcs_run(tmp_path, first)  # type: ignore[arg-type]
        assert_refused(muspsy("resume", str(run_dir), "--quiet"), first.pid)
        server.latency_s = 0.0
        _, stderr = first.communicate(timeout=600)
        assert first.returncode == 0, stderr
    assert_each_arc_once(run_dir)


def test_writing_an_arc_id_twice_is_refused(tmp_path, profile):
    record = asyncio.run(arc_of(profile("hannah-work-anxiety"), sessions_max=2, turns_max=7))
    folder = RunFolder(tmp_path / "run")
    folder.create()
    folder.add_arc(record)
    with pytest.raises(DuplicateArc, match="already there"):
        folder.add_arc(record)
    # A fresh reader of the same folder (another process, a resume) refuses it too.
    with pytest.raises(DuplicateArc):
        RunFolder(folder.root).add_arc(record)
    assert len((folder.root / "arcs.jsonl").read_text().splitlines()) == 1


def test_the_folder_lock_names_its_holder_and_goes_with_the_process(tmp_path):
    with run_folder_lock(tmp_path):
        code = (
            "import sys; from pathlib import Path; from muspsy.runlock import run_folder_lock, RunLocked\n"
            "try:\n    run_folder_lock(Path(sys.argv[1])).__enter__()\nexcept RunLocked as e:\n    print(e)\n"
        )
        other = subprocess.run(["python", "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert f"in use by process {os.getpid()}" in other.stdout
    # Released: taken again at once; and exclusive within one process too.
    with run_folder_lock(tmp_path), pytest.raises(RunLocked):
        run_folder_lock(tmp_path).__enter__()


postgres = pytest.mark.skipif(server_bin() is None and not os.environ.get("CI"), reason="no Postgres binaries")


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


@postgres
def test_postgres_runs_take_an_advisory_lock_per_run_id(tmp_path, postgres_url):
    """Run + resume and resume + resume on one folder refuse through the folder lock; a copy
    of the folder (a second machine sharing the work) on the same Postgres refuses through the
    advisory lock of the run id. No arc is run twice."""
    with FakeOpenAIServer(latency_s=SLOW) as server:
        runs = tmp_path / "runs"
        process = start_run(runs, server.base_url, "--checkpointer", postgres_url)
        wait_until_arcs_run(runs, process)  # type: ignore[arg-type]
        run_dir = the_run_dir(runs)
        assert_refused(muspsy("resume", str(run_dir), "--quiet"), process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        first = start_resume(run_dir)
        wait_until_arcs_run(runs, first)  # type: ignore[arg-type]
        assert_refused(muspsy("resume", str(run_dir), "--quiet"), first.pid)
        copy = tmp_path / "copy" / run_dir.name
        shutil.copytree(run_dir, copy)
        second = muspsy("resume", str(copy), "--quiet")
        assert second.returncode == 2, second.stderr
        assert "another process holds it" in second.stderr and "Traceback" not in second.stderr
        server.latency_s = 0.0
        _, stderr = first.communicate(timeout=600)
        assert first.returncode == 0, stderr
    assert_each_arc_once(run_dir)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"
