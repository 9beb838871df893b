"""Export filters and dedup on hand-made arcs with known answers; speaker merging; checkers and
bad-input errors (file, line, field; exit 2; nothing written)."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import PROFILES
from muspsy.arcfiles import ArcFileError
from muspsy.exports import ExportError, ExportOptions, export
from muspsy.exports.chat import check_openai, check_sharegpt
from muspsy.exports.dedup import near_duplicate_sessions, shingles, signature, similarity
from muspsy.exports.sources import Loaded, load_sources, select
from muspsy.profiles import load_profile
from muspsy.records import ArcRecord

pytestmark = pytest.mark.unit

PROFILE = load_profile(PROFILES / "hannah-work-anxiety.yaml").model_dump(mode="json", by_alias=True)
WORDS = [
    "sleep",
    "work",
    "deadline",
    "manager",
    "worry",
    "email",
    "night",
    "coffee",
    "friend",
    "gym",
    "walk",
    "breath",
    "list",
    "evidence",
    "thought",
    "mistake",
    "report",
    "meeting",
    "phone",
    "mother",
    "weekend",
    "plan",
    "rest",
    "tired",
    "focus",
    "calm",
    "panic",
    "check",
    "office",
    "lunch",
    "sister",
    "run",
    "music",
    "book",
    "train",
    "rain",
    "morning",
    "evening",
    "habit",
    "step",
    "goal",
    "small",
    "kind",
    "harsh",
    "voice",
    "notice",
    "feel",
    "body",
    "chest",
    "tight",
    "slow",
    "pause",
    "write",
    "diary",
    "share",
    "trust",
    "safe",
    "home",
    "garden",
    "cook",
    "clean",
    "call",
    "visit",
]


def chatter(seed: int, lines: int = 8) -> list[tuple[str, str]]:
    """A session of `lines` alternating turns of random words: distinct seeds, distinct sessions."""
    rng = random.Random(seed)
    speakers = ("counselor", "client")
    return [(speakers[i % 2], " ".join(rng.choice(WORDS) for _ in range(14)) + ".") for i in range(lines)]


def session(index: int, turns: list[tuple[str, str]], crisis: bool = False) -> dict[str, Any]:
    return {
        "index": index,
        "goal": f"Goal of session {index}.",
        "client_state": {"emotion_state": "Tense.", "cognitive_state": "Expects the worst."},
        "turns": [{"index": i, "speaker": sp, "text": text} for i, (sp, text) in enumerate(turns, start=1)],
        "crisis": crisis,
        "end_reason": "counselor_closed",
        "memo": {
            "summary": f"Summary of session {index}.",
            "emotion_and_cognitive_state": "Anxious.",
            "counselor_observations": "Engaged.",
            "counseling_assignments": ["Keep a diary."],
            "session_goal": f"Goal of session {index}.",
            "next_session_goal": "Review the diary.",
            "progress": "some",
            "risk": "none",
        },
    }


def arc(arc_id: str, sessions: list[list[tuple[str, str]]], **changes: Any) -> dict[str, Any]:
    crisis = changes.pop("crisis_session", None)
    data: dict[str, Any] = {
        "schema": "muspsy.arc/1",
        "run_id": "run-a",
        "arc_id": arc_id,
        "client_id": PROFILE["id"],
        "language": "en",
        "profile": PROFILE,
        "strategy": "cbt",
        "plan": {
            "case_conceptualization": "Worry keeps checking going.",
            "goals": ["Sleep more"],
            "stages": [{"name": "Start", "sessions": "1-2", "focus": "Map the worry."}],
            "first_session_goal": "Agree goals.",
        },
        "sessions": [session(i, turns, crisis=(i == crisis)) for i, turns in enumerate(sessions, start=1)],
        "outcome": {"end_reason": "goals_met", "sessions": len(sessions), "rationale": "Done."},
        "provenance": {"models": {"counselor": {"name": "hand-made"}}},
    }
    for key, value in changes.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    return data


def loaded(*arcs: dict[str, Any]) -> Loaded:
    return Loaded([ArcRecord.model_validate({"usage": {}, **a}) for a in arcs], set())


def write_arcs(path: Path, *arcs: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(a) + "\n" for a in arcs), encoding="utf-8")
    return path


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=120)


def test_exclude_crisis_drops_crisis_sessions_and_outcomes():
    clean = arc("clean", [chatter(1), chatter(2)])
    session_crisis = arc("session-crisis", [chatter(3), chatter(4)], crisis_session=2)
    outcome_crisis = arc("outcome-crisis", [chatter(5)], outcome={"end_reason": "crisis"})
    chosen = select(loaded(clean, session_crisis, outcome_crisis), exclude_crisis=True)
    assert [a.arc_id for a in chosen.arcs] == ["clean"]
    assert chosen.dropped == {"dropped for crisis content": 2}
    assert "2 dropped for crisis content" in chosen.summary()


def test_min_sessions():
    arcs = [arc(f"a{n}", [chatter(10 * n + i) for i in range(n)]) for n in (1, 2, 3)]
    chosen = select(loaded(*arcs), min_sessions=2)
    assert [a.arc_id for a in chosen.arcs] == ["a2", "a3"]


def test_drop_failed_uses_failed_jsonl_and_incomplete_records(tmp_path):
    write_arcs(
        tmp_path / "arcs.jsonl",
        arc("fine", [chatter(1)]),
        arc("failed-once", [chatter(2)]),
        arc("incomplete", [chatter(3)], outcome={"sessions": 3}),
    )
    (tmp_path / "failed.jsonl").write_text(json.dumps({"arc_id": "failed-once", "error": "x"}) + "\n")
    source = load_sources([tmp_path])
    assert [a.arc_id for a in select(source).arcs] == ["fine", "failed-once", "incomplete"]
    chosen = select(source, drop_failed=True)
    assert [a.arc_id for a in chosen.arcs] == ["fine"]
    assert chosen.dropped == {"dropped as failed or incomplete": 2}


def test_identical_sessions_one_dropped_distinct_kept():
    first = arc("first", [chatter(1), chatter(2)])
    second = arc("second", [chatter(1), chatter(3)])  # session 1 repeats first's session 1
    chosen = select(loaded(first, second), dedup_threshold=0.8)
    assert chosen.skip == {("run-a", "second", 1)}
    assert chosen.dropped["near-duplicate session(s) dropped"] == 1
    assert [a.arc_id for a in chosen.arcs] == ["first", "second"], "arcs stay: later sessions keep their context"


def test_near_duplicates_follow_the_threshold():
    base = chatter(7, lines=12)
    edited = [(sp, text.replace(text.split()[3], "zebra", 1) if i == 5 else text) for i, (sp, text) in enumerate(base)]
    arcs = [arc("a", [base]), arc("b", [edited]), arc("c", [chatter(8, lines=12)])]
    estimate = similarity(*(signature(shingles("\n".join(t for _, t in s))) for s in (base, edited)))
    assert 0.8 < estimate < 0.99
    assert near_duplicate_sessions(loaded(*arcs).arcs, 0.8) == {("run-a", "b", 1)}
    assert near_duplicate_sessions(loaded(*arcs).arcs, 0.995) == set()


def test_minhash_estimates_jaccard():
    rng = random.Random(3)
    for _ in range(5):
        universe = [f"s{i}" for i in range(400)]
        left = set(rng.sample(universe, 200))
        right = set(rng.sample(universe, 200))
        true = len(left & right) / len(left | right)
        assert abs(similarity(signature(left), signature(right)) - true) < 0.12
    assert similarity(signature({"a", "b"}), signature({"a", "b"})) == 1.0


def test_dedup_works_on_unspaced_chinese():
    one = [("counselor", "你好 欢迎你来。今天想聊些什么。"), ("client", "我最近总是睡不着 工作压力很大。")]
    two = [("counselor", "上次的作业完成得怎么样。"), ("client", "我每天都记录了自己的想法和情绪。")]
    arcs = [arc("x", [one]), arc("y", [one]), arc("z", [two])]
    assert near_duplicate_sessions(loaded(*arcs).arcs, 0.8) == {("run-a", "y", 1)}


def test_dedup_through_the_cli_reports_and_leaves_out(tmp_path):
    source = write_arcs(tmp_path / "arcs.jsonl", arc("first", [chatter(1), chatter(2)]), arc("second", [chatter(1)]))
    out = tmp_path / "chat.jsonl"
    result = muspsy("export", str(source), "--format", "openai", "-o", str(out), "--dedup")
    assert result.returncode == 0, result.stderr
    assert "1 near-duplicate session(s) dropped" in result.stderr and "wrote 2 record(s)" in result.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    plain = muspsy("export", str(source), "--format", "openai", "-o", str(out), "--force")
    assert plain.returncode == 0 and len(out.read_text(encoding="utf-8").splitlines()) == 3


def test_consecutive_same_speaker_turns_are_merged(tmp_path):
    turns = [
        ("counselor", "Welcome back."),
        ("counselor", "How did the diary go?"),
        ("client", "I wrote most nights."),
        ("client", "Not on Friday."),
        ("counselor", "What happened on Friday?"),
    ]
    source = write_arcs(tmp_path / "arcs.jsonl", arc("merge", [turns]))
    result = export([source], "openai", tmp_path / "chat.jsonl")
    (record,) = [json.loads(line) for line in result.out.read_text(encoding="utf-8").splitlines()]
    roles = [m["role"] for m in record["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert record["messages"][1]["content"] == "(Session 1 begins.)"
    assert record["messages"][2]["content"] == "Welcome back.\n\nHow did the diary go?"
    assert record["messages"][3]["content"] == "I wrote most nights.\n\nNot on Friday."
    tasks = export([source], "muspsy-tasks", tmp_path / "tasks.jsonl")
    generation = [
        json.loads(line)
        for line in tasks.out.read_text(encoding="utf-8").splitlines()
        if '"counseling_generation"' in line
    ]
    assert [(r["turn"], r["output"]) for r in generation] == [(5, "What happened on Friday?")]
    assert generation[0]["input"].endswith("Client: I wrote most nights. Not on Friday.")


def test_client_training_drops_a_trailing_counselor_turn(tmp_path):
    source = write_arcs(tmp_path / "arcs.jsonl", arc("a", [chatter(4, lines=5)]))  # ends with the counselor
    result = export([source], "sharegpt", tmp_path / "c.jsonl", ExportOptions(train="client", unit="session"))
    (record,) = [json.loads(line) for line in result.out.read_text(encoding="utf-8").splitlines()]
    assert [c["from"] for c in record["conversations"]] == ["system", "human", "gpt", "human", "gpt"]


def test_chat_checkers_reject_broken_records():
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    check_openai([good])
    same = {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Again"}]}
    with pytest.raises(ExportError, match=r"record 2: field messages\[1\]\.role: expected a assistant"):
        check_openai([good, same])
    ends_user = {"messages": [{"role": "assistant", "content": "Hi"}]}
    with pytest.raises(ExportError, match=r"record 1: field messages\[0\]\.role: expected a user"):
        check_openai([ends_user])
    empty = {"id": "x", "conversations": [{"from": "human", "value": " "}, {"from": "gpt", "value": "ok"}]}
    with pytest.raises(ExportError, match=r"record 1: field conversations\[0\]\.value: empty"):
        check_sharegpt([empty])
    late_system = {"id": "x", "conversations": [{"from": "human", "value": "a"}, {"from": "system", "value": "b"}]}
    with pytest.raises(ExportError, match="system message may only come first"):
        check_sharegpt([late_system])


@pytest.mark.cli
def test_bad_input_names_file_line_and_field(tmp_path):
    good = json.dumps(arc("a", [chatter(1)]))
    broken = arc("b", [chatter(2)])
    del broken["sessions"][0]["goal"]
    out = tmp_path / "out.jsonl"
    out.write_text("keep\n", encoding="utf-8")
    cases = {
        "notjson.jsonl": (good + "\n{not json\n", "notjson.jsonl: line 2: not JSON"),
        "nofield.jsonl": (
            good + "\n" + json.dumps(broken) + "\n",
            "nofield.jsonl: line 2 (arc b): field sessions.0.goal",
        ),
    }
    # --force: even when replacing is allowed, bad input leaves the existing output alone.
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        result = muspsy("export", str(tmp_path / name), "--format", "openai", "-o", str(out), "--force")
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert out.read_text(encoding="utf-8") == "keep\n"
    missing = muspsy("export", str(tmp_path / "nowhere"), "--format", "openai", "-o", str(out), "--force")
    assert missing.returncode == 2 and "nowhere: no such file or directory" in missing.stderr
    folder = muspsy("export", str(tmp_path), "--format", "openai", "-o", str(out), "--force")
    assert folder.returncode == 2 and "arcs.jsonl: not found (not a muspsy run folder)" in folder.stderr


def test_raw_and_parquet_checkers_reject_damage(tmp_path):
    from muspsy.exports.parquet import build_tables, check_tables
    from muspsy.exports.raw import build_raw, check_raw

    chosen = select(loaded(arc("a", [chatter(1), chatter(2)])))
    files = build_raw(chosen)
    check_raw(files)
    no_goal = {**files, "usercards_1.txt": files["usercards_1.txt"].replace("Counseling Goals:", "Goals:", 1)}
    with pytest.raises(ExportError, match=r"usercards_1.txt: block 1: field 'Counseling Goals:'"):
        check_raw(no_goal)
    bad_speaker = {**files, "dialogues_1.txt": files["dialogues_1.txt"].replace("User: ", "Therapist: ", 1)}
    with pytest.raises(ExportError, match=r"dialogues_1\.txt: block 0"):
        check_raw(bad_speaker)
    one_block = {**files, "dialogues_1.txt": files["dialogues_1.txt"].split("#######\n")[0]}
    with pytest.raises(ExportError, match=r"1 dialogue block\(s\) for 2 session\(s\)"):
        check_raw(one_block)
    tables = build_tables(chosen)
    check_tables(tables)
    with pytest.raises(ExportError, match="config turns: 8 rows for 16 nested turns"):
        check_tables({**tables, "turns": tables["turns"].slice(0, 8)})


def test_unusable_profile_and_empty_selection_are_clear_errors(tmp_path):
    broken = arc("a", [chatter(1)])
    broken["profile"] = {k: v for k, v in PROFILE.items() if k != "intake"}
    source = write_arcs(tmp_path / "arcs.jsonl", arc("ok", [chatter(2)]), broken)
    with pytest.raises(ArcFileError, match=r"arcs.jsonl: line 2 \(arc a\): field profile.intake: Field required"):
        export([source], "openai", tmp_path / "out.jsonl")
    crisis = write_arcs(tmp_path / "crisis.jsonl", arc("c", [chatter(3)], crisis_session=1))
    with pytest.raises(ExportError, match=r"no arcs left to export after the filters \(1 dropped for crisis content\)"):
        export([crisis], "openai", tmp_path / "out.jsonl", ExportOptions(exclude_crisis=True))
    assert not (tmp_path / "out.jsonl").exists()


def test_tasks_leave_out_targets_an_importer_filled_with_placeholders(tmp_path):
    imported = arc("imported", [chatter(1), chatter(2)])
    imported["import_placeholders"] = {
        "sessions[1].memo.counselor_observations": "not in the source",
        "sessions[2].goal": "not in the source",
        "sessions[2].memo.progress": "placeholder 'no_change'",
    }
    source = write_arcs(tmp_path / "arcs.jsonl", imported)
    out = export([source], "muspsy-tasks", tmp_path / "tasks.jsonl").out
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    kept = sorted((r["task"], r["session"]) for r in records if r["task"] != "counseling_generation")
    assert kept == [("goal_planning", 1), ("memory_extraction", 2)]
    assert sum(r["task"] == "counseling_generation" for r in records) == 2 * 3  # turns 3, 5, 7 of each session


def test_dataset_card_tells_simulated_from_imported_arcs():
    from muspsy.exports.parquet import build_tables, dataset_card

    imported = arc("imp", [chatter(1)])
    imported["provenance"] = {"kind": "imported", "format": "psycheval"}
    chosen = select(loaded(arc("sim", [chatter(2)], crisis_session=1), imported))
    card = dataset_card(chosen, build_tables(chosen), "cc-by-nc-4.0")
    assert "1 arc(s) were simulated by `muspsy`" in card
    assert "1 arc(s) were imported from published data (psycheval)" in card
    assert "- counselor: hand-made" in card and "license: cc-by-nc-4.0" in card
    assert "1 arc(s) have a crisis session or a crisis outcome (1 crisis session(s)" in card
