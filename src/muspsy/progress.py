"""Where a run stands, shown to a person: a live rich display on a terminal, plain periodic
lines otherwise (CI logs, files), or nothing with `--quiet`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass
class Tally:
    total: int = 0
    finished: int = 0
    failed: int = 0
    sessions: int = 0
    turns: int = 0
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.finished + self.failed

    def eta_seconds(self, done_at_start: int) -> float | None:
        progressed = self.done - done_at_start
        if progressed <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / progressed * (self.total - self.done)

    def line(self, done_at_start: int) -> str:
        elapsed = time.monotonic() - self.started
        eta = self.eta_seconds(done_at_start)
        eta_text = f", eta {eta:.0f} s" if eta is not None else ""
        return (
            f"arcs {self.finished}/{self.total} finished, {self.failed} failed; sessions {self.sessions}, "
            f"turns {self.turns}, tokens {self.tokens}; {elapsed:.0f} s elapsed{eta_text}"
        )


class ProgressSink(Protocol):
    tally: Tally

    def start(self, total: int, already_done: int) -> None: ...
    def note(self, message: str) -> None: ...
    def update(self) -> None: ...
    def close(self) -> None: ...


class QuietProgress:
    def __init__(self) -> None:
        self.tally = Tally()

    def start(self, total: int, already_done: int) -> None:
        self.tally.total = total

    def note(self, message: str) -> None:
        return None

    def update(self) -> None:
        return None

    def close(self) -> None:
        return None


class PlainProgress:
    """One line per notable event (failures, start, end) and a status line every `every_s`."""

    def __init__(self, console: Console, every_s: float = 10.0) -> None:
        self.tally = Tally()
        self.console = console
        self.every_s = every_s
        self._last = 0.0
        self._done_at_start = 0

    def start(self, total: int, already_done: int) -> None:
        self.tally.total = total
        self.tally.finished = already_done
        self._done_at_start = already_done
        self._last = time.monotonic()

    def note(self, message: str) -> None:
        self.console.print(message)

    def update(self) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self.console.print(self.tally.line(self._done_at_start))

    def close(self) -> None:
        self.console.print(self.tally.line(self._done_at_start))


class RichProgress:
    """A live bar with counts, tokens, elapsed time and ETA, redrawn in place on a terminal."""

    def __init__(self, console: Console) -> None:
        self.tally = Tally()
        self.console = console
        self._bar = Progress(
            TextColumn("arcs"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task("arcs", total=0, detail="")

    def start(self, total: int, already_done: int) -> None:
        self.tally.total = total
        self.tally.finished = already_done
        self._bar.update(self._task, total=total, completed=already_done)
        self._bar.start()

    def note(self, message: str) -> None:
        self._bar.console.print(message)

    def update(self) -> None:
        t = self.tally
        detail = f"failed {t.failed} | sessions {t.sessions} | turns {t.turns} | tokens {t.tokens:,}"
        self._bar.update(self._task, completed=t.done, detail=detail)

    def close(self) -> None:
        self.update()
        self._bar.stop()


def make_progress(console: Console, quiet: bool) -> ProgressSink:
    if quiet:
        return QuietProgress()
    return RichProgress(console) if console.is_terminal else PlainProgress(console)
