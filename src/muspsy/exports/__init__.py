"""Dataset exports: arcs (run folders or arcs files) to training and sharing formats.

One module per format (`chat` for `openai` and `sharegpt`, `tasks`, `raw`, `parquet`), each
with a builder and a checker that validates every record; `sources` reads and filters arcs,
`dedup` finds near-duplicate sessions, and `run` ties them together and writes atomically.
"""

from muspsy.exports.run import FORMATS, ExportOptions, ExportResult, check_output, export
from muspsy.exports.sources import ExportError

__all__ = ["FORMATS", "ExportError", "ExportOptions", "ExportResult", "check_output", "export"]
