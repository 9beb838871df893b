"""Fuzzing the command line's inputs: profiles, configs, arcs files, damaged run folders, odd
paths and option values. Whatever comes in, a command exits 0, or 2 with one error line;
never a traceback. Derandomized and bounded (a few dozen examples each) so CI is reproducible.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import PROFILES
from muspsy.cli import app

pytestmark = pytest.mark.cli

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BASE = PROFILES / "hannah-work-anxiety.yaml"
SMALL = ["--sessions-max", "2", "--turns-max", "7", "--quiet"]

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**80)
    | st.floats(allow_nan=True)
    | st.text(max_size=40)
    | st.just("a" * 300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert_clean(result, args)
    return result


def assert_clean(result: Any, args: tuple[str, ...]) -> None:
    where = f"muspsy {' '.join(args)}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{where}: {type(result.exception).__name__}: {result.exception}") from result.exception
    assert result.exit_code in (0, 2), f"{where}: exit {result.exit_code}\n{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout, where
    if result.exit_code == 2:
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, f"{where}: expected one error line, got:\n{result.stderr}"


def mutate(data: Any, path: list[int], value: Any) -> Any:
    """`data` with the value at a pseudo-random key path (indices into keys) replaced."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    data[key] = mutate(data[key], path[1:], value)
    return data


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="muspsy-fuzz-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def finished_run(workspace: Path) -> Path:
    result = CliRunner().invoke(
        app, ["run", str(BASE), "--backend", "scripted", *SMALL, "--runs-dir", str(workspace / "runs")]
    )
    assert result.exit_code == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def fresh(workspace: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=workspace))


@FUZZ
@given(
    path=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=4),
    value=values,
    raw=st.none() | st.binary(max_size=300),
    suffix=st.sampled_from([".yaml", ".YAML", ".yml", ".Yml"]),
)
def test_profiles(workspace, path, value, raw, suffix):
    folder = fresh(workspace)
    data = mutate(yaml.safe_load(BASE.read_text(encoding="utf-8")), path, value)
    name = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else "x"
    target = folder / f"{name[:100] or 'x'}{suffix}".replace("/", "_")
    if raw is not None:
        target.write_bytes(raw)
    else:
        target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    invoke("profiles", "validate", str(target))
    invoke("profiles", "list", str(folder))


@FUZZ
@given(
    config=st.dictionaries(
        st.sampled_from(
            ["backend", "concurrency", "seed", "strategy", "limits", "models", "embedded", "prices", "language", "x"]
        ),
        values,
        max_size=4,
    ),
    raw=st.none() | st.binary(max_size=200),
)
def test_configs(workspace, config, raw):
    target = fresh(workspace) / "config.yaml"
    if raw is not None:
        target.write_bytes(raw)
    else:
        target.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    # A missing profile after the config: a valid config ends there, with one line, no run.
    result = invoke("run", str(target.parent / "none.yaml"), "--config", str(target), "--runs-dir", str(target.parent))
    assert result.exit_code == 2


@FUZZ
@given(
    path=st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5),
    value=values,
    tail=st.sampled_from(["", "{}\n", '{"torn": ', "not json\n", "[1, 2]\n", "\n\n"]),
    fmt=st.sampled_from(["openai", "sharegpt", "muspsy-tasks"]),
)
def test_arcs_files(workspace, finished_run, path, value, tail, fmt):
    folder = fresh(workspace)
    record = json.loads((finished_run / "arcs.jsonl").read_text(encoding="utf-8").splitlines()[0])
    source = folder / "arcs.jsonl"
    source.write_text(json.dumps(mutate(record, path, value), default=str) + "\n" + tail, encoding="utf-8")
    invoke("export", str(source), "--format", fmt, "-o", str(folder / "out.jsonl"), "--force", "-q")
    invoke("evaluate", str(source), "--no-judges", "-o", str(folder / "ev"), "--force", "-q")


def damage(run: Path, what: str, payload: bytes) -> None:
    name, _, how = what.partition(":")
    target = run / name
    if how == "delete":
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    elif how == "loop":
        target.unlink(missing_ok=True)
        target.symlink_to(target)
    elif how == "folder":
        target.unlink(missing_ok=True)
        target.mkdir()
    elif how == "append":
        with target.open("ab") as handle:
            handle.write(payload)
    else:
        target.write_bytes(payload)


@FUZZ
@given(
    what=st.sampled_from(
        [
            f"{name}:{how}"
            for name in ("manifest.json", "arcs.jsonl", "profiles.jsonl", "checkpoints.sqlite", "events.jsonl")
            for how in ("replace", "delete", "loop", "folder", "append")
        ]
        + ["transcripts:delete", "failed.jsonl:replace"]
    ),
    payload=st.sampled_from([b"", b"{}", b"{}\n", b"[]", b'{"schema": "muspsy.manifest/1"}', b"\x00\xff garbage"])
    | st.binary(max_size=100),
)
def test_damaged_run_folders(workspace, finished_run, what, payload):
    run = fresh(workspace) / finished_run.name
    shutil.copytree(finished_run, run, ignore=shutil.ignore_patterns(".lock"))
    damage(run, what, payload)
    invoke("status", str(run))
    invoke("export", str(run), "--format", "openai", "-o", str(run.parent / "out.jsonl"), "-q")
    invoke("resume", str(run), "--quiet")


def odd_paths(root: Path) -> dict[str, Path]:
    (root / "a-file").write_text("x")
    loop = root / "loop"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    fifo = root / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    return {
        "file": root / "a-file",
        "under-file": root / "a-file" / "runs",
        "dev-null": Path("/dev/null"),
        "loop": loop,
        "under-loop": loop / "x",
        "long": root / ("n" * 300),
        "fifo": fifo,
    }


@FUZZ
@given(
    runs_dir=st.sampled_from(["file", "under-file", "dev-null", "loop", "under-loop", "long", "fifo", "fine"]),
    seed=st.integers() | st.integers(min_value=2**62, max_value=2**90),
    concurrency=st.integers(min_value=-2, max_value=3) | st.integers(min_value=10**6, max_value=10**30),
    sessions=st.integers(min_value=-1, max_value=3) | st.integers(min_value=10**6, max_value=10**30),
    checkpointer=st.sampled_from([None, "sqlite", "mysql://x", "postgresql://[", "postgresql://u:p@127.0.0.1:1/x"]),
)
def test_run_paths_and_options(workspace, runs_dir, seed, concurrency, sessions, checkpointer):
    root = workspace / "odd"
    root.mkdir(exist_ok=True)
    paths = odd_paths(root)
    target = paths.get(runs_dir, fresh(workspace))
    args = ["run", str(BASE), "--backend", "scripted", "--turns-max", "7", "--quiet", "--runs-dir", str(target)]
    args += ["--seed", str(seed), "--concurrency", str(concurrency), "--sessions-max", str(sessions)]
    invoke(*args, *(["--checkpointer", checkpointer] if checkpointer else []))


@FUZZ
@given(out=st.sampled_from(["file", "under-file", "loop", "under-loop", "long", "fifo"]))
def test_output_paths(workspace, finished_run, out):
    root = workspace / "odd-out"
    root.mkdir(exist_ok=True)
    paths = odd_paths(root)
    for fmt in ("openai", "parquet"):
        invoke("export", str(finished_run), "--format", fmt, "-o", str(paths[out]), "--force", "-q")
    invoke("compare", str(finished_run), "-o", str(paths[out]), "--force")
    invoke("evaluate", str(finished_run), "--no-judges", "-o", str(paths[out]), "--force", "-q")


def test_a_fake_llm_port_in_use_is_one_line():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = invoke("dev", "fake-llm", "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 2 and "address already in use" in result.stderr
