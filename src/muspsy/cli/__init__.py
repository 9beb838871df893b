"""The `muspsy` command line. Importing this package registers every command on `app`;
`main` is the console script: `app` behind the last-resort error handler."""

import sys

# isort: off
# Registration order is the order of `muspsy --help`: running first, then data, then measuring.
from muspsy.cli import runs, data, measure, inspect, play
from muspsy.cli.common import app, print_error

# isort: on
from muspsy.failures import describe_failure


def main() -> None:
    """Run the command line; an environment or file error that escaped a command's own
    handling still ends as one line and exit code 2, never a traceback."""
    try:
        app()
    except Exception as exc:
        message = describe_failure(exc)
        if message is None:
            raise
        print_error(message)
        sys.exit(2)


__all__ = ["app", "data", "inspect", "main", "measure", "play", "runs"]
