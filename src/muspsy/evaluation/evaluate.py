"""`muspsy evaluate`: fidelity metrics and LLM judge scores for every session of some sources.

Output, `evaluation.jsonl`, holds one line per session (`"kind": "session"`) and one per arc
(`"kind": "arc"`, with arc-level metrics and the mean judge scores of its sessions), plus
`evaluation.md` with the summary table. Both are written atomically: into the run folder, or
beside an arcs file as `<stem>.evaluation.jsonl` / `.md`, or all together into `-o DIR`.

Resumable: while judging, each judged session is appended to the evaluation file at once, and
a later `muspsy evaluate` with the same judge model keeps every session judged there without
an error and judges only the rest. A kill loses at most the sessions being judged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from muspsy.config import RunConfig
from muspsy.course import session_strategy
from muspsy.evaluation.judges import judge_session, matched_fidelity, open_judge
from muspsy.evaluation.metrics import arc_metrics, session_metrics
from muspsy.evaluation.sources import Source, evaluation_file, seed_of
from muspsy.evaluation.tables import Table
from muspsy.events import NullEventLog
from muspsy.llm import RoleModel
from muspsy.promptlog import PromptLog
from muspsy.records import ArcRecord
from muspsy.runfolder import append_line, read_lines, repair_tail, write_atomic

SessionKey = tuple[str, str, str, int]

RUBRIC_COLUMNS = ("ctrs", "miti", "miti_behaviours", "pceps", "sfbt", "alliance", "crisis", "persona")
RUBRIC_LABELS = {
    "ctrs": "CTRS total (0-66)",
    "miti": "MITI globals (1-5)",
    "miti_behaviours": "MITI reflections per question",
    "pceps": "person-centred process (1-6)",
    "sfbt": "SFBT fidelity (1-5)",
    "alliance": "observer alliance (1-7)",
    "crisis": "crisis handling (1-5)",
    "persona": "persona consistency (1-5)",
}


@dataclass
class Evaluation:
    source: Source
    rows: list[dict[str, Any]]
    judge_errors: int


def _identity(source: Source, arc: ArcRecord) -> dict[str, Any]:
    return {
        "source": source.name,
        "run_id": arc.run_id,
        "arc_id": arc.arc_id,
        "client_id": arc.client_id,
        "seed": seed_of(arc),
        "strategy": arc.strategy,
        "language": arc.language,
    }


def _instruments(arc: ArcRecord, position: int) -> dict[str, int | None]:
    s = arc.sessions[position]
    return {
        name: score.total if score else None
        for name, score in (("phq9", s.phq9), ("gad7", s.gad7), ("wai_sr", s.wai_sr))
    }


def _trajectories(arc: ArcRecord) -> dict[str, list[int | None]]:
    """Per instrument, the totals by session (None where a session has no score)."""
    return {name: [_instruments(arc, i)[name] for i in range(len(arc.sessions))] for name in ("phq9", "gad7", "wai_sr")}


def _change(arcs: list[dict[str, Any]], name: str) -> float | None:
    changes = []
    for a in arcs:
        totals = [t for t in a["trajectories"][name] if t is not None]
        if len(totals) >= 2:
            changes.append(totals[-1] - totals[0])
    return _mean(changes)


def arc_judge_means(session_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per rubric, the mean over the arc's sessions of the summary and of every item."""
    out: dict[str, Any] = {}
    for rubric in RUBRIC_COLUMNS:
        scored = [r["judge"][rubric] for r in session_rows if r.get("judge") and "scores" in r["judge"].get(rubric, {})]
        if not scored:
            continue
        items = scored[0]["scores"].keys()
        out[rubric] = {
            "summary": statistics.fmean(j["summary"] for j in scored),
            "scores": {item: statistics.fmean(j["scores"][item] for j in scored) for item in items},
            "sessions": len(scored),
        }
    return out


async def evaluate_source(
    source: Source,
    judge: RoleModel | None,
    *,
    retries: int,
    concurrency: int,
    judge_name: str | None,
    on_session: Callable[[], None] = lambda: None,
    prompts: PromptLog | None = None,
    judged: dict[SessionKey, dict[str, Any]] | None = None,
    journal: Path | None = None,
) -> Evaluation:
    """Metrics for every session and arc, and judge scores when a judge model is given.

    Sessions in `judged` (rows of an earlier evaluation) keep their scores and are not judged
    again; every session judged now is appended to `journal` as soon as it is done.
    """
    gate = asyncio.Semaphore(concurrency)
    events = NullEventLog()
    judged = judged or {}

    async def one(arc: ArcRecord, position: int) -> dict[str, Any]:
        session = arc.sessions[position]
        row: dict[str, Any] = {"kind": "session", **_identity(source, arc), "session": session.index}
        earlier = judged.get(session_key(row))
        if judge is not None and earlier is not None:
            row.update(judge=earlier["judge"], judge_model=judge_name, judge_usage=earlier.get("judge_usage"))
        elif judge is not None:
            async with gate:
                scores, usage = await judge_session(
                    judge, arc, session, retries=retries, events=events, prompts=prompts
                )
            row.update(judge=scores, judge_model=judge_name, judge_usage=usage)
            if journal is not None:
                append_line(journal, {**row, "metrics": session_metrics(arc, position)})
        if judge is not None:  # on the scale of the strategy this session was held in
            row["fidelity"] = matched_fidelity(session_strategy(arc, session), row["judge"])
        row["metrics"] = session_metrics(arc, position)
        row["instruments"] = _instruments(arc, position)
        on_session()
        return row

    jobs = [(arc, i) for arc in source.arcs for i in range(len(arc.sessions))]
    done = await asyncio.gather(*(one(arc, i) for arc, i in jobs))
    rows: list[dict[str, Any]] = []
    errors = 0
    for arc in source.arcs:
        session_rows = [r for r in done if r["arc_id"] == arc.arc_id and r["run_id"] == arc.run_id]
        errors += sum(1 for r in session_rows for v in (r.get("judge") or {}).values() if "error" in v)
        arc_row = {
            "kind": "arc",
            **_identity(source, arc),
            "metrics": arc_metrics(arc),
            "trajectories": _trajectories(arc),
        }
        if judge is not None:
            arc_row["judge"] = arc_judge_means(session_rows)
            arc_row["fidelity"] = _mean(r["fidelity"] for r in session_rows)
        rows += [*session_rows, arc_row]
    return Evaluation(source, rows, errors)


def session_key(row: dict[str, Any]) -> SessionKey:
    return (row["source"], row["run_id"], row["arc_id"], row["session"])


def output_file(source: Source, out_dir: Path | None) -> Path:
    return out_dir / "evaluation.jsonl" if out_dir is not None else evaluation_file(source.path)


def judged_sessions(path: Path, judge_name: str) -> dict[SessionKey, dict[str, Any]]:
    """Session rows of an earlier evaluation that `judge_name` scored without an error."""
    repair_tail(path)  # a line torn by a kill
    return {
        session_key(row): row
        for row in read_lines(path)
        if row.get("kind") == "session"
        and row.get("judge_model") == judge_name
        and row.get("judge")
        and not any("error" in v for v in row["judge"].values())
    }


async def evaluate_all(
    sources: Sequence[Source],
    config: RunConfig | None,
    *,
    concurrency: int,
    on_session: Callable[[], None] = lambda: None,
    out_dir: Path | None = None,
    on_reused: Callable[[int], None] = lambda n: None,
    prompts: PromptLog | None = None,
) -> list[Evaluation]:
    """Evaluate every source; `config` None means metrics only, no judge. Sessions already
    judged in the output file by the same judge model are kept (`on_reused` hears how many);
    `prompts` records every judge call's messages."""
    async with AsyncExitStack() as stack:
        judge = await open_judge(config, stack) if config is not None else None
        evaluations = []
        for source in sources:
            journal = output_file(source, out_dir) if judge is not None else None
            if journal is not None:
                journal.parent.mkdir(parents=True, exist_ok=True)
            judged = judged_sessions(journal, judge.name) if journal is not None and judge is not None else {}
            on_reused(len(judged))
            # Every session of a source is scheduled at once; the semaphore bounds the sessions
            # being judged (each makes its rubric calls one after another) to `concurrency`.
            evaluations.append(
                await evaluate_source(
                    source,
                    judge,
                    retries=config.structured_retries if config else 0,
                    concurrency=concurrency,
                    judge_name=judge.name if judge else None,
                    on_session=on_session,
                    judged=judged,
                    journal=journal,
                    prompts=prompts,
                )
            )
        return evaluations


def summary_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Metrics down, one column per source and strategy: size, fidelity and mean judge scores."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["kind"] == "arc":
            groups[f"{row['source']} / {row['strategy']}"].append(row)
    lines: list[tuple[str, Callable[[list[dict[str, Any]]], object]]] = [
        ("arcs", len),
        ("sessions per arc", lambda a: _mean(x["metrics"]["sessions"] for x in a)),
        ("PHQ-9 change, first to last", functools.partial(_change, name="phq9")),
        ("GAD-7 change, first to last", functools.partial(_change, name="gad7")),
        ("client leak turns", lambda a: sum(x["metrics"]["client_leaks"] for x in a)),
        ("counselor leak turns", lambda a: sum(x["metrics"]["counselor_leaks"] for x in a)),
        ("alternation violations", lambda a: sum(x["metrics"]["alternation_violations"] for x in a)),
        ("homework follow-up rate", lambda a: _mean(x["metrics"]["homework_follow_up_rate"] for x in a)),
        ("memo completeness", lambda a: _mean(x["metrics"]["memo_completeness"] for x in a)),
        ("counselor repeated-turn share", lambda a: _mean(x["metrics"]["counselor_repeated_turn_share"] for x in a)),
        ("client repeated-turn share", lambda a: _mean(x["metrics"]["client_repeated_turn_share"] for x in a)),
        ("arcs with a risk disclosure", lambda a: sum(x["metrics"]["risk_disclosures"] > 0 for x in a)),
        ("risk detection sensitivity", lambda a: _mean(x["metrics"]["risk_sensitivity"] for x in a)),
        ("risk detection specificity", lambda a: _mean(x["metrics"]["risk_specificity"] for x in a)),
        ("risk detection latency (turns)", lambda a: _mean(x["metrics"]["risk_detection_latency"] for x in a)),
    ]
    lines += [
        ("counselor turns with a technique label", lambda a: _mean(x["metrics"]["labelled_turn_share"] for x in a)),
        ("distinct techniques per arc", lambda a: _mean(x["metrics"]["distinct_techniques"] for x in a)),
        ("protocol phases reached per session", lambda a: _mean(x["metrics"]["protocol_phase_coverage"] for x in a)),
    ]
    for rubric, label in RUBRIC_LABELS.items():
        lines.append((label, functools.partial(_rubric_mean, rubric)))
    lines.append(("strategy-matched fidelity (0-1)", lambda a: _mean(x.get("fidelity") for x in a)))
    table = Table(
        "Evaluation summary",
        ["metric", *groups],
        notes=[
            "Leak turns and violations: totals over all arcs; rates and judge scores: means over arcs. "
            "- = not applicable (a fidelity scale of another strategy, no disclosed risk) or no judge. "
            "Strategy-matched fidelity: each strategy's own fidelity scale (CTRS for CBT, MITI globals for MI, "
            "person-centred process, SFBT fidelity) rescaled to 0-1."
        ],
    )
    for label, compute in lines:
        table.add([label, *(compute(arcs) for arcs in groups.values())])
    return table


def _rubric_mean(rubric: str, arcs: list[dict[str, Any]]) -> float | None:
    return _mean(a.get("judge", {}).get(rubric, {}).get("summary") for a in arcs)


def _mean(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def write_outputs(evaluations: Sequence[Evaluation], out_dir: Path | None) -> list[Path]:
    """Write evaluation.jsonl and the Markdown summary; returns the .jsonl paths written."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        targets = [(out_dir / "evaluation.jsonl", [r for e in evaluations for r in e.rows])]
    else:
        targets = [(output_file(e.source, None), e.rows) for e in evaluations]
    for path, rows in targets:
        write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        write_atomic(path.with_suffix(".md"), "# muspsy evaluation\n\n" + summary_table(rows).markdown())
    return [path for path, _ in targets]


@contextmanager
def session_progress(console: Console, quiet: bool, total: int, what: str) -> Iterator[Callable[[], None]]:
    """A progress bar on `console` (stderr) ticking once per session; nothing when quiet."""
    if quiet:
        yield lambda: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda: bar.advance(task)
