"""The paired view: the arcs of one client and seed (one per strategy) side by side, aligned by
session, with their outcome differences."""

from __future__ import annotations

from typing import Any

from muspsy.viewer.arc_page import score_text, totals, trajectories, turn_view
from muspsy.viewer.html import esc, fields_view, link, table
from muspsy.viewer.site import Links, Source


def change(values: list[int | None]) -> int | None:
    """Last measured total minus the first, None with fewer than two measurements."""
    measured = [v for v in values if v is not None]
    return measured[-1] - measured[0] if len(measured) > 1 else None


def _signed(value: int | None) -> str:
    return "" if value is None else f"{value:+d}"


def pair_body(source: Source, links: Links, position: int) -> str:
    members = source.index.pair_of(source.index.arcs[position])
    records = [source.index.load(m.position) for m in members]
    first = members[0]
    parts = [
        f'<p class="nav">{link(links.run(source.number), "run")}</p>',
        f"<h1>Pair: {esc(first.client_id)}, seed {esc(first.seed)}</h1>",
        f"<p>{len(members)} arc(s) of the same client, starting state and between-session draws; "
        "only the strategy differs.</p>",
        "<h2>Outcomes</h2>" + _outcomes(source, links, members, records),
        "<h2>Trajectories</h2>" + trajectories({str(r.get("strategy")): r for r in records}),
        "<h2>Sessions side by side</h2>",
    ]
    longest = max(len(r.get("sessions") or []) for r in records)
    for number in range(1, longest + 1):
        cells = []
        for record in records:
            session = next((s for s in record.get("sessions") or [] if s.get("index") == number), None)
            cells.append(_session_cell(record, session))
        parts.append(f'<section class="session pair-session"><h3>Session {number}</h3>')
        parts.append(f'<div class="cols">{"".join(cells)}</div></section>')
    return "".join(parts)


def _outcomes(source: Source, links: Links, members: list[Any], records: list[dict[str, Any]]) -> str:
    rows = []
    base_phq = change(totals(records[0], "phq9"))
    for member, record in zip(members, records, strict=True):
        phq, gad = change(totals(record, "phq9")), change(totals(record, "gad7"))
        wai = [v for v in totals(record, "wai_sr") if v is not None]
        diff = "" if phq is None or base_phq is None or record is records[0] else _signed(phq - base_phq)
        rows.append(
            [
                link(links.arc(source.number, member.position), member.arc_id),
                esc(member.strategy),
                esc(member.end_reason),
                esc(member.sessions),
                esc(_signed(phq)),
                esc(diff),
                esc(_signed(gad)),
                esc(wai[-1] if wai else ""),
                '<span class="warn">yes</span>' if member.crisis else "",
            ]
        )
    head = [
        "arc",
        "strategy",
        "end",
        "sessions",
        "PHQ-9 change",
        "vs first arc",
        "GAD-7 change",
        "last WAI-SR",
        "crisis",
    ]
    return table(head, rows, cls="pair-outcomes")


def _session_cell(record: dict[str, Any], session: dict[str, Any] | None) -> str:
    strategy = esc(record.get("strategy"))
    if session is None:
        end = (record.get("outcome") or {}).get("end_reason")
        return f'<div class="pair-arc"><h4>{strategy}</h4><p class="muted">no session (arc ended: {esc(end)})</p></div>'
    memo = session.get("memo") or {}
    decision = session.get("decision") or {}
    scores = "; ".join(filter(None, (score_text(session.get(k)) for k in ("phq9", "gad7", "wai_sr"))))
    facts = {
        "goal": session.get("goal"),
        "scores": scores,
        "turns": len(session.get("turns") or []),
        "ended by": session.get("end_reason"),
        "memo": memo.get("summary"),
        "progress / risk": f"{memo.get('progress', '?')} / {memo.get('risk', '?')}",
        "decision": f"{decision.get('action', '')} {decision.get('end_reason') or ''}".strip(),
        "overridden by": decision.get("overridden_by"),
    }
    turns = "".join(turn_view(t, []) for t in session.get("turns") or [])
    crisis = ' <span class="warn">crisis</span>' if session.get("crisis") else ""
    return (
        f'<div class="pair-arc"><h4>{strategy}{crisis}</h4>{fields_view(facts)}'
        f"<details><summary>dialogue</summary>{turns}</details></div>"
    )
