"""The quickstart arc on the embedded model, measured side by side in one run.

    python benchmarks/embedded.py             # before (old server settings) and after, idle
    python benchmarks/embedded.py --busy      # also: after, with busy loops on every core
    python benchmarks/embedded.py --only after --busy
    python benchmarks/embedded.py --only after q4_1 --no-floor   # the Q8_0 copy against the shipped Q4_1
    python benchmarks/embedded.py --only after --baseline main   # main's prompts and code, then these
    python benchmarks/embedded.py --only after --baseline main --side-by-side --no-floor  # at once

Each variant runs in its own process (OpenMP reads its wait policy once per process):
`muspsy run profiles/hannah-work-anxiety.yaml --sessions-max 2 --turns-max 7` on the embedded
backend, as the README's first command does. The child records every request the arc sends
(through a LangChain callback hook, nothing patched) and afterwards sends the very same
requests bare to a fresh server with the same settings: that is the floor, what llama.cpp
alone needs for these prompts. Printed per variant: the arc's wall time, per call the prompt
tokens processed and reused from the server's cache, the generation rate, and the floor.

"before" reproduces the settings before issue 12: two unpinned slots, llama.cpp's own thread
count, OpenMP's default spin-wait, full-length answers and windows, JSON through
`response_format`, the shipped Q4_1 weights, a 300 s timeout with two retries. "q4_1" is
"after" with the shipped Q4_1 weights instead of their Q8_0 copy.
`--baseline REF` adds a variant run from git revision REF's tree (its code, prompts and
defaults, exported with `git archive`), first: the deterministic counts (prompt tokens
processed and reused per role, completion tokens, calls) compare the two under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "hannah-work-anxiety.yaml"
LIMITS = {"sessions_max": 2, "turns_max": 7}
VARIANTS: dict[str, dict[str, Any]] = {
    "before": {
        "config": {
            "embedded": {
                "parallel": 2,
                "threads": 0,
                "slot_per_role": False,
                "compact": False,
                "weights": "as_shipped",
            },
            "models": {"default": {"timeout_s": 300, "max_retries": 2, "structured_method": "json_schema"}},
        },
        # libgomp's default spin count when no wait policy is set: the old behaviour.
        "env": {"GOMP_SPINCOUNT": "300000"},
    },
    "after": {"config": {}, "env": {}},
    # The defaults with the weights as installed (Q4_1) instead of the Q8_0 copy.
    "q4_1": {"config": {"embedded": {"weights": "as_shipped"}}, "env": {}},
}


def busy_loop() -> None:
    while True:
        pass


def run_child(
    variant: str, busy: bool, floor: bool, work: Path, cap_s: float, source: Path | None = None
) -> dict[str, Any]:
    """One variant in its own process; after `cap_s` it is stopped and reported unfinished.

    `source`: a tree whose `src/` (code) and `agents/` (prompts) the child uses instead of this one.
    """
    spec = VARIANTS[variant]
    env = {**os.environ, **spec["env"]}
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source / "src"), env.get("PYTHONPATH")]))
    hogs = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(os.cpu_count() or 1)] if busy else []
    for hog in hogs:
        hog.start()
    out, runs = work / "result.json", work / "runs"
    command = [sys.executable, __file__, "--child", variant, "--out", str(out), "--runs", str(runs)]
    started = time.perf_counter()
    process = subprocess.Popen([*command, *(["--floor"] if floor else [])], env=env, cwd=ROOT)
    try:
        process.wait(timeout=cap_s)
        result: dict[str, Any] = json.loads(out.read_text())
    except subprocess.TimeoutExpired:
        cpu = cpu_seconds(process.pid)
        process.kill()
        process.wait()
        # The arc may be done and only the floor cut short: the child wrote the arc's figures.
        result = json.loads(out.read_text()) if out.exists() else {"unfinished": True, "arc_cpu_s": cpu}
        result.update(load_at_end=os.getloadavg()[0], floor_wall_s=None, floor_calls=[])
    finally:
        for hog in hogs:
            hog.terminate()
            hog.join()
    result["process_wall_s"] = time.perf_counter() - started
    events = [json.loads(line) for path in runs.glob("*/events.jsonl") for line in path.open()]
    result["calls"] = [e for e in events if e["event"] == "llm_call"]
    return result


def export_tree(ref: str, into: Path) -> Path:
    """Git revision `ref`'s files (code, prompts, profiles) in `into`, for a baseline variant."""
    into.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ the child process


def child(variant: str, out: Path, runs: Path, with_floor: bool) -> None:
    from langchain_core.callbacks import AsyncCallbackHandler
    from langchain_core.messages import BaseMessage
    from langchain_core.tracers.context import register_configure_hook

    import muspsy
    from muspsy.cli.common import config_from
    from muspsy.profiles import load_profiles
    from muspsy.runner import start_run

    requests: list[dict[str, Any]] = []

    class Recorder(AsyncCallbackHandler):
        """Keeps every chat request the arc sends: messages and request parameters."""

        async def on_chat_model_start(
            self, serialized: dict[str, Any], messages: list[list[BaseMessage]], *, run_id: UUID, **kw: Any
        ) -> None:
            params = kw.get("invocation_params", {})
            roles = {"system": "system", "human": "user", "ai": "assistant"}
            requests.append(
                {
                    "messages": [{"role": roles[m.type], "content": m.content} for m in messages[0]],
                    "temperature": params.get("temperature"),
                    "max_tokens": params.get("max_completion_tokens") or params.get("max_tokens"),
                    **(params.get("extra_body") or {}),
                }
            )

    recorder_var: ContextVar[Recorder | None] = ContextVar("benchmark_recorder", default=None)
    register_configure_hook(recorder_var, inheritable=True)
    recorder_var.set(Recorder())

    overrides = {"backend": "embedded", "limits": LIMITS, **VARIANTS[variant]["config"]}
    config = config_from(None, overrides)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = asyncio.run(start_run(load_profiles([PROFILE]), config, runs))
    arc_wall, arc_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    recorder_var.set(None)
    figures: dict[str, Any] = {
        "finished": len(result.finished),
        "failed": result.failed,
        "arc_wall_s": arc_wall,
        "arc_cpu_s": arc_cpu,
        "floor_wall_s": None,
        "floor_calls": [],
        "load_at_end": os.getloadavg()[0],
        "code": str(Path(muspsy.__file__).parent.parent.parent),
    }
    out.write_text(json.dumps(figures))  # the arc's figures hold even if the floor is cut short
    if with_floor:
        figures["floor_wall_s"], figures["floor_calls"] = asyncio.run(floor(config, requests))
        out.write_text(json.dumps(figures))


async def floor(config: Any, requests: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """The same requests, one after another, bare over HTTP to a fresh server."""
    import httpx

    from muspsy.backends.embedded import EmbeddedServer

    timings = []
    with EmbeddedServer(config.embedded) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=3600) as http:
            started = time.perf_counter()
            for body in requests:
                reply = (await http.post("/chat/completions", json={"model": "local", **body})).json()
                timings.append(reply.get("timings", {}))
            return time.perf_counter() - started, timings


# ------------------------------------------------------------------ the report


def report(r: dict[str, Any]) -> list[str]:
    calls = r["calls"]
    if r.get("unfinished"):
        return [
            f"== {r['label']}: NOT FINISHED, stopped after {r['process_wall_s']:.0f} s with {len(calls)} calls made "
            f"and {r['arc_cpu_s']:.0f} CPU s used; load at end {r['load_at_end']:.1f}",
            *call_table(calls),
        ]
    prompt = sum(c["prompt_tokens"] for c in calls)
    cached = sum(c.get("cached_tokens", 0) for c in calls)
    completion = sum(c["completion_tokens"] for c in calls)
    llm_s = sum(c["latency_s"] for c in calls)
    floor_prompt = sum(t.get("prompt_n", 0) for t in r["floor_calls"])
    floor_cached = sum(t.get("cache_n", 0) for t in r["floor_calls"])
    floor_gen = sum(t.get("predicted_n", 0) for t in r["floor_calls"])
    floor_line = (
        f"   floor, same {len(r['floor_calls'])} requests bare: {r['floor_wall_s']:7.1f} s "
        f"(processed {floor_prompt}, reused {floor_cached}, generated {floor_gen})"
        if r["floor_wall_s"] is not None
        else "   floor: not measured for this variant (or cut short by --cap-s)"
    )
    return [
        f"== {r['label']}: {r['finished']} arc finished, {len(r['failed'])} failed; "
        f"load at end {r['load_at_end']:.1f}; code and prompts from {r.get('code', '?')}",
        *(f"   failed: {error[:300]}" for error in r["failed"].values()),
        f"   quickstart command (process) {r['process_wall_s']:7.1f} s; arc {r['arc_wall_s']:7.1f} s; "
        f"LLM calls {llm_s:7.1f} s over {len(calls)} calls; CPU {r.get('arc_cpu_s', 0):7.1f} s (all threads)",
        f"   prompt tokens {prompt}: processed {prompt - cached}, reused from cache {cached} ({cached / prompt:.0%})"
        if prompt
        else "   no prompt tokens",
        f"   completion tokens {completion}; {completion / llm_s:.1f} tokens/s of LLM time" if llm_s else "",
        floor_line,
        *role_table(calls),
        *call_table(calls),
    ]


def role_table(calls: list[dict[str, Any]]) -> list[str]:
    """Per role and node: how much of its prompts the server reused from the role's slot."""
    lines = ["   role/node                calls  prompt  reused  processed  compl"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in calls:
        groups.setdefault(f"{c['role']}/{c['node']}", []).append(c)
    for name, group in sorted(groups.items()):
        prompt = sum(c["prompt_tokens"] for c in group)
        cached = sum(c.get("cached_tokens", 0) for c in group)
        compl = sum(c["completion_tokens"] for c in group)
        lines.append(f"   {name:<24} {len(group):5d} {prompt:7d} {cached:7d} {prompt - cached:10d} {compl:6d}")
    return lines


def call_table(calls: list[dict[str, Any]]) -> list[str]:
    lines = ["   call  role        node               prompt  reused  new  compl  seconds"]
    for i, c in enumerate(calls, start=1):
        lines.append(
            f"   {i:4d}  {c['role']:<10}  {c['node']:<17} {c['prompt_tokens']:7d} {c.get('cached_tokens', 0):7d} "
            f"{c['prompt_tokens'] - c.get('cached_tokens', 0):5d} {c['completion_tokens']:6d} {c['latency_s']:8.1f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", action="store_true", help="also run 'after' with a busy loop on every core")
    parser.add_argument(
        "--only", nargs="+", choices=[*VARIANTS, "busy"], help="run these variants only (busy: after, busy loops)"
    )
    parser.add_argument("--side-by-side", action="store_true", help="run the variants at the same time")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (the bare re-sent requests)")
    parser.add_argument("--baseline", metavar="REF", help="also run git revision REF's tree (e.g. main), first")
    parser.add_argument("--cap-s", type=float, default=1800, help="stop a variant after this long (default 1800)")
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out, args.runs, args.floor)
        return
    # The floor is measured once, for the settings that ship.
    plan: list[tuple[str, bool, bool, str | None]] = [
        (v, False, v == "after" and not args.no_floor, None) for v in VARIANTS if args.only is None or v in args.only
    ]
    if args.baseline:
        plan.insert(0, ("after", False, False, args.baseline))
    if args.busy or "busy" in (args.only or []):
        plan.append(("after", True, False, None))
    with tempfile.TemporaryDirectory() as tmp:

        def run(n: int, variant: str, busy: bool, with_floor: bool, ref: str | None) -> dict[str, Any]:
            label = f"{ref} (baseline)" if ref else f"{variant}{', busy loops on all cores' if busy else ''}"
            print(f"running {label} (load {os.getloadavg()[0]:.1f}) ...", flush=True)
            work = Path(tmp) / str(n)
            work.mkdir()
            source = export_tree(ref, work / "tree") if ref else None
            result = run_child(variant, busy, with_floor, work, args.cap_s, source)
            result["label"] = label
            print("\n".join(report(result)), flush=True)
            return result

        if args.side_by_side:
            # At the same time: both share whatever load the machine has.
            with ThreadPoolExecutor(len(plan)) as pool:
                results = list(pool.map(lambda job: run(*job), [(n, *entry) for n, entry in enumerate(plan)]))
        else:
            results = [run(n, *entry) for n, entry in enumerate(plan)]
    print(f"\ncores {os.cpu_count()}; quickstart arc, {LIMITS['sessions_max']} sessions x {LIMITS['turns_max']} turns")
    for r in results:
        if r.get("unfinished"):
            print(f"   {r['label']:<36} not finished after {r['process_wall_s']:7.1f} s ({len(r['calls'])} calls)")
            continue
        floor_text = f"  floor {r['floor_wall_s']:7.1f} s" if r["floor_wall_s"] is not None else ""
        print(
            f"   {r['label']:<36} arc {r['arc_wall_s']:7.1f} s  {len(r['calls'])} calls  "
            f"{r['arc_wall_s'] / max(1, len(r['calls'])):5.1f} s/call  CPU {r['arc_cpu_s']:6.1f} s{floor_text}"
        )


if __name__ == "__main__":
    main()
