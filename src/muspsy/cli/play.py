"""`muspsy play`: a person types the counselor's turns against the simulated client."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from muspsy.cli.common import Backend, app, cli_overrides, config_from, fail, user_errors
from muspsy.outputs import run_folder_of
from muspsy.planning import arc_id
from muspsy.play.game import Play, play
from muspsy.play.human import StdioTerminal
from muspsy.profiles import load_profile


@app.command("play")
def play_command(
    profile: Annotated[Path, typer.Argument(help="The client's profile file.")],
    strategy: Annotated[str | None, typer.Option(help="The approach you follow (see `muspsy strategies`).")] = None,
    sessions: Annotated[int, typer.Option(min=1, help="Sessions to hold (fewer if the arc ends early).")] = 2,
    turns_min: Annotated[int | None, typer.Option(help="Fewest turns before a session may close.")] = None,
    turns_max: Annotated[int | None, typer.Option(help="Most turns per session.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the client's between-session draws.")] = None,
    backend: Backend = None,
    model: Annotated[str | None, typer.Option(help="Model of the client, supervisor and judges.")] = None,
    base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL for them.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file (see README).")] = None,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Play folder (default: plays/<arc id>); resumes when it exists.")
    ] = None,
    judges: Annotated[bool, typer.Option("--judges/--no-judges", help="Judge scores after each session.")] = True,
) -> None:
    """Sit in the counselor's chair: you type, the simulated client answers, the supervisor gives feedback."""
    with user_errors():
        overrides = cli_overrides(
            backend=backend,
            model=model,
            base_url=base_url,
            strategy=strategy,
            seed=seed,
            sessions_min=sessions,
            sessions_max=sessions,
            turns_min=turns_min,
            turns_max=turns_max,
        )
        cfg = config_from(config, overrides)
        if len(cfg.strategies) != 1:
            fail(f"--strategy: play follows one strategy, got {', '.join(cfg.strategies)}")
        client = load_profile(profile)
        where = folder or Path("plays") / arc_id(client, cfg.strategies[0], cfg.seed)
        inside = run_folder_of(where.absolute())
        if inside is not None:  # the play's arcs, events and checkpoints would mix into the run's
            fail(f"--dir {where}: is inside the run folder {inside}; choose another play folder")
        terminal = StdioTerminal(
            say=lambda text: print(text, end="", file=sys.stderr, flush=True), read=sys.stdin.readline
        )
        record = asyncio.run(play(Play(client, cfg, where, terminal, judges)))
    typer.echo(str(where))
    raise typer.Exit(0 if record else 3)
