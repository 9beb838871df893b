"""The default executor: every arc a coroutine in this process, `concurrency` at a time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from typing import Any

from muspsy.executors.base import ArcJob, ArcSink, run_arc_graph


class LocalExecutor:
    name = "local"

    def __init__(self, graphs: dict[str, Any], concurrency: int, start_spacing_ms: float) -> None:
        self.graphs = graphs  # one compiled graph per strategy, all on the run's checkpointer
        self.concurrency = concurrency
        self.start_spacing_ms = start_spacing_ms

    async def run(self, jobs: Sequence[ArcJob], sink: ArcSink) -> None:
        slots = asyncio.Semaphore(self.concurrency)

        async def one(position: int, job: ArcJob) -> None:
            async with slots:
                if position < self.concurrency:
                    await asyncio.sleep(first_wave_delay(position, self.start_spacing_ms))
                sink.started(job.arc_id, self.name)
                await sink.done(await run_arc_graph(self.graphs[job.strategy], job, sink.progressed, sink.partial))

        with startup_objects_frozen():
            await all_or_none(one(position, job) for position, job in enumerate(jobs))


async def all_or_none(work: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run all; when one raises (a dead endpoint, an interrupt), cancel the others and wait
    for them, so none writes after the run has been saved as interrupted."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def first_wave_delay(position: int, spacing_ms: float) -> float:
    """Arcs started together send and receive their calls in lockstep, and each burst of
    replies queues on the event loop: the first wave starts staggered."""
    return position * spacing_ms / 1000


@contextlib.contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Keep what exists before the arcs start (modules, schemas, compiled graphs) out of the
    cyclic garbage collector while they run: full collections over it paused the event loop for
    up to 100 ms with 64 arcs in flight. Unfrozen afterwards, so nothing is kept for good."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
