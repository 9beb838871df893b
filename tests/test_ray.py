"""The Ray executor on a local Ray cluster (2 CPUs, 2 workers) and a throwaway Postgres: every
arc exactly once, a killed worker's arcs continued elsewhere, endpoint limits across workers,
no finished arc left in the checkpoint database, resume with either executor, and prompts
recorded by the workers as the local executor records them.

Ray starts once for the module (it is slow on two cores); arcs are tiny, against the fake
endpoint. Skipped without Ray or Postgres binaries, except in CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from conftest import PROFILES
from muspsy.config import build_config, resolved
from muspsy.profiles import load_profiles
from muspsy.promptlog import read_prompts
from muspsy.runfolder import RunFolder
from muspsy.runledger import current_arcs
from muspsy.runner import ExecutorOptions, resume_run, start_run
from muspsy.testing import FakeOpenAIServer, default_responder
from postgres_cluster import postgres_cluster, server_bin
from test_batch import arcs_of

pytestmark = pytest.mark.ray

if not os.environ.get("CI"):
    pytest.importorskip("ray")
    if server_bin() is None:
        pytest.skip("no Postgres server binaries on this machine", allow_module_level=True)

import ray  # noqa: E402

LIMIT_IN_FLIGHT = 2
LIMIT_PER_MINUTE = 1800.0
RAY = ExecutorOptions("ray", workers=2)


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def endpoint():
    with FakeOpenAIServer(latency_s=0.02) as server:
        yield server


def config_for(server: FakeOpenAIServer):
    return resolved(
        build_config(
            {
                "backend": "openai",
                "concurrency": 6,
                "arcs_per_profile": 1,
                "limits": {"sessions_max": 2, "turns_max": 5},
                "models": {
                    "default": {
                        "base_url": server.base_url,
                        "max_concurrent_requests": LIMIT_IN_FLIGHT,
                        "requests_per_minute": LIMIT_PER_MINUTE,
                    }
                },
            },
            "test",
        )
    )


PROFILE_FILES = sorted(PROFILES.glob("*.yaml"))[:4]


def comparable(arcs: list[dict]) -> dict[str, dict]:
    """Records without what differs between two runs of the same plan: ids, times, timings."""
    out = {}
    for arc in arcs:
        arc = {k: v for k, v in arc.items() if k not in ("run_id", "provenance")}
        arc["usage"] = {role: {k: v for k, v in u.items() if k != "llm_seconds"} for role, u in arc["usage"].items()}
        out[arc["arc_id"]] = arc
    return out


async def threads_left(postgres_url: str, run_id: str) -> int:
    import psycopg

    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        cursor = await conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id LIKE %s", (f"{run_id}/%",))
        (count,) = await cursor.fetchone()
    return int(count)


async def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, ray_cluster, postgres_url):
    """One uninterrupted Ray run: its folder, and what the endpoint saw."""
    runs = tmp_path_factory.mktemp("reference")
    with FakeOpenAIServer(latency_s=0.02) as server:
        result = asyncio.run(
            start_run(load_profiles(PROFILE_FILES), config_for(server), runs, checkpointer=postgres_url, executor=RAY)
        )
        arrivals, max_in_flight = list(server.arrivals), server.max_in_flight
    return result, arrivals, max_in_flight


def test_a_ray_run_writes_every_arc_once_within_the_endpoint_limits_and_leaves_no_checkpoints(reference, postgres_url):
    result, arrivals, max_in_flight = reference
    arcs = arcs_of(result.run_dir)
    assert sorted(a["arc_id"] for a in arcs) == sorted(result.finished)
    assert len({a["arc_id"] for a in arcs}) == len(arcs) == len(PROFILE_FILES)
    manifest = RunFolder(result.run_dir).read_manifest()
    assert manifest["status"] == "completed" and manifest["counts"]["finished"] == len(arcs)
    assert manifest["attempts"][-1]["executor"] == "ray"
    # Both workers had their one slot busy at once, and never more than the endpoint's two.
    assert max_in_flight == LIMIT_IN_FLIGHT
    # The request rate over the run stays under the per-minute limit (each worker paces half).
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert rate <= LIMIT_PER_MINUTE / 60 * 1.05
    assert asyncio.run(threads_left(postgres_url, manifest["run_id"])) == 0


async def test_killing_a_worker_mid_run_still_gives_every_arc_once_and_the_same_records(
    tmp_path, reference, postgres_url, endpoint
):
    run = asyncio.create_task(
        start_run(load_profiles(PROFILE_FILES), config_for(endpoint), tmp_path, checkpointer=postgres_url, executor=RAY)
    )

    def worker_0_is_mid_arc() -> bool:
        folders = list(tmp_path.iterdir())
        if not folders or not (folders[0] / "manifest.json").exists() or endpoint.requests < 20:
            return False
        folder = RunFolder(folders[0])
        arcs = current_arcs(folder, folder.read_manifest())
        return any(entry.get("worker") == "worker-0" and entry["status"] == "running" for entry in arcs.values())

    await wait_for(worker_0_is_mid_arc)
    ray.kill(ray.get_actor(f"muspsy-{next(tmp_path.iterdir()).name}-worker-0"))
    result = await run
    assert not result.failed
    arcs = arcs_of(result.run_dir)
    assert comparable(arcs) == comparable(arcs_of(reference[0].run_dir))
    events = [json.loads(line) for line in (result.run_dir / "events.jsonl").read_text().splitlines()]
    assert {"worker_lost"} == {e["event"] for e in events if e.get("worker") == "worker-0"} - {"arc_started"}
    # The arcs worker-0 was running when it died were started again on another worker.
    started = [(e["arc"], e["worker"]) for e in events if e["event"] == "arc_started"]
    lost = {arc for arc, worker in started if worker == "worker-0"}
    assert lost and all(any(a == arc and w != "worker-0" for a, w in started) for arc in lost)


async def test_a_ray_run_resumes_with_either_executor(tmp_path, reference, postgres_url, endpoint):
    async def interrupt_after_one_more_arc(coroutine) -> None:
        finished = len(arcs_of_or_none()) + 1
        task = asyncio.create_task(coroutine)
        await wait_for(lambda: len(arcs_of_or_none()) >= finished)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def arcs_of_or_none() -> list[dict]:
        folders = list(tmp_path.iterdir())
        return arcs_of(folders[0]) if folders and (folders[0] / "arcs.jsonl").exists() else []

    profiles = load_profiles(PROFILE_FILES)
    # Few arcs in flight, so an arc is still running when the next one has finished and the
    # interrupt always finds work left (arcs of one plan finish close together).
    few_at_once = config_for(endpoint).model_copy(update={"concurrency": 2})
    await interrupt_after_one_more_arc(
        start_run(profiles, few_at_once, tmp_path, checkpointer=postgres_url, executor=RAY)
    )
    (run_dir,) = tmp_path.iterdir()
    assert RunFolder(run_dir).read_manifest()["status"] == "interrupted"
    # Continued by one local process from the same Postgres, interrupted again, then by Ray.
    await interrupt_after_one_more_arc(resume_run(run_dir, overrides={"concurrency": 1}))
    result = await resume_run(run_dir, executor=RAY)
    assert result.already_done >= 2 and not result.failed
    manifest = RunFolder(run_dir).read_manifest()
    assert [a["executor"] for a in manifest["attempts"]] == ["ray", "local", "ray"]
    assert manifest["status"] == "completed"
    assert comparable(arcs_of(run_dir)) == comparable(arcs_of(reference[0].run_dir))
    assert await threads_left(postgres_url, manifest["run_id"]) == 0


LEAKED = "sk-test-leaked-in-dialogue-0123456789"


def a_key_in_the_dialogue(schema, messages):
    """The client quotes a key-shaped token: every later prompt carries it."""
    reply = default_responder(schema, messages)
    if schema == "ClientTurnOutput" and isinstance(reply, dict):
        reply = {**reply, "text": f"{reply['text']} My token is {LEAKED}."}
    return reply


def prompt_lines(run_dir) -> list[dict]:
    return sorted(
        ({k: v for k, v in line.items() if k != "run"} for line in read_prompts(run_dir / "prompts.jsonl")), key=repr
    )


def test_prompts_recorded_by_ray_workers_are_the_local_executors_and_redacted(tmp_path, ray_cluster, postgres_url):
    profiles = load_profiles(PROFILE_FILES[:2])
    with FakeOpenAIServer(responder=a_key_in_the_dialogue, latency_s=0.02) as server:
        config = config_for(server).model_copy(update={"record_prompts": True})
        local = asyncio.run(start_run(profiles, config, tmp_path / "local", checkpointer=postgres_url))
        on_ray = asyncio.run(start_run(profiles, config, tmp_path / "ray", checkpointer=postgres_url, executor=RAY))
    assert not local.failed and not on_ray.failed
    lines = prompt_lines(on_ray.run_dir)
    events = [json.loads(x) for x in (on_ray.run_dir / "events.jsonl").read_text().splitlines()]
    assert len(lines) == sum(e["event"] == "llm_call" for e in events)
    assert lines == prompt_lines(local.run_dir)
    assert {line["run"] for line in read_prompts(on_ray.run_dir / "prompts.jsonl")} == {on_ray.run_dir.name}
    text = (on_ray.run_dir / "prompts.jsonl").read_text()
    assert LEAKED not in text and "My token is ***" in text
