"""`muspsy view`: the viewer's pages served on 127.0.0.1, and the same pages written as files.

Served pages reread nothing but what they show: each request first indexes the bytes the
arcs file grew by (a running run), then reads the one or two records the page needs.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from muspsy.redact import redact
from muspsy.viewer.arc_page import arc_body
from muspsy.viewer.html import LIVE_JS, esc, page
from muspsy.viewer.index import SourceError
from muspsy.viewer.pair_page import pair_body
from muspsy.viewer.run_page import home_body, run_body
from muspsy.viewer.site import PAGE_SIZE, ServerLinks, Source, StaticLinks

# Record texts are escaped; the policy is a second wall should anything slip through.
CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:"
ROUTE = re.compile(r"^/s(?P<source>\d+)/(?:(?P<kind>arc|pair|stamp)(?:/(?P<position>\d+))?)?$")


class NotFound(Exception):
    pass


class Viewer:
    """The pages of a set of sources, rendered on demand."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources

    def source(self, number: int) -> Source:
        if number >= len(self.sources):
            raise NotFound(f"no source {number}")
        found = self.sources[number]
        found.refresh()
        return found

    def render(self, path: str, query: dict[str, list[str]]) -> tuple[str, str]:
        """(content type, body) of one address; raises NotFound."""
        links = ServerLinks()
        if path == "/live.js":
            return "text/javascript", LIVE_JS
        if path == "/":
            for s in self.sources:
                s.refresh()
            return "text/html", page("sources", home_body(self.sources, links), home="/")
        match = ROUTE.match(path)
        if not match:
            raise NotFound(path)
        source = self.source(int(match["source"]))
        kind, position = match["kind"], match["position"]
        if kind == "stamp":
            return "text/plain", source.stamp()
        live = (f"/s{source.number}/stamp", source.stamp()) if source.live() else None
        if kind is None:
            first = query.get("page", ["1"])[0]
            body = run_body(
                source,
                links,
                int(first) if first.isdigit() else 1,
                query.get("strategy", [None])[0],
                query.get("end", [None])[0],
            )
            return "text/html", page(source.title(), body, home="/", live=live)
        if position is None or int(position) >= len(source.index.arcs):
            raise NotFound(path)
        render = arc_body if kind == "arc" else pair_body
        title = source.index.arcs[int(position)].arc_id
        return "text/html", page(title, render(source, links, int(position)), home="/", live=live)


def handler_for(viewer: Viewer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            try:
                kind, body = viewer.render(url.path, parse_qs(url.query))
                status = HTTPStatus.OK
            except NotFound as exc:
                kind, status = "text/html", HTTPStatus.NOT_FOUND
                body = page("not found", f"<h1>Not found</h1><p>{esc(exc)}</p>", home="/")
            except SourceError as exc:
                kind, status = "text/html", HTTPStatus.INTERNAL_SERVER_ERROR
                body = page("error", f"<h1>Cannot read the source</h1><p>{esc(exc)}</p>", home="/")
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the terminal shows the address, not every request

    return Handler


def serve(viewer: Viewer, port: int, ready: Callable[[str], None]) -> None:
    """Serve on 127.0.0.1 until interrupted; `ready` gets the address once it listens."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(viewer))
    server.daemon_threads = True
    ready(f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()


def static_pages(sources: list[Source]) -> Iterator[tuple[str, str]]:
    """(file name, page) of every page of the static copy."""
    links = StaticLinks()
    home = links.home()
    if len(sources) > 1:
        yield home, page("sources", home_body(sources, links), home=home)
    for source in sources:
        index, number = source.index, source.number
        filters: list[tuple[str | None, str | None]] = [(None, None)]
        filters += [(s, None) for s in index.strategies()] + [(None, e) for e in index.end_reasons()]
        # Every pair of chips is a link on some page, also a pair no arc has (an empty list).
        filters += [(s, e) for s in sorted(index.strategies()) for e in sorted(index.end_reasons())]
        for strategy, end in filters:
            pages = max(1, -(-len(index.select(strategy, end)) // PAGE_SIZE))
            for number_of_page in range(1, pages + 1):
                body = page(source.title(), run_body(source, links, number_of_page, strategy, end), home=home)
                yield links.run(number, number_of_page, strategy, end), body
                if len(sources) == 1 and (strategy, end, number_of_page) == (None, None, 1):
                    yield home, body
        for arc in index.arcs:
            yield links.arc(number, arc.position), page(arc.arc_id, arc_body(source, links, arc.position), home=home)
            if len(index.pair_of(arc)) > 1:
                yield (
                    links.pair(number, arc.position),
                    page(arc.arc_id, pair_body(source, links, arc.position), home=home),
                )


def write_static(sources: list[Source], out: Path, *, force: bool) -> int:
    """Write the static copy into `out` (built beside it, then moved in place); the page count."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise SourceError(f"{out}: exists and is not empty (pass --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    count = 0
    try:
        for name, body in static_pages(sources):
            # Redacted: arcs from older runs or other tools may hold a URL with credentials.
            (building / name).write_text(redact(body), encoding="utf-8")
            count += 1
            if count % 500 == 0:
                print(f"{count} pages written", file=sys.stderr)
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        building.rename(out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return count
