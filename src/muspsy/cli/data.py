"""Commands that bring data in and take datasets out: profiles validate, list, import and
extract; arcs import; export.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.text import Text

from muspsy.arcfiles import ArcFileError
from muspsy.cli.common import (
    Backend,
    Quiet,
    app,
    arcs_app,
    cli_overrides,
    config_from,
    err,
    fail,
    print_error,
    profiles_app,
    user_errors,
)
from muspsy.exports import ExportOptions, export
from muspsy.exports.parquet import DEFAULT_LICENSE
from muspsy.exports.run import Format
from muspsy.extract import ExtractionFailed, extract_profiles, profile_ids
from muspsy.importers import (
    ARC_FORMATS,
    PROFILE_FORMATS,
    Batch,
    ImportDataError,
    import_arcs,
    import_profiles,
    write_arcs,
    write_profiles,
)
from muspsy.outputs import guard_output
from muspsy.profiles import ProfileError, load_profile, load_profiles, profile_paths
from muspsy.records import ArcRecord
from muspsy.runfolder import write_atomic

Force = Annotated[bool, typer.Option("--force", help="Replace output files that already exist.")]


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


SkipBad = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="Import the good records of the batch, list the bad ones (file, record, field, reason) in "
        "<out>.bad.jsonl beside the output and exit 1. Without it the first bad record stops the import.",
    ),
]


def bad_report_path(out: Path) -> Path:
    """`arcs.jsonl` -> `arcs.bad.jsonl`; a profile folder `DIR` -> `DIR.bad.jsonl` beside it."""
    return out.with_name(f"{out.name.removesuffix('.jsonl')}.bad.jsonl")


def report_bad(batch: Batch, out: Path) -> None:
    """With --skip-bad: write the report of bad records (empty when there were none); exit 1
    when some records were left out."""
    if not batch.skip_bad:
        return
    report = bad_report_path(out)
    try:
        write_atomic(report, "".join(json.dumps(bad, ensure_ascii=False) + "\n" for bad in batch.bad))
    except OSError as exc:
        fail(f"{report}: cannot write: {exc.strerror or exc}")
    if batch.bad:
        for bad in batch.bad:
            err.print(Text.assemble(("skipped:", "bold yellow"), " ", bad["error"]), soft_wrap=True)
        err.print(Text(f"{len(batch.bad)} bad record(s) left out, listed in {report}"), soft_wrap=True)
        raise typer.Exit(1)


@profiles_app.command("import")
def import_profiles_command(
    files: Annotated[list[Path], typer.Argument(help="Source files in the chosen format.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Source format: " + ", ".join(PROFILE_FORMATS) + ".")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the profile files (<id>.yaml).")],
    skip_bad: SkipBad = False,
    force: Force = False,
) -> None:
    """Convert other projects' client data into profile files, deterministically (no LLM).

    Source fields without a profile field of their own are kept under `extra`; required fields
    the source lacks get documented defaults, listed in `extra.muspsy_defaults` (docs/importers.md).
    """
    batch = Batch(skip_bad)
    with import_errors():
        profiles = import_profiles(format, files, batch)
        guard_output(out, files, force=force, writes=[f"{p.id}.yaml" for p in profiles])
        paths = write_profiles(profiles, out) if profiles else []
    for path in paths:
        typer.echo(str(path))
    written = f"written to {out}" if paths else "nothing written"
    err.print(Text(f"{len(paths)} profile(s) from {len(files)} file(s) {written}"), soft_wrap=True)
    report_bad(batch, out)


@profiles_app.command("extract")
def extract_command(
    reports: Annotated[list[Path], typer.Argument(help="Case reports, English or Chinese, as .txt or .md files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the profile files (<report name>.yaml).")],
    source_url: Annotated[str | None, typer.Option(help="Where the reports were published (provenance.url).")] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="Licence of the reports, SPDX id if possible (provenance.license).")
    ] = None,
    backend: Backend = None,
    model: Annotated[str | None, typer.Option(help="Model name (openai backend).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML config file; the supervisor's model extracts.")
    ] = None,
    quiet: Quiet = False,
    force: Force = False,
) -> None:
    """Turn free-text case reports into validated profile files with one LLM call per report."""
    with import_errors():
        # Checked before the first LLM call: a refusal after paid extractions would waste them.
        guard_output(out, reports, force=force, writes=[f"{i}.yaml" for i in profile_ids(reports)])
        cfg = config_from(config, cli_overrides(backend=backend, model=model, base_url=base_url))

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


def sessions_summary(arc: ArcRecord) -> str:
    """`3 of 3 session(s) (3 memories in memories_7.txt)`: found vs what the source implies."""
    check = (arc.model_extra or {}).get("source_extra", {}).get("sessions_check") or {}
    expected = check.get("expected")
    found = f"{len(arc.sessions)} of {expected}" if expected is not None else f"{len(arc.sessions)} of ?"
    return f"{found} session(s) ({check.get('expected_from', 'no expected count')})"


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
            help="muspsy, compact layout: take sessions 2.. from the dialogue file's full-length blocks instead of "
            "block 0.",
        ),
    ] = False,
    skip_bad: SkipBad = False,
    force: Force = False,
) -> None:
    """Convert published multi-session dialogues into canonical arc records (arcs.jsonl), no LLM.

    Prints per client the sessions found and the number the source implies; differing counts are bad input.

    Fields the source lacks get placeholders listed in each record's `import_placeholders`.
    """
    batch = Batch(skip_bad)
    with import_errors():
        arcs = import_arcs(format, files, full_length, batch)
        if arcs:
            guard_output(out, files, force=force)
            write_arcs(arcs, out)
    for arc in arcs:
        typer.echo(f"{arc.arc_id}\t{sessions_summary(arc)}\t{sum(len(s.turns) for s in arc.sessions)} turn(s)")
    written = f"written to {out}" if arcs else "nothing written"
    err.print(Text(f"{len(arcs)} arc(s) from {len(files)} file(s) {written}"), soft_wrap=True)
    report_bad(batch, out)


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
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output file or non-empty output folder.")
    ] = False,
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
