"""Bounded inputs and the per-arc failure boundary: ids and integers bounded by the schemas so
`validate` catches them, YAML without aliases, regular files only, extensions in any case; one
arc's failed transcript write is that arc's failure, and a deleted folder is recreated."""

from __future__ import annotations

import json
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from conftest import PROFILES
from muspsy.profiles import ProfileError, load_profile
from test_batch import muspsy

pytestmark = pytest.mark.cli

BASE = PROFILES / "hannah-work-anxiety.yaml"
SMALL = ["--sessions-max", "2", "--turns-max", "7", "--quiet"]


def profile_file(folder: Path, name: str, **changes: object) -> Path:
    data = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    data.update(changes)
    path = folder / f"{data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path.rename(folder / name) if name != path.name else path


def one_error_line(result: object) -> str:
    assert result.returncode == 2, result.stdout + result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    return lines[0]


def test_a_long_profile_id_is_rejected_by_validate(tmp_path):
    long_id = "a" * 230
    path = profile_file(tmp_path, f"{long_id}.yaml", id=long_id)
    line = one_error_line(muspsy("profiles", "validate", str(path)))
    assert "field id" in line and "at most 64 characters" in line


def test_an_alias_bomb_is_rejected_quickly_with_bounded_memory(tmp_path):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
    data = yaml.safe_load(BASE.read_text(encoding="utf-8"))
    text = yaml.safe_dump({k: v for k, v in data.items() if k != "extra"}, allow_unicode=True)
    text += "extra:\n" + "".join(f"  {line}\n" for line in levels)
    path = tmp_path / f"{data['id']}.yaml"
    path.write_text(text, encoding="utf-8")
    assert len(text.encode()) < 10_000  # a few kilobytes that would expand to 10^9 nodes
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ProfileError, match="aliases"):
        load_profile(path)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 5 and peak < 20_000_000
    line = one_error_line(muspsy("profiles", "validate", str(path)))
    assert "line " in line and "aliases" in line


def test_integers_past_their_bounds_fail_validation_not_the_run(tmp_path):
    fact = {"fact": "a secret", "share_from_session": 10**30}
    path = profile_file(tmp_path, "hannah-work-anxiety.yaml", private_history=[fact])
    line = one_error_line(muspsy("profiles", "validate", str(path)))
    assert "share_from_session" in line
    big_seed = muspsy(
        "run", str(BASE), "--backend", "scripted", "--seed", str(2**70), "--runs-dir", str(tmp_path / "r")
    )
    assert "seed" in one_error_line(big_seed)
    assert not (tmp_path / "r").exists()


def test_a_fifo_is_refused_at_once_and_upper_case_extensions_are_read(tmp_path):
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    started = time.perf_counter()
    line = one_error_line(muspsy("profiles", "validate", str(fifo)))
    assert "not a regular file" in line and time.perf_counter() - started < 60
    folder = tmp_path / "upper"
    folder.mkdir()
    shutil.copy(BASE, folder / "hannah-work-anxiety.YAML")
    listed = muspsy("profiles", "validate", str(folder))
    assert listed.returncode == 0 and "hannah-work-anxiety.YAML" in listed.stdout


def test_a_binary_or_oversized_config_is_one_line(tmp_path):
    binary = tmp_path / "config.yaml"
    binary.write_bytes(b"\x00\xff\xfe binary")
    line = one_error_line(muspsy("run", str(BASE), "--config", str(binary), "--backend", "scripted"))
    assert str(binary) in line and "UTF-8" in line
    huge = tmp_path / "huge.yaml"
    huge.write_text("# padding\n" * 200_000, encoding="utf-8")
    assert "allowed" in one_error_line(muspsy("run", str(BASE), "--config", str(huge), "--backend", "scripted"))


def finished_run(tmp_path: Path) -> tuple[Path, list[str]]:
    """A scripted run of two profiles whose arcs are then marked unfinished again."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("hannah-work-anxiety", "mateo-social-anxiety"):
        shutil.copy(PROFILES / f"{name}.yaml", profiles)
    result = muspsy("run", str(profiles), "--backend", "scripted", *SMALL, "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    ids = [json.loads(line)["arc_id"] for line in (run_dir / "arcs.jsonl").read_text().splitlines()]
    (run_dir / "arcs.jsonl").write_text("")  # as if the process had died before writing them
    return run_dir, sorted(ids)


def test_a_deleted_transcripts_folder_is_recreated(tmp_path):
    run_dir, ids = finished_run(tmp_path)
    shutil.rmtree(run_dir / "transcripts")
    resumed = muspsy("resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(p.stem for p in (run_dir / "transcripts").iterdir()) == ids


def test_a_failed_transcript_write_fails_that_arc_only_and_stays_resumable(tmp_path):
    run_dir, ids = finished_run(tmp_path)
    blocker = run_dir / "transcripts" / f"{ids[0]}.md"
    blocker.unlink()
    blocker.mkdir()
    (blocker / "something").write_text("in the way")
    resumed = muspsy("resume", str(run_dir), "--quiet")
    assert resumed.returncode == 1, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert [json.loads(line)["arc_id"] for line in (run_dir / "arcs.jsonl").read_text().splitlines()] == [ids[1]]
    (failure,) = [json.loads(line) for line in (run_dir / "failed.jsonl").read_text().splitlines()]
    assert failure["arc_id"] == ids[0]
    shutil.rmtree(blocker)
    again = muspsy("resume", str(run_dir), "--quiet")
    assert again.returncode == 0, again.stderr
    lines = (run_dir / "arcs.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["arc_id"] for line in lines) == ids
