"""`muspsy-tasks`: the MusPsy paper's three training tasks as instruction records.

Each record is `{"task", "instruction", "input", "output", "run_id", "arc_id", "session",
"turn", "phase", "technique", "strategy", "termination"}` (`turn`, `phase` and `technique` only
for counseling generation: the index of the counselor turn in `output`, and the protocol phase
and technique it used, null for arcs without protocol labels; `strategy` the one the session
used, `termination` whether it was the termination session), plus the session's
`risk_assessment`, `safety_plan` and `disposition` (null without a crisis protocol).
- `memory_extraction`: the memories of earlier sessions, the session goal and the transcript ->
  the memo in the paper's memory layout (what the clinical supervisor saw when it wrote it);
- `goal_planning`: intake information and the memories of earlier sessions -> this session's goal;
- `counseling_generation`: what the simulated counselor saw (its approach, the intake, the plan,
  the last memory and earlier summaries, the safety plan it carried into the session, the
  session goal) and the dialogue so far -> the next
  counselor utterance. One record per counselor utterance that answers a client utterance (a
  session's opening line answers nobody and gets none).

One memory layout (`views.memo_text`) serves all three tasks. Targets come from the clinical
supervisor, which sees only what the counselor learned (`muspsy.views`), so a memory target
is derivable from its input; no profile-private text is in any input ("client information" is
the intake). Imported arcs list the fields their source lacked in `import_placeholders`
(`sessions[<n>].memo.summary`, `sessions[<n>].goal`, ...): a memory-extraction or goal-planning
record whose target would be such a placeholder is left out, so no model learns to write one.
`check_tasks` verifies every record, and with the arcs at hand cross-checks that each
counseling-generation output is a counselor turn answering a client turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from muspsy import views
from muspsy.agents.spec import SpecError, load_spec, load_strategy
from muspsy.course import plan_in_force, session_strategy
from muspsy.exports.context import (
    LABELS,
    carried_safety_plan,
    counselor_memories,
    dialogue_lines,
    memory_text,
    one_line,
    profile_of,
    render,
    utterances,
)
from muspsy.exports.sources import ExportError, Selection
from muspsy.records import ArcRecord, SessionRecord, Turn

TASKS = ("memory_extraction", "goal_planning", "counseling_generation")
FIELDS = {"task", "instruction", "input", "output", "run_id", "arc_id", "session", "turn"}
TASK_FILES = {"memory_extraction": "memory", "goal_planning": "goal", "counseling_generation": "counseling"}


# The session's crisis protocol, on every record of that session (null when it did not run).
CRISIS_FIELDS = ("risk_assessment", "safety_plan", "disposition")


def _record(
    task: str,
    arc: ArcRecord,
    session: SessionRecord,
    text_in: str,
    text_out: str,
    turn: int | None = None,
    labels: Turn | None = None,
) -> dict[str, Any]:
    found = session.model_dump(mode="json", include=set(CRISIS_FIELDS))
    return {
        "task": task,
        "instruction": render(f"task_{TASK_FILES[task]}"),
        "input": text_in,
        "output": text_out,
        "run_id": arc.run_id,
        "arc_id": arc.arc_id,
        "session": session.index,
        "turn": turn,
        # Counseling generation: the protocol phase and technique of the target turn.
        "phase": labels.phase if labels else None,
        "technique": labels.technique if labels else None,
        "strategy": session_strategy(arc, session),
        "termination": session.termination,
        **{name: found.get(name) for name in CRISIS_FIELDS},
    }


MEMO_TARGETS = ("summary", "emotion_and_cognitive_state", "counselor_observations", "session_goal")


def placeholders(arc: ArcRecord) -> set[str]:
    """Field paths an importer filled with placeholders (an extra field of imported arcs)."""
    marked = (arc.model_extra or {}).get("import_placeholders")
    return set(marked) if isinstance(marked, dict) else set()


def strategy_text(name: str) -> str:
    """The strategy as the counselor's prompt showed it; an unknown one (imported arcs) by name."""
    try:
        return views.strategy_text(load_strategy(name))
    except SpecError:
        return name


def build_tasks(selection: Selection) -> list[dict[str, Any]]:
    counselor_settings = load_spec("counselor").settings
    records: list[dict[str, Any]] = []
    for arc in selection.arcs:
        intake = views.intake_text(profile_of(arc))
        invented = placeholders(arc)
        for session in arc.sessions:
            if selection.skipped(arc, session.index):
                continue
            items = utterances(session)
            n = str(session.index)
            at = f"sessions[{session.index}]"
            earlier = [s for s in arc.sessions if s.index < session.index]
            memories = "\n\n".join(f"Session {s.index}:\n{memory_text(s.memo)}" for s in earlier)
            if not any(f"{at}.memo.{name}" in invented for name in MEMO_TARGETS):
                records.append(
                    _record(
                        "memory_extraction",
                        arc,
                        session,
                        render(
                            "input_memory",
                            session=n,
                            goal=one_line(session.goal),
                            memories=memories or "(none: first session)",
                            transcript=dialogue_lines(items),
                        ),
                        memory_text(session.memo),
                    )
                )
            if f"{at}.goal" not in invented:
                records.append(
                    _record(
                        "goal_planning",
                        arc,
                        session,
                        render("input_goal", profile=intake, memories=memories or "(none: first session)", session=n),
                        one_line(session.goal),
                    )
                )
            memory = counselor_memories(arc, session, counselor_settings.earlier_memos)
            seen = {
                "strategy": strategy_text(session_strategy(arc, session)),
                "profile": intake,
                "plan": views.plan_text(plan_in_force(arc, session.index)),
            }
            for i, item in enumerate(items):
                if item.speaker != "counselor" or i == 0 or items[i - 1].speaker != "client":
                    continue
                text_in = render(
                    "input_counseling",
                    session=n,
                    goal=one_line(session.goal),
                    memory=memory,
                    safety_plan=carried_safety_plan(session),
                    dialogue=dialogue_lines(items[:i]),
                    **seen,
                )
                labels = next(t for t in session.turns if t.index == item.turn)
                records.append(_record("counseling_generation", arc, session, text_in, item.text, item.turn, labels))
    return records


def _where(number: int, record: dict[str, Any]) -> str:
    turn = f", turn {record.get('turn')}" if record.get("turn") is not None else ""
    return f"record {number} (arc {record.get('arc_id')}, session {record.get('session')}{turn})"


def check_tasks(records: Sequence[Any], arcs: Sequence[ArcRecord] | None = None) -> None:
    """Every field present and non-empty; every counseling-generation input ends with a client
    line and its output is a counselor turn (checked against `arcs` when given)."""
    by_key = {(a.run_id, a.arc_id): a for a in arcs or []}
    client, counselor = f"{LABELS['client']}:", f"{LABELS['counselor']}:"
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise ExportError(f"record {number}: must be an object")
        where = _where(number, record)
        missing = FIELDS - set(record)
        if missing:
            raise ExportError(f"{where}: field {sorted(missing)[0]}: missing")
        if record["task"] not in TASKS:
            raise ExportError(f"{where}: field task: unknown task {record['task']!r}")
        for name in ("instruction", "input", "output", "arc_id"):
            if not isinstance(record[name], str) or not record[name].strip():
                raise ExportError(f"{where}: field {name}: empty or not a string")
        if not isinstance(record["session"], int) or record["session"] < 1:
            raise ExportError(f"{where}: field session: must be a session number")
        for name in CRISIS_FIELDS:
            if not isinstance(record.get(name), dict | str | None):
                raise ExportError(f"{where}: field {name}: must be an object, a string or null")
        if record["task"] != "counseling_generation":
            continue
        last = record["input"].rstrip().splitlines()[-1]
        if not last.startswith(client):
            speaker = "a counselor" if last.startswith(counselor) else "no client"
            raise ExportError(f"{where}: field input: the dialogue ends with {speaker} turn, not a client turn")
        if record["output"].lstrip().startswith((client, counselor)):
            raise ExportError(f"{where}: field output: must be the counselor's words only, not a labelled line")
        arc = by_key.get((record["run_id"], record["arc_id"]))
        if arc is not None:
            _cross_check(where, record, arc)


def _cross_check(where: str, record: dict[str, Any], arc: ArcRecord) -> None:
    session = next((s for s in arc.sessions if s.index == record["session"]), None)
    if session is None:
        raise ExportError(f"{where}: field session: the arc has no session {record['session']}")
    turns = {t.index: t for t in session.turns}
    turn = turns.get(record["turn"]) if isinstance(record["turn"], int) else None
    if turn is None:
        raise ExportError(f"{where}: field turn: the session has no turn {record['turn']}")
    if turn.speaker != "counselor":
        raise ExportError(f"{where}: field output: turn {turn.index} is a {turn.speaker} turn, not a counselor turn")
    before = [t for t in session.turns if t.index < turn.index and t.text.strip()]
    if not before or before[-1].speaker != "client":
        raise ExportError(f"{where}: field input: turn {turn.index} does not answer a client turn")
