"""Reading arcs `.jsonl` files (a run's `arcs.jsonl`, imported or concatenated arcs): one
reader for export, evaluate and compare, with errors that name the file, the line, the arc and
the field."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from muspsy.records import ArcRecord, ClientProfile

log = logging.getLogger(__name__)


def torn_tail_warning(path: Path) -> str:
    return (
        f"warning: {path}: ignored a torn last line (a process was killed while writing it); "
        f"`muspsy resume` on the run folder repairs it"
    )


class ArcFileError(ValueError):
    """A file of arcs (or of lines about arcs) cannot be read; the message says where and why."""


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(record)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"field {where}: {first['msg']}{more}"


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON-lines file; a torn last line
    (no newline, not JSON) is left out with a warning on stderr."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArcFileError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    rows = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not text.endswith("\n"):
                # Read-only commands report a torn tail and go on; the next resume cuts it.
                log.warning(torn_tail_warning(path))
                break
            raise ArcFileError(f"{path}: line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ArcFileError(f"{path}: line {number}: expected a JSON object, got {type(row).__name__}")
        rows.append((number, row))
    return rows


def parse_arc(data: dict[str, Any], where: str, *, full_profile: bool = True) -> ArcRecord:
    """One arc record; `where` ('file: line N') starts every error message. `full_profile`
    also requires the embedded profile to be a valid profile (exports read its intake and
    persona; metrics and judges make do with whatever fields it has)."""
    # Imported arcs carry no usage counters or run provenance; they are arcs all the same.
    data = {"usage": {}, "provenance": {}, **data}
    try:
        arc = ArcRecord.model_validate(data)
    except ValidationError as exc:
        raise ArcFileError(f"{where} (arc {data.get('arc_id', '?')}): {validation_message(exc)}") from None
    if not full_profile:
        return arc
    # A broken profile is reported here, where the file and line are known.
    try:
        ClientProfile.model_validate(arc.profile)
    except ValidationError as exc:
        message = validation_message(exc).replace("field ", "field profile.", 1)
        raise ArcFileError(f"{where} (arc {arc.arc_id}): {message}") from None
    return arc


def read_arcs(path: Path, *, full_profile: bool = True) -> list[ArcRecord]:
    return [parse_arc(row, f"{path}: line {number}", full_profile=full_profile) for number, row in read_jsonl(path)]
