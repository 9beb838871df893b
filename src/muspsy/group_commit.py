"""Group commit for a process's checkpoint writes: the statements every arc in flight asks for
while one round trip is under way go to Postgres together, in the next round trip, as one
pipelined transaction.

Each caller still waits until its own statements are committed, so a graph step returns only
once its checkpoint is durable, as with one transaction per call. What changes is the cost: a
round trip (a pooled connection, a pipeline, a commit, the server's work per transaction) is
paid once per batch instead of once per call; at a few hundred arcs in flight a batch holds
dozens of calls (README, Scaling).

Statements run in the order they were asked for, so one thread's writes keep their order. A
batch that fails is retried caller by caller, so one bad row fails only the call that sent it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from psycopg_pool import AsyncConnectionPool

# A query and the parameter rows it is executed with (executemany).
Statement = tuple[str, Sequence[Sequence[Any]]]


class GroupCommit:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool
        self.pending: list[tuple[list[Statement], asyncio.Future[None]]] = []
        self.flusher: asyncio.Task[None] | None = None
        self.round_trips = 0  # transactions sent; with `calls`, how well writes are grouped
        self.calls = 0

    async def execute(self, statements: list[Statement]) -> None:
        """Run the statements in the next batch and return once it is committed."""
        self.calls += 1
        done = asyncio.get_running_loop().create_future()
        self.pending.append((statements, done))
        if self.flusher is None:
            self.flusher = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        batch: list[tuple[list[Statement], asyncio.Future[None]]] = []
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                await self._commit(batch)
                batch = []
        finally:
            self.flusher = None
            for _, done in batch + self.pending:  # cancelled mid-batch (the loop is closing)
                done.cancel()
            self.pending = []

    async def _commit(self, batch: list[tuple[list[Statement], asyncio.Future[None]]]) -> None:
        try:
            await self._transaction([statement for statements, _ in batch for statement in statements])
        except Exception as exc:
            if len(batch) == 1:
                settle(batch[0][1], exc)
                return
            for statements, done in batch:  # find the caller whose rows the server refused
                try:
                    await self._transaction(statements)
                except Exception as own:
                    settle(done, own)
                else:
                    settle(done, None)
            return
        for _, done in batch:
            settle(done, None)

    async def _transaction(self, statements: list[Statement]) -> None:
        self.round_trips += 1
        async with (
            self.pool.connection() as conn,
            conn.pipeline(),
            conn.transaction(),
            conn.cursor(binary=True) as cur,
        ):
            for query, rows in statements:
                await cur.executemany(query, rows)


def settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # its caller was cancelled; the write went ahead regardless
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
