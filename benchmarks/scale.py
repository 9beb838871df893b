"""Scale benchmark: the Ray executor against one process, and bookkeeping as runs grow.

Prints, side by side in one run (figures from a shared or busy machine are only comparable
within one run):
(a) against the fake endpoint (a separate process) at 500 ms latency: LLM calls/s and
    efficiency (achieved / ideal calls/s, ideal = arcs in flight / latency) at 64 and 256 arcs
    in flight, for the local executor (SQLite checkpoints, and Postgres: the checkpointer Ray
    needs, on a throwaway cluster) and Ray with 2 workers. The clock runs from the first arc's start to the
    run's end; Ray's start-up (cluster and workers) is printed on its own.
(b) N vs 10 N scripted arcs with the local executor: wall seconds per arc, bytes written per
    arc (the process's write() bytes, /proc/self/io wchar) and the checkpoint database's size
    at the end.

    python benchmarks/scale.py                      # (a) at 64 and 256, (b) 1,000 vs 10,000
    python benchmarks/scale.py --part b --arcs 200  # (b) only, 200 vs 2,000
    python benchmarks/scale.py --quick              # smaller, for a smoke check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from throughput import start_fake_server

from muspsy.config import RunConfig
from muspsy.profiles import load_profiles
from muspsy.runner import ExecutorOptions, start_run
from postgres_cluster import postgres_cluster

SMALL_ARC = {"sessions_min": 2, "sessions_max": 2, "turns_min": 7, "turns_max": 7}


def config(backend: str, arcs: int, base_url: str | None = None, concurrency: int | None = None) -> RunConfig:
    data: dict[str, object] = {
        "backend": backend,
        "concurrency": concurrency or arcs,
        "arcs_per_profile": arcs,
        "limits": SMALL_ARC,
    }
    if base_url:
        data["models"] = {"default": {"base_url": base_url, "model": "fake", "max_retries": 0, "timeout_s": 120}}
    return RunConfig.model_validate(data)


def stamp(line: dict[str, str]) -> float:
    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()


def busy_span(run_dir: Path) -> tuple[float, int, float]:
    """(seconds from the first arc's start to the run's end, LLM calls recorded, CPU seconds of
    the Ray workers)."""
    first = last = None
    workers_cpu = 0.0
    for raw in (run_dir / "events.jsonl").read_text().splitlines():
        line = json.loads(raw)
        if line["event"] == "worker_finished":
            workers_cpu += line["cpu_s"]
        if line["event"] == "arc_started" and first is None:
            first = stamp(line)
        if line["event"] == "run_finished":
            last = stamp(line)
    usage = json.loads((run_dir / "manifest.json").read_text())["usage"]
    assert first is not None and last is not None
    return last - first, int(sum(u["calls"] for u in usage.values())), workers_cpu


def cpu_seconds(pid: int) -> float:
    """User and system CPU of another process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(
    label: str, arcs: int, cfg: RunConfig, checkpointer: str | None, options: ExecutorOptions, server_pid: int
) -> None:
    latency_s = 0.5
    with tempfile.TemporaryDirectory() as runs:
        wall, cpu, server_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
        result = await start_run(load_profiles()[:1], cfg, Path(runs), checkpointer=checkpointer, executor=options)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        server_cpu = cpu_seconds(server_pid) - server_cpu
        assert not result.failed, result.failed
        seconds, calls, workers_cpu = busy_span(result.run_dir)
    rate = calls / seconds
    ideal = arcs / latency_s
    print(
        f"  {label:<22} {arcs:>4} arcs: {rate:7.1f} calls/s, efficiency {rate / ideal:.2f} "
        f"({calls} calls in {seconds:.1f} s; start-up {wall - seconds:.1f} s); CPU of this process "
        f"{cpu / wall:.0%}, of the fake server {server_cpu / wall:.0%}"
        + (f", of the Ray workers {workers_cpu / seconds:.0%} (incl. their start-up)" if workers_cpu else ""),
        flush=True,
    )


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no /proc/self/io")


async def bookkeeping(arcs: int) -> tuple[float, float, int]:
    """(seconds per arc, bytes written per arc, checkpoint database bytes at the end)."""
    with tempfile.TemporaryDirectory() as runs:
        cfg = config("scripted", arcs, concurrency=16)
        wall, written = time.perf_counter(), written_bytes()
        result = await start_run(load_profiles()[:1], cfg, Path(runs))
        wall, written = time.perf_counter() - wall, written_bytes() - written
        assert len(result.finished) == arcs, result.failed
        database = sum(p.stat().st_size for p in result.run_dir.glob("checkpoints.sqlite*"))
    return wall / arcs, written / arcs, database


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    parser.add_argument("--arcs", type=int, default=1000, help="(b): the smaller run; the larger has 10x")
    parser.add_argument("--quick", action="store_true", help="(a) at 16 and 64 arcs, (b) 50 vs 500")
    args = parser.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)
    print(f"muspsy scale benchmark on {os.cpu_count()} CPUs", flush=True)
    if args.part in ("a", "both"):
        import ray

        sizes = (16, 64) if args.quick else (64, 256)
        server, base_url = start_fake_server(500)
        try:
            with postgres_cluster() as postgres:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                print("(a) fake endpoint at 500 ms; 2 sessions x 7 turns per arc; every arc in flight at once")
                for arcs in sizes:
                    cfg = config("openai", arcs, base_url)
                    await throughput("local, SQLite", arcs, cfg, None, ExecutorOptions(), server.pid)
                    await throughput("local, Postgres", arcs, cfg, postgres, ExecutorOptions(), server.pid)
                    await throughput(
                        "ray 2 workers, Postgres", arcs, cfg, postgres, ExecutorOptions("ray", 2), server.pid
                    )
                ray.shutdown()
        finally:
            server.terminate()
            server.wait()
    if args.part in ("b", "both"):
        small = 50 if args.quick else args.arcs
        print(f"(b) scripted arcs, local executor, concurrency 16: {small} vs {10 * small}", flush=True)
        figures = {}
        for arcs in (small, 10 * small):
            figures[arcs] = await bookkeeping(arcs)
            per_arc, written, database = figures[arcs]
            print(
                f"  {arcs:>6} arcs: {per_arc * 1000:7.1f} ms/arc, {written / 1024:8.1f} KiB written/arc, "
                f"checkpoint database {database / 1024:8.1f} KiB at the end",
                flush=True,
            )
        (a, b) = figures[small], figures[10 * small]
        print(f"  ratio {10 * small} / {small}: time per arc {b[0] / a[0]:.2f}x, bytes per arc {b[1] / a[1]:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
