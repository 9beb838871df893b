"""The `muspsy` command line. Importing this package registers every command on `app`."""

# isort: off
# Registration order is the order of `muspsy --help`: running first, then data, then measuring.
from muspsy.cli import runs, data, measure, inspect, play
from muspsy.cli.common import app

# isort: on

__all__ = ["app", "data", "inspect", "measure", "play", "runs"]
