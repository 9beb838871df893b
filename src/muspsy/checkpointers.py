"""LangGraph checkpointers for a run: SQLite in the run folder (one process), or Postgres
(`--checkpointer postgresql://...`) when several processes or machines share the work."""

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
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
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
    check_checkpointer(url)
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    try:
        saver = await stack.enter_async_context(AsyncPostgresSaver.from_conn_string(url))
        await saver.setup()
    except Exception as exc:
        raise CheckpointerError(f"--checkpointer {redact_url(url)}: cannot connect: {exc}") from None
    return saver
