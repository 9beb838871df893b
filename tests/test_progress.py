"""Progress output: a live display on a terminal, plain lines elsewhere, nothing when quiet."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from muspsy.progress import PlainProgress, QuietProgress, RichProgress, make_progress

pytestmark = pytest.mark.unit


def console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=140, color_system=None), buffer


def test_the_kind_of_progress_follows_the_output():
    terminal, _ = console(True)
    pipe, _ = console(False)
    assert isinstance(make_progress(terminal, quiet=False), RichProgress)
    assert isinstance(make_progress(pipe, quiet=False), PlainProgress)
    assert isinstance(make_progress(terminal, quiet=True), QuietProgress)


def test_terminal_display_shows_counts_tokens_and_failures():
    out, buffer = console(True)
    progress = RichProgress(out)
    progress.start(total=10, already_done=2)
    progress.tally.finished += 3
    progress.tally.failed += 1
    progress.tally.sessions, progress.tally.turns, progress.tally.tokens = 12, 180, 45678
    progress.note("arc-x: FAILED: boom")
    progress.close()
    text = buffer.getvalue()
    assert "6/10" in text  # 2 done before + 3 finished + 1 failed
    assert "failed 1" in text and "sessions 12" in text and "tokens 45,678" in text
    assert "arc-x: FAILED: boom" in text


def test_plain_lines_report_counts_and_eta():
    out, buffer = console(False)
    progress = PlainProgress(out, every_s=0.0)
    progress.start(total=4, already_done=1)
    progress.tally.finished += 1
    progress.update()
    progress.close()
    lines = buffer.getvalue().splitlines()
    assert lines[0].startswith("arcs 2/4 finished, 0 failed;")
    assert "eta" in lines[0]
