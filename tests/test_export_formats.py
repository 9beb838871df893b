"""Every export format of one scripted batch, through the CLI: each output passes its own
checker and independent assertions (roles, counts against arcs.jsonl, what the counselor may
see), and `muspsy-tasks` refuses, with nothing written, to emit a record that breaks speakers."""

from __future__ import annotations

import json
import os
import re
import subprocess
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from conftest import EXTERNAL
from muspsy.exports import ExportError, check_output
from muspsy.exports.context import utterances
from muspsy.exports.raw import CARD_SEPARATOR, DIALOGUE_SEPARATOR
from muspsy.exports.tasks import check_tasks
from muspsy.records import ArcRecord

pytestmark = pytest.mark.cli


def muspsy(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(["muspsy", *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    # graham's profile discloses suicidal thoughts, so the batch has crisis content.
    result = muspsy("run", "--backend", "scripted", "--sessions-min", "3", "--runs-dir", str(runs), "-q")
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def arcs(run_dir: Path) -> list[ArcRecord]:
    lines = (run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()
    return [ArcRecord.model_validate(json.loads(line)) for line in lines]


def exported(run_dir: Path, out: Path, fmt: str, *options: str) -> Path:
    result = muspsy("export", str(run_dir), "--format", fmt, "-o", str(out), *options)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "arc(s) exported" in result.stderr
    return out


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def private_facts(arc: ArcRecord) -> list[str]:
    facts = [f["fact"] for f in arc.profile["private_history"]]
    assert facts, "the bundled profiles all have private history"
    return facts


def texts(arc: ArcRecord, speaker: str) -> list[str]:
    return [u.text for s in arc.sessions for u in utterances(s) if u.speaker == speaker]


def test_openai_counselor_sessions(run_dir, arcs, tmp_path):
    out = exported(run_dir, tmp_path / "chat.jsonl", "openai", "--train", "counselor", "--unit", "session")
    assert check_output("openai", out) == sum(len(a.sessions) for a in arcs)
    records = jsonl(out)
    assert len(records) == sum(len(a.sessions) for a in arcs)
    position = 0
    for arc in arcs:
        for session in arc.sessions:
            messages = records[position]["messages"]
            position += 1
            roles = [m["role"] for m in messages]
            assert roles[0] == "system" and roles[-1] == "assistant"
            assert all(a != b for a, b in pairwise(roles[1:])), "user/assistant alternate"
            system = messages[0]["content"]
            assert session.goal in system and arc.profile["intake"]["presenting_problem"] in system
            for fact in private_facts(arc):
                assert fact not in system
            if session.index > 1:
                assert arc.sessions[session.index - 2].memo.summary in system
            assistant = [m["content"] for m in messages if m["role"] == "assistant"]
            assert assistant == [t.text for t in session.turns if t.speaker == "counselor"]


def test_openai_turn_units_for_both_roles(run_dir, arcs, tmp_path):
    for role in ("counselor", "client"):
        out = exported(run_dir, tmp_path / f"{role}.jsonl", "openai", "--train", role, "--unit", "turn")
        check_output("openai", out)
        records = jsonl(out)
        spoken = [t for a in arcs for s in a.sessions for t in s.turns if t.speaker == role]
        assert len(records) == len(spoken)
        for record, turn in zip(records, spoken, strict=True):
            last = record["messages"][-1]
            assert last == {"role": "assistant", "content": turn.text}
    # The client's system message is its own persona; it never holds the memos or the plan.
    client_records = jsonl(tmp_path / "client.jsonl")
    first = client_records[0]["messages"][0]["content"]
    assert arcs[0].profile["name"] in first and arcs[0].profile["personality"] in first
    hidden = [a.plan.case_conceptualization for a in arcs]
    hidden += [s.memo.counselor_observations for a in arcs for s in a.sessions]
    for record in client_records:
        assert not any(text in record["messages"][0]["content"] for text in hidden)


def test_sharegpt_maps_the_same_roles(run_dir, arcs, tmp_path):
    out = exported(run_dir, tmp_path / "sharegpt.jsonl", "sharegpt", "--train", "client")
    check_output("sharegpt", out)
    records = jsonl(out)
    assert len(records) == sum(len(a.sessions) for a in arcs)
    gpt = [c["value"] for r in records for c in r["conversations"] if c["from"] == "gpt"]
    client_texts = [t for a in arcs for t in texts(a, "client")]
    assert gpt == client_texts
    assert {c["from"] for r in records for c in r["conversations"]} == {"system", "human", "gpt"}
    assert all(r["conversations"][-1]["from"] == "gpt" for r in records)


def test_muspsy_tasks_counts_speakers_and_visibility(run_dir, arcs, tmp_path):
    out = exported(run_dir, tmp_path / "tasks.jsonl", "muspsy-tasks")
    records = jsonl(out)
    check_tasks(records, arcs)
    sessions = sum(len(a.sessions) for a in arcs)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_task.setdefault(record["task"], []).append(record)
    assert len(by_task["memory_extraction"]) == len(by_task["goal_planning"]) == sessions
    answering = [
        t
        for a in arcs
        for s in a.sessions
        for prev, t in pairwise(s.turns)
        if t.speaker == "counselor" and prev.speaker == "client"
    ]
    generation = by_task["counseling_generation"]
    assert [r["output"] for r in generation] == [t.text for t in answering]
    for record in generation:
        assert record["input"].rstrip().splitlines()[-1].startswith("Client: ")
    facts = [f for a in arcs for f in private_facts(a)]
    for record in records:
        assert not any(fact in record["input"] for fact in facts)
    memo = arcs[0].sessions[0].memo
    assert f"[Session Goal:] {memo.session_goal}" in by_task["memory_extraction"][0]["output"]
    assert by_task["goal_planning"][1]["output"] == arcs[0].sessions[1].goal
    assert memo.summary in by_task["goal_planning"][1]["input"]


def test_the_speaker_check_catches_a_planted_record(run_dir, arcs, tmp_path):
    records = jsonl(exported(run_dir, tmp_path / "tasks.jsonl", "muspsy-tasks"))
    generation = [r for r in records if r["task"] == "counseling_generation"]
    # The bug found in the published data: input and output from the same speaker.
    bad = dict(generation[3])
    bad["input"] = bad["input"] + "\nCounselor: " + bad["output"]
    planted = [*records, bad]
    with pytest.raises(ExportError, match=rf"arc {bad['arc_id']}, session {bad['session']}, turn {bad['turn']}"):
        check_tasks(planted)
    # Output that is really a client turn: only the arcs can tell, and they do.
    swapped = dict(generation[0])
    client_turn = next(t for s in arcs[0].sessions for t in s.turns if t.speaker == "client" and t.index > 2)
    swapped["turn"] = client_turn.index
    with pytest.raises(ExportError, match="not a counselor turn"):
        check_tasks([swapped], arcs)


def test_a_bad_record_writes_nothing_and_exits_2(arcs, tmp_path):
    # Turn indices that disagree with the dialogue's order (a damaged or mis-imported arc)
    # would pair a counselor turn with a counselor turn: the exporter must refuse.
    data = arcs[0].model_dump(mode="json", by_alias=True)
    turns = data["sessions"][1]["turns"]
    turns[1]["index"], turns[2]["index"] = turns[2]["index"], turns[1]["index"]
    source = tmp_path / "arcs.jsonl"
    source.write_text(json.dumps(data) + "\n", encoding="utf-8")
    out = tmp_path / "tasks.jsonl"
    out.write_text("previous export\n", encoding="utf-8")
    result = muspsy("export", str(source), "--format", "muspsy-tasks", "-o", str(out), "--force")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"arc {data['arc_id']}, session 2, turn 2" in result.stderr
    assert "nothing written" in result.stderr
    assert out.read_text(encoding="utf-8") == "previous export\n"
    assert {p.name for p in tmp_path.iterdir()} == {"arcs.jsonl", "tasks.jsonl"}, "no temporary file left"


def test_muspsy_raw_layout(run_dir, arcs, tmp_path):
    out = exported(run_dir, tmp_path / "raw", "muspsy-raw")
    assert check_output("muspsy-raw", out) == len(arcs)
    assert len(list(out.glob("*.txt"))) == 3 * len(arcs)
    index = jsonl(out / ".index.jsonl")
    assert [(e["id"], e["arc_id"]) for e in index] == [(n, a.arc_id) for n, a in enumerate(arcs, start=1)]
    for number, arc in enumerate(arcs, start=1):
        cards = (out / f"usercards_{number}.txt").read_text(encoding="utf-8")
        memories = (out / f"memories_{number}.txt").read_text(encoding="utf-8")
        dialogues = (out / f"dialogues_{number}.txt").read_text(encoding="utf-8")
        n = len(arc.sessions)
        assert cards.count(f"\n{CARD_SEPARATOR}\n") == n and cards.count("Client's Static Traits:") == n
        assert re.findall(r"(?m)^The (\d+)th Counseling$", memories) == [str(i) for i in range(1, n + 1)]
        blocks = dialogues.split(f"{DIALOGUE_SEPARATOR}\n")
        assert len(blocks) == n
        lines = [line for line in blocks[0].splitlines() if line]
        assert len(lines) == sum(len(s.turns) for s in arc.sessions)
        first = arc.sessions[0].turns[0]
        assert lines[0] == f"{'Consultant' if first.speaker == 'counselor' else 'User'}: {first.text}"
        assert arc.sessions[-1].memo.summary in memories
        for fact in private_facts(arc):
            assert fact not in cards + memories


@pytest.mark.external
@pytest.mark.skipif(not (EXTERNAL / "muspsy").is_dir(), reason="no ../shared/data/external")
def test_muspsy_raw_follows_the_published_layout(run_dir, tmp_path):
    out = exported(run_dir, tmp_path / "raw", "muspsy-raw")
    ours = sorted(out.glob("*.txt"))

    def skeleton(text: str) -> list[str]:
        # Labels and separators with the content taken out; a run of text lines counts once
        # (the paper writes two goal lines per card, we write the session's one goal).
        keep = re.compile(
            r"^(\[[^\]]+\]:?|[A-Z][A-Za-z' ]+:(?: ## User Background)?|=+|#+|The \d+th Counseling|)(?=\s|$)"
        )
        lines = [m.group(1) if (m := keep.match(line)) else "<text>" for line in text.splitlines()]
        return [line for i, line in enumerate(lines) if not (line == "<text>" and i and lines[i - 1] == "<text>")]

    sample = EXTERNAL / "muspsy"
    card_ours = skeleton(next(p for p in ours if p.name.startswith("usercards_")).read_text(encoding="utf-8"))
    card_theirs = skeleton((sample / "usercards_1000.txt").read_text(encoding="utf-8"))
    block = card_theirs.index(CARD_SEPARATOR) + 2
    assert card_ours[:block] == card_theirs[:block]
    memory_ours = skeleton(next(p for p in ours if p.name.startswith("memories_")).read_text(encoding="utf-8"))
    memory_theirs = skeleton((sample / "memories_1000_first2.txt").read_text(encoding="utf-8"))
    second = memory_theirs.index("The 2th Counseling") + 1
    assert memory_ours[:second] == memory_theirs[:second]
    dialogue = next(p for p in ours if p.name.startswith("dialogues_")).read_text(encoding="utf-8")
    published = (sample / "dialogues_1000_excerpt.txt").read_text(encoding="utf-8")
    for text in (dialogue, published):
        assert re.fullmatch(r"((Consultant|User): [^\n]+\n(\n|#######\n)?)+", text)


def test_parquet_loads_with_datasets_and_has_a_card(run_dir, arcs, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = exported(run_dir, tmp_path / "hf", "parquet", "--license", "cc-by-nc-4.0")
    check_output("parquet", out)
    cache = str(tmp_path / "cache")
    sessions = datasets.load_dataset(
        "parquet", data_files=str(out / "sessions" / "train.parquet"), split="train", cache_dir=cache
    )
    assert sessions.num_rows == sum(len(a.sessions) for a in arcs)
    assert sum(len(row["turns"]) for row in sessions) == sum(len(s.turns) for a in arcs for s in a.sessions)
    assert set(sessions[0]["memo"]) >= {"summary", "counseling_assignments", "session_goal"}
    turns = datasets.load_dataset(str(out), "turns", split="train", cache_dir=cache)
    assert turns.num_rows == sum(len(s.turns) for a in arcs for s in a.sessions)
    by_folder = datasets.load_dataset(str(out), split="train", cache_dir=cache)  # default config: sessions
    assert by_folder.num_rows == sessions.num_rows
    card = (out / "README.md").read_text(encoding="utf-8")
    header = card.split("---")[1]
    assert "license: cc-by-nc-4.0" in header and "config_name: arcs" in header
    crisis = sum(1 for a in arcs if a.outcome.end_reason == "crisis" or any(s.crisis for s in a.sessions))
    assert crisis > 0
    assert f"- arcs: {len(arcs)}" in card and f"- turns: {turns.num_rows}" in card
    assert f"{crisis} arc(s) have a crisis session" in card
    assert "counselor: scripted" in card and "`cbt`" in card


def test_output_folder_is_not_clobbered_without_force(run_dir, tmp_path):
    out = tmp_path / "raw"
    out.mkdir()
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    result = muspsy("export", str(run_dir), "--format", "muspsy-raw", "-o", str(out))
    assert result.returncode == 2 and "--force" in result.stderr
    assert (out / "mine.txt").read_text(encoding="utf-8") == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".raw.")], "no temporary folder left"
    exported(run_dir, out, "muspsy-raw", "--force")
    assert not (out / "mine.txt").exists()
