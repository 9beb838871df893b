"""Inline SVG for the viewer: a graph with the route an arc took drawn on it, and line charts.

No JavaScript and no external assets: the pages work as static files and under a strict
content policy. Every label goes through `html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from muspsy.viewer.path import END, START, Route

NODE_W, NODE_H, LAYER_GAP, COLUMN_GAP = 176, 40, 70, 200
COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777")


@dataclass(frozen=True)
class Shape:
    """A graph's nodes and edges (source, target, conditional), as the graph factory builds it."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str, bool], ...]


def layers(shape: Shape) -> dict[str, int]:
    """Longest distance from the start along forward edges (edges back into a loop skipped)."""
    forward: dict[str, list[str]] = {n: [] for n in shape.nodes}
    order: list[str] = []
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()

    def visit(node: str) -> None:  # depth-first: an edge to a node still open closes a loop
        state[node] = 1
        for source, target, _ in shape.edges:
            if source != node:
                continue
            if state.get(target) == 1:
                back.add((source, target))
            elif target not in state:
                visit(target)
            if (source, target) not in back:
                forward[source].append(target)
        state[node] = 2
        order.append(node)

    visit(START if START in shape.nodes else shape.nodes[0])
    for node in shape.nodes:
        if node not in state:
            visit(node)
    depth = dict.fromkeys(shape.nodes, 0)
    for node in reversed(order):
        for target in forward[node]:
            depth[target] = max(depth[target], depth[node] + 1)
    return depth


def graph_svg(shape: Shape, route: Route, notes: Mapping[str, str] | None = None, title: str = "") -> str:
    """The graph, top to bottom; nodes that ran are filled and labelled with how often."""
    notes = notes or {}
    depth = layers(shape)
    rows: dict[int, list[str]] = {}
    for node in shape.nodes:
        rows.setdefault(depth[node], []).append(node)
    widest = max(len(r) for r in rows.values())
    width = widest * COLUMN_GAP + 200
    height = (max(rows) + 1) * LAYER_GAP + 20
    where: dict[str, tuple[float, float]] = {}
    for level, row in rows.items():
        left = (width - 160 - len(row) * COLUMN_GAP) / 2 + COLUMN_GAP / 2 + 40
        for i, node in enumerate(row):
            where[node] = (left + i * COLUMN_GAP, 20 + level * LAYER_GAP + NODE_H / 2)
    out = [
        f'<svg class="graph" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        # Arrow heads in user units: they stay one size however thick a well-used edge is.
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
        'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/>'
        "</marker></defs>",
    ]
    for source, target, conditional in shape.edges:
        out.append(_edge(where[source], where[target], route.edges.get((source, target), 0), conditional))
    for node in shape.nodes:
        out.append(_node(node, where[node], route.nodes.get(node, 0), notes.get(node, "")))
    out.append("</svg>")
    return "".join(out)


def _edge(a: tuple[float, float], b: tuple[float, float], count: int, conditional: bool) -> str:
    (x1, y1), (x2, y2) = a, b
    taken = count > 0
    stroke = "#1d4ed8" if taken else "#cbd5e1"
    width = 1.2 + min(5.0, math.log2(1 + count)) if taken else 1
    dash = ' stroke-dasharray="5 4"' if conditional and not taken else ""
    if y2 - y1 > LAYER_GAP * 1.5 and x1 == x2:  # forward past boxes in between: round their left-hand side
        bend = x1 - NODE_W / 2 - 36
        start, end = f"{x1 - NODE_W / 2:.0f},{y1:.0f}", f"{x2 - NODE_W / 2 - 2:.0f},{y2:.0f}"
        path = f"M{start} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {end}"
        mid = (bend - 2, (y1 + y2) / 2)
    elif y2 > y1:  # forward: bottom of one box to the top of the next
        path = f"M{x1:.0f},{y1 + NODE_H / 2:.0f} L{x2:.0f},{y2 - NODE_H / 2 - 1:.0f}"
        mid = ((x1 + x2) / 2 + 8, (y1 + y2) / 2 + 4)
    elif y1 - y2 <= LAYER_GAP:  # back to the layer above: beside the forward edge, offset sideways
        toward = 0 if x1 == x2 else (1 if x2 > x1 else -1)
        sx, ex = (x1 + 40, x2 + 40) if toward == 0 else (x1 + toward * 0.3 * NODE_W, x2 - toward * 0.3 * NODE_W)
        path = f"M{sx:.0f},{y1 - NODE_H / 2:.0f} L{ex:.0f},{y2 + NODE_H / 2 + 1:.0f}"
        mid = ((sx + ex) / 2 + (8 if x1 == x2 else 0), (y1 + y2) / 2 + (4 if x1 == x2 else 14))
    else:  # back over several layers: round the right-hand side of the boxes between
        bend = max(x1, x2) + NODE_W / 2 + 36
        start, end = f"{x1 + NODE_W / 2:.0f},{y1:.0f}", f"{x2 + NODE_W / 2 + 2:.0f},{y2:.0f}"
        path = f"M{start} C{bend:.0f},{y1:.0f} {bend:.0f},{y2:.0f} {end}"
        mid = (bend - 2, (y1 + y2) / 2)
    anchor = "end" if mid[0] < (a[0] + b[0]) / 2 - 1 else "start"
    label = (
        f'<text class="count" x="{mid[0]:.0f}" y="{mid[1]:.0f}" font-size="11" fill="#1e3a8a" '
        f'text-anchor="{anchor}">{count}</text>'
        if taken
        else ""
    )
    return (
        f'<path d="{path}" fill="none" stroke="{stroke}" stroke-width="{width:.1f}"{dash} '
        f'marker-end="url(#arrow)"/>{label}'
    )


def _node(name: str, at: tuple[float, float], count: int, note: str) -> str:
    x, y = at
    ran = count > 0 or name in (START, END)
    fill = "#dbeafe" if ran else "#f8fafc"
    stroke = "#1d4ed8" if ran else "#94a3b8"
    dash = "" if ran else ' stroke-dasharray="4 3"'
    label = name.strip("_")
    if count and name not in (START, END):
        label += f" x{count}"
    text_fill = "#0f172a" if ran else "#64748b"
    parts = [
        f'<g class="node{" ran" if ran else ""}" data-node="{escape(name)}" data-count="{count}">',
        f"<title>{escape(name)}: ran {count} time(s){escape(' - ' + note) if note else ''}</title>",
        f'<rect x="{x - NODE_W / 2:.0f}" y="{y - NODE_H / 2:.0f}" width="{NODE_W}" height="{NODE_H}" rx="8" '
        f'fill="{fill}" stroke="{stroke}"{dash}/>',
        f'<text x="{x:.0f}" y="{y + (0 if note else 5):.0f}" text-anchor="middle" font-size="13" '
        f'fill="{text_fill}">{escape(label)}</text>',
    ]
    if note:  # inside the box, under the name: what happened there (overrides, crisis, early ends)
        parts.append(
            f'<text class="note" x="{x:.0f}" y="{y + 14:.0f}" text-anchor="middle" font-size="10" '
            f'fill="#b91c1c">{escape(note[:34])}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def line_chart(
    title: str, series: Mapping[str, Sequence[int | None]], low: int, high: int, *, width: int = 300, height: int = 170
) -> str:
    """Totals by session, one line per series; sessions without a value leave a gap."""
    longest = max((len(v) for v in series.values()), default=0)
    left, right, top, bottom = 34, 12, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (plot_w * i / (longest - 1) if longest > 1 else plot_w / 2)

    def py(value: float) -> float:
        return top + plot_h * (1 - (value - low) / ((high - low) or 1))

    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<text x="{left}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#94a3b8"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#94a3b8"/>',
    ]
    for value in (low, (low + high) // 2, high):
        out.append(f'<text x="{left - 4}" y="{py(value) + 4:.0f}" font-size="10" text-anchor="end">{value}</text>')
    for i in range(longest):
        out.append(f'<text x="{px(i):.0f}" y="{height - 10}" font-size="10" text-anchor="middle">S{i + 1}</text>')
    for number, (name, values) in enumerate(series.items()):
        color = COLORS[number % len(COLORS)]
        points = [(px(i), py(v), v, i + 1) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, v, session in points:
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(name)}, session {session}: '
                f"{v}</title></circle>"
            )
        if len(series) > 1:
            out.append(
                f'<text x="{left + 6 + number * 120}" y="{top + 10}" font-size="10" fill="{color}">'
                f"{escape(name)}</text>"
            )
    if not any(v is not None for values in series.values() for v in values):
        out.append(f'<text x="{left + 10}" y="{top + plot_h / 2:.0f}" font-size="11">not measured</text>')
    out.append("</svg>")
    return "".join(out)
