"""Run bookkeeping that stays flat: the ledger between manifest writes, finished arcs'
checkpoints deleted once recorded (unless --keep-checkpoints), the SQLite file compacted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.runfolder import RunFolder
from muspsy.runledger import ARC_STATES, RunLedger, current_arcs
from muspsy.status import run_status
from test_batch import SMALL, arcs_of, muspsy

TWO = [str(PROFILES / "hannah-work-anxiety.yaml"), str(PROFILES / "mateo-social-anxiety.yaml")]


def checkpoint_rows(run_dir: Path) -> tuple[int, int]:
    with sqlite3.connect(run_dir / "checkpoints.sqlite") as db:
        (checkpoints,) = db.execute("SELECT count(*) FROM checkpoints").fetchone()
        (free_pages,) = db.execute("PRAGMA freelist_count").fetchone()
    return checkpoints, free_pages


@pytest.mark.cli
def test_finished_arcs_leave_no_checkpoints_unless_kept(tmp_path):
    done = muspsy("run", *TWO, "--backend", "scripted", *SMALL, "--runs-dir", str(tmp_path / "a"), "--quiet")
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip())
    assert len(arcs_of(run_dir)) == 2
    assert checkpoint_rows(run_dir) == (0, 0)  # deleted, and the freed pages given back
    assert (run_dir / ARC_STATES).read_text() == ""  # folded into the manifest at the end
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {entry["status"] for entry in manifest["arcs"].values()} == {"finished"}
    kept = muspsy(
        "run", *TWO, "--backend", "scripted", *SMALL, "--runs-dir", str(tmp_path / "b"), "--keep-checkpoints", "-q"
    )
    assert kept.returncode == 0, kept.stderr
    assert checkpoint_rows(Path(kept.stdout.strip()))[0] > 0


@pytest.mark.cli
def test_an_arc_stopped_between_its_record_and_its_mark_has_its_checkpoints_swept_on_resume(tmp_path):
    # Checkpoints are deleted before an arc is marked finished; a process stopped in between
    # leaves the record in arcs.jsonl, the arc unmarked and its checkpoints: the next attempt
    # deletes them. Made here with --keep-checkpoints, then one arc's mark taken back.
    kept = muspsy("run", *TWO, "--backend", "scripted", *SMALL, "--runs-dir", str(tmp_path), "--keep-checkpoints", "-q")
    assert kept.returncode == 0, kept.stderr
    run_dir = Path(kept.stdout.strip())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    first, second = sorted(manifest["arcs"])
    manifest["arcs"][first]["status"] = "running"
    manifest["status"] = "interrupted"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))

    def threads() -> set[str]:
        with sqlite3.connect(run_dir / "checkpoints.sqlite") as db:
            return {row[0].rsplit("/", 1)[-1] for row in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}

    assert threads() == {first, second}
    resumed = muspsy("resume", str(run_dir), "-q")
    assert resumed.returncode == 0, resumed.stderr
    assert threads() == {second}  # the unmarked arc's swept; the marked one's kept, as asked
    assert len(arcs_of(run_dir)) == 2  # nothing run twice
    statuses = {e["status"] for e in json.loads((run_dir / "manifest.json").read_text())["arcs"].values()}
    assert statuses == {"finished"}


@pytest.mark.cli
def test_the_ray_executor_without_postgres_is_refused_before_anything_is_written(tmp_path):
    result = muspsy("run", *TWO, "--backend", "scripted", "--executor", "ray", "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--executor ray" in line and "--checkpointer postgresql://" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.unit
def test_the_ledger_says_what_runs_between_manifest_writes(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.create()
    entry = {"client_id": "c", "seed": 0, "strategy": "cbt", "status": "pending"}
    manifest = {
        "schema": "muspsy.manifest/1",
        "run_id": "r",
        "status": "running",
        "backend": "scripted",
        "config": {},
        "config_fingerprint": "f",
        "prompt_hashes": {},
        "attempts": [],
        "arcs": {name: dict(entry) for name in ("a", "b", "c", "d")},
    }
    folder.write_manifest(manifest)
    ledger = RunLedger(folder, manifest)
    ledger.mark("a", "running", worker="worker-1")
    ledger.mark("b", "running")
    ledger.mark("b", "failed", error="Boom: no")
    ledger.mark("c", "finished")  # ... but its record never reached arcs.jsonl
    ledger.close()
    with folder.path(ARC_STATES).open("a") as handle:
        handle.write('{"arc": "d", "sta')  # the process died mid-line
    arcs = current_arcs(folder, folder.read_manifest())
    assert arcs["a"] == {**entry, "status": "running", "worker": "worker-1"}
    assert arcs["b"]["status"] == "failed" and arcs["b"]["error"] == "Boom: no"
    assert arcs["c"]["status"] == "pending" and arcs["d"]["status"] == "pending"
    status = run_status(folder.root)  # the manifest's pid is not alive: running means interrupted
    assert "1 interrupted" in status and "1 failed" in status and "interrupted a (on worker-1)" in status
    # Saving folds the ledger into the manifest and empties it.
    again = RunLedger(folder, folder.read_manifest())
    again.save()
    assert folder.path(ARC_STATES).read_text() == ""
    assert current_arcs(folder, folder.read_manifest()) == arcs
