"""Throughput benchmark against the fake OpenAI server (a separate process, fixed latency).

Prints, side by side in one run:
1. client-process CPU time per LLM call for whole arcs with SQLite checkpoints, next to bare
   `ChatOpenAI` structured calls with the same prompts (the floor: the HTTP client's own cost);
2. throughput efficiency (achieved calls/s over the ideal in-flight arcs / latency) at several
   numbers of concurrent arcs;
3. the counselor's prompt tokens by session index over a 10-session arc, next to a naive
   full-history baseline that puts every earlier session's dialogue in the prompt.

    python benchmarks/throughput.py            # the full run (a few minutes)
    python benchmarks/throughput.py --quick    # smaller, for a smoke check
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from langchain_core.messages import BaseMessage

from muspsy.agents import outputs
from muspsy.backends.openai_chat import openai_chat_model
from muspsy.config import Limits, ModelSettings, RunConfig
from muspsy.llm import request_options
from muspsy.profiles import load_profiles
from muspsy.runner import start_run
from muspsy.simulate import simulate_arc
from muspsy.testing import scripted_models

SMALL_ARC = {"sessions_min": 2, "sessions_max": 2, "turns_min": 7, "turns_max": 7}


def start_fake_server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "muspsy.cli", "dev", "fake-llm", "--latency-ms", str(latency_ms)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def config_for(base_url: str, concurrency: int, limits: dict[str, int]) -> RunConfig:
    return RunConfig.model_validate(
        {
            "backend": "openai",
            "concurrency": concurrency,
            "limits": limits,
            "models": {"default": {"base_url": base_url, "model": "fake", "max_retries": 0, "timeout_s": 60}},
        }
    )


async def run_arcs(base_url: str, arcs: int, concurrency: int, runs_dir: Path) -> tuple[int, float, float]:
    """(LLM calls, wall seconds, CPU seconds) for `arcs` arcs with SQLite checkpoints."""
    profiles = load_profiles()[:1]
    config = config_for(base_url, concurrency, SMALL_ARC).model_copy(update={"arcs_per_profile": arcs})
    os.environ.pop("OPENAI_API_KEY", None)
    wall, cpu = time.perf_counter(), time.process_time()
    result = await start_run(profiles, config, runs_dir)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert not result.failed, result.failed
    manifest = (result.run_dir / "manifest.json").read_text()
    import json

    usage = json.loads(manifest)["usage"]
    calls = int(sum(u["calls"] for u in usage.values()))
    return calls, wall, cpu


async def recorded_prompts(arcs: int) -> list[tuple[str, list[BaseMessage]]]:
    """The exact prompts of `arcs` small arcs, recorded on the scripted backend."""
    profile = load_profiles()[0]
    calls: list[tuple[str, list[BaseMessage]]] = []
    for seed in range(arcs):
        models = scripted_models()
        await simulate_arc(profile, models, limits=Limits(**SMALL_ARC), seed=seed)
        for model in models.values():
            calls += model.chat.calls  # type: ignore[attr-defined]
    return calls


async def bare_calls(
    base_url: str, prompts: list[tuple[str, list[BaseMessage]]], concurrency: int, *, as_body: bool
) -> float:
    """CPU seconds for the same requests made with bare ChatOpenAI: same messages, same JSON
    schema, reply parsed into the same pydantic model; no graph. `as_body=False` passes the
    schema as `response_format=` (what a user of ChatOpenAI writes); `as_body=True` sends it as
    raw body fields, as muspsy does."""
    chat = openai_chat_model(ModelSettings(model="fake", base_url=base_url, max_retries=0, timeout_s=60), "x")
    slots = asyncio.Semaphore(concurrency)

    async def one(name: str, messages: list[BaseMessage]) -> None:
        schema = getattr(outputs, name)
        options = request_options(schema, "json_schema")
        async with slots:
            reply = await chat.ainvoke(messages, **({"extra_body": options} if as_body else options))
        schema.model_validate_json(reply.content)

    cpu = time.process_time()
    await asyncio.gather(*(one(schema, messages) for schema, messages in prompts))
    return time.process_time() - cpu


async def counselor_tokens_by_session(sessions: int) -> tuple[dict[int, float], dict[int, float]]:
    """Mean prompt words of counselor calls per session, muspsy's prompts vs the naive baseline."""
    profile = load_profiles()[0]
    models = scripted_models()
    limits = Limits(sessions_min=sessions, sessions_max=sessions, turns_min=20, turns_max=21)
    record = await simulate_arc(profile, models, limits=limits)
    dialogue_words = [sum(len(t.text.split()) + 1 for t in s.turns) for s in record.sessions]
    ours: dict[int, list[int]] = defaultdict(list)
    naive: dict[int, list[int]] = defaultdict(list)
    session = 0
    for schema, messages in models["counselor"].chat.calls:  # type: ignore[attr-defined]
        if schema == "OpeningOutput":
            session += 1
        words = sum(len(str(m.content).split()) for m in messages)
        ours[session].append(words)
        naive[session].append(words + sum(dialogue_words[: session - 1]))
    return (
        {k: statistics.mean(v) for k, v in ours.items()},
        {k: statistics.mean(v) for k, v in naive.items()},
    )


async def main(quick: bool) -> None:
    latency_ms = 500.0
    levels = [1, 4, 16] if quick else [1, 16, 64, 256]
    cpu_arcs = 8 if quick else 32
    print(f"fake server: separate process, {latency_ms:.0f} ms per call; arcs of 2 sessions x 7 turns")
    server, base_url = start_fake_server(latency_ms)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("\n1. client CPU per LLM call (same prompts, same concurrency, after a warm-up of each)")
            # Warm-ups first: the first run in a process pays one-off imports and caches
            # (about 1 s of CPU here), which are not a per-call cost.
            await run_arcs(base_url, 2, 2, Path(tmp) / "warm-up")
            calls, _, cpu = await run_arcs(base_url, cpu_arcs, 16, Path(tmp) / "cpu")
            prompts = await recorded_prompts(cpu_arcs)
            for as_body in (False, True):
                await bare_calls(base_url, prompts[:40], 16, as_body=as_body)
            bare = await bare_calls(base_url, prompts, 16, as_body=False)
            body = await bare_calls(base_url, prompts, 16, as_body=True)
            arc_ms, bare_ms, body_ms = (
                x / n * 1000 for x, n in ((cpu, calls), (bare, len(prompts)), (body, len(prompts)))
            )
            print(f"   whole arcs, SQLite checkpoints:       {arc_ms:6.2f} ms/call over {calls} calls")
            print(f"   bare ChatOpenAI, response_format=:    {bare_ms:6.2f} ms/call over {len(prompts)} calls")
            print(f"   bare ChatOpenAI, schema as body field: {body_ms:5.2f} ms/call (what muspsy sends)")
            print(f"   ratio to bare response_format=: {arc_ms / bare_ms:.2f}x (target <= 1.5x)")
            print(f"   ratio to the same request bare: {arc_ms / body_ms:.2f}x (graph, checkpoints, prompts, events)")

            print("\n2. throughput efficiency = achieved calls/s / (arcs in flight / latency)")
            print(f"   {'arcs':>5} {'calls':>6} {'wall s':>7} {'calls/s':>8} {'ideal':>7} {'eff.':>5} {'cpu %':>6}")
            for level in levels:
                calls, wall, cpu = await run_arcs(base_url, level, level, Path(tmp) / f"level{level}")
                achieved = calls / wall
                ideal = level / (latency_ms / 1000)
                print(
                    f"   {level:>5} {calls:>6} {wall:>7.1f} {achieved:>8.1f} {ideal:>7.1f} "
                    f"{achieved / ideal:>5.2f} {cpu / wall * 100:>5.0f}%"
                )
    finally:
        server.terminate()
        server.wait()

    sessions = 10
    ours, naive = await counselor_tokens_by_session(sessions)
    print(f"\n3. counselor prompt size by session ({sessions}-session arc, sessions of 21 turns; words)")
    print(f"   {'session':>7} {'muspsy':>7} {'naive':>7}")
    for index in sorted(ours):
        print(f"   {index:>7} {ours[index]:>7.0f} {naive[index]:>7.0f}")
    print(
        f"   session {sessions} / session 1: muspsy {ours[sessions] / ours[1]:.2f}x (target <= 1.3x), "
        f"naive {naive[sessions] / naive[1]:.2f}x (>= 5x expected)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer arcs and levels")
    asyncio.run(main(parser.parse_args().quick))
