"""Commands that let a person look inside runs: `muspsy view`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from muspsy.cli.common import app, fail
from muspsy.outputs import OutputRefused, guard_output
from muspsy.viewer.index import SourceError
from muspsy.viewer.server import Viewer, serve, write_static
from muspsy.viewer.site import Source


@app.command()
def view(
    sources: Annotated[list[Path], typer.Argument(help="Run folders or arcs .jsonl files.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write a static copy of every page into this folder instead.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a non-empty --html folder.")] = False,
) -> None:
    """Browse runs in a web browser: arcs, their executed path, trajectories, pairs side by side."""
    try:
        opened = [Source.open(number, path) for number, path in enumerate(sources)]
        if html is not None:
            # What --force never allows (a source, a run folder, the current folder); write_static
            # asks for --force itself before it replaces a non-empty folder.
            guard_output(html, sources, force=True, folder=True)
            count = write_static(opened, html, force=force)
            typer.echo(f"{count} pages written to {html}; open {html / 'index.html'}", err=True)
            typer.echo(str(html / "index.html"))
            return
    except (SourceError, OutputRefused) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{html}: cannot write: {exc.strerror or exc}")

    def ready(address: str) -> None:
        typer.echo(f"muspsy view: serving {len(opened)} source(s); press Ctrl-C to stop", err=True)
        typer.echo(address)

    try:
        serve(Viewer(opened), port, ready)
    except OSError as exc:
        fail(f"port {port}: cannot listen on 127.0.0.1: {exc.strerror or exc}")
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
