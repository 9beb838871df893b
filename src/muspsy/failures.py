"""Turning file-system, database and decoding errors into one line that names the path and
says what to do: the top-level handler of every command (no traceback for bad input)."""

from __future__ import annotations

import errno
import sqlite3

from muspsy.redact import redact

HINTS = {
    errno.ENOENT: "no such file or folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, expected a file",
    errno.EACCES: "permission denied; choose a path you may write to",
    errno.EPERM: "operation not permitted; choose another path",
    errno.EROFS: "read-only file system; choose another path",
    errno.ENAMETOOLONG: "name too long; choose a shorter path",
    errno.ELOOP: "a symlink loop, or a symlink where muspsy refuses to follow one",
    errno.ENOSPC: "no space left on the device",
    errno.EEXIST: "already exists",
    errno.EADDRINUSE: "address already in use; choose another port (0: any free port)",
}


def describe_failure(exc: BaseException) -> str | None:
    """One redacted line for an error caused by the environment or damaged files; None for
    anything else (a bug, which should keep its traceback)."""
    if isinstance(exc, UnicodeDecodeError):
        return redact(f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); is it a binary file?")
    if isinstance(exc, sqlite3.DatabaseError):
        return redact(
            f"checkpoint database: {exc}; if the run folder's checkpoints.sqlite is damaged, move it aside "
            "(the finished arcs are safe in arcs.jsonl) to restart the arcs in flight from their beginning"
        )
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "muspsy"
        other = f" -> {exc.filename2}" if exc.filename2 is not None else ""
        reason = HINTS.get(exc.errno or -1) or exc.strerror or type(exc).__name__
        return redact(f"{where}{other}: {reason}")
    if type(exc).__module__.startswith("psycopg"):
        return redact(f"Postgres checkpointer: {' '.join(str(exc).split())}")
    if isinstance(exc, RecursionError):
        return "input nested too deeply"
    return None
