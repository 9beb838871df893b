"""Secret canaries never reach anything muspsy writes: an API key from the environment, URL
userinfo passwords and credential query parameters, a server error body echoing them, a key
pasted into `api_key_env`, a Postgres `?password=`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import PROFILES, http_server
from muspsy.redact import redact, redact_url, register_secret
from muspsy.testing import FakeOpenAIServer
from postgres_cluster import postgres_cluster, server_bin
from test_batch import clean_env

pytestmark = pytest.mark.cli

KEY = "sk-canaryKEY0123456789abcdef"
URL_PASSWORD = "pw-canary-4711"
QUERY_KEY = "qcanary-0815"
CANARIES = (KEY, URL_PASSWORD, QUERY_KEY)
PROFILE = str(PROFILES / "hannah-work-anxiety.yaml")
SMALL = ["--sessions-max", "2", "--turns-max", "7"]


def muspsy(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(), "OPENAI_API_KEY": KEY}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=600, cwd=cwd)


def assert_no_canary(root: Path, *outputs: str) -> None:
    for text in outputs:
        for canary in CANARIES:
            assert canary not in text, f"{canary} printed"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for canary in CANARIES:
            assert canary.encode() not in data, f"{canary} in {path}"


@pytest.fixture
def echoing_server() -> Iterator[str]:
    """An endpoint whose error body echoes every credential it was sent (as some do)."""

    class Echo(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body = json.dumps({"error": {"message": f"bad request {self.path} for key {KEY} ({URL_PASSWORD})"}})
            data = body.encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return None

    with http_server(Echo) as url:
        yield url


def with_credentials(base_url: str, query: bool = True) -> str:
    url = base_url.replace("http://", f"http://alice:{URL_PASSWORD}@")
    return url + (f"?api-key={QUERY_KEY}" if query else "")


def test_an_error_body_echoing_the_key_reaches_no_file_and_no_stream(tmp_path, echoing_server):
    runs = tmp_path / "runs"
    result = muspsy(
        "run", PROFILE, "--backend", "openai", "--base-url", with_credentials(echoing_server), *SMALL,
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the arc failed, the run ended
    assert "FAILED" in result.stderr and "***" in result.stderr
    (run_dir,) = runs.iterdir()
    failed = (run_dir / "failed.jsonl").read_text()
    assert "bad request" in failed  # the error is kept, only the secrets are masked
    status = muspsy("status", str(run_dir))
    assert_no_canary(tmp_path, result.stdout, result.stderr, status.stdout, status.stderr)


def test_credentials_in_the_base_url_never_reach_records_exports_or_evaluations(tmp_path):
    runs = tmp_path / "runs"
    with FakeOpenAIServer() as server:
        result = muspsy(
            "run", PROFILE, "--backend", "openai", "--base-url", with_credentials(server.base_url, query=False),
            *SMALL, "--runs-dir", str(runs),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    record = json.loads((run_dir / "arcs.jsonl").read_text().splitlines()[0])
    assert record["provenance"]["models"]["client"]["base_url"].startswith("http://alice:***@127.0.0.1")
    outputs = [result.stdout, result.stderr]
    for fmt, out in (("openai", "chat.jsonl"), ("parquet", "parquet"), ("muspsy-raw", "raw")):
        exported = muspsy("export", str(run_dir), "--format", fmt, "-o", str(tmp_path / out))
        assert exported.returncode == 0, exported.stderr
        outputs += [exported.stdout, exported.stderr]
    evaluated = muspsy("evaluate", str(run_dir), "--backend", "scripted", "-q")
    assert evaluated.returncode == 0, evaluated.stderr
    assert (run_dir / "evaluation.jsonl").is_file()
    assert_no_canary(tmp_path, *outputs, evaluated.stdout, evaluated.stderr)


def test_a_key_pasted_into_api_key_env_is_refused_without_echoing_it(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"models:\n  default:\n    api_key_env: {KEY}\n", encoding="utf-8")
    result = muspsy("run", PROFILE, "--config", str(config), "--backend", "scripted", "--runs-dir", str(tmp_path / "r"))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "api_key_env" in line and KEY not in line
    assert not (tmp_path / "r").exists()


def test_url_credentials_are_masked_wherever_a_url_appears():
    assert QUERY_KEY not in redact_url(f"postgresql://u@db:5432/muspsy?sslmode=require&password={QUERY_KEY}")
    assert "sslmode=require" in redact_url(f"postgresql://u@db/m?sslmode=require&password={QUERY_KEY}")
    assert redact_url(f"https://{KEY}@api.example.com/v1") == "https://***@api.example.com/v1"
    text = f"connect to http://bob:{URL_PASSWORD}@10.0.0.1:8000/v1?token={QUERY_KEY} failed"
    assert redact(text) == "connect to http://bob:***@10.0.0.1:8000/v1?token=*** failed"
    register_secret("a-registered-secret-value")
    assert redact('{"body": "a-registered-secret-value"}') == '{"body": "***"}'
    assert redact("short words stay") == "short words stay"
    # A URL with nothing to mask is left as written, even one with no host.
    assert redact("needs --checkpointer postgresql://... here") == "needs --checkpointer postgresql://... here"


postgres = pytest.mark.skipif(server_bin() is None and not os.environ.get("CI"), reason="no Postgres binaries")


@postgres
def test_a_postgres_password_query_parameter_never_reaches_the_run_folder(tmp_path):
    with postgres_cluster() as url:
        secret_url = f"{url}?password={QUERY_KEY}"
        result = muspsy(
            "run", PROFILE, "--backend", "scripted", "--checkpointer", secret_url, *SMALL, "--runs-dir", str(tmp_path)
        )
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "manifest.json").read_text())["checkpointer"].endswith("?password=***")
    assert_no_canary(tmp_path, result.stdout, result.stderr)
