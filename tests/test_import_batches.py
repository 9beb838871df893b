"""Batches of source files: the first bad record stops an import with one clear line, or with
`--skip-bad` the good records are imported, the bad ones listed (file, record, field, reason)
and the command exits 1."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from muspsy.importers import Batch, ImportDataError, import_arcs, import_profiles

BATCH = REPO / "tests" / "fixtures" / "import" / "batch"
GOOD, BAD_ROLE, TRUNCATED = BATCH / "case_8.json", BATCH / "case_9_bad_role.json", BATCH / "case_10_truncated.json"


def muspsy(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *map(str, args)], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.unit
def test_without_skip_bad_the_first_bad_record_stops_the_batch() -> None:
    with pytest.raises(
        ImportDataError, match=r"case_9_bad_role\.json: record 1: field sessions\[2\]\.session_dialogue\[2\]"
    ):
        import_arcs("psycheval", [GOOD, BAD_ROLE])


@pytest.mark.unit
def test_skip_bad_keeps_the_good_records_and_lists_each_bad_one() -> None:
    batch = Batch(skip_bad=True)
    arcs = import_arcs("psycheval", [GOOD, BAD_ROLE, TRUNCATED], batch=batch)
    assert [a.client_id for a in arcs] == ["psycheval-cbt-8"]
    role, truncated = batch.bad
    assert role["file"] == str(BAD_ROLE) and role["record"] == 1
    assert role["field"] == "sessions[2].session_dialogue[2]" and "role" in role["reason"]
    assert truncated["file"] == str(TRUNCATED) and truncated["record"] is None
    assert "malformed JSON" in truncated["reason"]
    profiles = import_profiles("psycheval", [GOOD, TRUNCATED], Batch(skip_bad=True))
    assert [p.id for p in profiles] == ["psycheval-cbt-8"]


@pytest.mark.cli
def test_cli_batch_with_and_without_skip_bad(tmp_path: Path) -> None:
    out = tmp_path / "arcs.jsonl"
    stopped = muspsy("arcs", "import", "-f", "psycheval", GOOD, BAD_ROLE, "-o", out)
    assert stopped.returncode == 2 and not out.exists()
    assert stopped.stderr.strip().splitlines() == [
        f"error: {BAD_ROLE}: record 1: field sessions[2].session_dialogue[2]: expected {{role: Counselor|Client, text}}"
    ]
    skipped = muspsy("arcs", "import", "-f", "psycheval", GOOD, BAD_ROLE, TRUNCATED, "-o", out, "--skip-bad")
    assert skipped.returncode == 1, skipped.stderr
    assert [json.loads(line)["client_id"] for line in out.open()] == ["psycheval-cbt-8"]
    report = [json.loads(line) for line in (tmp_path / "arcs.bad.jsonl").open()]
    assert [(r["file"], r["record"]) for r in report] == [(str(BAD_ROLE), 1), (str(TRUNCATED), None)]
    assert all(r["reason"] for r in report)
    assert "2 bad record(s) left out, listed in" in skipped.stderr and "Traceback" not in skipped.stderr
    # Profiles too; a clean batch with --skip-bad exits 0 and leaves an empty report.
    folder = tmp_path / "profiles"
    clean = muspsy("profiles", "import", "-f", "psycheval", GOOD, "-o", folder, "--skip-bad")
    assert clean.returncode == 0, clean.stderr
    assert (tmp_path / "profiles.bad.jsonl").read_text() == ""
    assert [p.name for p in folder.iterdir()] == ["psycheval-cbt-8.yaml"]


@pytest.mark.unit
def test_a_muspsy_client_whose_sessions_do_not_match_is_skipped_and_counted(tmp_path: Path) -> None:
    muspsy_files = REPO / "tests" / "fixtures" / "import" / "muspsy"
    short = tmp_path / "memories_43.txt"
    text = (muspsy_files / "memories_43.txt").read_text(encoding="utf-8")
    short.write_text(text[: text.index("The 3th Counseling")], encoding="utf-8")
    batch = Batch(skip_bad=True)
    files = [muspsy_files / "dialogues_42.txt", muspsy_files / "dialogues_43.txt", short]
    arcs = import_arcs("muspsy", files, batch=batch)
    assert [a.client_id for a in arcs] == ["muspsy-42"]
    (bad,) = batch.bad
    assert bad["record"] == "client 43" and bad["field"] == "sessions"
    assert (
        bad["reason"]
        == "3 found in the dialogue (one block per session layout), 2 expected (2 memories in memories_43.txt)"
    )
