"""LangGraph checkpointers for a run: SQLite in the run folder (one process), or Postgres
(`--checkpointer postgresql://...`) when several processes or machines share the work.

Finished arcs' threads are deleted by the runner, so the database holds the arcs in flight; the
space they leave is reused by new checkpoints and given back to the file system at the end of
each attempt (SQLite incremental vacuum; Postgres' autovacuum does the same on its own).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata, CheckpointTuple
from langgraph.checkpoint.sqlite import SqliteSaver

from muspsy.redact import redact_url, register_url
from muspsy.runfolder import CHECKPOINTS, RunFolder

POSTGRES_SCHEMES = ("postgres", "postgresql")
WAL_LIMIT_BYTES = 16 * 1024 * 1024


class CheckpointerError(ValueError):
    """The checkpointer URL is not usable."""


class LoopSqliteSaver(SqliteSaver):
    """LangGraph's SQLite saver, called directly from the event loop.

    `AsyncSqliteSaver` sends every statement through aiosqlite's worker thread under one lock;
    with WAL and synchronous=NORMAL a checkpoint write takes tens of microseconds, less than
    those thread hand-offs cost, so here it simply runs inline.
    """

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)


def _sqlite_saver(stack: AsyncExitStack, folder: RunFolder) -> LoopSqliteSaver:
    path = folder.path(CHECKPOINTS)
    if path.is_symlink():  # the run folder's files are never followed out of it
        raise CheckpointerError(f"{path}: is a symlink; move the database into the run folder")
    conn = sqlite3.connect(str(path), check_same_thread=False)
    stack.callback(conn.close)
    # WAL with synchronous=NORMAL: a commit survives the process being killed, which is what
    # resume is for, without an fsync per graph step; a power cut may lose the last steps,
    # which a resume then redoes.
    # Incremental vacuum must be chosen before the first table exists; databases of older runs
    # keep their mode and only reuse their free pages.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # Without a limit the WAL file keeps the size of its largest burst for good.
    conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
    saver = LoopSqliteSaver(conn)
    saver.setup()
    return saver


def check_checkpointer(url: str | None) -> None:
    """Fail early, before a run folder exists, on a URL that cannot work."""
    if url is None or url == "sqlite":
        return
    register_url(url)
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        scheme = ""
    if scheme not in POSTGRES_SCHEMES:
        raise CheckpointerError(f"--checkpointer: expected sqlite or a postgresql:// URL, got {redact_url(url)}")
    try:
        import langgraph.checkpoint.postgres.aio  # noqa: F401
    except ImportError:
        raise CheckpointerError(
            "--checkpointer: Postgres support is not installed: pip install 'muspsy[postgres]'"
        ) from None


async def open_checkpointer(stack: AsyncExitStack, folder: RunFolder, url: str | None) -> Any:
    """One checkpointer for the whole run (a second SQLite connection to one file would lock)."""
    if url is None or url == "sqlite":
        return _sqlite_saver(stack, folder)
    return await open_postgres_saver(stack, url)


async def open_postgres_saver(stack: AsyncExitStack, url: str) -> Any:
    """A Postgres saver on a small connection pool: one connection would serialize the
    checkpoint writes of every arc in flight in this process (`muspsy.postgres_saver`)."""
    check_checkpointer(url)
    from muspsy.postgres_saver import PooledPostgresSaver, connection_pool

    pool = connection_pool(url)
    try:
        await pool.open(wait=True, timeout=10)
        stack.push_async_callback(pool.close)
        saver = PooledPostgresSaver(conn=pool)
        await saver.setup()
    except Exception as exc:
        await pool.close()
        raise CheckpointerError(f"--checkpointer {redact_url(url)}: cannot connect: {exc}") from None
    return saver


def compact(saver: Any) -> None:
    """Give the pages of deleted threads back to the file system (SQLite; a no-op for Postgres)."""
    if isinstance(saver, SqliteSaver):
        # executescript steps the pragma to its end; execute() would free a single page.
        saver.conn.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);")
