"""What every executor shares: the job it is given per arc, what it reports back, and how one
arc's graph is run to its end from wherever its checkpoint left it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from muspsy.graphs.state import ArcState
from muspsy.planning import now
from muspsy.preflight import EndpointDown
from muspsy.redact import redact


@dataclass(frozen=True)
class ArcJob:
    """One arc to run: its checkpoint thread, and the state it starts from when the thread has
    nothing to continue."""

    arc_id: str
    thread_id: str
    strategy: str
    start: ArcState
    recursion_limit: int


@dataclass(frozen=True)
class ArcDone:
    """An arc's end: the graph's final values, or the error that stopped it."""

    arc_id: str
    started_at: str
    seconds: float
    values: dict[str, Any] | None = None
    error: str | None = None


class ArcSink(Protocol):
    """The driver's side: the only place that writes the run folder."""

    def started(self, arc: str, worker: str) -> None: ...
    def progressed(self, sessions: int, turns: int, tokens: int) -> None: ...
    def partial(self, values: dict[str, Any]) -> None: ...
    async def done(self, result: ArcDone) -> None: ...


class Executor(Protocol):
    name: str

    async def run(self, jobs: Sequence[ArcJob], sink: ArcSink) -> None: ...


# sessions, turns, tokens finished since the last call
ProgressCallback = Callable[[int, int, int], None]


async def run_arc_graph(
    graph: Any, job: ArcJob, on_session: ProgressCallback, on_partial: Callable[[dict[str, Any]], None] | None = None
) -> ArcDone:
    """Run (or continue) one arc; an arc's failure is returned, never raised, so the others go
    on. A dead endpoint (EndpointDown) is raised: it stops the run, every arc resumable.

    `on_partial` hears the arc's state after each session (the driver rewrites its transcript)."""
    thread: Any = {"configurable": {"thread_id": job.thread_id}, "recursion_limit": job.recursion_limit}
    started, clock = now(), time.perf_counter()
    try:
        snapshot = await graph.aget_state(thread)
        # Ended means the outcome is set and no node is left; a process stopped right after
        # checkpointing the input leaves values but no next node, and that arc starts afresh.
        ended = bool(snapshot.values.get("outcome")) and not snapshot.next
        if not ended:
            # An arc with a node to run continues from its checkpoint (input None).
            start = None if snapshot.next else job.start
            tokens_seen = tokens_of(snapshot.values.get("usage", {})) if snapshot.values else 0
            async for update in graph.astream(start, thread, durability="sync", stream_mode="updates"):
                if "memo" in update:
                    session = update["memo"]["sessions"][-1]
                    tokens = tokens_of(update["memo"]["usage"])
                    on_session(1, len(session["turns"]), tokens - tokens_seen)
                    tokens_seen = tokens
                    if on_partial is not None:
                        on_partial(dict((await graph.aget_state(thread)).values))
            snapshot = await graph.aget_state(thread)
        values = dict(snapshot.values)
    except EndpointDown:
        raise  # not this arc's failure: the run stops and the arc stays resumable
    except Exception as exc:
        error = redact(f"{type(exc).__name__}: {exc}")  # an error body may echo the key
        return ArcDone(job.arc_id, started, time.perf_counter() - clock, error=error)
    return ArcDone(job.arc_id, started, time.perf_counter() - clock, values=values)


def tokens_of(usage: dict[str, dict[str, float]]) -> int:
    return int(sum(u.get("prompt_tokens", 0) + u.get("completion_tokens", 0) for u in usage.values()))


class ExecutorError(ValueError):
    """The executor cannot run with these options (e.g. Ray without a shared checkpointer)."""
