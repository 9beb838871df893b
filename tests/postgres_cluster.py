"""A throwaway Postgres cluster on 127.0.0.1 from the server binaries on the machine image.

`initdb` refuses to run as root (sessions and CI run as root), so the cluster is created and
started as the image's `postgres` user, in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        return subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", command], capture_output=True, text=True)
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True)


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a connection URL to a fresh cluster; stop and delete it afterwards."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("no Postgres server binaries (pg_ctl) on this machine")
    root = Path(tempfile.mkdtemp(prefix="muspsy-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    try:
        init = _as_postgres(f"{bin_dir}/initdb -D {data} -A trust -U postgres")
        if init.returncode:
            raise RuntimeError(f"initdb failed: {init.stderr}")
        options = f"-k {root} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off"
        start = _as_postgres(f"{bin_dir}/pg_ctl -D {data} -o '{options}' -l {root}/log -w start")
        if start.returncode:
            raise RuntimeError(f"pg_ctl start failed: {start.stderr}{(root / 'log').read_text()}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(f"{bin_dir}/pg_ctl -D {data} -m immediate -w stop")
        shutil.rmtree(root, ignore_errors=True)
