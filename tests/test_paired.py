"""Paired strategy runs through the console script: every strategy on the same profiles with the
same seeds, recorded per arc; resume of a two-strategy batch; the outcomes switch."""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from conftest import PROFILES
from muspsy.records import ArcRecord
from muspsy.testing import FakeOpenAIServer, default_responder

pytestmark = pytest.mark.cli

TWO = [str(PROFILES / "hannah-work-anxiety.yaml"), str(PROFILES / "ryan-drinking-ambivalent.yaml")]
SMALL = ["--sessions-min", "2", "--sessions-max", "3", "--turns-max", "7"]
MI = "motivational_interviewing"


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=600)


def run_dir_of(result: subprocess.CompletedProcess[str]) -> Path:
    return Path(result.stdout.strip().splitlines()[-1])


def arc_lines(run_dir: Path) -> list[str]:
    return (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()


def arcs_of(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in arc_lines(run_dir)]


def test_two_strategies_run_on_the_same_clients_with_the_same_seeds(tmp_path):
    result = muspsy(
        "run", *TWO, "--backend", "scripted", "--strategy", "cbt,mi", "--arcs-per-profile", "2", *SMALL,
        "--runs-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "8 arc(s) from 2 profile(s), strategies cbt, motivational_interviewing" in result.stderr
    run_dir = run_dir_of(result)
    arcs = arcs_of(run_dir)
    assert len(arcs) == 8 and len({a["arc_id"] for a in arcs}) == 8
    pairs: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
    for arc in arcs:
        ArcRecord.model_validate(arc)
        seed = arc["provenance"]["seed"]
        assert arc["arc_id"] == f"{arc['client_id']}--{arc['strategy']}--seed{seed}"
        pairs[(arc["client_id"], seed)][arc["strategy"]] = arc
        for session in arc["sessions"]:
            assert 0 <= session["phq9"]["total"] <= 27
            assert session["gad7"] is not None and session["wai_sr"] is not None
    assert set(pairs) == {(c, s) for c in ("hannah-work-anxiety", "ryan-drinking-ambivalent") for s in (0, 1)}
    for pair in pairs.values():
        assert set(pair) == {"cbt", MI}  # recorded under the canonical name, not the alias
        cbt, mi = pair["cbt"], pair[MI]
        # Paired: the same client starts the same way under both strategies.
        assert cbt["sessions"][0]["client_state"] == mi["sessions"][0]["client_state"]
        assert cbt["sessions"][0]["phq9"] == mi["sessions"][0]["phq9"]
        assert cbt["profile"] == mi["profile"]
        # The weeks of a pair use the same random numbers: whatever the strategy, the same
        # life events happen (valence and impact); what the client makes of them may differ.
        shared = zip(cbt["sessions"][:-1], mi["sessions"][:-1], strict=False)
        for a, b in shared:
            event_a, event_b = a["week"]["life_event"], b["week"]["life_event"]
            assert (event_a and (event_a["valence"], event_a["impact"])) == (
                event_b and (event_b["valence"], event_b["impact"])
            )
    # The scripted counselor plays each strategy's techniques and the scripted client appraises
    # them against what helps it: the strategies move the same client differently.
    assert any(
        [s["client_state"] for s in pair["cbt"]["sessions"]] != [s["client_state"] for s in pair[MI]["sessions"]]
        for pair in pairs.values()
    )

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["strategy"] == ["cbt", MI]
    assert {e["strategy"] for e in manifest["arcs"].values()} == {"cbt", MI}
    hashes = manifest["prompt_hashes"]
    assert {
        "counselor/strategies/cbt",
        f"counselor/strategies/{MI}",
        "client/self_report_start",
        "client/self_report_end",
        "client/instruments/phq9",
        "client/instruments/gad7",
        "client/instruments/wai_sr",
        "client/dynamics",
        "director/week",
    } <= set(hashes)
    assert all(a["provenance"]["prompt_hashes"] == hashes for a in arcs)
    assert all(a["provenance"]["config_fingerprint"] == manifest["config_fingerprint"] for a in arcs)
    assert "arcs: 8 finished" in muspsy("status", str(run_dir)).stdout

    # Events name the session a questionnaire belongs to, including the one before `open`.
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    first = arcs[0]
    starts = [
        e["session"]
        for e in events
        if e["event"] == "llm_call" and e["arc"] == first["arc_id"] and e["schema"] == "SymptomQuestionnairesOutput"
    ]
    # ... and the exit measurement after the last session names that session.
    assert starts == [*(s["index"] for s in first["sessions"]), len(first["sessions"])]


def test_config_file_lists_strategies_and_switches_outcomes_off(tmp_path):
    config = tmp_path / "paired.yaml"
    config.write_text("backend: scripted\nstrategy: [pc, sfbt]\noutcomes: false\n", encoding="utf-8")
    result = muspsy("run", TWO[0], "--config", str(config), *SMALL, "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
    assert "outcomes off" in result.stderr
    arcs = arcs_of(run_dir_of(result))
    assert sorted(a["strategy"] for a in arcs) == ["person_centred", "solution_focused"]
    for arc in arcs:
        for session in arc["sessions"]:
            assert session["phq9"] is None and session["gad7"] is None and session["wai_sr"] is None
    # The command line wins over the file: outcomes back on.
    again = muspsy("run", TWO[0], "--config", str(config), "--outcomes", *SMALL, "--runs-dir", str(tmp_path / "on"))
    assert again.returncode == 0, again.stderr
    assert all(s["phq9"] for a in arcs_of(run_dir_of(again)) for s in a["sessions"])


def test_no_outcomes_flag_makes_fewer_client_calls(tmp_path):
    def client_calls(*flags: str) -> tuple[int, int]:
        result = muspsy("run", TWO[1], "--backend", "scripted", *flags, *SMALL, "--runs-dir", str(tmp_path / "r"))
        assert result.returncode == 0, result.stderr
        (arc,) = arcs_of(run_dir_of(result))
        return int(arc["usage"]["client"]["calls"]), len(arc["sessions"])

    on, sessions = client_calls()
    off, same_sessions = client_calls("--no-outcomes")
    # Only the PHQ-9/GAD-7 calls go (each session's and the exit measurement): the end-of-session
    # appraisal stays, without the WAI-SR.
    assert sessions == same_sessions and on == off + sessions + 1


def test_an_unknown_strategy_in_the_list_fails_before_anything_is_written(tmp_path):
    runs = tmp_path / "runs"
    result = muspsy("run", TWO[0], "--backend", "scripted", "--strategy", "cbt,nosuch", "--runs-dir", str(runs))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "unknown strategy 'nosuch'" in line and "cbt" in line
    assert not runs.exists()


def test_strategies_lists_the_aliases():
    result = muspsy("strategies")
    assert result.returncode == 0
    lines = dict(line.partition("\t")[::2] for line in result.stdout.splitlines())
    assert lines[MI] == "mi" and "cbt" in lines
    assert "pc" in lines["person_centred"].split(",") and "sfbt" in lines["solution_focused"].split(",")


class BreakableMI:
    """The fake endpoint's answers, except that while `broken` the MI counselor gives malformed
    output in session 2, so that arc fails after session 1 was checkpointed."""

    def __init__(self) -> None:
        self.broken = True

    def __call__(self, schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | str:
        text = "\n".join(str(m.content) for m in messages)
        mi_session_two = "Motivational interviewing" in text and "Session 2, turn" in str(messages[-1].content)
        if self.broken and schema == "CounselorTurnOutput" and mi_session_two:
            return "this is not JSON"
        return default_responder(schema, messages)


def test_resume_of_a_two_strategy_batch(tmp_path):
    responder = BreakableMI()
    small = ["--sessions-min", "2", "--sessions-max", "2", "--turns-max", "7"]
    with FakeOpenAIServer(responder) as server:
        first = muspsy(
            "run", TWO[0], "--backend", "openai", "--base-url", server.base_url, "--strategy", "cbt,mi", *small,
            "--runs-dir", str(tmp_path / "runs"),
        )  # fmt: skip
        assert first.returncode == 1, first.stderr  # one arc failed
        run_dir = run_dir_of(first)
        first_requests = server.requests
        (cbt_line,) = arc_lines(run_dir)
        cbt = json.loads(cbt_line)
        assert cbt["strategy"] == "cbt"
        status = muspsy("status", str(run_dir)).stdout
        assert "1 finished" in status and "1 failed" in status and f"--{MI}--seed0" in status
        assert f"by strategy: cbt 1 finished of 1; {MI} 0 finished of 1" in status

        # The strategy list is part of what a run produces: a changed list needs --force.
        changed = tmp_path / "cbt-only.yaml"
        changed.write_text("strategy: cbt\n", encoding="utf-8")
        refused = muspsy("resume", str(run_dir), "--config", str(changed))
        assert refused.returncode == 2
        (line,) = refused.stderr.strip().splitlines()
        assert "config_fingerprint" in line and "--force" in line
        assert server.requests == first_requests

        responder.broken = False
        resumed = muspsy("resume", str(run_dir))
        assert resumed.returncode == 0, resumed.stderr
        resume_requests = server.requests - first_requests

        lines = arc_lines(run_dir)
        assert lines[0] == cbt_line  # the finished arc is never redone nor rewritten
        mi_line = lines[1]
        mi = json.loads(mi_line)
        assert mi["strategy"] == MI and len(mi["sessions"]) == 2
        assert mi["provenance"]["seed"] == cbt["provenance"]["seed"]
        # Session 1 came from the checkpoint: the resume paid only for what was left, and the
        # three malformed answers were the only requests lost.
        mi_calls = sum(int(u["calls"]) for u in mi["usage"].values())
        cbt_calls = sum(int(u["calls"]) for u in cbt["usage"].values())
        before_failure = first_requests - cbt_calls - 3
        assert before_failure > 0
        assert resume_requests == mi_calls - before_failure

        # Forcing a longer strategy list adds the new strategy's arcs and keeps the rest.
        wider = tmp_path / "three.yaml"
        wider.write_text("strategy: [cbt, mi, pc]\n", encoding="utf-8")
        forced = muspsy("resume", str(run_dir), "--config", str(wider), "--force")
        assert forced.returncode == 0, forced.stderr
    lines = arc_lines(run_dir)
    assert lines[:2] == [cbt_line, mi_line]
    assert [json.loads(line)["strategy"] for line in lines] == ["cbt", MI, "person_centred"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["forced_from_fingerprint"]
    assert "counselor/strategies/person_centred" in manifest["prompt_hashes"]
    assert "arcs: 3 finished" in muspsy("status", str(run_dir)).stdout
