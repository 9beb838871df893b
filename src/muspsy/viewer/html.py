"""HTML building blocks of the viewer's pages: the layout, escaping, tables and a generic view
of record fields the viewer has no special view for.

Every text that comes from a record goes through `esc` (model output can hold anything,
`<script>` included). Records grow new fields over time; `fields_view` shows whatever a record
holds beyond the fields a page draws itself, so nothing is hidden and nothing is required.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#0f172a;background:#f8fafc}
header{background:#1e293b;color:#f8fafc;padding:10px 20px}header a{color:#bfdbfe}
main{padding:16px 20px;max-width:1300px}
a{color:#1d4ed8}h1{font-size:22px;margin:4px 0 12px}h2{font-size:18px;margin:22px 0 8px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #e2e8f0;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f1f5f9}
.chip{display:inline-block;padding:2px 8px;margin:2px;border-radius:10px;background:#e2e8f0;text-decoration:none}
.chip.on{background:#1d4ed8;color:#fff}.muted{color:#64748b}.warn{color:#b91c1c;font-weight:600}
.turn{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:6px 10px;margin:4px 0}
.turn.client{margin-left:40px;background:#f0fdf4}.turn.crisis{border-color:#dc2626}
.speaker{font-weight:600}.tag{font-size:12px;padding:1px 6px;border-radius:8px;background:#f1f5f9;margin-left:6px}
.tag.risk{background:#fee2e2;color:#991b1b}.session{border-top:2px solid #cbd5e1;margin-top:18px}
.cols{display:flex;gap:16px;flex-wrap:wrap}.cols>*{flex:1;min-width:300px}
dl.fields{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:4px 0}
dl.fields dt{font-weight:600;color:#334155}dl.fields dd{margin:0;white-space:pre-wrap}
pre{white-space:pre-wrap;background:#fff;border:1px solid #e2e8f0;padding:6px}
nav.pages a,nav.pages span{margin-right:8px}svg.graph{max-width:100%;height:auto}
"""


def esc(value: Any) -> str:
    """Any value as escaped text (None as an empty string)."""
    return "" if value is None else escape(str(value))


def page(title: str, body: str, *, home: str, live: tuple[str, str] | None = None) -> str:
    """A whole page; `live` (stamp address, current stamp) makes it reload when the run changes."""
    script = (
        f'<meta name="muspsy-stamp" content="{esc(live[1])}" data-url="{esc(live[0])}">'
        '<script src="/live.js" defer></script>'
        if live
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)} - muspsy</title><style>{STYLE}</style>{script}</head><body>"
        f'<header><a href="{esc(home)}">muspsy viewer</a> · {esc(title)}</header><main>{body}</main></body></html>'
    )


def link(href: str, text: Any, *, cls: str = "") -> str:
    return f'<a href="{esc(href)}"{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{esc(text)}</a>'


def table(head: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "") -> str:
    """`rows` hold HTML already (escape the cells you build)."""
    out = [f'<table class="{cls}">' if cls else "<table>"]
    if head:
        out += ["<tr>", *(f"<th>{esc(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{cell}</td>" for cell in row), "</tr>"]
    out.append("</table>")
    return "".join(out)


def value_view(value: Any) -> str:
    """A field's value: text as text, lists as bullets, objects as nested fields."""
    if isinstance(value, dict):
        return fields_view(value)
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return "; ".join(esc(v) for v in value) or '<span class="muted">(none)</span>'
        return "<ol>" + "".join(f"<li>{value_view(v)}</li>" for v in value) + "</ol>"
    if isinstance(value, bool | int | float) or value is None:
        return esc(json.dumps(value))
    return esc(value)


def fields_view(data: dict[str, Any], skip: Iterable[str] = ()) -> str:
    """Every field of `data` except `skip`, as a definition list; empty when nothing is left."""
    skipped = set(skip)
    items = [(k, v) for k, v in data.items() if k not in skipped and v not in (None, "", [], {})]
    if not items:
        return ""
    return (
        '<dl class="fields">'
        + "".join(f"<dt>{esc(k.replace('_', ' '))}</dt><dd>{value_view(v)}</dd>" for k, v in items)
        + "</dl>"
    )


# Served as /live.js (never inline, so the server's content policy can forbid inline scripts).
LIVE_JS = """(function () {
  var meta = document.querySelector('meta[name="muspsy-stamp"]');
  if (!meta) return;
  var seen = meta.content, url = meta.getAttribute('data-url');
  setInterval(function () {
    fetch(url, {cache: 'no-store'}).then(function (r) { return r.text(); }).then(function (stamp) {
      if (stamp !== seen) location.reload();
    }).catch(function () {});
  }, 2000);
})();
"""
