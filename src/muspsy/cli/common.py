"""What every `muspsy` command shares: the Typer apps, error printing and exit codes, and
the translation of command-line options into config overrides.

User errors (bad profile, config, strategy, missing model) print one line naming the file and
field and exit with 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from muspsy import __version__
from muspsy.agents.spec import SpecError
from muspsy.backends.embedded import EmbeddedModelMissing
from muspsy.checkpointers import CheckpointerError
from muspsy.config import ConfigError, RunConfig, build_config, load_config_file, merge, resolved
from muspsy.executors.base import ExecutorError
from muspsy.failures import describe_failure
from muspsy.outputs import OutputRefused
from muspsy.preflight import EndpointDown
from muspsy.profiles import ProfileError
from muspsy.redact import redact
from muspsy.runfolder import RunFolderError

USER_ERRORS = (
    ProfileError,
    ConfigError,
    SpecError,
    EmbeddedModelMissing,
    RunFolderError,
    CheckpointerError,
    ExecutorError,
    OutputRefused,
    EndpointDown,
)

app = typer.Typer(
    help="Simulate multi-session psychological counseling with LLM agents and write dataset-ready arcs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
profiles_app = typer.Typer(help="Check, list, import and extract client profiles.", no_args_is_help=True)
app.add_typer(profiles_app, name="profiles")
arcs_app = typer.Typer(help="Bring published multi-session data in as arc records.", no_args_is_help=True)
app.add_typer(arcs_app, name="arcs")
dev_app = typer.Typer(help="Developer tools: a fake LLM endpoint for tests and benchmarks.", no_args_is_help=True)
app.add_typer(dev_app, name="dev")
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    # The message is plain text (paths may hold brackets): never parse it as rich markup.
    # One line: a message with a newline (an echoed server body) would look like two errors.
    line = " ".join(redact(message).split())
    err.print(Text.assemble(("error:", "bold red"), " ", line), soft_wrap=True)


# Options that several commands share.
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
Concurrency = Annotated[int | None, typer.Option(help="Arcs in flight at once.")]
ExecutorName = Annotated[
    Literal["local", "ray"],
    typer.Option(
        "--executor",
        help="local: every arc in this process (default). ray: Ray worker processes, each running many arcs; "
        "needs a postgresql:// --checkpointer.",
    ),
]
Workers = Annotated[
    int | None, typer.Option(help="Ray workers (--executor ray; default: the cluster's CPUs).", min=1, max=4096)
]
RayAddress = Annotated[
    str | None,
    typer.Option(help="An existing Ray cluster, e.g. ray://head:10001 or auto (default: start a local one)."),
]
KeepCheckpoints = Annotated[
    bool,
    typer.Option(help="Keep finished arcs' checkpoints (for debugging); by default they are deleted once recorded."),
]
BackendName = Literal["openai", "embedded", "scripted"]
Backend = Annotated[
    BackendName | None,
    typer.Option(help="Model backend. Default: openai when an endpoint or key is configured, else embedded."),
]


def fail(message: str) -> NoReturn:
    print_error(message)
    raise typer.Exit(2)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except USER_ERRORS as exc:
        fail(str(exc))
    except Exception as exc:
        message = describe_failure(exc)
        if message is None:
            raise
        fail(message)
    except KeyboardInterrupt:
        # The runner has saved the manifest and said how to resume; no traceback.
        raise typer.Exit(130) from None


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"muspsy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """muspsy: multi-session counseling simulation."""


def cli_overrides(**options: Any) -> dict[str, Any]:
    """Command-line options as a config mapping; unset options change nothing."""
    limits = {k: options.pop(k, None) for k in ("sessions_min", "sessions_max", "turns_min", "turns_max")}
    model = {"model": options.pop("model", None), "base_url": options.pop("base_url", None)}
    out: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if any(v is not None for v in limits.values()):
        out["limits"] = {k: v for k, v in limits.items() if v is not None}
    if any(v is not None for v in model.values()):
        out["models"] = {"default": {k: v for k, v in model.items() if v is not None}}
    return out


def config_from(path: Path | None, overrides: dict[str, Any]) -> RunConfig:
    """The config file (if any) with command-line overrides on top, validated and resolved."""
    data = load_config_file(path) if path else {}
    source = f"{path} (with command-line options)" if path else "command line"
    return resolved(build_config(merge(data, overrides), source))
