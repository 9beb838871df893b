"""Where a run stands, shown to a person: a live rich display on a terminal, plain periodic
lines otherwise (CI logs, files), or nothing with `--quiet`.

Counts move with every LLM call (`CallTally` reads the run's call events), not with finished
sessions: on a slow local model one session takes minutes. The ETA comes from the calls made
and the calls an arc can still make at most."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from muspsy.events import EventLog

DIALOGUE_NODES = frozenset({"open", "turn", "crisis_screen", "crisis_safety_plan", "crisis_action", "close"})


@dataclass(frozen=True)
class Position:
    """The call an arc is making (or made last)."""

    role: str
    node: str
    session: int | None
    turn: int | None
    in_flight: bool

    def describe(self) -> str:
        """E.g. `counselor/turn, session 2, turn 5`."""
        parts = [f"session {self.session}" if self.session else "", f"turn {self.turn}" if self.turn else ""]
        return ", ".join([f"{self.role}/{self.node}", *(part for part in parts if part)])


def calls_per_arc(sessions_max: int, turns_max: int, outcomes: bool, follow_up: bool = False) -> int:
    """The most LLM calls one arc makes: the plan, then per session every turn, the
    questionnaires, the memo and the decision, and between sessions the week and a plan
    revision; with outcomes the exit measurement (and the follow-up); no retries."""
    per_session = turns_max + 2 + (2 if outcomes else 0)
    after = (1 + follow_up) if outcomes else 0
    return 1 + sessions_max * per_session + 2 * (sessions_max - 1) + after


@dataclass
class Tally:
    total: int = 0
    finished: int = 0
    failed: int = 0
    sessions: int = 0
    turns: int = 0
    tokens: int = 0
    calls: int = 0
    # Calls still possible at most, over the arcs left: shrinks as calls are made and as
    # arcs end short of their maximum.
    calls_left: int = 0
    positions: dict[str, Position] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.finished + self.failed

    def eta_seconds(self) -> float | None:
        if self.calls <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return elapsed / self.calls * self.calls_left

    def where(self) -> str:
        """The current call of the arcs in flight (the first two, and how many more)."""
        live = [f"{arc}: {p.describe()}" for arc, p in self.positions.items() if p.in_flight]
        more = f" and {len(live) - 2} more" if len(live) > 2 else ""
        return "; ".join(live[:2]) + more

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        eta = self.eta_seconds()
        eta_text = f", eta {eta:.0f} s" if eta is not None else ""
        where = self.where()
        return (
            f"arcs {self.finished}/{self.total} finished, {self.failed} failed; sessions {self.sessions}, "
            f"turns {self.turns}, calls {self.calls}, tokens {self.tokens}; {elapsed:.0f} s elapsed{eta_text}"
            + (f"; now {where}" if where else "")
        )


class CallTally:
    """An event log that also counts every call into a `Tally`, then passes the event on."""

    def __init__(self, inner: EventLog, tally: Tally) -> None:
        self.inner = inner
        self.tally = tally
        self.arc_calls: dict[str, int] = {}

    def emit(self, event: str, **fields: Any) -> None:
        self.inner.emit(event, **fields)
        arc = fields.get("arc")
        if event not in ("llm_call_started", "llm_call") or not isinstance(arc, str):
            return
        t = self.tally
        position = Position(
            str(fields.get("role")), str(fields.get("node")), fields.get("session"), fields.get("turn"), True
        )
        if event == "llm_call":
            self.arc_calls[arc] = self.arc_calls.get(arc, 0) + 1
            t.calls += 1
            t.calls_left = max(0, t.calls_left - 1)
            t.tokens += int(fields.get("prompt_tokens", 0)) + int(fields.get("completion_tokens", 0))
            if fields.get("ok"):
                position = Position(position.role, position.node, position.session, position.turn, False)
                if position.node in DIALOGUE_NODES:
                    t.turns += 1
        t.positions[arc] = position

    def arc_ended(self, arc: str, calls_at_most: int) -> None:
        """The arc made its last call: its unused share of the calls left goes."""
        self.tally.positions.pop(arc, None)
        unused = max(0, calls_at_most - self.arc_calls.get(arc, 0))
        self.tally.calls_left = max(0, self.tally.calls_left - unused)


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

    def __init__(self, console: Console, every_s: float = 5.0) -> None:
        self.tally = Tally()
        self.console = console
        self.every_s = every_s
        self._last = 0.0

    def start(self, total: int, already_done: int) -> None:
        self.tally.total = total
        self.tally.finished = already_done
        self._last = time.monotonic()

    def note(self, message: str) -> None:
        self.console.print(message)

    def update(self) -> None:
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            self.console.print(self.tally.line())

    def close(self) -> None:
        self.console.print(self.tally.line())


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
        detail = f"failed {t.failed} | sessions {t.sessions} | turns {t.turns} | calls {t.calls} | tokens {t.tokens:,}"
        where = t.where()
        eta = t.eta_seconds()
        detail += (f" | eta {eta:.0f} s" if eta is not None else "") + (f" | {where}" if where else "")
        self._bar.update(self._task, completed=t.done, detail=detail)

    def close(self) -> None:
        self.update()
        self._bar.stop()


def make_progress(console: Console, quiet: bool) -> ProgressSink:
    if quiet:
        return QuietProgress()
    return RichProgress(console) if console.is_terminal else PlainProgress(console)
