"""Shared pieces of the arc importers: turns, placeholder memos, the record and its output.

Imported arcs are real dialogue with whatever the source says about it. Required record
fields the source does not have get a fixed placeholder and are listed in the record's
`import_placeholders` (field path -> reason), so nothing invented passes as source content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from muspsy import __version__
from muspsy.importers.common import ImportDataError, sha256_file, source_name
from muspsy.records import (
    ArcRecord,
    ClientProfile,
    ClientState,
    Memo,
    Outcome,
    SessionRecord,
    TreatmentPlan,
    Turn,
)
from muspsy.runfolder import write_atomic

PLACEHOLDER = "Not in the source (imported arc)."
# The memo's ratings the source does not give; also flagged in import_placeholders.
PLACEHOLDER_PROGRESS = "unknown"
PLACEHOLDER_RISK = "unknown"


def run_id_for(paths: Sequence[Path]) -> str:
    """`import-<sha8>` from the inputs' contents: the same files give the same run id."""
    digest = hashlib.sha256("".join(sorted(sha256_file(p) for p in paths)).encode()).hexdigest()
    return f"import-{digest[:8]}"


def make_turns(lines: Sequence[tuple[str, str]]) -> list[Turn]:
    turns = []
    for index, (speaker, text) in enumerate(lines, start=1):
        kind = "open" if index == 1 and speaker == "counselor" else "dialogue"
        turns.append(Turn(index=index, speaker=speaker, text=text, kind=kind))
    return turns


class Placeholders:
    """Records which fields of an arc were filled with placeholders, and why."""

    def __init__(self) -> None:
        self.used: dict[str, str] = {}

    def text(self, field: str, value: str | None, reason: str = "not in the source") -> str:
        if value and value.strip():
            return value.strip()
        self.used[field] = reason
        return PLACEHOLDER

    def mark(self, field: str, reason: str) -> None:
        self.used[field] = reason


def memo_of(
    marks: Placeholders,
    session: int,
    *,
    summary: str | None = None,
    state: str | None = None,
    observations: str | None = None,
    assignments: list[str] | None = None,
    goal: str | None = None,
    next_goal: str | None = None,
) -> Memo:
    at = f"sessions[{session}].memo"
    marks.mark(f"{at}.progress", f"the source does not rate progress; placeholder {PLACEHOLDER_PROGRESS!r}")
    marks.mark(f"{at}.risk", f"the source does not rate risk; placeholder {PLACEHOLDER_RISK!r}")
    if not assignments:
        marks.mark(f"{at}.counseling_assignments", "not in the source; empty list")
    return Memo(
        summary=marks.text(f"{at}.summary", summary),
        emotion_and_cognitive_state=marks.text(f"{at}.emotion_and_cognitive_state", state),
        counselor_observations=marks.text(f"{at}.counselor_observations", observations),
        counseling_assignments=[a for a in assignments or [] if a.strip()],
        session_goal=marks.text(f"{at}.session_goal", goal),
        next_session_goal=marks.text(f"{at}.next_session_goal", next_goal),
        progress=PLACEHOLDER_PROGRESS,
        risk=PLACEHOLDER_RISK,
    )


def imported_session(
    marks: Placeholders,
    index: int,
    *,
    goal: str | None,
    client_state: ClientState,
    homework_reviewed: list[str],
    lines: Sequence[tuple[str, str]],
    memo: Memo,
) -> SessionRecord:
    """One session of an imported arc: the homework given is the memo's, and how the session
    ended is a listed placeholder (no source says)."""
    at = f"sessions[{index}]"
    marks.mark(f"{at}.end_reason", "the source does not say how sessions ended: 'counselor_closed'")
    return SessionRecord(
        index=index,
        goal=marks.text(f"{at}.goal", goal),
        client_state=client_state,
        homework_reviewed=homework_reviewed,
        turns=make_turns(lines),
        homework_given=memo.counseling_assignments,
        end_reason="counselor_closed",
        memo=memo,
    )


def arc_record(
    *,
    fmt: str,
    run_id: str,
    sources: Sequence[Path],
    profile: ClientProfile,
    language: str,
    strategy: str,
    plan: TreatmentPlan,
    sessions: list[SessionRecord],
    marks: Placeholders,
    source_extra: dict[str, Any],
    arc_id: str | None = None,
) -> ArcRecord:
    """The imported arc; its id is `<profile id>--imported` unless the source keeps one."""
    if not sessions:
        raise ImportDataError(f"{sources[0]}: no sessions to import")
    return ArcRecord(
        run_id=run_id,
        arc_id=arc_id or f"{profile.id}--imported",
        client_id=profile.id,
        language=language,
        profile=profile.model_dump(mode="json", by_alias=True),
        strategy=strategy,
        plan=plan,
        sessions=sessions,
        outcome=Outcome(
            end_reason="max_sessions",
            sessions=len(sessions),
            rationale=f"Imported from {fmt} data ({', '.join(source_name(p) for p in sources)}); "
            "the source records no end reason, so the arc ends after its last recorded session.",
        ),
        usage={},
        provenance={
            "kind": "imported",
            "format": fmt,
            "version": __version__,
            "sources": [{"file": p.name, "path": source_name(p), "sha256": sha256_file(p)} for p in sources],
        },
        import_placeholders=dict(sorted(marks.used.items())),
        source_extra=source_extra,
    )


def write_arcs(arcs: Sequence[ArcRecord], out: Path) -> None:
    """All arcs as JSON lines, written atomically (a reader never sees half a file)."""
    text = "".join(json.dumps(a.model_dump(mode="json", by_alias=True), ensure_ascii=False) + "\n" for a in arcs)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, text)
    except OSError as exc:
        raise ImportDataError(f"{out}: cannot write: {exc.strerror or exc}") from None
