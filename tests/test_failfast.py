"""Fail fast, never hang; signals. A trickling server, a dead endpoint and a rejected key end
the run quickly with one line naming the URL; an endpoint that dies mid-run trips the circuit
breaker and leaves every arc resumable; SIGTERM is handled like SIGINT."""

from __future__ import annotations

import json
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import PROFILES, http_server
from muspsy.testing import FakeOpenAIServer
from test_batch import arcs_of, clean_env, muspsy, the_run_dir, wait_until_arcs_run

pytestmark = pytest.mark.cli

PROFILE = str(PROFILES / "hannah-work-anxiety.yaml")
SMALL = ["--sessions-max", "2", "--turns-max", "7"]


def deadline_config(tmp_path: Path, seconds: float) -> Path:
    path = tmp_path / "deadline.yaml"
    path.write_text(f"models:\n  default:\n    deadline_s: {seconds}\n    max_retries: 0\n", encoding="utf-8")
    return path


def assert_one_line_naming(result: subprocess.CompletedProcess[str], url: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert url in line, line
    return line


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """Answers every request one byte every 0.5 s: each read is quick, the reply never ends."""
    stop = threading.Event()

    class Trickle(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 100:
                if stop.is_set():
                    return
                try:
                    self.request.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.5)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_trickling_server_ends_the_run_quickly_naming_the_url(tmp_path, trickling_server):
    started = time.monotonic()
    result = muspsy(
        "run", PROFILE, "--backend", "openai", "--base-url", trickling_server, "--config",
        str(deadline_config(tmp_path, 2)), *SMALL, "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    line = assert_one_line_naming(result, trickling_server)
    assert "no answer within 2 s" in line
    assert time.monotonic() - started < 60
    assert not (tmp_path / "runs").exists(), "no run folder for a run that never started"


def test_a_dead_endpoint_and_a_rejected_key_end_the_run_at_once(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    started = time.monotonic()
    result = muspsy("run", PROFILE, "--backend", "openai", "--base-url", dead, "--runs-dir", str(tmp_path / "r"))
    assert "cannot connect" in assert_one_line_naming(result, dead)
    assert time.monotonic() - started < 60 and not (tmp_path / "r").exists()

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    with http_server(Refuse) as refusing:
        result = muspsy("run", PROFILE, "--backend", "openai", "--base-url", refusing, "--runs-dir", str(tmp_path))
    assert "refused the API key (HTTP 401)" in assert_one_line_naming(result, refusing)


def test_an_endpoint_that_stops_answering_mid_run_trips_the_breaker_and_every_arc_resumes(tmp_path):
    runs = tmp_path / "runs"
    with FakeOpenAIServer(fault_rate=1.0, faults=("hang",), hang_s=30) as server:
        started = time.monotonic()
        result = muspsy(
            "run", PROFILE, "--arcs-per-profile", "5", "--backend", "openai", "--base-url", server.base_url,
            "--concurrency", "1", "--config", str(deadline_config(tmp_path, 1)), *SMALL, "--runs-dir", str(runs),
        )  # fmt: skip
        line = assert_one_line_naming(result, server.base_url)
        assert "failed 3 calls in a row" in line and "muspsy resume" in line
        # The two arcs before the trip failed on their own; the rest were never started.
        assert result.stderr.count("FAILED") == 2
        assert time.monotonic() - started < 90
        run_dir = the_run_dir(runs)
        assert result.stdout.strip().splitlines()[-1] == str(run_dir)
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
        server.fault_rate = 0.0  # the endpoint is back
        resumed = muspsy("resume", str(run_dir), "--quiet")
        assert resumed.returncode == 0, resumed.stderr
    ids = [arc["arc_id"] for arc in arcs_of(run_dir)]
    assert len(ids) == len(set(ids)) == 5


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_leave_an_interrupted_resumable_run(tmp_path, sent, code):
    with FakeOpenAIServer(latency_s=0.2) as server:
        command = [
            "muspsy", "run", PROFILE, str(PROFILES / "mateo-social-anxiety.yaml"), "--backend", "openai",
            "--base-url", server.base_url, *SMALL, "--runs-dir", str(tmp_path),
        ]  # fmt: skip
        process = subprocess.Popen(command, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until_arcs_run(tmp_path, process)  # type: ignore[arg-type]
        process.send_signal(sent)
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == code, stderr
        assert "Traceback" not in stderr
        run_dir = the_run_dir(tmp_path)
        assert f"muspsy resume {run_dir}" in stderr
        assert stdout.strip().splitlines()[-1] == str(run_dir)
        assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
        server.latency_s = 0.0
        resumed = muspsy("resume", str(run_dir), "--quiet")
        assert resumed.returncode == 0, resumed.stderr
    assert len(arcs_of(run_dir)) == 2
