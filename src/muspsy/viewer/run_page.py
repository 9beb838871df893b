"""The run page: status, arcs by strategy and end reason, usage and cost, failures, and one page
of the (filtered) arc list. Only the summaries of the index are read, never the records."""

from __future__ import annotations

from typing import Any

from muspsy.viewer.html import esc, link, table
from muspsy.viewer.index import ArcSummary
from muspsy.viewer.site import PAGE_SIZE, Links, Source


def run_body(source: Source, links: Links, page: int = 1, strategy: str | None = None, end: str | None = None) -> str:
    manifest = source.manifest()
    index = source.index
    parts = [f"<h1>{esc(source.title())}</h1>", _status(source, manifest)]
    parts.append(_by_strategy_and_end(source, links))
    parts.append(_usage(manifest, index.arcs))
    parts.append(_failures(source, manifest))
    chosen = index.select(strategy, end)
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    parts.append("<h2>Arcs</h2>" + _filters(source, links, strategy, end))
    parts.append(f'<p class="muted" id="arc-count">{len(chosen)} arc(s); page {page} of {pages}</p>')
    parts.append(_arc_table(source, links, shown))
    parts.append(_pager(source.number, links, page, pages, strategy, end))
    return "".join(parts)


def _status(source: Source, manifest: dict[str, Any]) -> str:
    where = esc(source.path)
    if not manifest:
        return f"<p>Arcs file <code>{where}</code>: {len(source.index.arcs)} arc(s).</p>"
    planned = manifest.get("arcs") or {}
    states: dict[str, int] = {}
    finished = {a.arc_id for a in source.index.arcs}
    for arc_id, entry in planned.items():
        state = "finished" if arc_id in finished else str(entry.get("status", "pending")).replace("finished", "pending")
        states[state] = states.get(state, 0) + 1
    live = source.live()
    status = manifest.get("status", "?")
    if status == "running" and not live:
        status = "interrupted"
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    models = {role: (m or {}).get("name") for role, m in (manifest.get("models") or {}).items()}
    running = [arc for arc, entry in planned.items() if entry.get("status") == "running" and arc not in finished]
    rows = [
        ("folder", f"<code>{where}</code>"),
        ("status", f'<span id="run-status">{esc(status)}</span>' + (" (live: this page refreshes)" if live else "")),
        ("backend", esc(manifest.get("backend"))),
        ("models", esc(", ".join(f"{r}: {n}" for r, n in models.items()))),
        ("arcs", esc(f"{counts} of {len(planned)} planned")),
        ("attempts", esc(len(manifest.get("attempts") or []))),
    ]
    if running:
        rows.append(("running now", esc(", ".join(running[:20]) + (" ..." if len(running) > 20 else ""))))
    return table([], rows, cls="status")


def _by_strategy_and_end(source: Source, links: Links) -> str:
    index = source.index
    per_strategy = index.strategies()
    strategies = sorted(per_strategy)
    ends = sorted(index.end_reasons())
    grid: dict[tuple[str, str], int] = {}
    for arc in index.arcs:
        grid[(arc.strategy, arc.end_reason)] = grid.get((arc.strategy, arc.end_reason), 0) + 1
    rows = []
    for name in strategies:
        cells = [link(links.run(source.number, strategy=name), name)]
        cells += [esc(grid.get((name, e), 0)) for e in ends]
        cells.append(esc(per_strategy[name]))
        rows.append(cells)
    head = ["strategy", *ends, "arcs"]
    return "<h2>Arcs by strategy and end reason</h2>" + table(head, rows, cls="by-strategy")


def _usage(manifest: dict[str, Any], arcs: list[ArcSummary]) -> str:
    usage = manifest.get("usage") or {}
    rows = [
        [esc(role), *(esc(u.get(k, 0)) for k in ("calls", "prompt_tokens", "completion_tokens", "retries"))]
        for role, u in usage.items()
    ]
    cost = manifest.get("estimated_cost_usd")
    tokens = sum(a.tokens for a in arcs)
    note = f"<p>Tokens in the finished arcs: {tokens:,}."
    note += f" Estimated cost: ${cost.get('total', 0):.4f}.</p>" if isinstance(cost, dict) else " No price table.</p>"
    return (
        "<h2>Usage and cost</h2>"
        + (table(["role", "calls", "prompt", "completion", "retries"], rows) if rows else "")
        + note
    )


def _failures(source: Source, manifest: dict[str, Any]) -> str:
    failures = source.failures()
    if not failures:
        return ""
    rows = [
        [esc(f.get("arc_id")), esc(f.get("client_id")), f"<code>{esc(f.get('error'))}</code>"] for f in failures[:50]
    ]
    still = sum(1 for entry in (manifest.get("arcs") or {}).values() if entry.get("status") == "failed")
    return (
        f'<h2 id="failures">Failures</h2><p>{len(failures)} failed attempt(s); {still} arc(s) failed now.</p>'
        + table(["arc", "client", "error"], rows)
    )


def _filters(source: Source, links: Links, strategy: str | None, end: str | None) -> str:
    def chip(text: str, href: str, on: bool) -> str:
        return link(href, text, cls="chip on" if on else "chip")

    number = source.number
    parts = ['<p class="filters">Strategy: ', chip("all", links.run(number, end=end), strategy is None)]
    parts += [chip(s, links.run(number, strategy=s, end=end), s == strategy) for s in sorted(source.index.strategies())]
    parts += [" End reason: ", chip("all", links.run(number, strategy=strategy), end is None)]
    parts += [
        chip(e, links.run(number, strategy=strategy, end=e), e == end) for e in sorted(source.index.end_reasons())
    ]
    return "".join(parts) + "</p>"


def _arc_table(source: Source, links: Links, arcs: list[ArcSummary]) -> str:
    rows = []
    for arc in arcs:
        paired = len(source.index.pairs.get(arc.pair_key, [])) > 1
        rows.append(
            [
                link(links.arc(source.number, arc.position), arc.arc_id),
                esc(arc.client_id),
                esc(arc.strategy),
                esc(arc.seed),
                esc(arc.sessions),
                esc(arc.turns),
                esc(arc.end_reason),
                '<span class="warn">crisis</span>' if arc.crisis else "",
                esc(arc.overrides or ""),
                esc(f"{arc.tokens:,}"),
                link(links.pair(source.number, arc.position), "side by side") if paired else "",
            ]
        )
    head = ["arc", "client", "strategy", "seed", "sessions", "turns", "end", "crisis", "overrides", "tokens", "pair"]
    return table(head, rows, cls="arcs")


def _pager(number: int, links: Links, page: int, pages: int, strategy: str | None, end: str | None) -> str:
    if pages == 1:
        return ""
    parts = ['<nav class="pages">']
    if page > 1:
        parts.append(link(links.run(number, page - 1, strategy, end), "« previous"))
    parts.append(f"<span>page {page} of {pages}</span>")
    if page < pages:
        parts.append(link(links.run(number, page + 1, strategy, end), "next »"))
    return "".join(parts) + "</nav>"


def home_body(sources: list[Source], links: Links) -> str:
    rows = [
        [link(links.run(s.number), s.title()), f"<code>{esc(s.path)}</code>", esc(len(s.index.arcs))] for s in sources
    ]
    return "<h1>Sources</h1>" + table(["run", "path", "arcs"], rows)
