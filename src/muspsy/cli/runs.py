"""Commands that run arcs and look at runs: run, resume, status, strategies, graph, and the
developer's fake LLM endpoint. `muspsy run` prints progress on stderr and the run folder's
path as the last line of stdout, so scripts can capture it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, Literal

import typer

from muspsy import __version__
from muspsy.agents.spec import available_strategies, load_strategy
from muspsy.backends.embedded import expected_time
from muspsy.checkpointers import check_checkpointer
from muspsy.cli.common import (
    Backend,
    Concurrency,
    ExecutorName,
    KeepCheckpoints,
    Quiet,
    RayAddress,
    Workers,
    app,
    cli_overrides,
    config_from,
    dev_app,
    err,
    fail,
    print_error,
    user_errors,
)
from muspsy.config import load_config_file, merge
from muspsy.graphs.export import GRAPH_NAMES, to_mermaid, to_node_link
from muspsy.preflight import EndpointDown
from muspsy.profiles import load_profiles
from muspsy.progress import calls_per_arc, make_progress
from muspsy.runner import ExecutorOptions, RunResult, check_executor, resume_run, start_run
from muspsy.status import run_status
from muspsy.testing.fake_openai import FAULTS, FakeOpenAIServer


@app.command()
def run(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Profile files or folders (default: the bundled profiles).")
    ] = None,
    backend: Backend = None,
    model: Annotated[str | None, typer.Option(help="Model name for every role (openai backend).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL for every role, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file (see README).")] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Counselor strategy (see `muspsy strategies`), or several separated by commas, e.g. cbt,mi: "
            "a paired design, every strategy on the same profiles with the same seeds."
        ),
    ] = None,
    outcomes: Annotated[
        bool | None,
        typer.Option(
            "--outcomes/--no-outcomes",
            help="The client fills in PHQ-9 and GAD-7 at each session's start and WAI-SR at its end (default: on).",
        ),
    ] = None,
    measurement_based_care: Annotated[
        bool | None,
        typer.Option(
            "--measurement-based-care/--no-measurement-based-care",
            help="The clinical supervisor sees the questionnaire scores in its memos and decisions (default: off).",
        ),
    ] = None,
    adaptive: Annotated[
        bool | None,
        typer.Option(
            "--adaptive/--no-adaptive",
            help="The clinical supervisor may switch the counselor's strategy between sessions (default: off, so "
            "paired arcs keep their strategy).",
        ),
    ] = None,
    follow_up_weeks: Annotated[
        int | None,
        typer.Option(help="A follow-up PHQ-9 and GAD-7 this many weeks after the exit measurement (default 0: none)."),
    ] = None,
    record_prompts: Annotated[
        bool | None,
        typer.Option(
            "--record-prompts/--no-record-prompts",
            help="Write the exact messages of every LLM call to prompts.jsonl in the run folder (default: off).",
        ),
    ] = None,
    sessions_min: Annotated[
        int | None, typer.Option(help="Fewest sessions per arc, whatever the supervisor says.")
    ] = None,
    sessions_max: Annotated[int | None, typer.Option(help="Most sessions per arc.")] = None,
    turns_min: Annotated[
        int | None, typer.Option(help="Fewest turns (both speakers) before a session may close.")
    ] = None,
    turns_max: Annotated[int | None, typer.Option(help="Most turns (both speakers) per session.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the first arc of each profile.")] = None,
    arcs_per_profile: Annotated[
        int | None, typer.Option(help="Arcs per profile, with seeds seed, seed+1, ... (distinct arc ids).")
    ] = None,
    concurrency: Concurrency = None,
    language: Annotated[str | None, typer.Option(help="Dialogue language for all arcs (en, zh, ...).")] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are created.")] = Path("runs"),
    checkpointer: Annotated[
        str | None, typer.Option(help="sqlite (default: in the run folder) or a postgresql:// URL.")
    ] = None,
    executor: ExecutorName = "local",
    workers: Workers = None,
    ray_address: RayAddress = None,
    keep_checkpoints: KeepCheckpoints = False,
    quiet: Quiet = False,
) -> None:
    """Run one or more multi-session arcs per profile and write a run folder."""
    with user_errors():
        overrides = cli_overrides(
            backend=backend,
            model=model,
            base_url=base_url,
            strategy=strategy,
            outcomes=outcomes,
            measurement_based_care=measurement_based_care,
            adaptive=adaptive,
            follow_up_weeks=follow_up_weeks,
            record_prompts=record_prompts,
            seed=seed,
            language=language,
            arcs_per_profile=arcs_per_profile,
            concurrency=concurrency,
            sessions_min=sessions_min,
            sessions_max=sessions_max,
            turns_min=turns_min,
            turns_max=turns_max,
        )
        cfg = config_from(config, overrides)
        profiles = load_profiles(paths)
        # Fail on a bad checkpointer before saying anything else (`resolved` checked the strategies).
        check_checkpointer(checkpointer)
        options = ExecutorOptions(executor, workers, ray_address, keep_checkpoints)
        check_executor(options, checkpointer, cfg)
        if not quiet:
            arcs = len(profiles) * cfg.arcs_per_profile * len(cfg.strategies)
            err.print(
                f"muspsy {__version__}: {arcs} arc(s) from {len(profiles)} profile(s), "
                f"strateg{'ies' if len(cfg.strategies) > 1 else 'y'} {', '.join(cfg.strategies)}, "
                f"backend {cfg.backend}, concurrency {cfg.concurrency}"
                + ("" if cfg.outcomes else ", outcomes off")
                + (", measurement-based care" if cfg.measurement_based_care else "")
                + (", adaptive" if cfg.adaptive else "")
                + (", recording prompts" if cfg.record_prompts else "")
                + (f", executor {executor}" if executor != "local" else "")
            )
            if cfg.backend == "embedded":
                limits = cfg.limits
                calls = arcs * calls_per_arc(
                    limits.sessions_max, limits.turns_max, cfg.outcomes, cfg.follow_up_weeks > 0
                )
                err.print(
                    f"{expected_time(calls)}; limits {limits.sessions_min}-{limits.sessions_max} sessions of "
                    f"{limits.turns_min}-{limits.turns_max} turns (short unless --sessions-max, --turns-max or "
                    "limits in a --config file say otherwise)"
                )
        result = run_until_stopped(
            start_run(
                profiles,
                cfg,
                runs_dir,
                progress=make_progress(err, quiet),
                checkpointer=checkpointer,
                executor=options,
            ),
            lambda: folder_of_this_process(runs_dir),
        )
    finish(result, quiet)


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run folder to continue.")],
    force: Annotated[bool, typer.Option(help="Continue even if the config or prompts changed.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML settings laid over the run's own config.")
    ] = None,
    concurrency: Concurrency = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible base URL for every role, as for `muspsy run`: again when the run's had a "
            "password (never stored); another endpoint changes the run's fingerprint (needs --force)."
        ),
    ] = None,
    checkpointer: Annotated[
        str | None, typer.Option(help="The run's postgresql:// URL, when it used Postgres with a password.")
    ] = None,
    executor: ExecutorName = "local",
    workers: Workers = None,
    ray_address: RayAddress = None,
    keep_checkpoints: KeepCheckpoints = False,
    quiet: Quiet = False,
) -> None:
    """Continue every unfinished or failed arc of a run from its last checkpoint, with either executor; finished
    arcs are never redone."""
    with user_errors():
        options = cli_overrides(concurrency=concurrency, base_url=base_url)
        overrides = merge(load_config_file(config) if config else {}, options)
        result = run_until_stopped(
            resume_run(
                run_dir,
                overrides=overrides,
                force=force,
                progress=make_progress(err, quiet),
                checkpointer=checkpointer,
                executor=ExecutorOptions(executor, workers, ray_address, keep_checkpoints),
            ),
            lambda: run_dir,
        )
    finish(result, quiet)


def run_until_stopped(work: Coroutine[Any, Any, RunResult], run_folder: Callable[[], Path | None]) -> RunResult:
    """Run `work`; on SIGINT, SIGTERM or a dead endpoint, print the run folder as the last
    stdout line (scripts capture it) and exit 130, 143 or 2. SIGTERM is handled like SIGINT:
    the runner saves the manifest as interrupted and says how to resume."""
    with sigterm_as_interrupt() as terminated:
        try:
            return asyncio.run(work)
        except KeyboardInterrupt:
            folder = run_folder()
            if folder is not None:
                typer.echo(str(folder))
            raise typer.Exit(143 if terminated.is_set() else 130) from None
        except EndpointDown as exc:
            folder = run_folder()
            if folder is None:
                fail(str(exc))
            print_error(f"{exc}; every arc is resumable: muspsy resume {folder}")
            typer.echo(str(folder))
            raise typer.Exit(2) from None


@contextmanager
def sigterm_as_interrupt() -> Iterator[threading.Event]:
    """While inside, SIGTERM acts as SIGINT (whatever handles SIGINT then, e.g. asyncio's
    runner, which cancels the run); the event tells the two apart afterwards."""
    terminated = threading.Event()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        terminated.set()
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def folder_of_this_process(runs_dir: Path) -> Path | None:
    """The run folder this process started under `runs_dir` (its pid is in the last attempt)."""
    candidates = sorted(runs_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates[:20]:
        try:
            attempts = json.loads(path.read_text(encoding="utf-8")).get("attempts") or [{}]
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(attempts[-1], dict) and attempts[-1].get("pid") == os.getpid():
            return path.parent
    return None


def finish(result: RunResult, quiet: bool) -> None:
    if not quiet:
        cost = f"; estimated cost ${result.cost_usd:.4f}" if result.cost_usd is not None else ""
        done = f" ({result.already_done} were already done)" if result.already_done else ""
        err.print(f"{len(result.finished)} arc(s) finished, {len(result.failed)} failed{done}{cost}; run folder:")
    typer.echo(str(result.run_dir))
    if result.failed:
        raise typer.Exit(1)


@app.command()
def status(run_dir: Annotated[Path, typer.Argument(help="A run folder.")]) -> None:
    """Show a run's finished, running, failed and pending arcs."""
    with user_errors():
        summary = run_status(run_dir)
    typer.echo(summary)


@app.command()
def show(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    arc_id: Annotated[str, typer.Argument(help="The arc, as `muspsy status` lists it.")],
    checkpointer: Annotated[
        str | None, typer.Option(help="The run's postgresql:// URL, when it used Postgres with a password.")
    ] = None,
) -> None:
    """Print one arc's transcript: a finished arc's, or a running or failed arc's dialogue so far."""
    from muspsy.show import arc_transcript

    with user_errors():
        text = asyncio.run(arc_transcript(run_dir, arc_id, checkpointer))
    typer.echo(text, nl=False)


@app.command()
def strategies() -> None:
    """List the counselor strategies available to --strategy: name, then its short aliases if any."""
    with user_errors():
        for name in available_strategies():
            aliases = load_strategy(name).aliases
            typer.echo(f"{name}\t{','.join(aliases)}" if aliases else name)


@app.command()
def graph(
    which: Annotated[Literal["arc", "session", "crisis", "all"], typer.Option(help="Which graph to print.")] = "all",
    format: Annotated[Literal["mermaid", "json"], typer.Option(help="Mermaid text or node-link JSON.")] = "mermaid",
) -> None:
    """Print the arc, session and crisis graphs as Mermaid or as networkx node-link JSON."""
    names = GRAPH_NAMES if which == "all" else (which,)
    render: Callable[[Any], Any] = to_mermaid if format == "mermaid" else to_node_link
    if format == "json":
        typer.echo(json.dumps({name: render(name) for name in names}, indent=2))
    else:
        typer.echo("\n".join(render(name) for name in names))


@dev_app.command("fake-llm")
def fake_llm(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")] = 0,
    latency_ms: Annotated[float, typer.Option(help="Delay before every answer.")] = 0.0,
    fault_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of requests that get a fault.")] = 0.0,
    faults: Annotated[
        str, typer.Option(help="Comma-separated fault kinds to draw from: " + ", ".join(FAULTS) + ".")
    ] = ",".join(FAULTS),
    hang_s: Annotated[float, typer.Option(help="How long a 'hang' fault holds the request.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed of the fault draws.")] = 0,
) -> None:
    """Serve a fake OpenAI-compatible chat endpoint on 127.0.0.1 (scripted answers, injected faults)."""
    names = {name.strip() for name in faults.split(",") if name.strip()}
    kinds = tuple(k for k in FAULTS if k in names)
    unknown = sorted(names - set(FAULTS))
    if unknown:
        fail(f"--faults: unknown fault kind(s) {', '.join(unknown)} (known: {', '.join(FAULTS)})")
    server = FakeOpenAIServer(
        latency_s=latency_ms / 1000,
        fault_rate=fault_rate,
        faults=kinds,
        hang_s=hang_s,
        seed=seed,
        port=port,
    )
    with user_errors():
        server.__enter__()  # a port in use is one line, not a traceback
    try:
        typer.echo(server.base_url, err=False)
        err.print(f"fake OpenAI endpoint at {server.base_url}; Ctrl-C to stop")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        err.print(f"served {server.requests} request(s); faults injected: {server.faults_injected}")
    finally:
        server.__exit__(None, None, None)


# ---------------------------------------------------------------- evaluate and compare
