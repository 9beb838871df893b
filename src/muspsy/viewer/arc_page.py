"""The arc page: outcome, plan, the executed path drawn on both graphs, trajectories, and every
session with its turns, questionnaires, memo and decision.

The record is read as plain JSON, not as `ArcRecord`: the viewer shows records of older and
newer schema versions alike; fields it has no view for are listed as they are.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from muspsy.viewer.html import esc, fields_view, link, table
from muspsy.viewer.path import arc_route, session_route
from muspsy.viewer.site import Links, Source
from muspsy.viewer.svg import Shape, graph_svg, line_chart

INSTRUMENTS = {"phq9": ("PHQ-9", 0, 27), "gad7": ("GAD-7", 0, 21), "wai_sr": ("WAI-SR", 12, 60)}
ARC_FIELDS = {
    "schema", "run_id", "arc_id", "client_id", "language", "profile", "strategy", "plan", "sessions",
    "outcome", "usage", "provenance", "disclosures",
}  # fmt: skip
SESSION_FIELDS = {
    "index", "goal", "client_state", "homework_reviewed", "turns", "homework_given", "crisis", "end_reason",
    "memo", "decision", "phq9", "gad7", "wai_sr",
}  # fmt: skip
TURN_FIELDS = {"index", "speaker", "text", "risk", "assessed_risk", "kind", "phase", "technique"}


@cache
def shape(name: Literal["arc", "session"]) -> Shape:
    """The graph as the code builds it today (drawn from the scripted backend; shape only)."""
    from muspsy.graphs.export import drawable  # builds both graphs: only when a page needs them

    graph = drawable(name)
    return Shape(tuple(graph.nodes), tuple((e.source, e.target, e.conditional) for e in graph.edges))


def totals(record: dict[str, Any], instrument: str) -> list[int | None]:
    """The instrument's total per session, None where it was not filled in."""
    out: list[int | None] = []
    for session in record.get("sessions") or []:
        found = session.get(instrument)
        out.append(found.get("total") if isinstance(found, dict) else None)
    return out


def score_text(found: Any) -> str:
    if not isinstance(found, dict):
        return ""
    title = INSTRUMENTS.get(str(found.get("instrument")), (str(found.get("instrument")),))[0]
    detail = found.get("band") or ", ".join(f"{k} {v}" for k, v in (found.get("subscales") or {}).items())
    return f"{title} {found.get('total')}" + (f" ({detail})" if detail else "")


def counselor_is_human(record: dict[str, Any]) -> bool:
    counselor = (record.get("provenance") or {}).get("models", {}).get("counselor") or {}
    return counselor.get("name") == "human" or (record.get("provenance") or {}).get("counselor") == "human"


def arc_body(source: Source, links: Links, position: int) -> str:
    record = source.index.load(position)
    summary = source.index.arcs[position]
    outcome = record.get("outcome") or {}
    nav = [link(links.run(source.number), "run")]
    if position > 0:
        nav.append(link(links.arc(source.number, position - 1), "« previous arc"))
    if position + 1 < len(source.index.arcs):
        nav.append(link(links.arc(source.number, position + 1), "next arc »"))
    if len(source.index.pair_of(summary)) > 1:
        nav.append(link(links.pair(source.number, position), "side by side with its pair"))
    human = ' <span class="tag">counselor: human</span>' if counselor_is_human(record) else ""
    parts = [
        f'<p class="nav">{" · ".join(nav)}</p>',
        f"<h1>{esc(record.get('arc_id'))}{human}</h1>",
        f'<p id="outcome">Strategy <b>{esc(record.get("strategy"))}</b>, seed {esc(summary.seed)}. Outcome: '
        f"<b>{esc(outcome.get('end_reason'))}</b> after {esc(outcome.get('sessions'))} session(s). "
        f"{esc(outcome.get('rationale'))}</p>",
        _profile(record.get("profile") or {}),
        "<h2>Treatment plan</h2>" + fields_view(record.get("plan") or {}),
        _disclosures(record),
        fields_view(record, skip=ARC_FIELDS),
        _executed_path(source, record),
        "<h2>Trajectories</h2>" + trajectories({str(record.get("strategy")): record}),
    ]
    parts += [session_view(s, record) for s in record.get("sessions") or []]
    parts.append("<h2>Usage and provenance</h2>" + fields_view({"usage": record.get("usage")}))
    parts.append(fields_view(record.get("provenance") or {}, skip={"prompt_hashes"}))
    return "".join(parts)


def _profile(profile: dict[str, Any]) -> str:
    intake = profile.get("intake") or {}
    risk = profile.get("risk") or {}
    facts = {
        "client": f"{profile.get('name', '?')}, {profile.get('age', '?')}, {profile.get('gender', '')}",
        "presenting problem": intake.get("presenting_problem"),
        "attitude": profile.get("attitude"),
        "risk": risk.get("level"),
        "language": profile.get("language"),
    }
    return "<h2>Client</h2>" + fields_view(facts)


def _disclosures(record: dict[str, Any]) -> str:
    found = record.get("disclosures") or []
    if not found:
        return ""
    rows = [[esc(d.get("fact")), esc(d.get("session")), esc(d.get("turn"))] for d in found if isinstance(d, dict)]
    return "<h2>Disclosures</h2>" + table(["fact", "session", "turn"], rows)


def _executed_path(source: Source, record: dict[str, Any]) -> str:
    sessions = record.get("sessions") or []
    outcome = record.get("outcome") or {}
    overrides = [s["index"] for s in sessions if (s.get("decision") or {}).get("overridden_by")]
    capped = [s["index"] for s in sessions if s.get("end_reason") == "turn_cap"]
    crisis = [s["index"] for s in sessions if s.get("crisis")]
    arc_notes = {"finalize": f"end: {outcome.get('end_reason', '?')}"}
    if overrides:
        arc_notes["decide"] = f"overridden in session {', '.join(map(str, overrides))}"
    if outcome.get("end_reason") == "dropout":
        arc_notes["between_sessions"] = "client dropped out"
    session_notes = {}
    if crisis:
        session_notes["crisis"] = f"session {', '.join(map(str, crisis))}"
    if capped:
        session_notes["close"] = f"turn cap in session {', '.join(map(str, capped))}"
    calls = source.calls_of(str(record.get("arc_id")))
    parts = [
        '<h2 id="executed-path">Executed path</h2><p class="muted">Nodes that ran are filled, with how often; '
        "edge labels count the times a route was taken (from the record).</p>",
        '<div class="cols"><div><h3>Arc graph</h3>',
        graph_svg(shape("arc"), arc_route(record), arc_notes, "arc graph, executed path"),
        f"</div><div><h3>Session graph, all {len(sessions)} session(s)</h3>",
        graph_svg(shape("session"), session_route(sessions), session_notes, "session graph, executed path"),
        "</div></div>",
    ]
    if calls:
        rows = [[esc(node), esc(n)] for node, n in sorted(calls.items(), key=lambda kv: -kv[1])]
        parts.append("<h3>LLM calls per node (events.jsonl)</h3>" + table(["node", "calls"], rows, cls="calls"))
    return "".join(parts)


def trajectories(arcs: dict[str, dict[str, Any]]) -> str:
    """One chart per instrument, one line per arc (labelled by the keys of `arcs`)."""
    charts = []
    for instrument, (title, low, high) in INSTRUMENTS.items():
        series = {label: totals(record, instrument) for label, record in arcs.items()}
        charts.append(line_chart(title, series, low, high))
    return f'<div class="charts">{"".join(charts)}</div>'


def session_view(session: dict[str, Any], record: dict[str, Any]) -> str:
    number = session.get("index")
    disclosed: dict[Any, list[str]] = {}
    for d in record.get("disclosures") or []:
        if isinstance(d, dict) and d.get("session") == number:
            disclosed.setdefault(d.get("turn"), []).append(str(d.get("fact")))
    route = session_route([session]).nodes
    path = ", ".join(f"{node} x{n}" for node, n in route.items() if not node.startswith("__"))
    scores_start = "; ".join(filter(None, (score_text(session.get(k)) for k in ("phq9", "gad7"))))
    facts: dict[str, Any] = {
        "goal": session.get("goal"),
        "strategy": session.get("strategy"),
        "client state at start": session.get("client_state"),
        "homework reviewed": session.get("homework_reviewed"),
        "self-report before": scores_start,
        "path": path,
        "ended by": session.get("end_reason"),
    }
    parts = [
        f'<section class="session" id="session-{esc(number)}"><h2>Session {esc(number)}'
        f"{' <span class=warn>crisis</span>' if session.get('crisis') else ''}</h2>",
        fields_view(facts),
        '<div class="turns">',
        *(turn_view(t, disclosed.get(t.get("index"), [])) for t in session.get("turns") or []),
        "</div>",
        fields_view(
            {
                "self-report after": score_text(session.get("wai_sr")),
                "homework given": session.get("homework_given"),
            }
        ),
        "<h3>Supervisor memo</h3>" + fields_view(session.get("memo") or {}),
        _decision(session.get("decision")),
        fields_view(session, skip=SESSION_FIELDS | {"strategy"}),
        "</section>",
    ]
    return "".join(parts)


def _decision(decision: Any) -> str:
    if not isinstance(decision, dict):
        return ""
    proposed = f"{decision.get('proposed_action')} {decision.get('proposed_end_reason') or ''}".strip()
    enforced = f"{decision.get('action')} {decision.get('end_reason') or ''}".strip()
    override = decision.get("overridden_by")
    text = f"proposed <b>{esc(proposed)}</b>, enforced <b>{esc(enforced)}</b>. {esc(decision.get('rationale'))}"
    if override:
        text += f' <span class="warn override">overridden by {esc(override)}</span>'
    return f'<h3>Decision</h3><p class="decision">{text}</p>' + fields_view(
        decision, skip={"proposed_action", "proposed_end_reason", "action", "end_reason", "rationale", "overridden_by"}
    )


def turn_view(turn: dict[str, Any], disclosed: list[str]) -> str:
    speaker = str(turn.get("speaker", "?"))
    kind = str(turn.get("kind", "dialogue"))
    tags = []
    if kind != "dialogue":
        tags.append(f'<span class="tag">{esc(kind)}</span>')
    if turn.get("risk") not in (None, "none"):
        tags.append(f'<span class="tag risk">risk: {esc(turn.get("risk"))}</span>')
    if turn.get("assessed_risk"):
        tags.append(f'<span class="tag risk">assessed: {esc(turn.get("assessed_risk"))}</span>')
    if turn.get("phase"):
        tags.append(f'<span class="tag">phase: {esc(turn.get("phase"))}</span>')
    if turn.get("technique"):
        tags.append(f'<span class="tag">technique: {esc(turn.get("technique"))}</span>')
    tags += [f'<span class="tag">disclosed: {esc(fact)}</span>' for fact in disclosed]
    extra = fields_view(turn, skip=TURN_FIELDS)
    cls = f"turn {esc(speaker)}" + (" crisis" if kind == "crisis" else "")
    return (
        f'<div class="{cls}" data-turn="{esc(turn.get("index"))}"><span class="speaker">{esc(turn.get("index"))}. '
        f"{esc(speaker.capitalize())}</span>{''.join(tags)}"
        f'<div class="text">{esc(turn.get("text"))}</div>{extra}</div>'
    )
