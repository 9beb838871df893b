"""muspsy: multi-session psychological counseling simulated by LLM agents (client, counselor,
supervisor) on LangGraph, written out as dataset-ready transcripts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("muspsy")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
