"""LangGraph Studio's server as a user starts it from the README: `langgraph dev` in graphs/
(`muspsy[studio]`), without --allow-blocking, on 127.0.0.1. Both graphs load, publish their
schemas and run the sample inputs on the scripted backend; then the server is stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO

pytestmark = pytest.mark.cli

LANGGRAPH = shutil.which("langgraph")
if LANGGRAPH is None and not os.environ.get("CI"):
    pytest.skip("langgraph-cli is not installed (pip install -e '.[studio]')", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call(url: str, body: Any = None, timeout: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert LANGGRAPH, "langgraph-cli is missing: the test extra installs muspsy[studio]"
    port = free_port()
    log = (tmp_path_factory.mktemp("studio") / "langgraph-dev.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MUSPSY_", "LANGSMITH_"))}
    env |= {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
    command = [LANGGRAPH, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    # Its own process group: the server's workers stop with it.
    process = subprocess.Popen(command, cwd=REPO / "graphs", stdout=log, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)  # fmt: skip
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, Path(log.name).read_text(encoding="utf-8")[-3000:]
            try:
                call(address + "/ok", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "langgraph dev did not answer in time"
                time.sleep(0.5)
        yield address
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def assistant(address: str, graph: str) -> str:
    found = call(address + "/assistants/search", {"graph_id": graph})
    assert len(found) == 1, found
    return str(found[0]["assistant_id"])


def sample(graph: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / "graphs" / f"input.{graph}.json").read_text(encoding="utf-8"))
    return data


def test_both_graphs_publish_their_shape_and_schemas(studio):
    expected = {
        "arc": {"plan", "memo", "decide", "between_sessions", "finalize"},
        "session": {"open", "client_turn", "counselor_turn", "crisis", "close"},
    }
    for graph, nodes in expected.items():
        found = assistant(studio, graph)
        drawn = call(f"{studio}/assistants/{found}/graph")
        assert nodes <= {n["id"] for n in drawn["nodes"]}, graph
        schemas = call(f"{studio}/assistants/{found}/schemas")
        assert {"profile", "limits", "plan"} <= set(schemas["input_schema"]["properties"]), graph


def test_the_sample_inputs_run_whole_graphs(studio):
    arc = call(studio + "/runs/wait", {"assistant_id": assistant(studio, "arc"), "input": sample("arc")}, timeout=120)
    assert arc.get("outcome", {}).get("end_reason") == "max_sessions" and len(arc["sessions"]) == 2, arc.get(
        "__error__", arc
    )
    assert all(s["memo"]["summary"] for s in arc["sessions"])
    session = call(studio + "/runs/wait", {"assistant_id": assistant(studio, "session"), "input": sample("session")})
    turns = session["session"]["turns"]
    assert turns[0]["kind"] == "open" and turns[-1]["kind"] == "close" and session["reports"]["wai_sr"]
