"""Commands that measure counseling: evaluate (metrics and judges) and compare (tables and plots)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from muspsy.arcfiles import ArcFileError
from muspsy.backends.embedded import expected_time
from muspsy.cli.common import (
    BackendName,
    Quiet,
    app,
    cli_overrides,
    config_from,
    err,
    fail,
    user_errors,
)
from muspsy.config import merge
from muspsy.outputs import guard_output
from muspsy.promptlog import JsonlPromptLog


@contextmanager
def source_errors() -> Iterator[None]:
    try:
        yield
    except ArcFileError as exc:
        fail(str(exc))


@contextmanager
def prompt_log(path: Path | None) -> Iterator[JsonlPromptLog | None]:
    if path is None:
        yield None
        return
    try:
        log = JsonlPromptLog(path)
    except OSError as exc:
        fail(f"{path}: cannot write prompts: {exc.strerror}")
    try:
        yield log
    finally:
        log.close()


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
        BackendName | None,
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
    concurrency: Annotated[int, typer.Option(min=1, max=4096, help="Sessions judged at once.")] = 4,
    record_prompts: Annotated[
        Path | None,
        typer.Option(
            "--record-prompts", help="Append the exact messages of every judge call to this .jsonl file (role judge)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace evaluation files already in --output.")] = False,
    quiet: Quiet = False,
) -> None:
    """Score every session: deterministic fidelity metrics and LLM judges (CTRS, alliance, MITI, crisis, persona)."""
    from muspsy.evaluation.evaluate import evaluate_all, session_progress, summary_table, write_outputs
    from muspsy.evaluation.sources import load_source, unique_arcs

    with user_errors(), source_errors():
        if output is not None:
            guard_output(output, sources, force=force, writes=("evaluation.jsonl", "evaluation.md"))
        if record_prompts is not None:  # appended to by design, so no --force; never a source or run file
            guard_output(record_prompts, sources, force=True)
        loaded = unique_arcs([load_source(path, with_evaluation=False) for path in sources])
        cfg = None
        if judges:
            overrides = cli_overrides(backend=backend, model=model, base_url=base_url)
            judge = {k: v for k, v in {"model": judge_model, "base_url": judge_base_url}.items() if v is not None}
            if judge:
                overrides = merge(overrides, {"models": {"judge": judge}})
            cfg = config_from(config, overrides)
        total = sum(len(a.sessions) for s in loaded for a in s.arcs)
        what = f"judging ({cfg.backend})" if cfg else "measuring"
        if cfg is not None and cfg.backend == "embedded" and not quiet:
            # At least three rubrics per session (CTRS, alliance, persona), one call each.
            err.print(
                f"warning: judging {total} session(s) on the embedded model: {expected_time(3 * total)}; "
                "an interrupted evaluation keeps the sessions judged so far (run the same command again), "
                "--no-judges computes the metrics only"
            )

        def reused(count: int) -> None:
            if count and not quiet:
                err.print(f"{count} session(s) already judged by this model are kept, not judged again")

        with session_progress(err, quiet, total, what) as tick, prompt_log(record_prompts) as prompts:
            evaluations = asyncio.run(
                evaluate_all(
                    loaded,
                    cfg,
                    concurrency=concurrency,
                    on_session=tick,
                    out_dir=output,
                    on_reused=reused,
                    prompts=prompts,
                )
            )
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
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty --output folder, replacing its comparison.")
    ] = False,
) -> None:
    """Compare groups of arcs: outcomes, fidelity and judge scores, paired differences with bootstrap CIs, plots."""
    from muspsy.evaluation.report import default_grouping, write_comparison
    from muspsy.evaluation.sources import attach_evaluations, load_source, unique_arcs

    with user_errors(), source_errors():
        guard_output(output, [*sources, *(evaluation or [])], force=force)
        loaded = unique_arcs([load_source(path) for path in sources])
        attach_evaluations(loaded, evaluation or [])
        table, written = write_comparison(loaded, by or default_grouping(loaded), output)
    Console(highlight=False).print(table.rich())
    for path in written:
        typer.echo(str(path))
