"""Runs: many arcs with one config, written to `runs/<run_id>/`, resumable.

Each arc is one LangGraph thread checkpointed with durability `sync`, so after a crash only
the node that was running is paid for again. `arcs.jsonl` is the source of truth for what is
finished: an arc is written there once, after its graph ends, by this process alone (whatever
executor ran the graph), and skipped on resume. One arc's failure is recorded and the others go
on. Once an arc's record is fsynced its checkpoints are deleted (unless `keep_checkpoints`), so
the checkpoint database holds only the arcs in flight.

The pieces: `planning` says which arcs, `runledger` what state each is in, `executors` run them
(`local` asyncio by default, `ray` across worker processes); this module ties them together.

Several strategies in one run make a paired design: every strategy runs every profile with the
same seeds (profile x replicate x strategy), so arcs that differ only in strategy share their
client and seed, and the seeded parts of the client's weeks use the same random numbers
(`agents.director.draw_numbers`): the arcs differ where the counseling made them differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from muspsy import __version__
from muspsy.accounting import estimate_cost, totals
from muspsy.agents.spec import AgentSpec, Strategy, load_specs, load_strategy
from muspsy.backends import ResolvedModels, open_models, preflight
from muspsy.checkpointers import check_checkpointer, compact, open_checkpointer
from muspsy.config import RunConfig, build_config, fingerprint, merge, resolved, role_settings
from muspsy.events import JsonlEventLog
from muspsy.executors.base import ArcDone, ArcJob, Executor, ExecutorError
from muspsy.executors.local import LocalExecutor
from muspsy.graphs.arc import build_arc_graph, recursion_limit
from muspsy.graphs.state import ArcState
from muspsy.planning import (
    initial_arc_state,
    load_strategies,
    manifest_entry,
    new_run_id,
    now,
    plan_arcs,
    prompt_hashes,
    thread_id,
)
from muspsy.progress import CallTally, Position, ProgressSink, QuietProgress, calls_per_arc
from muspsy.promptlog import JsonlPromptLog
from muspsy.records import ROLES, ArcRecord, ClientProfile, Role
from muspsy.redact import redact, redact_url
from muspsy.runfolder import EVENTS, PROFILES, PROMPTS, RunFolder, RunFolderError
from muspsy.runledger import RunLedger
from muspsy.runlock import postgres_run_lock, run_folder_lock

__all__ = [
    "ExecutorOptions",
    "ResumeRefused",
    "RunResult",
    "assemble_record",
    "check_executor",
    "initial_arc_state",
    "now",
    "plan_arcs",
    "prompt_hashes",
    "resume_run",
    "start_run",
]


class ResumeRefused(RunFolderError):
    """The run's config or prompts changed since it started; `--force` overrides."""


@dataclass(frozen=True)
class ExecutorOptions:
    """How the arcs are run; not part of what the run is (no fingerprint, no --force)."""

    executor: str = "local"  # "local" or "ray"
    workers: int | None = None  # Ray workers (default: the cluster's CPUs)
    ray_address: str | None = None  # an existing Ray cluster (default: start a local one)
    keep_checkpoints: bool = False  # keep finished arcs' checkpoints, for debugging


def check_executor(options: ExecutorOptions, checkpointer: str | None, config: RunConfig | None = None) -> None:
    """Fail before anything is written on an executor that cannot work with this checkpointer
    or config."""
    if options.executor == "local":
        return
    if options.executor != "ray":
        raise ExecutorError(f"--executor: expected local or ray, got {options.executor}")
    if checkpointer is None or checkpointer == "sqlite":
        raise ExecutorError(
            "--executor ray: needs --checkpointer postgresql://... (workers in other processes share the checkpoints)"
        )
    if options.workers is not None and options.workers < 1:
        raise ExecutorError(f"--workers: expected at least 1, got {options.workers}")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ExecutorError("--executor ray: Ray is not installed: pip install 'muspsy[ray]'") from None


def assemble_record(state: ArcState | dict[str, Any], provenance: dict[str, Any]) -> ArcRecord:
    return ArcRecord.model_validate(
        {
            "schema": "muspsy.arc/1",
            "run_id": state["run_id"],
            "arc_id": state["arc_id"],
            "client_id": state["profile"]["id"],
            "language": state["language"],
            "profile": state["profile"],
            # The arc's strategy as planned (its arm of a paired design); sessions carry the one used.
            "strategy": state.get("assigned_strategy", state["strategy"]),
            "plan": state["plan"],
            "plan_versions": state.get("plan_versions", []),
            "exit_measurement": state.get("exit_measurement"),
            "follow_up": state.get("follow_up"),
            "sessions": state["sessions"],
            "outcome": state["outcome"],
            "usage": {role: state["usage"].get(role, {}) for role in ROLES},
            "provenance": provenance,
            "disclosures": state.get("disclosures", []),
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
    """One run's shared context while it executes, and the sink executors report arcs to."""

    config: RunConfig
    folder: RunFolder
    ledger: RunLedger
    profiles: dict[str, ClientProfile]
    models: ResolvedModels
    progress: ProgressSink
    events: CallTally
    saver: Any
    keep_checkpoints: bool
    result: RunResult

    @property
    def manifest(self) -> dict[str, Any]:
        return self.ledger.manifest

    @property
    def calls_per_arc(self) -> int:
        limits = self.config.limits
        return calls_per_arc(
            limits.sessions_max, limits.turns_max, self.config.outcomes, self.config.follow_up_weeks > 0
        )

    def job(self, arc: str) -> ArcJob:
        entry = self.ledger.arcs[arc]
        limits = self.config.limits
        run_id = self.manifest["run_id"]
        return ArcJob(
            arc_id=arc,
            thread_id=thread_id(run_id, arc),
            strategy=entry["strategy"],
            start=initial_arc_state(
                run_id, self.profiles[entry["client_id"]], self.config, entry["seed"], entry["strategy"]
            ),
            recursion_limit=recursion_limit(limits.sessions_max, limits.turns_max),
        )

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

    # ---- ArcSink

    def started(self, arc: str, worker: str) -> None:
        self.ledger.mark(arc, "running", worker=worker)
        self.events.emit("arc_started", arc=arc, client=self.ledger.arcs[arc]["client_id"], worker=worker)

    def progressed(self, sessions: int, turns: int, tokens: int) -> None:
        # Turns and tokens are counted call by call as the events pass the CallTally; adding
        # the executor's per-session figures here would count them twice.
        self.progress.tally.sessions += sessions

    def partial(self, values: dict[str, Any]) -> None:
        """The dialogue so far is readable while the arc runs, and after it fails."""
        self.folder.write_partial_transcript(values)

    async def done(self, result: ArcDone) -> None:
        arc, error = result.arc_id, result.error
        entry = self.ledger.arcs[arc]
        record: ArcRecord | None = None
        if result.values is not None:
            try:
                record = assemble_record(result.values, self.provenance(entry["seed"], result.started_at))
                self.folder.add_arc(record)  # its transcript and its line: a failure here is the arc's too
            except Exception as exc:  # one arc's failure, whatever step failed, must not stop the others
                record, error = None, f"{type(exc).__name__}: {exc}"
        position = self.progress.tally.positions.get(arc)
        self.events.arc_ended(arc, self.calls_per_arc)
        if record is None:
            message = error or "no result"
            if position:
                message += f" ({'during' if position.in_flight else 'after'} {position.describe()})"
            message = redact(message)
            self.result.failed[arc] = message
            self.folder.add_failure(arc, entry["client_id"], message)
            self.ledger.mark(arc, "failed", error=message)
            self.events.emit("arc_failed", arc=arc, error=message)
            self.progress.tally.failed += 1
            self.progress.note(f"{arc}: FAILED: {message}; {what_to_do(self, message, position)}")
        else:
            self.result.finished.append(arc)
            # Checkpoints first, then the mark: an arc stopped in between is in arcs.jsonl but
            # not marked, and the next attempt deletes its checkpoints (`RunLedger.unswept`).
            if not self.keep_checkpoints:
                await self._forget(arc)
            self.ledger.mark(arc, "finished")
            self.events.emit(
                "arc_finished",
                arc=arc,
                sessions=len(record.sessions),
                seconds=round(result.seconds, 3),
                end_reason=record.outcome.end_reason,
            )
            self.progress.tally.finished += 1
        self.progress.update()

    async def _forget(self, arc: str) -> None:
        """Delete a finished arc's checkpoints: its record is fsynced, resume never reads them."""
        try:
            await self.saver.adelete_thread(thread_id(self.manifest["run_id"], arc))
        except Exception as exc:  # the record is safe; a leftover thread only costs space
            self.events.emit("checkpoint_delete_failed", arc=arc, error=f"{type(exc).__name__}: {exc}")


async def start_run(
    profiles: Sequence[ClientProfile],
    config: RunConfig,
    runs_dir: Path,
    *,
    progress: ProgressSink | None = None,
    checkpointer: str | None = None,
    executor: ExecutorOptions | None = None,
) -> RunResult:
    """Plan one or more arcs per profile with `config` (already resolved) and run them.

    Bad configuration (unknown strategy, missing key, missing embedded model, an executor
    without the checkpointer it needs) raises before anything is written.
    """
    options = executor or ExecutorOptions()
    strategies = load_strategies(config)
    specs = load_specs(ROLES, compact=config.backend == "embedded" and config.embedded.compact)
    hashes = prompt_hashes(specs, list(strategies.values()))
    check_checkpointer(checkpointer)
    check_executor(options, checkpointer, config)
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
        return await _execute(
            stack, folder, manifest, config, models, strategies, specs, progress, checkpointer, options
        )


def config_for_resume(manifest: dict[str, Any], overrides: dict[str, Any]) -> RunConfig:
    return resolved(build_config(merge(manifest["config"], overrides), "resume options"))


async def resume_run(
    run_dir: Path,
    *,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    progress: ProgressSink | None = None,
    checkpointer: str | None = None,
    executor: ExecutorOptions | None = None,
) -> RunResult:
    """Continue every unfinished or failed arc of a run from its last checkpoint, with either
    executor whichever ran it before.

    Raises RunLocked when another process holds the run."""
    RunFolder(run_dir).read_manifest()  # a run folder, before a lock file is made in it
    with run_folder_lock(run_dir):
        return await _resume_locked(run_dir, overrides, force, progress, checkpointer, executor or ExecutorOptions())


async def _resume_locked(
    run_dir: Path,
    overrides: dict[str, Any] | None,
    force: bool,
    progress: ProgressSink | None,
    checkpointer: str | None,
    options: ExecutorOptions,
) -> RunResult:
    folder = RunFolder(run_dir)
    manifest = folder.read_manifest()  # read again: the previous holder may have changed it
    config = config_for_resume(manifest, overrides or {})
    strategies = load_strategies(config)
    specs = load_specs(ROLES, compact=config.backend == "embedded" and config.embedded.compact)
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
    check_executor(options, checkpointer, config)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(postgres_run_lock(checkpointer, manifest["run_id"]))
        repaired = folder.repair()
        models = await open_models(config, stack)
        await preflight(models)
        if repaired:
            manifest.setdefault("repairs", []).append({"at": now(), "files": repaired})
        return await _execute(
            stack, folder, manifest, config, models, strategies, specs, progress, checkpointer, options
        )


def _make_executor(
    run: Run,
    options: ExecutorOptions,
    strategies: dict[str, Strategy],
    specs: dict[Role, AgentSpec],
    checkpointer: str | None,
    prompts: JsonlPromptLog | None,
) -> Executor:
    if options.executor == "ray":
        from muspsy.executors.ray_pool import RayExecutor

        return RayExecutor(
            run.config,
            checkpointer or "",
            run.manifest["run_id"],
            list(strategies),
            run.manifest["prompt_hashes"],
            run.events,
            prompts,
            workers=options.workers,
            address=options.ray_address,
        )
    # One compiled graph holds every strategy (the arc's state says which one a session uses),
    # on one checkpointer (threads are per arc); the executor looks it up by the arc's strategy.
    graph = build_arc_graph(
        run.models.models,
        strategies,
        events=run.events,
        retries=run.config.structured_retries,
        specs=specs,
        prompts=prompts,
    ).compile(checkpointer=run.saver)
    return LocalExecutor(dict.fromkeys(strategies, graph), run.config.concurrency, run.config.start_spacing_ms)


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
    options: ExecutorOptions,
) -> RunResult:
    log = JsonlEventLog(folder.path(EVENTS), run=manifest["run_id"])
    stack.callback(log.close)
    sink = progress or QuietProgress()
    # Every call passes through the tally (Ray workers' calls too, drained into it): live turns,
    # tokens, the node each arc is in and the calls left for the ETA.
    events = CallTally(log, sink.tally)
    prompts = JsonlPromptLog(folder.path(PROMPTS), run=manifest["run_id"]) if config.record_prompts else None
    if prompts is not None:
        stack.callback(prompts.close)
    saver = await open_checkpointer(stack, folder, checkpointer)
    for entry in manifest["arcs"].values():
        entry.setdefault("strategy", config.strategies[0])  # manifests from before paired runs
        if entry["strategy"] not in strategies:  # kept after a forced change of strategies
            strategies = {**strategies, entry["strategy"]: load_strategy(entry["strategy"])}
    ledger = RunLedger(folder, manifest)
    stack.callback(ledger.close)
    done_before = sum(entry["status"] == "finished" for entry in ledger.arcs.values())
    profiles = folder.read_profiles()
    for arc, entry in ledger.arcs.items():
        if entry["client_id"] not in profiles:
            raise RunFolderError(f"{folder.path(PROFILES)}: no profile {entry['client_id']!r} for arc {arc}")
    run = Run(
        config=config,
        folder=folder,
        ledger=ledger,
        profiles=profiles,
        models=models,
        progress=sink,
        events=events,
        saver=saver,
        keep_checkpoints=options.keep_checkpoints,
        result=RunResult(run_dir=folder.root, already_done=done_before),
    )
    for arc in ledger.unswept:
        if not options.keep_checkpoints:
            await run._forget(arc)
        ledger.mark(arc, "finished")
    todo = [arc for arc, entry in ledger.arcs.items() if entry["status"] != "finished"]
    executor = _make_executor(run, options, strategies, specs, checkpointer, prompts)
    manifest["status"] = "running"
    manifest["attempts"].append(
        {"started_at": now(), "pid": os.getpid(), "arcs_to_do": len(todo), "executor": executor.name}
    )
    ledger.save()
    events.emit("run_started", backend=config.backend, arcs=len(ledger.arcs), to_do=len(todo), executor=executor.name)
    run.progress.start(len(ledger.arcs), done_before)
    run.progress.tally.calls_left = run.calls_per_arc * len(todo)
    ticker = asyncio.create_task(_tick(run.progress))
    try:
        await executor.run([run.job(arc) for arc in todo], run)
        manifest["status"] = "completed" if not run.result.failed else "completed_with_failures"
    except BaseException:
        manifest["status"] = "interrupted"
        run.progress.note(f"interrupted; continue with: muspsy resume {folder.root}")
        raise
    finally:
        ticker.cancel()
        run.progress.close()
        _summarize(run)
        ledger.save()
        compact(saver)
        events.emit("run_finished", status=manifest["status"], **manifest["counts"])
    return run.result


async def _tick(progress: ProgressSink) -> None:
    while True:
        await asyncio.sleep(1.0)
        progress.update()


def what_to_do(run: Run, error: str, position: Position | None) -> str:
    """The advice on a failure line: the timeout setting when a call timed out, always resume."""
    resume = f"continue with: muspsy resume {run.folder.root}"
    if "timeout" not in error.lower() and "timed out" not in error.lower():
        return resume
    role = next((r for r in ROLES if position and position.role == r), None)
    timeout = role_settings(run.config, run.config.backend or "embedded")[role or "counselor"].timeout_s
    return (
        f"the call gave up after timeout_s={timeout:g} s: raise models.{role or 'default'}.timeout_s "
        f"in a --config file, then {resume}"
    )


def _summarize(run: Run) -> None:
    """Counts, usage and cost from `arcs.jsonl`, the source of truth, whatever happened before."""
    sessions, turns, usage = totals(run.folder)
    run.manifest["counts"] = {**run.ledger.counts(), "sessions": sessions, "turns": turns}
    run.manifest["usage"] = usage
    cost = estimate_cost(usage, run.models.describe(), run.config)
    if cost is not None:
        run.manifest["estimated_cost_usd"] = cost
        run.result.cost_usd = cost["total"]
    with contextlib.suppress(IndexError):
        run.manifest["attempts"][-1]["ended_at"] = now()
