"""A run: many arcs with one config, written to `runs/<run_id>/`.

Each arc is one LangGraph thread checkpointed in the run's SQLite file with durability
`sync`, so a node that finished is never paid for again. One arc's failure is recorded and the
run goes on.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from muspsy import __version__
from muspsy.agents.spec import AgentSpec, Strategy, load_spec, load_strategy
from muspsy.backends import ResolvedModels, open_models
from muspsy.config import RunConfig, fingerprint
from muspsy.events import JsonlEventLog
from muspsy.graphs.arc import build_arc_graph, recursion_limit
from muspsy.graphs.state import ArcState, add_usage
from muspsy.records import ROLES, ArcRecord, ClientProfile, Role
from muspsy.runfolder import CHECKPOINTS, EVENTS, RunFolder

Reporter = Callable[[str], None]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def prompt_hashes(specs: dict[Role, AgentSpec], strategy: Strategy) -> dict[str, str]:
    hashes = {f"{role}/{name}": t.sha256 for role, spec in specs.items() for name, t in spec.templates.items()}
    hashes[f"counselor/strategies/{strategy.name}"] = _sha256(strategy.model_dump_json())
    return dict(sorted(hashes.items()))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_run_id(runs_dir: Path, config_fingerprint: str) -> str:
    base = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{config_fingerprint[:6]}"
    run_id, n = base, 1
    while (runs_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def arc_id(profile: ClientProfile, strategy: str, seed: int) -> str:
    return f"{profile.id}--{strategy}--seed{seed}"


def initial_arc_state(run_id: str, profile: ClientProfile, config: RunConfig) -> ArcState:
    return {
        "run_id": run_id,
        "arc_id": arc_id(profile, config.strategy, config.seed),
        "seed": config.seed,
        "strategy": config.strategy,
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


@dataclass
class RunResult:
    run_dir: Path
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """One run's shared context: config, folder, models' description, manifest."""

    config: RunConfig
    folder: RunFolder
    run_id: str
    strategy: Strategy
    specs: dict[Role, AgentSpec]
    manifest: dict[str, Any] = field(default_factory=dict)

    def provenance(self, models: ResolvedModels, started: str) -> dict[str, Any]:
        return {
            "version": __version__,
            "backend": models.backend,
            "models": models.describe(),
            "prompt_hashes": self.manifest["prompt_hashes"],
            "config_fingerprint": self.manifest["config_fingerprint"],
            "seed": self.config.seed,
            "started_at": started,
            "finished_at": now(),
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


async def run_arcs(
    profiles: Sequence[ClientProfile],
    config: RunConfig,
    runs_dir: Path,
    *,
    report: Reporter = lambda message: None,
) -> RunResult:
    """Run one arc per profile with `config` (already resolved) and write the run folder.

    Bad configuration (unknown strategy, missing key, missing embedded model) raises before
    anything is written.
    """
    strategy = load_strategy(config.strategy)
    specs = {role: load_spec(role) for role in ROLES}
    async with AsyncExitStack() as stack:
        report(f"backend: {config.backend}")
        models = await open_models(config, stack)
        run = _start_run(config, runs_dir, strategy, specs, profiles, models)
        events = JsonlEventLog(run.folder.path(EVENTS), run=run.run_id)
        stack.callback(events.close)
        result = RunResult(run_dir=run.folder.root)
        events.emit("run_started", backend=config.backend, arcs=len(profiles), strategy=config.strategy)
        try:
            saver = await stack.enter_async_context(
                AsyncSqliteSaver.from_conn_string(str(run.folder.path(CHECKPOINTS)))
            )
            graph = build_arc_graph(
                models.models, strategy, events=events, retries=config.structured_retries, specs=specs
            ).compile(checkpointer=saver)
            for number, profile in enumerate(profiles, start=1):
                say = _prefixed(report, number, len(profiles))
                await _run_one_arc(graph, run, models, profile, events, result, say)
            run.manifest["status"] = "completed" if not result.failed else "completed_with_failures"
        except BaseException:
            run.manifest["status"] = "interrupted"
            raise
        finally:
            run.manifest["updated_at"] = now()
            run.folder.write_manifest(run.manifest)
            events.emit("run_finished", status=run.manifest["status"], **run.manifest["counts"])
    return result


def _prefixed(report: Reporter, number: int, total: int) -> Reporter:
    return lambda message: report(f"[{number}/{total}] {message}")


def _start_run(
    config: RunConfig,
    runs_dir: Path,
    strategy: Strategy,
    specs: dict[Role, AgentSpec],
    profiles: Sequence[ClientProfile],
    models: ResolvedModels,
) -> Run:
    config_fp = fingerprint(config)
    runs_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(runs_dir, config_fp)
    folder = RunFolder(runs_dir / run_id)
    folder.create()
    run = Run(config=config, folder=folder, run_id=run_id, strategy=strategy, specs=specs)
    run.manifest = {
        "schema": "muspsy.manifest/1",
        "run_id": run_id,
        "status": "running",
        "created_at": now(),
        "updated_at": now(),
        "version": __version__,
        "backend": config.backend,
        "models": models.describe(),
        "config": config.model_dump(mode="json"),
        "config_fingerprint": config_fp,
        "prompt_hashes": prompt_hashes(specs, strategy),
        "seed": config.seed,
        "profiles": [p.id for p in profiles],
        "counts": {"arcs": len(profiles), "finished": 0, "failed": 0, "sessions": 0, "turns": 0},
        "failed": [],
        "usage": {},
    }
    folder.write_manifest(run.manifest)
    return run


async def _run_one_arc(
    graph: Any,
    run: Run,
    models: ResolvedModels,
    profile: ClientProfile,
    events: JsonlEventLog,
    result: RunResult,
    report: Reporter,
) -> None:
    state = initial_arc_state(run.run_id, profile, run.config)
    arc = state["arc_id"]
    limits = run.config.limits
    started, clock = now(), time.perf_counter()
    report(f"{arc}: running")
    events.emit("arc_started", arc=arc, client=profile.id)
    try:
        thread = {
            "configurable": {"thread_id": arc},
            "recursion_limit": recursion_limit(limits.sessions_max, limits.turns_max),
        }
        # Stream the arc-level steps so a long arc on a slow model shows life after each session.
        async for update in graph.astream(state, thread, durability="sync", stream_mode="updates"):
            if "memo" in update:
                done = update["memo"]["sessions"][-1]
                report(f"{arc}: session {done['index']} done ({len(done['turns'])} turns)")
        final = (await graph.aget_state(thread)).values
        record = assemble_record(final, run.provenance(models, started))
    except Exception as exc:  # one arc's failure must not stop the others
        message = f"{type(exc).__name__}: {exc}"
        result.failed[arc] = message
        run.folder.add_failure(arc, profile.id, message)
        run.manifest["failed"].append({"arc_id": arc, "error": message})
        run.manifest["counts"]["failed"] += 1
        events.emit("arc_failed", arc=arc, error=message)
        report(f"{arc}: FAILED: {message}")
    else:
        run.folder.add_arc(record)
        result.finished.append(arc)
        counts = run.manifest["counts"]
        counts["finished"] += 1
        counts["sessions"] += len(record.sessions)
        counts["turns"] += sum(len(s.turns) for s in record.sessions)
        run.manifest["usage"] = add_usage(run.manifest["usage"], final["usage"])
        seconds = time.perf_counter() - clock
        events.emit(
            "arc_finished",
            arc=arc,
            sessions=len(record.sessions),
            seconds=round(seconds, 3),
            end_reason=record.outcome.end_reason,
        )
        report(f"{arc}: {record.outcome.end_reason} after {len(record.sessions)} session(s) in {seconds:.1f} s")
    run.manifest["updated_at"] = now()
    run.folder.write_manifest(run.manifest)
