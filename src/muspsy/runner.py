"""Runs: many arcs with one config, concurrently, written to `runs/<run_id>/`, resumable.

Each arc is one LangGraph thread checkpointed with durability `sync`, so after a crash only
the node that was running is paid for again. `arcs.jsonl` is the source of truth for what is
finished: an arc is written there once, after its graph ends, and skipped on resume. One arc's
failure is recorded and the others go on.

Several strategies in one run make a paired design: every strategy runs every profile with the
same seeds (profile x replicate x strategy), so arcs that differ only in strategy share their
client and seed, and the seeded parts of the client's weeks use the same random numbers
(`agents.client.draw_week`): the arcs differ where the counseling made them differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import os
import time
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from muspsy import __version__
from muspsy.agents.spec import AgentSpec, Strategy, load_spec, load_strategy
from muspsy.backends import ResolvedModels, open_models, preflight
from muspsy.checkpointers import check_checkpointer, open_checkpointer
from muspsy.config import RunConfig, build_config, fingerprint, merge, resolved
from muspsy.events import JsonlEventLog
from muspsy.graphs.arc import build_arc_graph, recursion_limit
from muspsy.graphs.state import ArcState, add_usage
from muspsy.instruments import instrument_hashes
from muspsy.preflight import EndpointDown
from muspsy.progress import ProgressSink, QuietProgress
from muspsy.records import ROLES, ArcRecord, ClientProfile, Role
from muspsy.redact import redact, redact_url
from muspsy.runfolder import ARCS, EVENTS, RunFolder, RunFolderError, read_lines
from muspsy.runlock import postgres_run_lock, run_folder_lock


class ResumeRefused(RunFolderError):
    """The run's config or prompts changed since it started; `--force` overrides."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def prompt_hashes(specs: dict[Role, AgentSpec], strategies: Sequence[Strategy]) -> dict[str, str]:
    """sha256 of every template, every strategy used and every questionnaire the client reads."""
    hashes = {f"{role}/{name}": t.sha256 for role, spec in specs.items() for name, t in spec.templates.items()}
    for strategy in strategies:
        # Aliases are spellings on the command line; they change nothing an arc produces.
        strategy_text = strategy.model_dump_json(exclude={"aliases"}).encode("utf-8")
        hashes[f"counselor/strategies/{strategy.name}"] = hashlib.sha256(strategy_text).hexdigest()
    hashes.update(instrument_hashes())
    return dict(sorted(hashes.items()))


def load_strategies(config: RunConfig) -> dict[str, Strategy]:
    """The config's strategies by name (names already canonical: see `config.resolved`)."""
    return {name: load_strategy(name) for name in config.strategies}


def new_run_id(runs_dir: Path, config_fingerprint: str) -> str:
    base = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{config_fingerprint[:6]}"
    run_id, n = base, 1
    while (runs_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


@dataclass(frozen=True)
class ArcPlan:
    arc_id: str
    client_id: str
    seed: int
    strategy: str


def plan_arcs(profiles: Sequence[ClientProfile], config: RunConfig) -> list[ArcPlan]:
    """K arcs per profile with seeds seed, seed+1, ..., each under every strategy.

    The same profile and replicate get the same seed under every strategy (the pairing);
    arc ids stay distinct because they name the strategy.
    """
    return [
        ArcPlan(arc_id(p, strategy, config.seed + k), p.id, config.seed + k, strategy)
        for p in profiles
        for k in range(config.arcs_per_profile)
        for strategy in config.strategies
    ]


def manifest_entry(plan: ArcPlan) -> dict[str, Any]:
    return {"client_id": plan.client_id, "seed": plan.seed, "strategy": plan.strategy, "status": "pending"}


def arc_id(profile: ClientProfile, strategy: str, seed: int) -> str:
    return f"{profile.id}--{strategy}--seed{seed}"


def initial_arc_state(
    run_id: str, profile: ClientProfile, config: RunConfig, seed: int | None = None, strategy: str | None = None
) -> ArcState:
    seed = config.seed if seed is None else seed
    strategy = strategy or config.strategies[0]
    return {
        "run_id": run_id,
        "arc_id": arc_id(profile, strategy, seed),
        "seed": seed,
        "strategy": strategy,
        "outcomes": config.outcomes,
        "language": config.language or profile.language,
        "profile": profile.model_dump(mode="json", by_alias=True),
        "limits": {
            "sessions_min": config.limits.sessions_min,
            "sessions_max": config.limits.sessions_max,
            "turns_min": config.limits.turns_min,
            "turns_max": config.limits.turns_max,
        },
        "usage": {},
    }


def assemble_record(state: ArcState, provenance: dict[str, Any]) -> ArcRecord:
    return ArcRecord.model_validate(
        {
            "schema": "muspsy.arc/1",
            "run_id": state["run_id"],
            "arc_id": state["arc_id"],
            "client_id": state["profile"]["id"],
            "language": state["language"],
            "profile": state["profile"],
            "strategy": state["strategy"],
            "plan": state["plan"],
            "sessions": state["sessions"],
            "outcome": state["outcome"],
            "usage": {role: state["usage"].get(role, {}) for role in ROLES},
            "provenance": provenance,
        }
    )


@dataclass
class RunResult:
    run_dir: Path
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    already_done: int = 0
    cost_usd: float | None = None


@dataclass
class Run:
    """One run's shared context while it executes."""

    config: RunConfig
    folder: RunFolder
    manifest: dict[str, Any]
    profiles: dict[str, ClientProfile]
    models: ResolvedModels
    progress: ProgressSink
    events: JsonlEventLog
    result: RunResult

    def save(self) -> None:
        self.manifest["updated_at"] = now()
        self.folder.write_manifest(self.manifest)

    def set_arc(self, arc: str, status: str, error: str | None = None) -> None:
        entry = self.manifest["arcs"][arc]
        entry["status"] = status
        entry.pop("error", None)
        if error:
            entry["error"] = error
        self.save()

    def provenance(self, seed: int, started: str) -> dict[str, Any]:
        return {
            "version": __version__,
            "backend": self.models.backend,
            "models": self.models.describe(),
            "prompt_hashes": self.manifest["prompt_hashes"],
            "config_fingerprint": self.manifest["config_fingerprint"],
            "seed": seed,
            "started_at": started,
            "finished_at": now(),
        }


async def start_run(
    profiles: Sequence[ClientProfile],
    config: RunConfig,
    runs_dir: Path,
    *,
    progress: ProgressSink | None = None,
    checkpointer: str | None = None,
) -> RunResult:
    """Plan one or more arcs per profile with `config` (already resolved) and run them.

    Bad configuration (unknown strategy, missing key, missing embedded model) raises before
    anything is written.
    """
    strategies = load_strategies(config)
    specs = {role: load_spec(role) for role in ROLES}
    hashes = prompt_hashes(specs, list(strategies.values()))
    check_checkpointer(checkpointer)
    async with AsyncExitStack() as stack:
        models = await open_models(config, stack)
        await preflight(models)
        config_fp = fingerprint(config, hashes)
        runs_dir.mkdir(parents=True, exist_ok=True)
        run_id = new_run_id(runs_dir, config_fp)
        # Reaching the checkpointer comes before the run folder: a bad URL leaves no orphan.
        await stack.enter_async_context(postgres_run_lock(checkpointer, run_id))
        folder = RunFolder(runs_dir / run_id)
        folder.create()
        stack.enter_context(run_folder_lock(folder.root))
        folder.write_profiles(list(profiles))
        manifest: dict[str, Any] = {
            "schema": "muspsy.manifest/1",
            "run_id": run_id,
            "status": "pending",
            "created_at": now(),
            "updated_at": now(),
            "version": __version__,
            "backend": config.backend,
            "models": models.describe(),
            "config": config.model_dump(mode="json"),
            "config_fingerprint": config_fp,
            "prompt_hashes": hashes,
            "seed": config.seed,
            "checkpointer": redact_url(checkpointer) if checkpointer else "sqlite",
            "attempts": [],
            "arcs": {plan.arc_id: manifest_entry(plan) for plan in plan_arcs(profiles, config)},
            "counts": {},
            "usage": {},
        }
        folder.write_manifest(manifest)
        return await _execute(stack, folder, manifest, config, models, strategies, specs, progress, checkpointer)


def config_for_resume(manifest: dict[str, Any], overrides: dict[str, Any]) -> RunConfig:
    return resolved(build_config(merge(manifest["config"], overrides), "resume options"))


async def resume_run(
    run_dir: Path,
    *,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    progress: ProgressSink | None = None,
    checkpointer: str | None = None,
) -> RunResult:
    """Continue every unfinished or failed arc of a run from its last checkpoint.

    Raises RunLocked when another process holds the run."""
    RunFolder(run_dir).read_manifest()  # a run folder, before a lock file is made in it
    with run_folder_lock(run_dir):
        return await _resume_locked(run_dir, overrides, force, progress, checkpointer)


async def _resume_locked(
    run_dir: Path,
    overrides: dict[str, Any] | None,
    force: bool,
    progress: ProgressSink | None,
    checkpointer: str | None,
) -> RunResult:
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()  # read again: the previous holder may have changed it
    config = config_for_resume(manifest, overrides or {})
    strategies = load_strategies(config)
    specs = {role: load_spec(role) for role in ROLES}
    hashes = prompt_hashes(specs, list(strategies.values()))
    config_fp = fingerprint(config, hashes)
    if config_fp != manifest["config_fingerprint"]:
        changed = [k for k, v in hashes.items() if manifest["prompt_hashes"].get(k) != v]
        what = f"prompts changed ({', '.join(changed)})" if changed else "the config changed"
        if not force:
            raise ResumeRefused(
                f"{folder.path('manifest.json')}: field config_fingerprint: {what} since the run started "
                f"({manifest['config_fingerprint']} -> {config_fp}); use --force to continue anyway"
            )
        manifest["forced_from_fingerprint"] = manifest["config_fingerprint"]
        # A forced change of strategies (or replicates) adds the arcs it plans; arcs already
        # planned are kept, and finished ones are never redone.
        for plan in plan_arcs(list(folder.read_profiles().values()), config):
            manifest["arcs"].setdefault(plan.arc_id, manifest_entry(plan))
    manifest.update(config=config.model_dump(mode="json"), config_fingerprint=config_fp, prompt_hashes=hashes)
    stored = manifest.get("checkpointer", "sqlite")
    if checkpointer is None and stored != "sqlite":
        if "***" in stored:
            raise RunFolderError(f"this run used the checkpointer {stored}: pass --checkpointer with its password")
        checkpointer = stored
    check_checkpointer(checkpointer)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(postgres_run_lock(checkpointer, manifest["run_id"]))
        repaired = folder.repair()
        models = await open_models(config, stack)
        await preflight(models)
        if repaired:
            manifest.setdefault("repairs", []).append({"at": now(), "files": repaired})
        return await _execute(stack, folder, manifest, config, models, strategies, specs, progress, checkpointer)


async def _execute(
    stack: AsyncExitStack,
    folder: RunFolder,
    manifest: dict[str, Any],
    config: RunConfig,
    models: ResolvedModels,
    strategies: dict[str, Strategy],
    specs: dict[Role, AgentSpec],
    progress: ProgressSink | None,
    checkpointer: str | None,
) -> RunResult:
    events = JsonlEventLog(folder.path(EVENTS), run=manifest["run_id"])
    stack.callback(events.close)
    saver = await open_checkpointer(stack, folder, checkpointer)
    for entry in manifest["arcs"].values():
        entry.setdefault("strategy", config.strategies[0])  # manifests from before paired runs
        if entry["strategy"] not in strategies:  # kept after a forced change of strategies
            strategies = {**strategies, entry["strategy"]: load_strategy(entry["strategy"])}
    # One compiled graph per strategy, all on the same checkpointer (threads are per arc).
    graphs = {
        name: build_arc_graph(
            models.models, strategy, events=events, retries=config.structured_retries, specs=specs
        ).compile(checkpointer=saver)
        for name, strategy in strategies.items()
    }
    finished = folder.finished_arc_ids()
    profiles = folder.read_profiles()
    for arc, entry in manifest["arcs"].items():
        if entry["client_id"] not in profiles:
            raise RunFolderError(f"{folder.path('profiles.jsonl')}: no profile {entry['client_id']!r} for arc {arc}")
    run = Run(
        config=config,
        folder=folder,
        manifest=manifest,
        profiles=profiles,
        models=models,
        progress=progress or QuietProgress(),
        events=events,
        result=RunResult(run_dir=folder.root, already_done=len(finished)),
    )
    for arc, entry in manifest["arcs"].items():
        if arc in finished:
            entry["status"] = "finished"
            entry.pop("error", None)
    todo = [arc for arc in manifest["arcs"] if arc not in finished]
    manifest["status"] = "running"
    manifest["attempts"].append({"started_at": now(), "pid": os.getpid(), "arcs_to_do": len(todo)})
    run.save()
    events.emit("run_started", backend=config.backend, arcs=len(manifest["arcs"]), to_do=len(todo))
    run.progress.start(len(manifest["arcs"]), len(finished))
    slots = asyncio.Semaphore(config.concurrency)
    ticker = asyncio.create_task(_tick(run.progress))

    async def one(position: int, arc: str) -> None:
        async with slots:
            if position < config.concurrency:
                # Stagger the first wave: arcs started together send and receive their calls in
                # lockstep, and each burst of replies queues on the event loop.
                await asyncio.sleep(position * config.start_spacing_ms / 1000)
            await _run_arc(graphs[run.manifest["arcs"][arc]["strategy"]], run, arc)

    try:
        with startup_objects_frozen():
            await all_or_none(one(position, arc) for position, arc in enumerate(todo))
        manifest["status"] = "completed" if not run.result.failed else "completed_with_failures"
    except BaseException:
        manifest["status"] = "interrupted"
        run.progress.note(f"interrupted; continue with: muspsy resume {folder.root}")
        raise
    finally:
        ticker.cancel()
        run.progress.close()
        _summarize(run)
        run.save()
        events.emit("run_finished", status=manifest["status"], **manifest["counts"])
    return run.result


async def all_or_none(work: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run all; when one raises (a dead endpoint, an interrupt), cancel the others and wait
    for them, so none writes after the run has been saved as interrupted."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Keep what exists before the arcs start (modules, schemas, compiled graphs) out of the
    cyclic garbage collector while they run: full collections over it paused the event loop for
    up to 100 ms with 64 arcs in flight. Unfrozen afterwards, so nothing is kept for good."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _tick(progress: ProgressSink) -> None:
    while True:
        await asyncio.sleep(1.0)
        progress.update()


async def _run_arc(graph: Any, run: Run, arc: str) -> None:
    entry = run.manifest["arcs"][arc]
    profile = run.profiles[entry["client_id"]]
    limits = run.config.limits
    thread: Any = {
        # Unique across runs: a shared Postgres holds the threads of many runs.
        "configurable": {"thread_id": f"{run.manifest['run_id']}/{arc}"},
        "recursion_limit": recursion_limit(limits.sessions_max, limits.turns_max),
    }
    tally = run.progress.tally
    started, clock = now(), time.perf_counter()
    run.set_arc(arc, "running")
    run.events.emit("arc_started", arc=arc, client=profile.id)
    try:
        snapshot = await graph.aget_state(thread)
        # Ended means the outcome is set and no node is left; a process stopped right after
        # checkpointing the input leaves values but no next node, and that arc starts afresh.
        ended = bool(snapshot.values.get("outcome")) and not snapshot.next
        if not ended:
            # An arc with a node to run continues from its checkpoint (input None).
            start = (
                None
                if snapshot.next
                else initial_arc_state(run.manifest["run_id"], profile, run.config, entry["seed"], entry["strategy"])
            )
            tokens_seen = _tokens(snapshot.values.get("usage", {})) if snapshot.values else 0
            async for update in graph.astream(start, thread, durability="sync", stream_mode="updates"):
                if "memo" in update:
                    done = update["memo"]["sessions"][-1]
                    tokens = _tokens(update["memo"]["usage"])
                    tally.sessions += 1
                    tally.turns += len(done["turns"])
                    tally.tokens += tokens - tokens_seen
                    tokens_seen = tokens
            snapshot = await graph.aget_state(thread)
        record = assemble_record(snapshot.values, run.provenance(entry["seed"], started))
        run.folder.add_arc(record)
    except EndpointDown:
        raise  # not this arc's failure: the run stops and the arc stays resumable
    except Exception as exc:  # one arc's failure, whatever step failed, must not stop the others
        message = redact(f"{type(exc).__name__}: {exc}")
        run.result.failed[arc] = message
        run.folder.add_failure(arc, profile.id, message)
        run.set_arc(arc, "failed", message)
        run.events.emit("arc_failed", arc=arc, error=message)
        tally.failed += 1
        run.progress.note(f"{arc}: FAILED: {message}")
    else:
        run.result.finished.append(arc)
        run.set_arc(arc, "finished")
        seconds = time.perf_counter() - clock
        run.events.emit(
            "arc_finished",
            arc=arc,
            sessions=len(record.sessions),
            seconds=round(seconds, 3),
            end_reason=record.outcome.end_reason,
        )
        tally.finished += 1
    run.progress.update()


def _tokens(usage: dict[str, dict[str, float]]) -> int:
    return int(sum(u.get("prompt_tokens", 0) + u.get("completion_tokens", 0) for u in usage.values()))


def _summarize(run: Run) -> None:
    """Counts, usage and cost from `arcs.jsonl`, the source of truth, whatever happened before."""
    usage: dict[str, dict[str, float]] = {}
    sessions = turns = 0
    for record in read_lines(run.folder.path(ARCS)):
        usage = add_usage(usage, record["usage"])
        sessions += len(record["sessions"])
        turns += sum(len(s["turns"]) for s in record["sessions"])
    statuses = [entry["status"] for entry in run.manifest["arcs"].values()]
    run.manifest["counts"] = {
        "arcs": len(statuses),
        "finished": statuses.count("finished"),
        "failed": statuses.count("failed"),
        "pending": statuses.count("pending") + statuses.count("running"),
        "sessions": sessions,
        "turns": turns,
    }
    run.manifest["usage"] = usage
    cost = estimate_cost(usage, run.models.describe(), run.config)
    if cost is not None:
        run.manifest["estimated_cost_usd"] = cost
        run.result.cost_usd = cost["total"]
    with contextlib.suppress(IndexError):
        run.manifest["attempts"][-1]["ended_at"] = now()


def estimate_cost(
    usage: dict[str, dict[str, float]], models: dict[str, dict[str, Any]], config: RunConfig
) -> dict[str, float] | None:
    """Per-role and total cost from the config's price table; None when it has no prices."""
    if not config.prices:
        return None
    cost: dict[str, float] = {}
    for role, counts in usage.items():
        price = config.prices.get(models.get(role, {}).get("name", ""))
        if price:
            cost[role] = round(
                counts.get("prompt_tokens", 0) * price.prompt_per_million / 1e6
                + counts.get("completion_tokens", 0) * price.completion_per_million / 1e6,
                6,
            )
    cost["total"] = round(sum(cost.values()), 6)
    return cost
