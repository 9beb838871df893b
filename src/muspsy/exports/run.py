"""`muspsy export`: read, filter, build, check every record, then write atomically.

Nothing is written unless every record passes its format's checker. A JSONL output replaces
its file in one rename; a folder output (`muspsy-raw`, `parquet`) is written to a temporary
folder beside it and renamed into place. An existing non-empty output folder is replaced only
with `force` (a wrong `-o` must not delete someone's folder), and an existing file likewise; an output
that is a source, holds one, or lies inside a run folder is refused (`muspsy.outputs`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from muspsy.exports.chat import Train, Unit, build_openai, build_sharegpt, check_openai, check_sharegpt
from muspsy.exports.parquet import CONFIGS, DEFAULT_LICENSE, build_tables, check_tables, dataset_card
from muspsy.exports.raw import build_raw, check_raw
from muspsy.exports.sources import ExportError, Selection, load_sources, select
from muspsy.exports.tasks import build_tasks, check_tasks
from muspsy.outputs import OutputRefused, guard_output
from muspsy.redact import redact
from muspsy.runfolder import write_atomic

Format = Literal["openai", "sharegpt", "muspsy-tasks", "muspsy-raw", "parquet"]
FORMATS: tuple[Format, ...] = ("openai", "sharegpt", "muspsy-tasks", "muspsy-raw", "parquet")
FOLDER_FORMATS = ("muspsy-raw", "parquet")


@dataclass
class ExportOptions:
    train: Train = "counselor"
    unit: Unit = "session"
    exclude_crisis: bool = False
    min_sessions: int = 0
    drop_failed: bool = False
    dedup: bool = False
    dedup_threshold: float = 0.8
    license: str = DEFAULT_LICENSE
    force: bool = False


@dataclass
class ExportResult:
    out: Path
    format: Format
    records: int
    selection: Selection
    details: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        what = ", ".join(f"{v} {k}" for k, v in self.details.items()) or f"{self.records} record(s)"
        return f"{self.selection.summary()}; wrote {what} to {self.out}"


def export(
    sources: Sequence[Path],
    fmt: Format,
    out: Path,
    options: ExportOptions | None = None,
    notify: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the arcs of `sources` to `out`; `notify` hears each stage (for progress on stderr)."""
    opts = options or ExportOptions()
    say = notify or (lambda _: None)
    if fmt not in FORMATS:
        raise ExportError(f"--format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if not 0.0 < opts.dedup_threshold <= 1.0:
        raise ExportError(f"--dedup-threshold: must be in (0, 1], got {opts.dedup_threshold}")
    if fmt in FOLDER_FORMATS:
        _check_folder_target(out, opts.force)
    elif out.is_dir():
        raise ExportError(f"{out}: is a folder; {fmt} writes one .jsonl file")
    try:
        guard_output(out, sources, force=opts.force, folder=fmt in FOLDER_FORMATS)
    except OutputRefused as exc:
        raise ExportError(str(exc)) from None
    loaded = load_sources(sources)
    say(
        f"read {len(loaded.arcs)} arc(s) from {len(sources)} source(s)"
        + ("; finding near-duplicates" if opts.dedup else "")
    )
    selection = select(
        loaded,
        exclude_crisis=opts.exclude_crisis,
        min_sessions=opts.min_sessions,
        drop_failed=opts.drop_failed,
        dedup_threshold=opts.dedup_threshold if opts.dedup else None,
    )
    say(f"building {fmt} from {len(selection.arcs)} arc(s) and checking every record")
    if fmt in ("openai", "sharegpt", "muspsy-tasks"):
        records = _jsonl_records(fmt, selection, opts)
        _checked(out, lambda: _check_records(fmt, records, selection))
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        details = _task_counts(records) if fmt == "muspsy-tasks" else {"record(s)": len(records)}
        return ExportResult(out, fmt, len(records), selection, details)
    if fmt == "muspsy-raw":
        files = build_raw(selection)
        _checked(out, lambda: check_raw(files))
        _write_folder(
            out,
            opts.force,
            lambda tmp: [(tmp / name).write_text(redact(text), encoding="utf-8") for name, text in files.items()],
        )
        arcs = sum(1 for name in files if name.startswith("dialogues_"))
        return ExportResult(out, fmt, arcs, selection, {"arc(s) as file triples": arcs})
    tables = build_tables(selection)
    _checked(out, lambda: check_tables(tables))
    card = dataset_card(selection, tables, opts.license)
    _write_folder(out, opts.force, lambda tmp: _write_parquet(tmp, tables, card))
    details = {f"{name} row(s)": tables[name].num_rows for name in CONFIGS}
    return ExportResult(out, fmt, tables["sessions"].num_rows, selection, details)


def _jsonl_records(fmt: Format, selection: Selection, opts: ExportOptions) -> list[dict[str, Any]]:
    if fmt == "openai":
        return build_openai(selection, opts.train, opts.unit)
    if fmt == "sharegpt":
        return build_sharegpt(selection, opts.train, opts.unit)
    return build_tasks(selection)


def _check_records(fmt: Format, records: list[dict[str, Any]], selection: Selection) -> None:
    if fmt == "openai":
        check_openai(records)
    elif fmt == "sharegpt":
        check_sharegpt(records)
    else:
        check_tasks(records, selection.arcs)


def _checked(out: Path, check: Any) -> None:
    try:
        check()
    except ExportError as exc:
        raise ExportError(f"{out}: {exc}; nothing written") from None


def _task_counts(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in records:
        counts[f"{record['task']} record(s)"] = counts.get(f"{record['task']} record(s)", 0) + 1
    return counts


def _check_folder_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out}: folder exists and is not empty (use --force to replace it)")


def _write_parquet(folder: Path, tables: dict[str, pa.Table], card: str) -> None:
    for name, table in tables.items():
        (folder / name).mkdir()
        pq.write_table(table, folder / name / "train.parquet")
    (folder / "README.md").write_text(redact(card), encoding="utf-8")


def _write_folder(out: Path, force: bool, fill: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes owner-only folders; exports are meant to be shared
        fill(tmp)
        if out.exists():
            _check_folder_target(out, force)
            old = out.parent / f"{tmp.name}.old"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_output(fmt: Format, out: Path) -> int:
    """Re-read a written export and run its format's checker; returns the number of records."""
    if fmt in ("openai", "sharegpt", "muspsy-tasks"):
        records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        {"openai": check_openai, "sharegpt": check_sharegpt, "muspsy-tasks": check_tasks}[fmt](records)
        return len(records)
    if fmt == "muspsy-raw":
        files = {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.is_file()}
        check_raw(files)
        return sum(1 for name in files if name.startswith("dialogues_"))
    tables = {name: pq.read_table(out / name / "train.parquet") for name in CONFIGS}
    check_tables(tables)
    rows: int = tables["sessions"].num_rows
    return rows
