"""LangGraph's Postgres checkpoint saver, made cheaper per graph step for muspsy's many arcs in
flight per process (the local executor on Postgres, and every Ray worker).

The rows, SQL and serializer are the library's, so its readers (resume, `aget_state`, Studio)
see exactly what it would have written. Two things differ, both measured (README, Scaling):

- Serialization runs inline on the event loop. The library hands every write and every read to
  a thread (`asyncio.to_thread`), which on a busy process costs more CPU in thread hand-offs and
  GIL switches than dumping a few KB of msgpack does: a third of the saver's client CPU.
- Writes (checkpoints, pending writes, deleted threads) are group-committed
  (`muspsy.group_commit`): what every arc in flight asks for during one round trip goes in the
  next, as one transaction. The library holds one lock per saver around every statement and
  sends one transaction per call. Reads take their own connection from the pool.

Each connection also asks the server for lz4 instead of pglz when it compresses the larger
values (checkpoints and blobs of a few KB), where the server supports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from muspsy.group_commit import GroupCommit, Statement

POOL_SIZE = 4  # connections per process
# The options LangGraph's own from_conn_string sets on its connection.
CONNECTION_OPTIONS: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


async def prefer_lz4(conn: AsyncConnection[Any]) -> None:
    """Compress large values with lz4 (Postgres 14+ built with it); otherwise keep the default."""
    with contextlib.suppress(psycopg.Error):  # older or lz4-less server: pglz, as before
        await conn.execute("SET default_toast_compression = lz4")


def connection_pool(url: str) -> AsyncConnectionPool[Any]:
    return AsyncConnectionPool(url, max_size=POOL_SIZE, kwargs=CONNECTION_OPTIONS, configure=prefer_lz4, open=False)


def split_values(checkpoint: Checkpoint) -> tuple[Checkpoint, dict[str, Any]]:
    """The checkpoint as stored in its row (primitives inline) and the values stored as blobs,
    as the library splits them."""
    row = checkpoint.copy()
    inline = dict(checkpoint["channel_values"])
    blobs: dict[str, Any] = {}
    for key, value in checkpoint["channel_values"].items():
        if isinstance(value, _DeltaSnapshot):
            blobs[key] = inline.pop(key)
            inline[key] = True  # the marker the library's reader expects
        elif not (value is None or isinstance(value, (str, int, float, bool))):
            blobs[key] = inline.pop(key)
    row["channel_values"] = inline
    return row, blobs


class PooledPostgresSaver(AsyncPostgresSaver):
    """An `AsyncPostgresSaver` on a connection pool: no saver-wide lock, no thread hops, writes
    group-committed."""

    conn: AsyncConnectionPool[AsyncConnection[DictRow]]

    def __init__(self, conn: AsyncConnectionPool[AsyncConnection[DictRow]], **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)
        self.group_commit = GroupCommit(conn)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        # `pipeline` stays for the base class's signature: the library asks for it only in the
        # writes, which here go through the group commit instead.
        async with self.conn.connection() as conn, conn.cursor(binary=True, row_factory=dict_row) as cur:
            yield cur

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id, namespace = configurable["thread_id"], configurable["checkpoint_ns"]
        row, blobs = split_values(checkpoint)
        changed = {key: version for key, version in new_versions.items() if key in blobs}
        statements: list[Statement] = []
        if changed:
            statements.append(
                (self.UPSERT_CHECKPOINT_BLOBS_SQL, self._dump_blobs(thread_id, namespace, blobs, changed))
            )
        parent = configurable.get("checkpoint_id")
        meta = Jsonb(get_serializable_checkpoint_metadata(config, metadata))
        statements.append(
            (self.UPSERT_CHECKPOINTS_SQL, [(thread_id, namespace, checkpoint["id"], parent, Jsonb(row), meta)])
        )
        await self.group_commit.execute(statements)
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": namespace, "checkpoint_id": checkpoint["id"]}}

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        configurable = config["configurable"]
        # Special channels (errors, interrupts) overwrite; ordinary writes are kept as first made.
        special = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        query = self.UPSERT_CHECKPOINT_WRITES_SQL if special else self.INSERT_CHECKPOINT_WRITES_SQL
        rows = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        await self.group_commit.execute([(query, rows)])

    async def adelete_thread(self, thread_id: str) -> None:
        """Through the group commit too, so it lands after every write the thread asked for."""
        tables = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
        await self.group_commit.execute(
            [(f"DELETE FROM {table} WHERE thread_id = %s", [(str(thread_id),)]) for table in tables]
        )

    async def _load_checkpoint_tuple(self, value: DictRow) -> CheckpointTuple:
        stored = value["checkpoint"]
        values = {**(stored.get("channel_values") or {}), **self._load_blobs(value["channel_values"])}
        parent = value["parent_checkpoint_id"]
        where = {"thread_id": value["thread_id"], "checkpoint_ns": value["checkpoint_ns"]}
        return CheckpointTuple(
            {"configurable": {**where, "checkpoint_id": value["checkpoint_id"]}},
            cast(Checkpoint, {**stored, "channel_values": values}),
            value["metadata"],
            {"configurable": {**where, "checkpoint_id": parent}} if parent else None,
            self._load_writes(value["pending_writes"]),
        )
