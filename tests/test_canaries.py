"""Canary facts: a unique token in every private field of a profile, every prompt recorded
(`--record-prompts`), on the scripted backend and through the real HTTP path against the fake
endpoint. No counselor-side prompt (counselor, clinical supervisor) ever holds a token; the
client's prompt holds a private fact's or risk note's token only from its unlock on (session
and trust), and a fact whose trust is never reached never reaches any prompt."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from muspsy.data import profiles_dir
from muspsy.promptlog import read_prompts
from muspsy.records import COUNSELOR_SIDE, ArcRecord, ClientProfile
from muspsy.testing import FakeOpenAIServer

pytestmark = pytest.mark.cli

FACTS = {  # id -> (token, share_from_session, min_alliance)
    "f-early": ("CNRYFACTEARLY", 1, 1),
    "f-second": ("CNRYFACTSECOND", 2, 2),
    "f-never": ("CNRYFACTNEVER", 2, 5),  # trust 5 is out of reach in three sessions from 2
    "f-third": ("CNRYFACTTHIRD", 3, 1),
}
RISKS = {"r-ideation": ("CNRYRISKIDEATION", 1, 1), "r-means": ("CNRYRISKMEANS", 2, 2)}
# Profile text the counselor side must never see, though the client may (its own persona and
# the planned states the simulation side steers it by).
PERSONA = {"background": "CNRYBACKGROUND", "personality": "CNRYPERSONALITY"}
PLANNED = ["CNRYPLANEMOTION", "CNRYPLANTHOUGHT", "CNRYPLANEVENT", "CNRYPLANGOAL"]
SECRET_KEY = "sk-test-CNRYAPIKEY0123456789"


def canary_profile(folder: Path) -> Path:
    data = yaml.safe_load((profiles_dir() / "graham-chronic-pain-risk.yaml").read_text(encoding="utf-8"))
    data["id"] = "canary-client"
    data["private_history"] = [
        {"id": i, "fact": f"He keeps {token} to himself.", "share_from_session": s, "min_alliance": a}
        for i, (token, s, a) in FACTS.items()
    ]
    data["risk"]["notes"] = [
        {"id": i, "note": f"He has {token} in mind.", "share_from_session": s, "min_alliance": a}
        for i, (token, s, a) in RISKS.items()
    ]
    data.update({field: f"Text with {token}." for field, token in PERSONA.items()})
    emotion, thought, event, goal = PLANNED
    data["planned_arc"] = [
        {
            "session": n,
            "emotion_state": f"{emotion} {n}",
            "cognitive_state": f"{thought} {n}",
            "recent_life_events": [f"{event} {n}"],
            "goal": f"{goal} {n}",
        }
        for n in (1, 2, 3)
    ]
    data["initial_state"]["alliance"] = 2
    ClientProfile.model_validate(data)
    path = folder / "canary-client.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def run(profile: Path, runs: Path, *backend: str) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["OPENAI_API_KEY"] = SECRET_KEY
    limits = ["--sessions-min", "3", "--sessions-max", "3", "--turns-min", "7", "--turns-max", "9"]
    command = ["muspsy", "run", str(profile), *backend, *limits, "--record-prompts", "--runs-dir", str(runs)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


def text_of(line: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in line["messages"])


@pytest.mark.parametrize("endpoint", ["scripted", "fake-openai"])
def test_no_private_token_reaches_the_counselor_side_and_facts_unlock_for_the_client(tmp_path, endpoint):
    profile = canary_profile(tmp_path)
    if endpoint == "scripted":
        run_dir = run(profile, tmp_path / "runs", "--backend", "scripted")
    else:
        with FakeOpenAIServer() as server:
            run_dir = run(profile, tmp_path / "runs", "--backend", "openai", "--base-url", server.base_url)
    prompts = read_prompts(run_dir / "prompts.jsonl")
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    assert len(prompts) == sum(e["event"] == "llm_call" for e in events)  # one line per call
    assert {p["role"] for p in prompts} == {"client", "counselor", "supervisor"}
    assert json.loads((run_dir / "manifest.json").read_text())["config"]["record_prompts"] is True
    for path in run_dir.rglob("*"):
        if path.is_file() and path.suffix != ".sqlite":
            assert SECRET_KEY not in path.read_text(encoding="utf-8", errors="ignore"), path

    every_token = [t for t, _, _ in [*FACTS.values(), *RISKS.values()]] + [*PERSONA.values(), *PLANNED]
    counselor_side = [p for p in prompts if p["role"] in COUNSELOR_SIDE]
    assert counselor_side
    for line in counselor_side:
        text = text_of(line)
        leaked = [token for token in every_token if token in text]
        assert not leaked, f"{line['role']} {line['node']} (session {line['session']}) saw {leaked}"

    [arc] = [ArcRecord.model_validate(json.loads(x)) for x in (run_dir / "arcs.jsonl").read_text().splitlines()]
    assert len(arc.sessions) == 3
    alliance = {s.index: s.client_state.alliance for s in arc.sessions}
    first_told = {d.fact: (d.session, d.turn) for d in arc.disclosures}
    client = [p for p in prompts if p["role"] == "client"]
    seen: dict[str, set[int]] = {}
    for line in client:
        for fact, (token, share_from, min_alliance) in {**FACTS, **RISKS}.items():
            if token not in text_of(line):
                continue
            session = line["session"]
            told_before = fact in first_told and first_told[fact][0] <= session
            assert (session >= share_from and alliance[session] >= min_alliance) or told_before, (
                f"{fact} in the client's {line['node']} prompt of session {session} (trust {alliance[session]})"
            )
            seen.setdefault(fact, set()).add(session)
    # Positive controls: the same recording does show unlocked facts, from their session on.
    assert seen["f-early"] == {1, 2, 3} and seen["r-ideation"] == {1, 2, 3}
    assert min(seen["f-second"]) == 2 and min(seen["r-means"]) == 2 and seen["f-third"] == {3}
    assert "f-never" not in seen and all("CNRYFACTNEVER" not in text_of(p) for p in prompts)
    # The ledger names only unlocked items, and the high-risk client's ideation is in it.
    assert "r-ideation" in first_told and "f-never" not in first_told


def test_training_tasks_hold_no_private_token_and_the_counselor_input_is_what_it_saw(tmp_path):
    run_dir = run(canary_profile(tmp_path), tmp_path / "runs", "--backend", "scripted")
    out = tmp_path / "tasks.jsonl"
    result = subprocess.run(
        ["muspsy", "export", str(run_dir), "--format", "muspsy-tasks", "-o", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert {r["task"] for r in records} == {"memory_extraction", "goal_planning", "counseling_generation"}
    every_token = [t for t, _, _ in [*FACTS.values(), *RISKS.values()]] + [*PERSONA.values(), *PLANNED]
    for record in records:
        leaked = [t for t in every_token if t in record["output"] or t in record["input"]]
        assert not leaked, f"{record['task']} session {record['session']}: {leaked}"
    # One memory layout: a memory target is laid out like the memories in the other inputs.
    prompts = read_prompts(run_dir / "prompts.jsonl")
    memory = next(r for r in records if r["task"] == "memory_extraction" and r["session"] == 1)["output"]
    later = next(r for r in records if r["task"] == "counseling_generation" and r["session"] == 2)
    assert memory in later["input"]
    # ... and it is what the simulated counselor's system prompt held in that session.
    counselor = next(p for p in prompts if p["role"] == "counselor" and p["session"] == 2 and p["node"] == "turn")
    assert memory in counselor["messages"][0]["content"]
