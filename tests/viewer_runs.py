"""A small paired run for the viewer tests, with hostile text planted in it, and the viewer
started as a user starts it (`muspsy view ... --port 0`)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import PROFILES

# The profiles give a crisis branch with overrides (graham), a dropout (zhou under mi, seed 0) and a plain arc.
NAMES = ("graham-chronic-pain-risk", "zhou-lihua-job-loss", "hannah-work-anxiety")
PAIRED = [PROFILES / f"{name}.yaml" for name in NAMES]
SCRIPT = "<script>window.__planted = 1; alert('planted')</script>"
IMAGE = '<img src="x" onerror="window.__planted = 2">'


def muspsy(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=timeout)


def read_arcs(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()]


def write_arcs(run_dir: Path, arcs: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in arcs)
    (run_dir / "arcs.jsonl").write_text(text, encoding="utf-8")


def paired_run(runs_dir: Path) -> Path:
    """cbt and mi on three clients (six arcs); the first arc's first client turn, memo and a
    field of a newer schema carry markup that must never reach a page as markup."""
    result = muspsy(
        "run", *map(str, PAIRED), "--backend", "scripted", "--strategy", "cbt,mi", "--sessions-min", "2",
        "--sessions-max", "3", "--turns-max", "9", "--runs-dir", str(runs_dir), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    arcs = read_arcs(run_dir)
    first = arcs[0]["sessions"][0]
    first["turns"][1]["text"] = f"I feel {SCRIPT} and {IMAGE} today."
    first["memo"]["summary"] = f"Summary with {SCRIPT}"
    first["future_field"] = {"felt_heard": 4, "note": IMAGE}  # a field the viewer has no view for
    write_arcs(run_dir, arcs)
    return run_dir


@contextmanager
def viewer(*sources: Path) -> Iterator[str]:
    """`muspsy view SOURCES --port 0` running; yields its address."""
    process = subprocess.Popen(
        ["muspsy", "view", *map(str, sources), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address.startswith("http://127.0.0.1:"), (address, process.stderr.read() if process.stderr else "")
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def mark_running(run_dir: Path, pid: int) -> None:
    """Make the run look like one a live process (`pid`) is still writing."""
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["status"] = "running"
    manifest["attempts"][-1] = {"started_at": manifest["attempts"][-1]["started_at"], "pid": pid}
    path.write_text(json.dumps(manifest), encoding="utf-8")


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
