"""The `muspsy` command line: run and resume arcs, show status, validate profiles, draw graphs.

User errors (bad profile, config, strategy, missing model) print one line naming the file and
field and exit with 2, never a traceback. `muspsy run` prints progress on stderr and the run
folder's path as the last line of stdout, so scripts can capture it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from muspsy import __version__
from muspsy.agents.spec import SpecError, available_strategies, load_strategy
from muspsy.arcfiles import ArcFileError
from muspsy.backends.embedded import EmbeddedModelMissing
from muspsy.checkpointers import CheckpointerError, check_checkpointer
from muspsy.config import ConfigError, build_config, load_config_file, merge, resolved
from muspsy.exports import ExportOptions, export
from muspsy.exports.parquet import DEFAULT_LICENSE
from muspsy.exports.run import Format
from muspsy.extract import ExtractionFailed, extract_profiles
from muspsy.graphs.export import GRAPH_NAMES, to_mermaid, to_node_link
from muspsy.importers import (
    ARC_FORMATS,
    PROFILE_FORMATS,
    ImportDataError,
    import_arcs,
    import_profiles,
    write_arcs,
    write_profiles,
)
from muspsy.profiles import ProfileError, load_profile, load_profiles, profile_paths
from muspsy.progress import make_progress
from muspsy.runfolder import RunFolderError
from muspsy.runner import RunResult, resume_run, start_run
from muspsy.status import run_status
from muspsy.testing.fake_openai import FAULTS, FakeOpenAIServer

USER_ERRORS = (ProfileError, ConfigError, SpecError, EmbeddedModelMissing, RunFolderError, CheckpointerError)

app = typer.Typer(
    help="Simulate multi-session psychological counseling with LLM agents and write dataset-ready arcs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
profiles_app = typer.Typer(help="Check, list, import and extract client profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")
arcs_app = typer.Typer(help="Bring published multi-session data in as arc records.", no_args_is_help=True)
app.add_typer(arcs_app, name="arcs")
dev_app = typer.Typer(help="Developer tools: a fake LLM endpoint for tests and benchmarks.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    # The message is plain text (paths may hold brackets): never parse it as rich markup.
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)


# Options that `run` and `resume` share.
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
Concurrency = Annotated[int | None, typer.Option(help="Arcs in flight at once.")]


def fail(message: str) -> NoReturn:
    print_error(message)
    raise typer.Exit(2)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        # The runner has saved the manifest and said how to resume; no traceback.
        raise typer.Exit(130) from None


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"muspsy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """muspsy: multi-session counseling simulation."""


def cli_overrides(**options: Any) -> dict[str, Any]:
    """Command-line options as a config mapping; unset options change nothing."""
    limits = {k: options.pop(k, None) for k in ("sessions_min", "sessions_max", "turns_min", "turns_max")}
    model = {"model": options.pop("model", None), "base_url": options.pop("base_url", None)}
    out: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if any(v is not None for v in limits.values()):
        out["limits"] = {k: v for k, v in limits.items() if v is not None}
    if any(v is not None for v in model.values()):
        out["models"] = {"default": {k: v for k, v in model.items() if v is not None}}
    return out


@app.command()
def run(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Profile files or folders (default: the bundled profiles).")
    ] = None,
    backend: Annotated[
        Literal["openai", "embedded", "scripted"] | None,
        typer.Option(help="Model backend. Default: openai when an endpoint or key is configured, else embedded."),
    ] = None,
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
    quiet: Quiet = False,
) -> None:
    """Run one or more multi-session arcs per profile and write a run folder."""
    with user_errors():
        data = load_config_file(config) if config else {}
        overrides = cli_overrides(
            backend=backend,
            model=model,
            base_url=base_url,
            strategy=strategy,
            outcomes=outcomes,
            seed=seed,
            language=language,
            arcs_per_profile=arcs_per_profile,
            concurrency=concurrency,
            sessions_min=sessions_min,
            sessions_max=sessions_max,
            turns_min=turns_min,
            turns_max=turns_max,
        )
        source = f"{config} (with command-line options)" if config else "command line"
        cfg = resolved(build_config(merge(data, overrides), source))
        profiles = load_profiles(paths)
        # Fail on a bad checkpointer before saying anything else (`resolved` checked the strategies).
        check_checkpointer(checkpointer)
        if not quiet:
            arcs = len(profiles) * cfg.arcs_per_profile * len(cfg.strategies)
            err.print(
                f"muspsy {__version__}: {arcs} arc(s) from {len(profiles)} profile(s), "
                f"strateg{'ies' if len(cfg.strategies) > 1 else 'y'} {', '.join(cfg.strategies)}, "
                f"backend {cfg.backend}, concurrency {cfg.concurrency}" + ("" if cfg.outcomes else ", outcomes off")
            )
        result = asyncio.run(
            start_run(profiles, cfg, runs_dir, progress=make_progress(err, quiet), checkpointer=checkpointer)
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
    checkpointer: Annotated[
        str | None, typer.Option(help="The run's postgresql:// URL, when it used Postgres with a password.")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Continue every unfinished or failed arc of a run from its last checkpoint; finished arcs are never redone."""
    with user_errors():
        overrides = merge(load_config_file(config) if config else {}, cli_overrides(concurrency=concurrency))
        result = asyncio.run(
            resume_run(
                run_dir, overrides=overrides, force=force, progress=make_progress(err, quiet), checkpointer=checkpointer
            )
        )
    finish(result, quiet)


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


@profiles_app.command("validate")
def validate(paths: Annotated[list[Path], typer.Argument(help="Profile files or folders.")]) -> None:
    """Check profile files; print one line per problem and exit 2 if any is invalid."""
    with user_errors():
        files = profile_paths(paths)
    problems = 0
    for path in files:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            problems += 1
            print_error(str(exc))
        else:
            typer.echo(f"ok {path} ({profile.id})")
    if problems:
        raise typer.Exit(2)


@profiles_app.command("list")
def list_profiles(
    paths: Annotated[list[Path] | None, typer.Argument(help="Profile files or folders (default: bundled).")] = None,
) -> None:
    """List profiles: id, language, age, attitude, risk, planned sessions."""
    with user_errors():
        for p in load_profiles(paths):
            typer.echo(
                f"{p.id}\t{p.language}\t{p.age}\t{p.attitude}\trisk={p.risk.level}\tplanned={len(p.planned_arc)}"
            )


@contextmanager
def import_errors() -> Iterator[None]:
    """`user_errors()` plus bad input to the importers and to extraction: one line, exit 2."""
    with user_errors():
        try:
            yield
        except ImportDataError as exc:
            fail(str(exc))


@profiles_app.command("import")
def import_profiles_command(
    files: Annotated[list[Path], typer.Argument(help="Source files in the chosen format.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Source format: " + ", ".join(PROFILE_FORMATS) + ".")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the profile files (<id>.yaml).")],
) -> None:
    """Convert other projects' client data into profile files, deterministically (no LLM).

    Source fields without a profile field of their own are kept under `extra`; required fields
    the source lacks get documented defaults, listed in `extra.muspsy_defaults` (docs/importers.md).
    """
    with import_errors():
        profiles = import_profiles(format, files)
        paths = write_profiles(profiles, out)
    for path in paths:
        typer.echo(str(path))
    err.print(f"{len(paths)} profile(s) from {len(files)} file(s) written to {out}")


@profiles_app.command("extract")
def extract_command(
    reports: Annotated[list[Path], typer.Argument(help="Case reports, English or Chinese, as .txt or .md files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the profile files (<report name>.yaml).")],
    source_url: Annotated[str | None, typer.Option(help="Where the reports were published (provenance.url).")] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="Licence of the reports, SPDX id if possible (provenance.license).")
    ] = None,
    backend: Annotated[
        Literal["openai", "embedded", "scripted"] | None,
        typer.Option(help="Model backend. Default: openai when an endpoint or key is configured, else embedded."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name (openai backend).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML config file; the supervisor's model extracts.")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Turn free-text case reports into validated profile files with one LLM call per report."""
    with import_errors():
        data = load_config_file(config) if config else {}
        overrides = cli_overrides(backend=backend, model=model, base_url=base_url)
        source = f"{config} (with command-line options)" if config else "command line"
        cfg = resolved(build_config(merge(data, overrides), source))

        def report_progress(n: int, path: Path) -> None:
            if not quiet:
                err.print(f"extracting {n}/{len(reports)}: {path}")

        try:
            profiles = asyncio.run(
                extract_profiles(reports, cfg, url=source_url, license=license, on_report=report_progress)
            )
        except ExtractionFailed as exc:
            print_error(str(exc))
            raise typer.Exit(1) from None
        paths = write_profiles(profiles, out)
    for path in paths:
        typer.echo(str(path))
    if not quiet:
        err.print(f"{len(paths)} profile(s) extracted with backend {cfg.backend}, written to {out}")


@arcs_app.command("import")
def import_arcs_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="muspsy: dialogue, memory and user-card files, recognised by content and grouped by the client "
            "number in their names; psycheval: case JSON files."
        ),
    ],
    format: Annotated[str, typer.Option("--format", "-f", help="Source format: " + ", ".join(ARC_FORMATS) + ".")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The arcs.jsonl file to write (replaced atomically).")],
    full_length: Annotated[
        bool,
        typer.Option(
            "--full-length",
            help="muspsy: take sessions 2.. from the dialogue file's full-length blocks instead of block 0.",
        ),
    ] = False,
) -> None:
    """Convert published multi-session dialogues into canonical arc records (arcs.jsonl), no LLM.

    Fields the source lacks get placeholders listed in each record's `import_placeholders`.
    """
    with import_errors():
        arcs = import_arcs(format, files, full_length)
        write_arcs(arcs, out)
    for arc in arcs:
        typer.echo(f"{arc.arc_id}\t{len(arc.sessions)} session(s)\t{sum(len(s.turns) for s in arc.sessions)} turn(s)")
    err.print(f"{len(arcs)} arc(s) from {len(files)} file(s) written to {out}")


@app.command()
def strategies() -> None:
    """List the counselor strategies available to --strategy: name, then its short aliases if any."""
    with user_errors():
        for name in available_strategies():
            aliases = load_strategy(name).aliases
            typer.echo(f"{name}\t{','.join(aliases)}" if aliases else name)


@app.command()
def graph(
    which: Annotated[Literal["arc", "session", "all"], typer.Option(help="Which graph to print.")] = "all",
    format: Annotated[Literal["mermaid", "json"], typer.Option(help="Mermaid text or node-link JSON.")] = "mermaid",
) -> None:
    """Print the arc and session graphs as Mermaid or as networkx node-link JSON."""
    names = GRAPH_NAMES if which == "all" else (which,)
    render: Callable[[Any], Any] = to_mermaid if format == "mermaid" else to_node_link
    if format == "json":
        typer.echo(json.dumps({name: render(name) for name in names}, indent=2))
    else:
        typer.echo("\n".join(render(name) for name in names))


@app.command("export")
def export_command(
    sources: Annotated[list[Path], typer.Argument(help="Run folders (their arcs.jsonl) or arcs .jsonl files.")],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output .jsonl file (openai, sharegpt, muspsy-tasks) or folder.")
    ],
    train: Annotated[
        Literal["counselor", "client"], typer.Option(help="openai/sharegpt: which speaker is the assistant.")
    ] = "counselor",
    unit: Annotated[
        Literal["session", "turn"],
        typer.Option(help="openai/sharegpt: one record per session, or per assistant turn with its history."),
    ] = "session",
    exclude_crisis: Annotated[
        bool, typer.Option("--exclude-crisis", help="Drop arcs with a crisis session or crisis outcome.")
    ] = False,
    min_sessions: Annotated[int, typer.Option(min=0, help="Drop arcs with fewer sessions.")] = 0,
    drop_failed: Annotated[
        bool,
        typer.Option("--drop-failed", help="Drop arcs listed in the run's failed.jsonl and incomplete arc records."),
    ] = False,
    dedup: Annotated[bool, typer.Option("--dedup", help="Leave out near-duplicate sessions (MinHash).")] = False,
    dedup_threshold: Annotated[
        float, typer.Option(help="Estimated Jaccard similarity from which a session counts as a duplicate.")
    ] = 0.8,
    license: Annotated[str, typer.Option("--license", help="parquet: licence in the dataset card.")] = DEFAULT_LICENSE,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing, non-empty output folder.")] = False,
    quiet: Quiet = False,
) -> None:
    """Export arcs to a training or sharing format; every record is checked before anything is written."""
    options = ExportOptions(
        train=train,
        unit=unit,
        exclude_crisis=exclude_crisis,
        min_sessions=min_sessions,
        drop_failed=drop_failed,
        dedup=dedup,
        dedup_threshold=dedup_threshold,
        license=license,
        force=force,
    )
    with user_errors():
        try:
            result = export(sources, format, out, options, notify=None if quiet else err.print)
        except ArcFileError as exc:
            fail(str(exc))
    if not quiet:
        err.print(result.summary())
    typer.echo(str(result.out))


@dev_app.command("fake-llm")
def fake_llm(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 0,
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
    with server:
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


# ---------------------------------------------------------------- evaluate and compare


@contextmanager
def source_errors() -> Iterator[None]:
    try:
        yield
    except ArcFileError as exc:
        fail(str(exc))


@app.command()
def evaluate(
    sources: Annotated[list[Path], typer.Argument(help="Run folders or arcs .jsonl files (simulated or imported).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Folder for one combined evaluation.jsonl/.md (default: beside each source)."
        ),
    ] = None,
    backend: Annotated[
        Literal["openai", "embedded", "scripted"] | None,
        typer.Option(help="Judge backend, as for `muspsy run`; scripted is instant and deterministic."),
    ] = None,
    model: Annotated[str | None, typer.Option(help="Default model name (openai backend).")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL.")] = None,
    judge_model: Annotated[
        str | None, typer.Option(help="Model for the judge (default: the config's models.judge, else the default).")
    ] = None,
    judge_base_url: Annotated[str | None, typer.Option(help="Base URL for the judge model only.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file (models.judge is used).")] = None,
    judges: Annotated[
        bool, typer.Option("--judges/--no-judges", help="Score with the LLM judges, or compute the metrics only.")
    ] = True,
    concurrency: Annotated[int, typer.Option(min=1, help="Sessions judged at once.")] = 4,
    quiet: Quiet = False,
) -> None:
    """Score every session: deterministic fidelity metrics and LLM judges (CTRS, alliance, MITI, crisis, persona)."""
    from muspsy.evaluation.evaluate import evaluate_all, session_progress, summary_table, write_outputs
    from muspsy.evaluation.sources import load_source

    with user_errors(), source_errors():
        loaded = [load_source(path, with_evaluation=False) for path in sources]
        cfg = None
        if judges:
            data = load_config_file(config) if config else {}
            overrides = cli_overrides(backend=backend, model=model, base_url=base_url)
            judge = {k: v for k, v in {"model": judge_model, "base_url": judge_base_url}.items() if v is not None}
            if judge:
                overrides = merge(overrides, {"models": {"judge": judge}})
            source = f"{config} (with command-line options)" if config else "command line"
            cfg = resolved(build_config(merge(data, overrides), source))
        total = sum(len(a.sessions) for s in loaded for a in s.arcs)
        what = f"judging ({cfg.backend})" if cfg else "measuring"
        with session_progress(err, quiet, total, what) as tick:
            evaluations = asyncio.run(evaluate_all(loaded, cfg, concurrency=concurrency, on_session=tick))
        written = write_outputs(evaluations, output)
    rows = [r for e in evaluations for r in e.rows]
    Console(highlight=False).print(summary_table(rows).rich())
    if cfg is not None and not quiet:
        usage = [r["judge_usage"] for e in evaluations for r in e.rows if "judge_usage" in r]
        tokens = sum(u["prompt_tokens"] + u["completion_tokens"] for u in usage)
        err.print(f"{len(usage)} session(s) judged: {sum(u['calls'] for u in usage)} judge call(s), {tokens} tokens")
    errors = sum(e.judge_errors for e in evaluations)
    if errors:
        err.print(f"{errors} judge rubric(s) failed; see the 'error' entries in evaluation.jsonl")
    for path in written:
        typer.echo(str(path))
    if errors:
        raise typer.Exit(1)


@app.command()
def compare(
    sources: Annotated[
        list[Path], typer.Argument(help="Run folders or arcs .jsonl files; their evaluation.jsonl is used if present.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for comparison.md, .csv and the PNG plots.")],
    by: Annotated[
        Literal["strategy", "source"] | None,
        typer.Option(help="Group arcs by strategy or by source (default: source for several, strategy for one)."),
    ] = None,
    evaluation: Annotated[
        list[Path] | None,
        typer.Option(help="Extra evaluation.jsonl files (e.g. written with `evaluate -o`), matched on run and arc id."),
    ] = None,
) -> None:
    """Compare groups of arcs: outcomes, fidelity and judge scores, paired differences with bootstrap CIs, plots."""
    from muspsy.evaluation.report import default_grouping, write_comparison
    from muspsy.evaluation.sources import attach_evaluations, load_source

    with user_errors(), source_errors():
        loaded = [load_source(path) for path in sources]
        attach_evaluations(loaded, evaluation or [])
        table, written = write_comparison(loaded, by or default_grouping(loaded), output)
    Console(highlight=False).print(table.rich())
    for path in written:
        typer.echo(str(path))


if __name__ == "__main__":
    app()
