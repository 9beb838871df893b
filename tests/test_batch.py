"""Durable batches against the fake OpenAI server: kills and resumes, injected faults, config
changes, status, accounting."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from itertools import pairwise
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.records import ArcRecord
from muspsy.runfolder import RunFolder
from muspsy.runledger import current_arcs
from muspsy.testing import FakeOpenAIServer

pytestmark = pytest.mark.cli

SMALL = ["--sessions-max", "2", "--turns-max", "7"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=clean_env(), timeout=600)


def arcs_of(run_dir: Path) -> list[dict]:
    lines = (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]  # every line must parse: no torn line


def recorded_calls(arcs: list[dict]) -> int:
    return sum(int(usage["calls"]) for arc in arcs for usage in arc["usage"].values())


def the_run_dir(runs: Path) -> Path:
    (run_dir,) = list(runs.iterdir())
    return run_dir


def wait_until_arcs_run(runs: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until the batch has started arcs (so a kill lands mid-run), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be killed"
        for manifest in runs.glob("*/manifest.json"):
            try:
                data = json.loads(manifest.read_text())
            except ValueError:
                continue  # being replaced right now
            ours = data["attempts"] and data["attempts"][-1]["pid"] == process.pid
            if ours and any(
                arc["status"] == "running" for arc in current_arcs(RunFolder(manifest.parent), data).values()
            ):
                return
        time.sleep(0.05)
    raise AssertionError("no arc started in time")


def test_kill_nine_at_random_moments_then_resume_loses_and_duplicates_nothing(tmp_path):
    rng = random.Random(2026)
    concurrency = 4
    kills = 0
    with FakeOpenAIServer(latency_s=0.1) as server:
        command = [
            "muspsy", "run", str(PROFILES), "--backend", "openai", "--base-url", server.base_url,
            "--arcs-per-profile", "2", "--concurrency", str(concurrency), "--sessions-max", "3", "--turns-max", "9",
            "--runs-dir", str(tmp_path), "--quiet",
        ]  # fmt: skip
        process = subprocess.Popen(command, env=clean_env(), stdout=subprocess.DEVNULL)
        for _ in range(4):
            wait_until_arcs_run(tmp_path, process)
            time.sleep(rng.uniform(0.0, 2.0))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
            run_dir = the_run_dir(tmp_path)
            process = subprocess.Popen(
                ["muspsy", "resume", str(run_dir), "--quiet"], env=clean_env(), stdout=subprocess.DEVNULL
            )
        assert process.wait(timeout=600) == 0
        requests = server.requests
    assert kills >= 3, "the kills should land while the batch is still running"
    arcs = arcs_of(run_dir)
    ids = [a["arc_id"] for a in arcs]
    assert len(ids) == len(set(ids)) == 12
    for arc in arcs:
        ArcRecord.model_validate(arc)
    # Nothing was lost or altered: the same batch, uninterrupted, gives the same sessions.
    reference = muspsy(
        "run", str(PROFILES), "--backend", "scripted", "--arcs-per-profile", "2", "--sessions-max", "3",
        "--turns-max", "9", "--runs-dir", str(tmp_path / "reference"),
    )  # fmt: skip
    assert reference.returncode == 0, reference.stderr
    expected = {a["arc_id"]: a["sessions"] for a in arcs_of(Path(reference.stdout.strip().splitlines()[-1]))}
    assert {a["arc_id"]: a["sessions"] for a in arcs} == expected
    # Every call that was paid for is in some record, except at most one per arc in flight per kill.
    wasted = requests - recorded_calls(arcs)
    assert 0 <= wasted <= kills * concurrency, (requests, recorded_calls(arcs), kills)
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "completed"


def test_resuming_a_finished_run_calls_nothing(tmp_path):
    with FakeOpenAIServer() as server:
        first = muspsy(
            "run", str(PROFILES / "mateo-social-anxiety.yaml"), "--backend", "openai", "--base-url", server.base_url,
            *SMALL, "--runs-dir", str(tmp_path),
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        before = server.requests
        run_dir = Path(first.stdout.strip().splitlines()[-1])
        again = muspsy("resume", str(run_dir))
        assert again.returncode == 0, again.stderr
        assert server.requests == before
    assert "1 were already done" in again.stderr
    assert len(arcs_of(run_dir)) == 1


def test_twenty_percent_faults_of_every_kind_lose_nothing(tmp_path):
    config = tmp_path / "faulty.yaml"
    config.write_text(
        "structured_retries: 4\nmodels:\n  default:\n    timeout_s: 1.0\n    max_retries: 8\n",
        encoding="utf-8",
    )
    profiles = sorted(PROFILES.glob("*.yaml"))[:5]
    with FakeOpenAIServer(fault_rate=0.2, hang_s=1.5, retry_after_ms=20, seed=7) as server:
        result = muspsy(
            "run", *map(str, profiles), "--backend", "openai", "--base-url", server.base_url, "--config", str(config),
            "--arcs-per-profile", "4", "--concurrency", "8", *SMALL, "--runs-dir", str(tmp_path / "runs"),
        )  # fmt: skip
        injected = dict(server.faults_injected)
    assert result.returncode == 0, result.stderr
    assert all(count > 0 for count in injected.values()), injected
    arcs = arcs_of(Path(result.stdout.strip().splitlines()[-1]))
    assert len({a["arc_id"] for a in arcs}) == len(arcs) == 20
    for arc in arcs:
        assert len(arc["sessions"]) == 2
    assert sum(a["usage"][role]["retries"] for a in arcs for role in a["usage"]) > 0  # malformed JSON was re-asked


def test_resume_refuses_a_changed_config_unless_forced(tmp_path):
    with FakeOpenAIServer() as server:
        first = muspsy(
            "run", str(PROFILES / "hannah-work-anxiety.yaml"), "--backend", "openai", "--base-url", server.base_url,
            *SMALL, "--runs-dir", str(tmp_path / "runs"),
        )  # fmt: skip
        assert first.returncode == 0, first.stderr
        run_dir = Path(first.stdout.strip().splitlines()[-1])
        changed = tmp_path / "changed.yaml"
        changed.write_text("limits:\n  turns_max: 9\n", encoding="utf-8")
        refused = muspsy("resume", str(run_dir), "--config", str(changed))
        assert refused.returncode == 2
        (line,) = refused.stderr.strip().splitlines()
        assert "config_fingerprint" in line and "--force" in line
        # How a run executes is not what it produces: more concurrency needs no --force.
        assert muspsy("resume", str(run_dir), "--concurrency", "16").returncode == 0
        forced = muspsy("resume", str(run_dir), "--config", str(changed), "--force")
        assert forced.returncode == 0, forced.stderr
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["forced_from_fingerprint"] and manifest["config"]["limits"]["turns_max"] == 9
    assert len(arcs_of(run_dir)) == 1


def test_status_reports_each_kind_of_arc(tmp_path):
    def refuses_grace(schema, messages):
        from muspsy.testing import default_responder

        if "Grace" in str(messages[0].content) and schema == "ClientTurnOutput":
            return "no"
        return default_responder(schema, messages)

    with FakeOpenAIServer(responder=refuses_grace) as server:
        result = muspsy(
            "run", str(PROFILES / "grace-okonkwo-widowhood.yaml"), str(PROFILES / "hannah-work-anxiety.yaml"),
            "--backend", "openai", "--base-url", server.base_url, *SMALL, "--runs-dir", str(tmp_path),
        )  # fmt: skip
    assert result.returncode == 1
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    status = muspsy("status", str(run_dir))
    assert status.returncode == 0
    assert "1 finished" in status.stdout and "1 failed" in status.stdout
    assert "failed grace-okonkwo-widowhood--cbt--seed0: StructuredOutputError" in status.stdout
    assert f"muspsy resume {run_dir}" in status.stdout
    assert muspsy("status", str(tmp_path / "nope")).returncode == 2


def test_prices_give_an_estimated_cost(tmp_path):
    config = tmp_path / "priced.yaml"
    config.write_text(
        "models:\n  default:\n    model: fake-mini\nprices:\n  fake-mini:\n"
        "    prompt_per_million: 0.5\n    completion_per_million: 2.0\n",
        encoding="utf-8",
    )
    with FakeOpenAIServer() as server:
        result = muspsy(
            "run", str(PROFILES / "mateo-social-anxiety.yaml"), "--backend", "openai", "--base-url", server.base_url,
            "--config", str(config), *SMALL, "--runs-dir", str(tmp_path / "runs"),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    manifest = json.loads((Path(result.stdout.strip().splitlines()[-1]) / "manifest.json").read_text())
    usage = manifest["usage"]
    expected = sum(u["prompt_tokens"] * 0.5e-6 + u["completion_tokens"] * 2e-6 for u in usage.values())
    assert manifest["estimated_cost_usd"]["total"] == pytest.approx(expected, abs=1e-5)
    assert expected > 0
    assert "estimated cost $" in result.stderr


def test_arcs_per_profile_gives_distinct_seeds_and_ids(tmp_path):
    result = muspsy(
        "run", str(PROFILES / "ryan-drinking-ambivalent.yaml"), "--backend", "scripted", "--arcs-per-profile", "3",
        "--seed", "10", "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    arcs = arcs_of(Path(result.stdout.strip().splitlines()[-1]))
    assert sorted(a["provenance"]["seed"] for a in arcs) == [10, 11, 12]
    assert len({a["arc_id"] for a in arcs}) == 3


@pytest.mark.unit
def test_a_torn_last_line_is_cut_and_whole_lines_are_kept(tmp_path):
    from muspsy.runfolder import read_lines, repair_tail

    path = tmp_path / "arcs.jsonl"
    path.write_text('{"arc_id": "a"}\n{"arc_id": "b"}\n{"arc_id": "c", "sess', encoding="utf-8")
    assert repair_tail(path)
    assert [line["arc_id"] for line in read_lines(path)] == ["a", "b"]
    assert not repair_tail(path)
    path.write_text('{"arc_id": "a"}\n{"arc_id": \n', encoding="utf-8")  # newline written, JSON not whole
    assert repair_tail(path)
    assert path.read_text(encoding="utf-8") == '{"arc_id": "a"}\n'


@pytest.mark.unit
async def test_endpoint_limiter_caps_requests_in_flight_and_per_minute():
    import asyncio

    from muspsy.ratelimit import EndpointLimiter

    limiter = EndpointLimiter(max_concurrent=2)
    in_flight = peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with limiter:
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(request() for _ in range(10)))
    assert peak == 2

    paced = EndpointLimiter(requests_per_minute=600)  # one start every 0.1 s
    starts: list[float] = []

    async def timed() -> None:
        async with paced:
            starts.append(time.monotonic())

    await asyncio.gather(*(timed() for _ in range(4)))
    gaps = [b - a for a, b in pairwise(starts)]
    assert all(gap >= 0.09 for gap in gaps), gaps


def test_fake_llm_command_serves_until_terminated():
    import urllib.request

    server = subprocess.Popen(
        ["muspsy", "dev", "fake-llm", "--latency-ms", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        body = {
            "model": "m",
            "messages": [{"role": "user", "content": "Session 1, turn 2."}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "ClientTurnOutput", "schema": {}}},
        }
        request = urllib.request.Request(
            f"{base_url}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            reply = json.loads(response.read())
        content = json.loads(reply["choices"][0]["message"]["content"])
        assert set(content) == {"text", "risk", "disclosed"} and reply["usage"]["prompt_tokens"] > 0
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "served 1 request(s)" in stderr


def test_progress_lines_when_not_a_terminal(tmp_path):
    result = muspsy(
        "run", str(PROFILES / "hannah-work-anxiety.yaml"), "--backend", "scripted", *SMALL, "--runs-dir", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert "arcs 1/1 finished, 0 failed; sessions 2, turns " in result.stderr
    quiet = muspsy(
        "run", str(PROFILES / "hannah-work-anxiety.yaml"), "--backend", "scripted", *SMALL,
        "--runs-dir", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert Path(quiet.stdout.strip()).is_dir()


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    with FakeOpenAIServer(latency_s=0.1) as server:
        command = [
            "muspsy", "run", str(PROFILES), "--backend", "openai", "--base-url", server.base_url,
            *SMALL, "--runs-dir", str(tmp_path),
        ]  # fmt: skip
        process = subprocess.Popen(command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until_arcs_run(tmp_path, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130
        assert "Traceback" not in stderr
        run_dir = the_run_dir(tmp_path)
        assert f"muspsy resume {run_dir}" in stderr
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
        resumed = muspsy("resume", str(run_dir))
        assert resumed.returncode == 0, resumed.stderr
    assert len(arcs_of(run_dir)) == len(list(PROFILES.glob("*.yaml")))


def test_a_bad_checkpointer_url_fails_before_anything_is_written(tmp_path):
    result = muspsy(
        "run", "--backend", "scripted", "--checkpointer", "mysql://x@y/z", "--runs-dir", str(tmp_path / "r")
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--checkpointer" in line and "postgresql://" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.unit
async def test_roles_on_one_endpoint_share_one_limiter_and_one_client():
    import asyncio
    from contextlib import AsyncExitStack

    from muspsy.backends import open_models
    from muspsy.config import RunConfig

    config = RunConfig.model_validate(
        {
            "backend": "openai",
            "models": {
                "default": {"base_url": "http://127.0.0.1:9/v1", "max_concurrent_requests": 8},
                "supervisor": {"max_concurrent_requests": 3},
            },
        }
    )
    async with AsyncExitStack() as stack:
        models = (await open_models(config, stack)).models
    limiters = {id(m.limiter) for m in models.values()}
    assert len(limiters) == 1 and models["client"].limiter is not None
    limiter = models["client"].limiter
    held = [await limiter.__aenter__() for _ in range(3)]  # the tightest limit on the endpoint wins
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.__aenter__(), timeout=0.05)
    for slot in held:
        await slot.__aexit__(None, None, None)
    assert models["client"].chat is models["counselor"].chat  # equal settings, one client


@pytest.mark.unit
async def test_an_arc_stopped_right_after_its_input_checkpoint_starts_afresh_on_resume(tmp_path):
    import sqlite3
    from contextlib import AsyncExitStack

    from muspsy.agents.spec import load_strategy
    from muspsy.checkpointers import open_checkpointer
    from muspsy.config import RunConfig
    from muspsy.graphs.arc import build_arc_graph
    from muspsy.runfolder import RunFolder
    from muspsy.runner import initial_arc_state
    from muspsy.testing import scripted_models

    first = muspsy(
        "run", str(PROFILES / "hannah-work-anxiety.yaml"), "--backend", "scripted", *SMALL, "--runs-dir", str(tmp_path)
    )
    run_dir = Path(first.stdout.strip().splitlines()[-1])
    (arc,) = arcs_of(run_dir)
    thread_id = f"{arc['run_id']}/{arc['arc_id']}"
    # Make it look as if the process died just after checkpointing the arc's input.
    (run_dir / "arcs.jsonl").write_text("", encoding="utf-8")
    with sqlite3.connect(run_dir / "checkpoints.sqlite") as db:
        db.execute("DELETE FROM checkpoints")
        db.execute("DELETE FROM writes")
    folder = RunFolder(run_dir)
    config = RunConfig.model_validate(json.loads((run_dir / "manifest.json").read_text())["config"])
    async with AsyncExitStack() as stack:
        saver = await open_checkpointer(stack, folder, None)
        graph = build_arc_graph(scripted_models(), load_strategy("cbt")).compile(checkpointer=saver)
        start = initial_arc_state(arc["run_id"], folder.read_profiles()["hannah-work-anxiety"], config)
        thread = {"configurable": {"thread_id": thread_id}}
        stream = graph.astream(start, thread, stream_mode="checkpoints", durability="sync")
        await anext(stream)  # the empty first checkpoint is written; stop before any node runs
        await stream.aclose()
        empty = await graph.aget_state(thread)
        # ... and the input's writes were saved, but not the checkpoint that follows them: a
        # state with values and no next node, seen after a Ctrl-C under load.
        await saver.aput_writes(empty.config, list(start.items()), empty.tasks[0].id)
        snapshot = await graph.aget_state(thread)
        assert snapshot.values and not snapshot.next and "plan" not in snapshot.values
    resumed = muspsy("resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    (again,) = arcs_of(run_dir)
    assert again["sessions"] == arc["sessions"]
