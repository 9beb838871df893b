"""`muspsy evaluate` and `muspsy compare` end to end, as a user runs them, on scripted runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from eval_arcs import CLEAN_S1, CLEAN_S2, arc_dict, session
from muspsy.evaluation.rubrics import RUBRICS, SCALES
from muspsy.testing import FakeOpenAIServer

pytestmark = pytest.mark.cli

SESSION_FIELDS = {"kind", "source", "run_id", "arc_id", "client_id", "seed", "strategy", "language", "session"}
SESSION_FIELDS |= {"judge", "judge_model", "judge_usage", "metrics", "instruments"}
METRIC_FIELDS = {
    "alternation_violations",
    "client_leaks",
    "counselor_leaks",
    "client_distinct_2",
    "counselor_repeated_turn_share",
    "counselor_len_p90",
    "homework_followed_up_next",
    "memo_complete",
}


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=clean)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two scripted runs over the bundled profiles, one per strategy, same seeds."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for strategy in ("cbt", "person_centred"):
        result = muspsy("run", "--backend", "scripted", "--runs-dir", str(root), "--strategy", strategy, "-q")
        assert result.returncode == 0, result.stderr
        out[strategy] = Path(result.stdout.strip().splitlines()[-1])
    return out


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_judge(judge: dict) -> None:
    for rubric, entry in judge.items():
        low, high = SCALES[rubric]
        assert set(entry["scores"]) == set(RUBRICS[rubric].items())
        assert all(low <= v <= high for v in entry["scores"].values()), (rubric, entry)
        assert all(len(r) >= 2 for r in entry["rationales"].values())


@pytest.fixture(scope="module")
def evaluated(runs) -> dict[str, Path]:
    result = muspsy("evaluate", "--backend", "scripted", str(runs["cbt"]), str(runs["person_centred"]))
    assert result.returncode == 0, result.stderr
    assert "Evaluation summary" in result.stdout and "CTRS total" in result.stdout
    written = [Path(line) for line in result.stdout.strip().splitlines()[-2:]]
    assert written == [runs["cbt"] / "evaluation.jsonl", runs["person_centred"] / "evaluation.jsonl"]
    return runs


def test_evaluate_writes_every_field_in_range(evaluated):
    for strategy, run_dir in evaluated.items():
        arcs = rows(run_dir / "arcs.jsonl")
        lines = rows(run_dir / "evaluation.jsonl")
        sessions = [r for r in lines if r["kind"] == "session"]
        assert len(sessions) == sum(len(a["sessions"]) for a in arcs)
        assert {r["arc_id"] for r in lines if r["kind"] == "arc"} == {a["arc_id"] for a in arcs}
        for row in sessions:
            assert set(row) >= SESSION_FIELDS and row["strategy"] == strategy and row["judge_model"] == "scripted"
            assert set(row["metrics"]) >= METRIC_FIELDS
            fidelity = {"cbt": "ctrs", "person_centred": "pceps"}[strategy]
            assert {fidelity, "alliance", "persona"} <= set(row["judge"]) and "miti" not in row["judge"]
            assert not {"ctrs", "pceps"} - {fidelity} & set(row["judge"])  # only the strategy's own scale
            check_judge(row["judge"])
            assert row["judge_usage"]["calls"] == len(row["judge"])
            if row["metrics"]["crisis"]:
                assert "crisis" in row["judge"]
        # A risk is disclosed in the bundled high-risk profile's first session: crisis is judged there.
        assert any("crisis" in r["judge"] for r in sessions)
        # Different sessions get different, content-derived scores.
        assert len({json.dumps(r["judge"]["alliance"]["scores"], sort_keys=True) for r in sessions}) > 1
        assert (run_dir / "evaluation.md").read_text().startswith("# muspsy evaluation")


def test_compare_two_runs_writes_tables_and_plots(evaluated, tmp_path):
    out = tmp_path / "cmp"
    result = muspsy("compare", str(evaluated["cbt"]), str(evaluated["person_centred"]), "-o", str(out))
    assert result.returncode == 0, result.stderr
    md = (out / "comparison.md").read_text()
    assert "| measure | cbt (n=6) | person_centred (n=6) | person_centred - cbt |" in md
    assert "judge: CTRS total" in md and "(p=6)" in md
    csv = (out / "comparison.csv").read_text().splitlines()
    assert csv[0].startswith("measure,group,n,mean,ci_low,ci_high")
    assert any(line.startswith("sessions,person_centred,6,") and line.endswith(",paired,6") for line in csv)
    for name in ("trajectories.png", "sessions.png", "judges.png"):
        png = out / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
        image = imread(png)
        assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 2


def test_compare_one_source_with_several_strategies(evaluated, tmp_path):
    both = tmp_path / "both.jsonl"
    both.write_text("".join((d / "arcs.jsonl").read_text() for d in evaluated.values()))
    result = muspsy("compare", str(both), "-o", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "grouped by strategy" in md and "| person_centred - cbt |" in md and "(p=6)" in md
    assert "No evaluation.jsonl found" in md  # both.jsonl has not been evaluated


def test_evaluate_imported_arcs_finds_a_planted_leak_and_judges_mi_and_crisis(tmp_path):
    leaky = [*CLEAN_S1[:3], ("client", "Therapist: so how does that make you feel?"), CLEAN_S1[4]]
    risky = [*CLEAN_S2[:3], ("client", "Sometimes I wish I would not wake up.")]
    arcs = [
        arc_dict([session(1, leaky), session(2, CLEAN_S2)], strategy="motivational_interviewing", seed=None),
        arc_dict([session(1, CLEAN_S1), session(2, risky, risks={4: "passive_ideation"})], arc_id="b", seed=None),
    ]
    for data in arcs:
        data.pop("provenance", None)  # imported arcs: no usage, no provenance
    source = tmp_path / "imported.jsonl"
    source.write_text("".join(json.dumps(a) + "\n" for a in arcs))
    ev = ["-o", str(tmp_path / "ev"), "--judge-model", "judge-x", "-q"]
    result = muspsy("evaluate", "--backend", "scripted", str(source), *ev)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(tmp_path / "ev" / "evaluation.jsonl")
    lines = rows(tmp_path / "ev" / "evaluation.jsonl")
    first = next(r for r in lines if r["kind"] == "session" and r["arc_id"] == arcs[0]["arc_id"] and r["session"] == 1)
    assert first["metrics"]["client_leaks"] == 1 and first["metrics"]["leaks"][0]["turn"] == 4
    assert "miti" in first["judge"] and first["instruments"] == {"phq9": None, "gad7": None, "wai_sr": None}
    assert first["judge_model"] == "judge-x"
    check_judge(first["judge"])
    crisis = next(r for r in lines if r["kind"] == "session" and r["arc_id"] == "b" and r["session"] == 2)
    assert "crisis" in crisis["judge"] and "miti" not in crisis["judge"]
    arc_lines = [r for r in lines if r["kind"] == "arc"]
    assert [r["metrics"]["client_leaks"] for r in arc_lines] == [1, 0]
    assert arc_lines[0]["trajectories"] == {"phq9": [None, None], "gad7": [None, None], "wai_sr": [None, None]}
    assert arc_lines[0]["judge"]["miti"]["sessions"] == 2
    assert "client leak turns" in (tmp_path / "ev" / "evaluation.md").read_text()
    # The evaluation written elsewhere is picked up by compare with --evaluation.
    out = tmp_path / "cmp"
    result = muspsy("compare", str(source), "--evaluation", str(tmp_path / "ev" / "evaluation.jsonl"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    md = (out / "comparison.md").read_text()
    assert "| cbt - motivational_interviewing |" in md and "judge: MITI globals" in md
    assert "u=1" in md and "UNPAIRED" in md  # imported arcs have no seed: nothing to pair
    assert (out / "judges.png").stat().st_size > 1000


def test_metrics_only_needs_no_model(tmp_path):
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(arc_dict([session(1, CLEAN_S1), session(2, CLEAN_S2)])) + "\n")
    result = muspsy("evaluate", "--no-judges", str(source), "-q")
    assert result.returncode == 0, result.stderr
    lines = rows(tmp_path / "one.evaluation.jsonl")
    assert all("judge" not in r for r in lines)
    assert lines[-1]["metrics"]["homework_follow_up_rate"] == 1.0


def test_bad_input_is_one_line_exit_2_and_nothing_is_lost(evaluated, tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(arc_dict([session(1, CLEAN_S1)]))
    broken = arc_dict([session(1, CLEAN_S1)], arc_id="broken")
    broken["sessions"][0]["turns"][1]["speaker"] = "narrator"
    bad.write_text(good + "\n" + json.dumps(broken) + "\n")
    before = (evaluated["cbt"] / "evaluation.jsonl").read_bytes()
    for args in (
        ["evaluate", "--backend", "scripted", str(evaluated["cbt"]), str(bad)],
        ["compare", str(evaluated["cbt"]), str(bad), "-o", str(tmp_path / "cmp")],
    ):
        result = muspsy(*args)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert str(bad) in lines[0] and "line 2" in lines[0] and "arc broken" in lines[0]
        assert "sessions.0.turns.1.speaker" in lines[0]
    assert (evaluated["cbt"] / "evaluation.jsonl").read_bytes() == before
    assert not (tmp_path / "cmp").exists()
    for args, reason in (
        (["evaluate", str(tmp_path / "missing")], "no such file or folder"),
        (["compare", str(tmp_path), "-o", str(tmp_path / "c")], "not a run folder"),
    ):
        result = muspsy(*args)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and reason in result.stderr
    (tmp_path / "notjson.jsonl").write_text("{oops\n")
    result = muspsy("evaluate", "--no-judges", str(tmp_path / "notjson.jsonl"))
    assert result.returncode == 2 and "line 1: not JSON" in result.stderr


def test_evaluate_through_an_openai_compatible_endpoint(tmp_path):
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(arc_dict([session(1, CLEAN_S1), session(2, CLEAN_S2)])) + "\n")
    with FakeOpenAIServer() as server:
        args = ["--backend", "openai", "--base-url", server.base_url, "--judge-model", "judge-local", "-q"]
        result = muspsy("evaluate", str(source), *args)
        requests = server.requests
    assert result.returncode == 0, result.stderr
    lines = rows(tmp_path / "one.evaluation.jsonl")
    sessions = [r for r in lines if r["kind"] == "session"]
    assert requests == sum(r["judge_usage"]["calls"] for r in sessions) == 6  # ctrs, alliance, persona x 2
    assert all(r["judge_model"] == "judge-local" for r in sessions)
    check_judge(sessions[0]["judge"])


def test_a_failing_endpoint_is_recorded_per_rubric_and_exits_1(tmp_path):
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps(arc_dict([session(1, CLEAN_S1)])) + "\n")
    config = tmp_path / "judge.yaml"
    config.write_text("models:\n  judge:\n    max_retries: 0\n")
    with FakeOpenAIServer(fault_rate=1.0, faults=("server_error",)) as server:
        args = ["--backend", "openai", "--base-url", server.base_url, "--config", str(config), "-q"]
        result = muspsy("evaluate", str(source), *args)
    assert result.returncode == 1
    assert "3 judge rubric(s) failed" in result.stderr and "Traceback" not in result.stderr
    (row, arc_row) = rows(tmp_path / "one.evaluation.jsonl")
    assert all("error" in entry for entry in row["judge"].values())
    assert row["metrics"]["memo_complete"] is True and arc_row["judge"] == {}


def test_evaluate_resumes_keeping_sessions_already_judged(tmp_path):
    made = muspsy(
        "run",
        "profiles/hannah-work-anxiety.yaml",
        "--backend",
        "scripted",
        "--sessions-max",
        "2",
        "--turns-max",
        "7",
        "--runs-dir",
        str(tmp_path),
        "-q",
    )
    run_dir = Path(made.stdout.strip().splitlines()[-1])
    first = muspsy("evaluate", str(run_dir), "--backend", "scripted", "-q")
    assert first.returncode == 0, first.stderr
    full = rows(run_dir / "evaluation.jsonl")
    sessions = [r for r in full if r["kind"] == "session"]
    # As a kill leaves it: session 1 judged (its CTRS marked so a re-judgement would show), a
    # torn line after it, session 2 not judged.
    kept = json.loads(json.dumps(sessions[0]))
    kept["judge"]["ctrs"]["summary"] = 61
    (run_dir / "evaluation.jsonl").write_text(json.dumps(kept) + "\n" + '{"kind": "sess')
    again = muspsy("evaluate", str(run_dir), "--backend", "scripted")
    assert again.returncode == 0, again.stderr
    assert "1 session(s) already judged by this model are kept" in again.stderr
    resumed = [r for r in rows(run_dir / "evaluation.jsonl") if r["kind"] == "session"]
    assert [r["session"] for r in resumed] == [1, 2]
    assert resumed[0]["judge"]["ctrs"]["summary"] == 61  # kept, not judged again
    assert resumed[1]["judge"] == sessions[1]["judge"]  # judged now
