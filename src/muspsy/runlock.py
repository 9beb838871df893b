"""One process per run: an exclusive OS file lock in the run folder, and on a shared Postgres
an advisory lock per run id.

`run` and `resume` hold both for as long as arcs execute. A second process refuses at once with
one line naming the holder, instead of running the same arcs again and paying twice. The file
lock is released by the kernel when the process dies (even by `kill -9`), so a stale lock
never blocks a resume.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from muspsy.redact import redact_url
from muspsy.runfolder import RunFolderError

LOCK = ".lock"


class RunLocked(RunFolderError):
    """Another process holds the run."""


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"process {info['pid']} on {info['host']} (since {info['since']})"
    except (ValueError, KeyError, TypeError):
        return "another process"


@contextmanager
def run_folder_lock(root: Path) -> Iterator[None]:
    """Hold the exclusive lock of the run folder `root`; raise RunLocked if another process does."""
    path = root / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            raise RunLocked(
                f"{root}: the run is in use by {holder}; wait for it to end (or stop it) before resuming"
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # the lock itself goes with the descriptor
    finally:
        os.close(fd)


def run_in_use(root: Path) -> bool:
    """Whether a process holds the run folder's lock (read-only: no lock file is created)."""
    try:
        fd = os.open(root / LOCK, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock if we got it
    return False


def advisory_key(run_id: str) -> int:
    """A signed 64-bit key for `pg_try_advisory_lock`, stable across processes and machines."""
    return int.from_bytes(hashlib.sha256(f"muspsy-run:{run_id}".encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def postgres_run_lock(url: str | None, run_id: str) -> AsyncIterator[None]:
    """On a Postgres checkpointer, hold a session advisory lock for `run_id` (nothing for SQLite):
    processes on other machines sharing the database cannot take the same run."""
    if url is None or url == "sqlite":
        yield
        return
    import psycopg

    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise RunFolderError(f"--checkpointer {redact_url(url)}: cannot connect: {exc}") from None
    try:
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s)", (advisory_key(run_id),))).fetchone()
        if not row or not row[0]:
            raise RunLocked(
                f"run {run_id}: another process holds it on {redact_url(url)}; wait for it to end before resuming"
            )
        yield
    finally:
        await conn.close()  # closing the session releases its advisory locks
