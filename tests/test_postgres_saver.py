"""muspsy's Postgres saver against LangGraph's own, on a throwaway cluster: given the same calls
it writes the same rows, each reads what the other wrote the same way, and a graph interrupted
by a failing node resumes from its checkpoint with the finished node not run again. Arcs in
flight share the group commit's round trips, and a row the server refuses fails only its call.

Skipped without Postgres server binaries, except in CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import operator
import os
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Annotated, Any

import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from typing_extensions import TypedDict

from muspsy.checkpointers import open_postgres_saver
from muspsy.group_commit import GroupCommit
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


async def grouped(url: str, arcs: int) -> tuple[list[Any], GroupCommit]:
    async with AsyncExitStack() as stack:
        saver = await open_postgres_saver(stack, url)
        graph = graph_failing_once([], {"first": 0, "second": 0}).compile(checkpointer=saver)
        threads: list[Any] = [{"configurable": {"thread_id": f"group-{n}"}} for n in range(arcs)]
        await asyncio.gather(*(graph.ainvoke({"log": []}, thread, durability="sync") for thread in threads))
        states = [(await graph.aget_state(thread)).values for thread in threads]
        await asyncio.gather(*(saver.adelete_thread(f"group-{n}") for n in range(arcs)))
        left = await rows(saver.conn, "checkpoints", "group-0")
        assert not left  # the deletes went through the group commit too
        return states, saver.group_commit


def test_arcs_in_flight_share_round_trips_and_each_reads_back_its_own_state(postgres_url):
    states, group = asyncio.run(grouped(postgres_url, 16))
    assert all(state["log"] == ["first", "second"] and state["count"] == 2 for state in states)
    assert group.round_trips < group.calls / 4  # 16 arcs' steps went together


async def one_refused_row(url: str) -> tuple[list[BaseException | None], list[str], int]:
    async with AsyncExitStack() as stack:
        saver = await open_postgres_saver(stack, url)
        async with saver.conn.connection() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS grouped (name text PRIMARY KEY, value jsonb)")
        group = GroupCommit(saver.conn)
        insert = "INSERT INTO grouped (name, value) VALUES (%s, %s)"
        values = {"good-1": {"a": 1}, "bad": {"text": "nul \x00 here"}, "good-2": {"b": 2}}
        outcomes = await asyncio.gather(
            *(group.execute([(insert, [(name, Jsonb(value))])]) for name, value in values.items()),
            return_exceptions=True,
        )
        async with saver.conn.connection() as conn:
            found = await (await conn.execute("SELECT name FROM grouped ORDER BY name")).fetchall()
        return outcomes, [row["name"] for row in found], group.round_trips


def test_a_row_the_server_refuses_fails_only_the_call_that_sent_it(postgres_url):
    outcomes, committed, round_trips = asyncio.run(one_refused_row(postgres_url))
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], psycopg.Error) and "\\u0000" in str(outcomes[1])
    assert committed == ["good-1", "good-2"]
    assert round_trips == 4  # the three calls in one batch, then one each once it was refused
