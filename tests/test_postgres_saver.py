"""muspsy's Postgres saver against LangGraph's own, on a throwaway cluster: given the same calls
it writes the same rows, each reads what the other wrote the same way, and a graph interrupted
by a failing node resumes from its checkpoint with the finished node not run again.

Skipped without Postgres server binaries, except in CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import operator
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Annotated, Any

import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from typing_extensions import TypedDict

from muspsy.checkpointers import open_postgres_saver
from muspsy.postgres_saver import CONNECTION_OPTIONS, PooledPostgresSaver
from postgres_cluster import postgres_cluster, server_bin

if server_bin() is None and not os.environ.get("CI"):
    pytest.skip("no Postgres server binaries on this machine", allow_module_level=True)


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


class State(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    notes: dict[str, Any]
    count: int
    text: str


class Mirrored(PooledPostgresSaver):
    """Sends every write to LangGraph's saver too, under another thread id."""

    def __init__(self, pool: Any, library: AsyncPostgresSaver) -> None:
        super().__init__(conn=pool)
        self.library = library

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        await self.library.aput(mirror(config), checkpoint, metadata, new_versions)
        return await super().aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self.library.aput_writes(mirror(config), writes, task_id, task_path)
        await super().aput_writes(config, writes, task_id, task_path)


def mirror(config: Any) -> Any:
    return {"configurable": {**config["configurable"], "thread_id": "library-" + config["configurable"]["thread_id"]}}


def graph_failing_once(failures: list[int], runs: dict[str, int]) -> StateGraph[State]:
    async def first(state: State) -> State:
        runs["first"] += 1
        return {"log": ["first"], "notes": {"big": "x" * 5000, "n": [1, 2]}, "count": 1, "text": "a"}

    async def second(state: State) -> State:
        runs["second"] += 1
        if failures:
            failures.pop()
            raise RuntimeError("the endpoint went away")
        return {"log": ["second"], "count": state["count"] + 1, "notes": {**state["notes"], "done": True}}

    graph = StateGraph(State)
    graph.add_node("first", first)
    graph.add_node("second", second)
    graph.add_edge(START, "first")
    graph.add_edge("first", "second")
    graph.add_edge("second", END)
    return graph


async def rows(pool: AsyncConnectionPool[Any], table: str, thread: str) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT * FROM {table} WHERE thread_id = %s", (thread,))
        found = await cur.fetchall()
    return sorted(({**row, "thread_id": "t"} for row in found), key=repr)


async def compare(url: str) -> None:
    async with AsyncExitStack() as stack:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(url, kwargs=CONNECTION_OPTIONS, open=False)
        await pool.open(wait=True)
        stack.push_async_callback(pool.close)
        library = AsyncPostgresSaver(conn=pool)
        await library.setup()
        ours = Mirrored(pool, library)
        failures, runs = [1], {"first": 0, "second": 0}
        graph = graph_failing_once(failures, runs).compile(checkpointer=ours)
        thread: Any = {"configurable": {"thread_id": "arc-1"}}
        with pytest.raises(RuntimeError):
            await graph.ainvoke({"log": []}, thread, durability="sync")
        final = await graph.ainvoke(None, thread, durability="sync")  # resume from the checkpoint
        assert runs == {"first": 1, "second": 2}  # the finished node was not run again
        assert final["log"] == ["first", "second"] and final["count"] == 2 and final["notes"]["done"]

        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            mine, theirs = await rows(pool, table, "arc-1"), await rows(pool, table, "library-arc-1")
            assert mine and mine == theirs, table
        errors = await rows(pool, "checkpoint_writes", "arc-1")
        assert any(row["channel"] == "__error__" for row in errors)  # the failure was recorded

        # Each reads the other's rows as the library reads its own.
        for thread_id in ("arc-1", "library-arc-1"):
            config: Any = {"configurable": {"thread_id": thread_id}}
            by_library = [t async for t in library.alist(config)]
            by_us = [t async for t in ours.alist(config)]
            assert len(by_us) >= 4 and strip(by_us) == strip(by_library)
            assert strip([await ours.aget_tuple(config)]) == strip([await library.aget_tuple(config)])


def strip(tuples: list[Any]) -> list[Any]:
    """A checkpoint tuple without its thread id (the two copies differ only there)."""
    return [
        (t.checkpoint, t.metadata, t.pending_writes, t.config["configurable"]["checkpoint_id"], t.parent_config is None)
        for t in tuples
    ]


def test_the_same_rows_as_langgraphs_saver_and_the_same_reads(postgres_url):
    asyncio.run(compare(postgres_url))


async def compression(url: str) -> list[str]:
    async with AsyncExitStack() as stack:
        saver = await open_postgres_saver(stack, url)
        graph = graph_failing_once([], {"first": 0, "second": 0}).compile(checkpointer=saver)
        await graph.ainvoke({"log": []}, {"configurable": {"thread_id": "lz4"}}, durability="sync")
        async with saver.conn.connection() as conn:
            cursor = await conn.execute(
                "SELECT pg_column_compression(blob) AS method FROM checkpoint_blobs "
                "WHERE thread_id = 'lz4' AND pg_column_compression(blob) IS NOT NULL"
            )
            return [row["method"] for row in await cursor.fetchall()]


def test_large_values_are_compressed_with_lz4(postgres_url):
    methods = asyncio.run(compression(postgres_url))
    assert methods and set(methods) == {"lz4"}
