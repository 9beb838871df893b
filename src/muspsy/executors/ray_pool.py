"""The Ray executor: the driver hands arcs to async worker actors and writes what they return.

- Each worker runs up to ceil(concurrency / workers) arcs at once; the driver keeps the queue.
- A worker that dies (killed, out of memory, node lost) is replaced; its arcs go back on the
  queue and continue, on whichever worker takes them, from their last Postgres checkpoint. An
  arc that was running on three workers that died is failed, so one poisonous arc cannot kill
  workers forever.
- Endpoint limits are divided between the workers (`backends.limit_share`) rather than asked of
  a limiter actor: no round trip per call, no slot leaked by a worker that dies holding it, no
  actor every call depends on; the driver keeps the workers equally loaded, so little of the
  budget sits idle.
- Events, progress and (with `--record-prompts`) prompt lines are drained from the workers once
  a second into `events.jsonl`, the progress display and `prompts.jsonl`; a worker that dies
  loses at most its last second of them, never a record.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import RayActorError

from muspsy.backends import endpoint_limits
from muspsy.config import RunConfig, role_settings
from muspsy.events import EventLog
from muspsy.executors.base import ArcDone, ArcJob, ArcSink, ExecutorError
from muspsy.executors.local import first_wave_delay
from muspsy.executors.ray_worker import ArcWorker
from muspsy.preflight import EndpointDown
from muspsy.promptlog import JsonlPromptLog

WORKER_DEATHS_PER_ARC = 3
DRAIN_EVERY_S = 1.0


@dataclass
class Worker:
    name: str
    actor: Any
    alive: bool = True
    arcs: int = 0  # arcs it ran to their end
    cpu_s: float = 0.0  # its CPU seconds, as of the last drain


def check_limits(config: RunConfig, workers: int) -> None:
    """Each worker needs at least one request slot of every limited endpoint."""
    for endpoint, (concurrent, _) in endpoint_limits(role_settings(config, config.backend or "embedded")).items():
        if concurrent is not None and concurrent < workers:
            raise ExecutorError(
                f"max_concurrent_requests: {concurrent} for {endpoint} is fewer than --workers {workers}: "
                "each worker needs a request slot"
            )


class RayExecutor:
    name = "ray"

    def __init__(
        self,
        config: RunConfig,
        checkpointer: str,
        run_id: str,
        strategies: list[str],
        hashes: dict[str, str],
        events: EventLog,
        prompts: JsonlPromptLog | None,
        *,
        workers: int | None = None,
        address: str | None = None,
    ) -> None:
        self.config = config
        self.checkpointer = checkpointer
        self.run_id = run_id
        self.strategies = strategies
        self.hashes = hashes
        self.events = events
        self.prompts = prompts
        self.requested_workers = workers
        self.address = address
        self.workers: list[Worker] = []  # the live ones
        self.consumers: list[asyncio.Task[None]] = []  # every worker's, dead ones' too
        self._started = 0

    async def run(self, jobs: Sequence[ArcJob], sink: ArcSink) -> None:
        started_ray = False
        if not ray.is_initialized():
            # A local cluster sized for the workers unless an address names one that exists.
            cpus = None if self.address else max(self.requested_workers or 0, os.cpu_count() or 1)
            ray.init(address=self.address, num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            started_ray = True
        try:
            count = self.requested_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
            check_limits(self.config, count)
            await self._pool(jobs, sink, count)
        finally:
            for task in self.consumers:
                task.cancel()
            for worker in self.workers:
                ray.kill(worker.actor)
            if started_ray:
                ray.shutdown()

    async def _pool(self, jobs: Sequence[ArcJob], sink: ArcSink, count: int) -> None:
        self.count = count
        self.per_worker = math.ceil(self.config.concurrency / count)
        self.queue: asyncio.Queue[tuple[ArcJob, int]] = asyncio.Queue()
        for job in jobs:
            self.queue.put_nowait((job, 0))
        self.remaining = len(jobs)
        self.all_done = asyncio.Event()
        self.failure: BaseException | None = None
        if not jobs:
            return
        started = await asyncio.gather(*(self._start_worker(index) for index in range(count)))
        # Consumers wait on the queue in the order they are made: interleaved, so the first arcs
        # are spread over all the workers rather than filling the first one.
        for slot in range(self.per_worker):
            for index, worker in enumerate(started):
                self.consumers.append(asyncio.create_task(self._consume(worker, index, sink, slot)))
        drainer = asyncio.create_task(self._drain_loop(sink))
        try:
            await self.all_done.wait()
        finally:
            drainer.cancel()
        await self._drain(sink)
        for worker in self.workers:
            self.events.emit("worker_finished", worker=worker.name, arcs=worker.arcs, cpu_s=round(worker.cpu_s, 2))
        if self.failure is not None:
            raise self.failure

    async def _start_worker(self, index: int) -> Worker:
        name = f"worker-{self._started}"
        self._started += 1
        actor = ArcWorker.options(  # type: ignore[attr-defined]
            name=f"muspsy-{self.run_id}-{name}",
            num_cpus=1,
            max_concurrency=self.per_worker + 4,  # the arcs, plus drain and close calls
        ).remote(name, (index, self.count))
        try:
            await actor.setup.remote(
                self.config.model_dump(mode="json"), self.strategies, self.checkpointer, self.hashes, self.run_id
            )
        except Exception as exc:
            raise ExecutorError(f"ray {name}: could not start: {exc}") from None
        worker = Worker(name, actor)
        self.workers.append(worker)
        return worker

    async def _consume(self, worker: Worker, index: int, sink: ArcSink, slot: int) -> None:
        delay = first_wave_delay(slot, self.config.start_spacing_ms)
        try:
            while worker.alive:
                job, deaths = await self.queue.get()
                if not worker.alive:
                    self.queue.put_nowait((job, deaths))
                    return
                sink.started(job.arc_id, worker.name)
                try:
                    result: ArcDone = await worker.actor.run_arc.remote(job, delay)
                except RayActorError:
                    if deaths + 1 < WORKER_DEATHS_PER_ARC:
                        self.queue.put_nowait((job, deaths + 1))  # continues from its last checkpoint
                    else:
                        error = f"the Ray worker running it died {WORKER_DEATHS_PER_ARC} times"
                        await self._finish(sink, ArcDone(job.arc_id, "", 0.0, error=error))
                    await self._lost(worker, index, sink)
                    return
                delay = 0.0
                worker.arcs += 1
                await self._finish(sink, result)
        except Exception as exc:  # a bug, a dead endpoint or a failed replacement stops the run, as locally
            cause = getattr(exc, "cause", None)  # a worker's exception arrives wrapped in a RayTaskError
            self.failure = cause if isinstance(cause, EndpointDown) else exc
            self.all_done.set()

    async def _finish(self, sink: ArcSink, result: ArcDone) -> None:
        await sink.done(result)
        self.remaining -= 1
        if self.remaining == 0:
            self.all_done.set()

    async def _lost(self, worker: Worker, index: int, sink: ArcSink) -> None:
        """The first of a dead worker's consumers to notice starts its replacement."""
        if not worker.alive:
            return
        worker.alive = False
        self.events.emit("worker_lost", worker=worker.name)
        self.workers.remove(worker)
        if self.remaining:
            replacement = await self._start_worker(index)
            for slot in range(self.per_worker):
                self.consumers.append(asyncio.create_task(self._consume(replacement, index, sink, slot)))

    async def _drain_loop(self, sink: ArcSink) -> None:
        while True:
            await asyncio.sleep(DRAIN_EVERY_S)
            await self._drain(sink)

    async def _drain(self, sink: ArcSink) -> None:
        for worker in list(self.workers):
            try:
                events, prompts, (sessions, turns, tokens), worker.cpu_s = await worker.actor.drain.remote()
            except RayActorError:
                continue  # its consumers see the death and replace it
            for event, fields in events:
                self.events.emit(event, **fields)
            if self.prompts is not None:
                for line in prompts:
                    self.prompts.write(line)
            sink.progressed(sessions, turns, tokens)
