"""A Ray worker: one async actor process running many arcs on the shared Postgres checkpointer.

It builds its own models (with its share of each endpoint's limits), checkpointer and graphs,
runs the arcs the driver sends it and keeps their events, progress and prompt lines until the
driver drains them. It writes nothing to the run folder: the driver is the only writer.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from contextlib import AsyncExitStack
from typing import Any

import ray

from muspsy.agents.spec import load_spec, load_strategy
from muspsy.backends import open_models
from muspsy.checkpointers import open_postgres_saver
from muspsy.config import RunConfig
from muspsy.executors.base import ArcDone, ArcJob, run_arc_graph
from muspsy.graphs.arc import build_arc_graph
from muspsy.planning import now, prompt_hashes
from muspsy.promptlog import BufferedPromptLog
from muspsy.records import ROLES


class BufferedEventLog:
    """Events kept in memory until the driver drains them into `events.jsonl`."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.pending: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.pending.append((event, {**fields, "worker": self.worker, "worker_at": now()}))

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        out, self.pending = self.pending, []
        return out


@ray.remote
class ArcWorker:
    def __init__(self, name: str, share: tuple[int, int]) -> None:
        self.name = name
        self.share = share
        self.events = BufferedEventLog(name)
        self.prompts: BufferedPromptLog | None = None
        self.progress = [0, 0, 0]  # sessions, turns, tokens since the last drain
        self.graphs: dict[str, Any] = {}
        self.stack = AsyncExitStack()

    async def setup(
        self,
        config_data: dict[str, Any],
        strategies: list[str],
        checkpointer: str,
        hashes: dict[str, str],
        run_id: str,
    ) -> int:
        """Open models, checkpointer and graphs; refuse prompts that differ from the driver's
        (another muspsy version on this node would write arcs that do not match the manifest)."""
        config = RunConfig.model_validate(config_data)
        specs = {role: load_spec(role) for role in ROLES}
        loaded = {name: load_strategy(name) for name in strategies}
        mine = prompt_hashes(specs, list(loaded.values()))
        differ = sorted(k for k, v in mine.items() if hashes.get(k) != v)
        if differ:
            raise RuntimeError(f"worker {self.name} on pid {os.getpid()}: prompts differ from the driver's: {differ}")
        models = await open_models(config, self.stack, self.share)  # registers this node's keys for redaction
        self.prompts = BufferedPromptLog(run_id) if config.record_prompts else None
        saver = await open_postgres_saver(self.stack, checkpointer)
        graph = build_arc_graph(
            models.models,
            loaded,
            events=self.events,
            retries=config.structured_retries,
            specs=specs,
            prompts=self.prompts,
        ).compile(checkpointer=saver)
        self.graphs = dict.fromkeys(loaded, graph)
        gc.collect()
        gc.freeze()  # see executors.local.startup_objects_frozen; this process lives for the run
        return os.getpid()

    async def run_arc(self, job: ArcJob, delay_s: float) -> ArcDone:
        if delay_s:
            await asyncio.sleep(delay_s)
        return await run_arc_graph(self.graphs[job.strategy], job, self._progressed)

    def _progressed(self, sessions: int, turns: int, tokens: int) -> None:
        self.progress[0] += sessions
        self.progress[1] += turns
        self.progress[2] += tokens

    async def drain(self) -> tuple[list[tuple[str, dict[str, Any]]], list[str], tuple[int, int, int], float]:
        """Events, prompt lines and progress since the last drain, and this process's CPU seconds
        so far."""
        sessions, turns, tokens = self.progress
        self.progress = [0, 0, 0]
        prompts = self.prompts.drain() if self.prompts is not None else []
        return self.events.drain(), prompts, (sessions, turns, tokens), time.process_time()

    async def close(self) -> None:
        await self.stack.aclose()
