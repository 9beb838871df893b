"""LangGraph checkpointers for a run: SQLite in the run folder (one process), or Postgres
(`--checkpointer postgresql://...`) when several processes or machines share the work."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from muspsy.runfolder import CHECKPOINTS, RunFolder

POSTGRES_SCHEMES = ("postgres", "postgresql")


class CheckpointerError(ValueError):
    """The checkpointer URL is not usable."""


def redact_url(url: str) -> str:
    """The URL with its password replaced, fit for manifests and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def _sqlite_saver(stack: AsyncExitStack, folder: RunFolder) -> Any:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    conn = await stack.enter_async_context(aiosqlite.connect(str(folder.path(CHECKPOINTS))))
    # WAL (the saver's own setting) with synchronous=NORMAL: a commit survives the process being
    # killed, which is what resume is for, without an fsync per graph step; a power cut may
    # lose the last steps, which a resume then redoes.
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA synchronous=NORMAL")
    return AsyncSqliteSaver(conn)


async def open_checkpointer(stack: AsyncExitStack, folder: RunFolder, url: str | None) -> Any:
    """One checkpointer for the whole run (a second SQLite connection to one file would lock)."""
    if url is None or url == "sqlite":
        return await _sqlite_saver(stack, folder)
    if urlsplit(url).scheme not in POSTGRES_SCHEMES:
        raise CheckpointerError(f"--checkpointer: expected sqlite or a postgresql:// URL, got {redact_url(url)}")
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    except ImportError:
        raise CheckpointerError(
            "--checkpointer: Postgres support is not installed: pip install 'muspsy[postgres]'"
        ) from None
    try:
        saver = await stack.enter_async_context(AsyncPostgresSaver.from_conn_string(url))
        await saver.setup()
    except Exception as exc:
        raise CheckpointerError(f"--checkpointer {redact_url(url)}: cannot connect: {exc}") from None
    return saver
