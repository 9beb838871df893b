"""`muspsy run` end to end, as a user would call it, in a temporary folder."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import PROFILES
from muspsy.records import ArcRecord
from muspsy.testing import FakeOpenAIServer

pytestmark = pytest.mark.cli

ARC_FIELDS = {
    "schema",
    "run_id",
    "arc_id",
    "client_id",
    "profile",
    "strategy",
    "plan",
    "sessions",
    "outcome",
    "usage",
    "provenance",
}
MEMO_FIELDS = {
    "summary",
    "emotion_and_cognitive_state",
    "counselor_observations",
    "counseling_assignments",
    "session_goal",
    "next_session_goal",
    "progress",
    "risk",
}


def muspsy(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env={**clean, **(env or {})}, cwd=cwd)


def read_arcs(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()]


def test_scripted_run_over_all_bundled_profiles(tmp_path):
    result = muspsy("run", "--backend", "scripted", "--sessions-min", "3", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert run_dir.parent == tmp_path and run_dir.is_dir()
    arcs = read_arcs(run_dir)
    assert len(arcs) == len(list(PROFILES.glob("*.yaml")))
    for arc in arcs:
        assert set(arc) >= ARC_FIELDS
        assert arc["schema"] == "muspsy.arc/1"
        ArcRecord.model_validate(arc)
        assert len(arc["sessions"]) >= 3
        for session in arc["sessions"]:
            assert set(session["memo"]) == MEMO_FIELDS
            assert {"index", "goal", "client_state", "turns", "end_reason"} <= set(session)
        assert arc["outcome"]["end_reason"] in {"goals_met", "max_sessions", "referral", "crisis", "dropout"}
        assert (run_dir / "transcripts" / f"{arc['arc_id']}.md").is_file()
    assert len({a["arc_id"] for a in arcs}) == len(arcs)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed" and manifest["backend"] == "scripted"
    assert manifest["counts"]["finished"] == len(arcs)
    assert manifest["prompt_hashes"] and manifest["config_fingerprint"]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    calls = [e for e in events if e["event"] == "llm_call"]
    assert calls
    assert {"run", "arc", "session", "turn", "role", "latency_s", "prompt_tokens", "completion_tokens"} <= set(calls[0])
    assert (run_dir / "checkpoints.sqlite").is_file()


def test_openai_backend_against_a_local_server_with_no_key(tmp_path):
    with FakeOpenAIServer() as server:
        result = muspsy(
            "run",
            str(PROFILES / "hannah-work-anxiety.yaml"),
            "--backend",
            "openai",
            "--base-url",
            server.base_url,
            "--model",
            "local-model",
            "--sessions-max",
            "2",
            "--turns-max",
            "9",
            "--runs-dir",
            str(tmp_path),
        )
        assert result.returncode == 0, result.stderr
        assert server.requests > 0
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    (arc,) = read_arcs(run_dir)
    assert arc["provenance"]["models"]["counselor"]["name"] == "local-model"
    assert arc["usage"]["counselor"]["prompt_tokens"] > 0


def test_default_backend_is_openai_when_an_endpoint_is_configured_and_keys_stay_secret(tmp_path):
    secret = "sk-test-DO-NOT-LEAK-1234567890"
    with FakeOpenAIServer() as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": secret}
        result = muspsy(
            "run",
            str(PROFILES / "mateo-social-anxiety.yaml"),
            "--sessions-max",
            "2",
            "--turns-max",
            "7",
            "--runs-dir",
            str(tmp_path),
            env=env,
        )
    assert result.returncode == 0, result.stderr
    assert "backend openai" in result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "manifest.json").read_text())["backend"] == "openai"
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in result.stdout + result.stderr


def test_a_failing_arc_is_recorded_and_the_run_goes_on(tmp_path):
    def refuses_hannah(schema, messages):
        from muspsy.testing import default_responder

        if schema == "ClientTurnOutput" and "Hannah" in str(messages[0].content):
            return "I refuse to answer in JSON"
        return default_responder(schema, messages)

    with FakeOpenAIServer(responder=refuses_hannah) as server:
        result = muspsy(
            "run",
            str(PROFILES / "hannah-work-anxiety.yaml"),
            str(PROFILES / "mateo-social-anxiety.yaml"),
            "--backend",
            "openai",
            "--base-url",
            server.base_url,
            "--sessions-max",
            "2",
            "--turns-max",
            "7",
            "--runs-dir",
            str(tmp_path),
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    run_dir = Path(result.stdout.strip().splitlines()[-1])
    assert [a["client_id"] for a in read_arcs(run_dir)] == ["mateo-social-anxiety"]
    failed = [json.loads(line) for line in (run_dir / "failed.jsonl").read_text().splitlines()]
    assert failed[0]["client_id"] == "hannah-work-anxiety" and "ClientTurnOutput" in failed[0]["error"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "completed_with_failures" and manifest["counts"]["failed"] == 1


def test_config_file_sets_limits_and_strategy(tmp_path):
    config = tmp_path / "muspsy.yaml"
    config.write_text(
        "backend: scripted\nstrategy: person_centred\nlimits:\n  sessions_min: 2\n  sessions_max: 2\n  turns_max: 7\n",
        encoding="utf-8",
    )
    result = muspsy(
        "run",
        str(PROFILES / "grace-okonkwo-widowhood.yaml"),
        "--config",
        str(config),
        "--runs-dir",
        str(tmp_path / "runs"),
    )
    assert result.returncode == 0, result.stderr
    (arc,) = read_arcs(Path(result.stdout.strip().splitlines()[-1]))
    assert arc["strategy"] == "person_centred"
    assert len(arc["sessions"]) == 2 and all(len(s["turns"]) <= 7 for s in arc["sessions"])


def test_bad_config_file_is_one_line_exit_2(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("limits:\n  turns_max: many\n", encoding="utf-8")
    result = muspsy("run", "--config", str(config), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(config) in lines[0] and "limits.turns_max" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_resume_takes_the_base_url_again_with_the_password_it_never_stored(tmp_path):
    password = "pw-never-stored-8142"
    login = base64.b64encode(f"muspsy:{password}".encode()).decode()
    broken = [True]

    def refuses_hannah_at_first(schema, messages):
        from muspsy.testing import default_responder

        if broken and schema == "ClientTurnOutput" and "Hannah" in str(messages[0].content):
            return "I refuse to answer in JSON"
        return default_responder(schema, messages)

    profiles = [str(PROFILES / "hannah-work-anxiety.yaml"), str(PROFILES / "mateo-social-anxiety.yaml")]
    limits = ["--sessions-max", "2", "--turns-max", "7"]
    key = {"OPENAI_API_KEY": "sk-unused-the-url-login-wins-0000"}  # a URL with a login is not a local server
    with FakeOpenAIServer(responder=refuses_hannah_at_first, authorization=f"Basic {login}") as server:
        url = server.base_url.replace("http://", f"http://muspsy:{password}@")
        command = ["run", *profiles, "--backend", "openai", "--base-url", url, *limits, "--runs-dir", str(tmp_path)]
        first = muspsy(*command, env=key)
        assert first.returncode == 1, first.stderr  # Hannah's arc failed, Mateo's finished
        run_dir = Path(first.stdout.strip().splitlines()[-1])
        broken.clear()

        # The stored URL has its password masked: the endpoint refuses it, in one line.
        stored = muspsy("resume", str(run_dir), "--quiet", env=key)
        assert stored.returncode == 2 and "refused the API key" in stored.stderr
        assert "Traceback" not in stored.stderr and len(stored.stderr.strip().splitlines()) == 1
        # Validated as for `muspsy run`: another endpoint changes the fingerprint, and an
        # unreachable one is one line before any arc starts.
        elsewhere = muspsy("resume", str(run_dir), "--base-url", "http://127.0.0.1:9/v1", "--quiet", env=key)
        assert elsewhere.returncode == 2 and "config_fingerprint" in elsewhere.stderr
        down = muspsy("resume", str(run_dir), "--base-url", "http://127.0.0.1:9/v1", "--force", "--quiet", env=key)
        assert down.returncode == 2 and "127.0.0.1:9/v1: cannot connect" in down.stderr
        assert "Traceback" not in down.stderr

        resumed = muspsy("resume", str(run_dir), "--base-url", url, env=key)
        assert resumed.returncode == 0, resumed.stderr
        assert "1 arc(s) finished" in resumed.stderr
    arcs = read_arcs(run_dir)
    assert sorted(a["client_id"] for a in arcs) == ["hannah-work-anxiety", "mateo-social-anxiety"]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
