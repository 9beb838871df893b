"""Progress output: a live display on a terminal, plain lines elsewhere, nothing when quiet."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from muspsy.events import NullEventLog
from muspsy.progress import CallTally, PlainProgress, QuietProgress, RichProgress, calls_per_arc, make_progress

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


def test_plain_lines_move_with_every_call_and_give_an_eta_from_calls():
    out, buffer = console(False)
    progress = PlainProgress(out, every_s=0.0)
    progress.start(total=4, already_done=1)
    progress.tally.calls_left = 3 * calls_per_arc(2, 7, True)
    calls = CallTally(NullEventLog(), progress.tally)
    where = {"arc": "arc-a", "session": 1, "turn": 3, "role": "counselor", "node": "turn"}
    calls.emit("llm_call_started", **where)
    progress.update()
    assert "calls 0" in buffer.getvalue() and "now arc-a: counselor/turn, session 1, turn 3" in buffer.getvalue()
    calls.emit("llm_call", **where, ok=True, prompt_tokens=900, completion_tokens=40)
    calls.emit("llm_call_started", **{**where, "turn": None, "role": "supervisor", "node": "memo"})
    progress.update()
    line = buffer.getvalue().splitlines()[-1]
    assert line.startswith("arcs 1/4 finished, 0 failed;")
    assert "turns 1, calls 1, tokens 940" in line and "eta" in line
    assert "now arc-a: supervisor/memo, session 1" in line
    # An arc that ends early gives back the calls it did not make: the ETA shrinks.
    before = progress.tally.calls_left
    calls.arc_ended("arc-a", calls_per_arc(2, 7, True))
    assert progress.tally.calls_left == before - (calls_per_arc(2, 7, True) - 1)
    assert "now" not in progress.tally.line()


def test_calls_per_arc_counts_every_node_that_calls():
    # plan; per session 7 turns, 2 questionnaires, memo, decide; between the two sessions a week and
    # a plan revision; the exit measurement (and the follow-up)
    assert calls_per_arc(2, 7, outcomes=True) == 1 + 2 * (7 + 2 + 2) + 2 + 1
    assert calls_per_arc(2, 7, outcomes=True, follow_up=True) == 1 + 2 * (7 + 2 + 2) + 2 + 2
    assert calls_per_arc(2, 7, outcomes=False) == 1 + 2 * (7 + 2) + 2
