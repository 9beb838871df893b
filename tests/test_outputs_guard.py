"""Nothing overwritten by surprise, damaged run folders read with care: outputs need --force,
sources and run folders are never outputs; read-only commands tolerate a torn tail; evaluate
and compare refuse duplicate arcs; run-folder files are not followed through symlinks; stale
temp files go on resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import PROFILES
from test_batch import muspsy

pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    result = muspsy(
        "run", str(PROFILES / "hannah-work-anxiety.yaml"), str(PROFILES / "mateo-social-anxiety.yaml"),
        "--backend", "scripted", "--sessions-max", "2", "--turns-max", "7", "--quiet", "--runs-dir", str(runs),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture
def run_dir(finished, tmp_path) -> Path:
    copy = tmp_path / finished.name
    shutil.copytree(finished, copy, ignore=shutil.ignore_patterns(".lock"))
    return copy


def error_line(result) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    return line


def test_export_onto_its_own_source_is_refused_even_with_force(run_dir, tmp_path):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    for target in (run_dir / "arcs.jsonl", run_dir / "manifest.json", run_dir / "new.jsonl"):
        line = error_line(muspsy("export", str(run_dir), "--format", "openai", "-o", str(target), "--force"))
        assert str(run_dir) in line
    line = error_line(muspsy("export", str(run_dir), "--format", "parquet", "-o", str(run_dir), "--force"))
    assert "source" in line
    holder = error_line(muspsy("export", str(run_dir), "--format", "parquet", "-o", str(tmp_path), "--force"))
    assert "source" in holder or "run folders" in holder
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before


def test_an_existing_export_needs_force(run_dir, tmp_path):
    out = tmp_path / "elsewhere" / "chat.jsonl"
    assert muspsy("export", str(run_dir), "--format", "openai", "-o", str(out)).returncode == 0
    first = out.read_bytes()
    line = error_line(muspsy("export", str(run_dir), "--format", "sharegpt", "-o", str(out)))
    assert "use --force" in line and out.read_bytes() == first
    assert muspsy("export", str(run_dir), "--format", "sharegpt", "-o", str(out), "--force").returncode == 0
    assert out.read_bytes() != first


def test_evaluate_and_compare_outputs_need_force_and_compare_leaves_no_stale_plot(run_dir, tmp_path):
    ev = tmp_path / "ev"
    assert muspsy("evaluate", str(run_dir), "--no-judges", "-o", str(ev), "-q").returncode == 0
    assert "use --force" in error_line(muspsy("evaluate", str(run_dir), "--no-judges", "-o", str(ev), "-q"))
    assert muspsy("evaluate", str(run_dir), "--no-judges", "-o", str(ev), "-q", "--force").returncode == 0
    # The documented place inside a run folder is allowed: evaluation.jsonl beside arcs.jsonl.
    assert muspsy("evaluate", str(run_dir), "--no-judges", "-o", str(run_dir), "-q", "--force").returncode == 0
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "judges.png").write_bytes(b"stale plot of an earlier comparison")
    assert "use --force" in error_line(
        muspsy("compare", str(run_dir), "-o", str(out), "--evaluation", str(ev / "evaluation.jsonl"))
    )
    done = muspsy("compare", str(run_dir), "-o", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert not (out / "judges.png").exists() or (out / "judges.png").read_bytes()[:4] == b"\x89PNG"
    assert "inside the run folder" in error_line(muspsy("compare", str(run_dir), "-o", str(run_dir / "cmp")))


def test_read_only_commands_tolerate_a_torn_tail(run_dir, tmp_path):
    with (run_dir / "arcs.jsonl").open("a") as handle:
        handle.write('{"schema": "muspsy.arc/1", "run_id": "x", "arc')  # a killed writer
    status = muspsy("status", str(run_dir))
    assert status.returncode == 0, status.stderr
    assert "torn last line" in status.stdout and "2 finished" in status.stdout
    exported = muspsy("export", str(run_dir), "--format", "openai", "-o", str(tmp_path / "o.jsonl"))
    assert exported.returncode == 0 and "torn last line" in exported.stderr
    evaluated = muspsy("evaluate", str(run_dir), "--no-judges", "-o", str(tmp_path / "ev"), "-q")
    assert evaluated.returncode == 0 and "resume" in evaluated.stderr


def test_evaluate_and_compare_refuse_a_duplicated_arc(run_dir, tmp_path):
    copy = tmp_path / "copy.jsonl"
    shutil.copy(run_dir / "arcs.jsonl", copy)
    for command in (["evaluate", "--no-judges", "-q"], ["compare", "-o", str(tmp_path / "c")]):
        line = error_line(muspsy(command[0], str(run_dir), str(copy), *command[1:]))
        assert "give each source once" in line


def test_damaged_run_folders_give_one_line(run_dir, tmp_path):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "arcs": []}))
    assert "field arcs" in error_line(muspsy("status", str(run_dir)))
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with (run_dir / "arcs.jsonl").open("a") as handle:
        handle.write("{}\n")
    assert "field arc_id" in error_line(muspsy("status", str(run_dir)))
    assert "field arc_id" in error_line(muspsy("resume", str(run_dir)))


def test_symlinked_run_files_are_not_followed_and_stale_temp_files_go_on_resume(run_dir, tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text("")
    (run_dir / "events.jsonl").unlink()
    (run_dir / "events.jsonl").symlink_to(outside)
    stale = run_dir / ".manifest.json.abc123.tmp"
    stale.write_text("half a manifest")
    line = error_line(muspsy("resume", str(run_dir), "--quiet"))
    assert "events.jsonl" in line and "symlink" in line
    assert outside.read_text() == ""
    (run_dir / "events.jsonl").unlink()
    database = run_dir / "checkpoints.sqlite"
    database.rename(tmp_path / "elsewhere.sqlite")
    database.symlink_to(tmp_path / "elsewhere.sqlite")
    assert "checkpoints.sqlite: is a symlink" in error_line(muspsy("resume", str(run_dir), "--quiet"))
    database.unlink()
    (tmp_path / "elsewhere.sqlite").rename(database)
    resumed = muspsy("resume", str(run_dir), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert not stale.exists()


def test_an_unreachable_checkpointer_leaves_no_run_folder(tmp_path):
    result = muspsy(
        "run", str(PROFILES / "hannah-work-anxiety.yaml"), "--backend", "scripted",
        "--checkpointer", "postgresql://postgres@127.0.0.1:1/postgres", "--runs-dir", str(tmp_path / "runs"), "-q",
    )  # fmt: skip
    assert "cannot connect" in error_line(result)
    assert not list((tmp_path / "runs").glob("*/manifest.json"))


def test_importers_and_judge_prompts_never_write_into_a_run_folder(run_dir):
    arcs = run_dir / "arcs.jsonl"
    before = arcs.read_bytes()
    dialogues = sorted((Path(__file__).parent / "fixtures" / "import" / "muspsy").glob("*.txt"))
    attempts = [
        ("arcs", "import", "--format", "muspsy", *map(str, dialogues), "-o", str(arcs)),
        ("profiles", "import", "--format", "muspsy", str(dialogues[-1]), "-o", str(run_dir)),
        ("evaluate", str(run_dir), "--no-judges", "--record-prompts", str(arcs), "--quiet"),
    ]
    for args in attempts:
        assert "is inside the run folder" in error_line(muspsy(*args)), args
    assert arcs.read_bytes() == before and not list(run_dir.glob("*.yaml"))


def test_imports_and_extraction_replace_existing_outputs_only_with_force(tmp_path):
    fixtures = Path(__file__).parent / "fixtures" / "import"
    dialogues = sorted((fixtures / "muspsy").glob("dialogues_*.txt"))
    cards = sorted((fixtures / "muspsy").glob("usercards_*.txt"))
    report = fixtures / "reports" / "ines-exam-panic.md"
    folder, arcs = tmp_path / "profiles", tmp_path / "arcs.jsonl"
    folder.mkdir()
    (folder / "ines-exam-panic.yaml").write_text("mine\n")
    arcs.write_text("mine\n")
    first = ("profiles", "import", "--format", "muspsy", str(cards[0]), "-o", str(folder))
    assert muspsy(*first).returncode == 0
    written = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert "already holds" in error_line(muspsy(*first))
    # The unreachable endpoint shows the refusal comes before any extraction call is made.
    extract = ("profiles", "extract", str(report), "-o", str(folder), "--backend", "openai",
               "--model", "m", "--base-url", "http://127.0.0.1:1/v1")  # fmt: skip
    assert "ines-exam-panic.yaml" in error_line(muspsy(*extract))
    imported = ("arcs", "import", "--format", "muspsy", *map(str, dialogues), "-o", str(arcs))
    assert "file exists" in error_line(muspsy(*imported))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == written and arcs.read_text() == "mine\n"
    assert muspsy(*first, "--force").returncode == 0
    assert muspsy(*imported, "--force").returncode == 0 and arcs.read_text() != "mine\n"
