"""Arc importers: MusPsy dialogue/memory/card files and PsychEval cases become canonical arc
records with the right sessions, memos from the source, and placeholders that say so."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import EXTERNAL, REPO
from muspsy.importers import ImportDataError, import_arcs, write_arcs
from muspsy.importers.muspsy_sessions import cue_starts
from muspsy.importers.muspsy_text import DialogueLine
from muspsy.records import ArcRecord, ClientProfile

FIXTURES = REPO / "tests" / "fixtures" / "import"
MUSPSY = FIXTURES / "muspsy"
needs_external = pytest.mark.skipif(not EXTERNAL.is_dir(), reason="../shared/data/external is absent")


def reloaded(arcs: list[ArcRecord], out: Path) -> list[ArcRecord]:
    """Write arcs.jsonl and read it back as a consumer (exporter) would: the record and its profile."""
    write_arcs(arcs, out)
    back = [ArcRecord.model_validate(json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines()]
    for arc in back:
        ClientProfile.model_validate(arc.profile)
        assert [s.index for s in arc.sessions] == list(range(1, len(arc.sessions) + 1))
        assert all([t.index for t in s.turns] == list(range(1, len(s.turns) + 1)) for s in arc.sessions)
    return back


@pytest.mark.unit
def test_muspsy_files_become_one_arc_with_sessions_split_at_the_greeting(tmp_path: Path) -> None:
    files = [MUSPSY / "dialogues_42.txt", MUSPSY / "memories_42.txt", MUSPSY / "usercards_42.txt"]
    (arc,) = reloaded(import_arcs("muspsy", files), tmp_path / "arcs.jsonl")
    assert arc.client_id == "muspsy-42" and arc.arc_id == "muspsy-42--imported"
    assert arc.run_id.startswith("import-") and len(arc.run_id) == len("import-") + 8
    assert [len(s.turns) for s in arc.sessions] == [6, 4]
    second = arc.sessions[1]
    assert second.turns[0].speaker == "counselor" and second.turns[0].text.startswith("Hi Tom, good to see you again")
    assert [t.speaker for t in arc.sessions[0].turns] == ["counselor", "client"] * 3
    # Memos come from the memory file, client states from the user cards.
    assert second.memo.summary.startswith("Reviewed the diary")
    assert second.memo.counseling_assignments == ["Send one message to a friend from the football group."]
    assert arc.sessions[0].memo.next_session_goal == second.memo.session_goal
    assert second.homework_reviewed == ["Keep a short mood diary each evening."]
    assert second.client_state.emotion_state == "Still low, but a little lighter after the dinner."
    assert arc.profile["id"] == "muspsy-42" and len(arc.profile["planned_arc"]) == 2
    assert arc.outcome.end_reason == "max_sessions" and arc.outcome.sessions == 2
    assert "imported" in arc.outcome.rationale.lower()
    assert arc.strategy == "unknown" and arc.usage == {}
    assert {s["file"] for s in arc.provenance["sources"]} == {p.name for p in files}
    # What the source lacks is a listed placeholder, never silent filler.
    placeholders = arc.model_extra["import_placeholders"]  # type: ignore[index]
    assert "sessions[2].memo.progress" in placeholders and "plan.case_conceptualization" in placeholders
    # Ratings the source never gave are "unknown", not a made-up "no_change" or "low".
    assert {(s.memo.progress, s.memo.risk) for s in arc.sessions} == {("unknown", "unknown")}
    # Block 1 (the full-length version of session 2) is kept, not dropped.
    full = arc.model_extra["source_extra"]["full_length_sessions"]  # type: ignore[index]
    assert [f["session"] for f in full] == [2] and len(full[0]["turns"]) == 2


@pytest.mark.unit
def test_full_length_blocks_can_replace_the_compact_sessions(tmp_path: Path) -> None:
    files = [MUSPSY / "dialogues_42.txt", MUSPSY / "memories_42.txt"]
    (arc,) = reloaded(import_arcs("muspsy", files, full_length=True), tmp_path / "arcs.jsonl")
    assert [len(s.turns) for s in arc.sessions] == [6, 2]
    assert arc.sessions[1].turns[1].text == "I filled it in most days, and Thursday stood out."
    compact = arc.model_extra["source_extra"]["compact_sessions"]  # type: ignore[index]
    assert [c["session"] for c in compact] == [2] and len(compact[0]["turns"]) == 4
    with pytest.raises(ImportDataError, match="--full-length: only the muspsy format"):
        import_arcs("psycheval", [FIXTURES / "psycheval/case_7.json"], full_length=True)


@pytest.mark.unit
def test_dialogue_alone_still_imports_with_placeholders(tmp_path: Path) -> None:
    (arc,) = import_arcs("muspsy", [MUSPSY / "dialogues_42.txt"])
    assert len(arc.sessions) == 2
    assert arc.sessions[0].memo.summary == "Not in the source (imported arc)."
    assert "sessions[1].memo.summary" in arc.model_extra["import_placeholders"]  # type: ignore[index]
    assert arc.profile["provenance"]["kind"] == "imported"


@pytest.mark.unit
def test_word_cues_take_the_next_best_greeting_only_when_asked_and_never_a_closing_line() -> None:
    lines = [
        DialogueLine("counselor", "Welcome, what brings you here?", 1),
        DialogueLine("client", "Work stress.", 2),
        DialogueLine("counselor", "You're welcome. Before we meet again, rest a little.", 3),
        DialogueLine("client", "Thanks.", 4),
        DialogueLine("counselor", "Hello again. How did the homework go?", 5),
        DialogueLine("client", "Fine.", 6),
        DialogueLine("counselor", "Hi. Shall we begin?", 7),
        DialogueLine("client", "Yes.", 8),
    ]
    assert cue_starts(lines, None) == [4]
    assert cue_starts(lines, 1) == [4]
    assert cue_starts(lines, 2) == [4, 6]
    assert cue_starts(lines, 3) == [4, 6]  # the closing line is never a session start


def check_of(arc: ArcRecord) -> dict[str, object]:
    return arc.model_extra["source_extra"]["sessions_check"]  # type: ignore[no-any-return,index]


@pytest.mark.unit
def test_one_block_per_session_layout_with_headers_and_crlf(tmp_path: Path) -> None:
    files = sorted(MUSPSY.glob("*_43.txt"))
    assert b"\r\n" in files[0].read_bytes() and b"##### Dialogue 3rd" in (MUSPSY / "dialogues_43.txt").read_bytes()
    (arc,) = reloaded(import_arcs("muspsy", files), tmp_path / "arcs.jsonl")
    # Session 1 mentions homework, "you're welcome" and "before we meet again": none of it splits it.
    assert [len(s.turns) for s in arc.sessions] == [8, 4, 4]
    assert arc.sessions[1].turns[0].text.startswith("Hi Ana, good to see you again")
    assert arc.sessions[2].memo.summary.startswith("Reviewed the Tuesday visits")
    assert arc.sessions[2].goal == "Consolidate sharing the care."
    assert not any("\r" in t.text for s in arc.sessions for t in s.turns)
    check = check_of(arc)
    assert check["layout"] == "one block per session" and check["found"] == check["expected"] == 3
    assert check["block_headers"] == ["Dialogue 1st", "Dialogue 2nd", "Dialogue 3rd"]
    # Every block is a whole session already: --full-length changes nothing and drops nothing.
    (full,) = import_arcs("muspsy", files, full_length=True)
    assert [len(s.turns) for s in full.sessions] == [8, 4, 4]


@pytest.mark.unit
def test_compact_layout_boundaries_come_from_the_later_blocks_first() -> None:
    files = [MUSPSY / "dialogues_44.txt", MUSPSY / "memories_44.txt"]
    (arc,) = import_arcs("muspsy", files)
    # Block 1 is a rewritten session 2 (anchors it); block 2 opens differently, so session 3
    # is found by its greeting between block 1's anchor and the end, never at the closing line
    # "Let's see how three walks go, and talk about it again next week".
    assert [len(s.turns) for s in arc.sessions] == [6, 6, 2]
    assert arc.sessions[2].turns[0].text == "Hello again, Sam. How did the three walks go?"
    check = check_of(arc)
    assert check["layout"] == "compact" and check["boundaries"] == ["block 1", "greeting"]
    (full,) = import_arcs("muspsy", files, full_length=True)
    assert [len(s.turns) for s in full.sessions] == [6, 4, 4]  # every full-length block is kept


@pytest.mark.unit
def test_a_session_count_that_differs_from_the_memories_is_an_error(tmp_path: Path) -> None:
    text = (MUSPSY / "memories_43.txt").read_text(encoding="utf-8")
    four = text + "\n" + text[text.index("The 3th Counseling") :].replace("The 3th", "The 4th")
    path = tmp_path / "memories_43.txt"
    path.write_text(four, encoding="utf-8")
    with pytest.raises(ImportDataError) as caught:
        import_arcs("muspsy", [MUSPSY / "dialogues_43.txt", path])
    assert str(caught.value) == (
        f"{MUSPSY / 'dialogues_43.txt'}: client 43: field sessions: 3 found in the dialogue "
        "(one block per session layout), 4 expected (4 memories in memories_43.txt)"
    )


@pytest.mark.unit
def test_psycheval_case_becomes_an_arc_with_memos_and_plan(tmp_path: Path) -> None:
    (arc,) = reloaded(import_arcs("psycheval", [FIXTURES / "psycheval/case_7.json"]), tmp_path / "arcs.jsonl")
    assert arc.strategy == "cbt" and arc.language == "zh" and arc.client_id == "psycheval-cbt-7"
    assert [len(s.turns) for s in arc.sessions] == [4, 2]
    first = arc.sessions[0]
    # The counselor's <think> reasoning is not spoken text; it is kept beside the record.
    assert first.turns[0].text == "你好，欢迎你来。今天想从哪里聊起？"  # noqa: RUF001
    reasoning = arc.model_extra["source_extra"]["sessions"][0]["counselor_reasoning"]  # type: ignore[index]
    assert reasoning["1"] == "<assessment>初次见面。</assessment>"
    assert first.memo.summary.startswith("首次会谈")
    assert first.memo.counseling_assignments == ["记录一次自责的时刻和当时的想法"]
    assert first.memo.next_session_goal == "识别“必须”思维"
    # Session 2 starts in the state analysed at the end of session 1.
    assert arc.sessions[1].client_state.emotion_state == "疲惫、内疚。"
    assert [s.name for s in arc.plan.stages] == ["评估与目标", "认知调整"]
    assert arc.plan.first_session_goal == "建立关系与评估"


@pytest.mark.unit
def test_import_is_deterministic(tmp_path: Path) -> None:
    files = [MUSPSY / "dialogues_42.txt", MUSPSY / "memories_42.txt"]
    write_arcs(import_arcs("muspsy", files), tmp_path / "a.jsonl")
    write_arcs(import_arcs("muspsy", list(reversed(files))), tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.unit
def test_memory_without_summary_names_the_line(tmp_path: Path) -> None:
    text = (MUSPSY / "memories_42.txt").read_text(encoding="utf-8")
    second = text.index("The 2th Counseling")
    broken = text[:second] + text[second:].replace("Counseling Summary:", "Summary of it all:")
    path = tmp_path / "memories_42.txt"
    path.write_text(broken, encoding="utf-8")
    line = text[:second].count("\n") + 1
    with pytest.raises(ImportDataError) as caught:
        import_arcs("muspsy", [MUSPSY / "dialogues_42.txt", path])
    assert str(caught.value) == f"{path}: line {line}: field Counseling Summary: missing"


@pytest.mark.unit
def test_psycheval_turn_without_role_names_session_and_turn(tmp_path: Path) -> None:
    case = json.loads((FIXTURES / "psycheval/case_7.json").read_text(encoding="utf-8"))
    case["sessions"][1]["session_dialogue"][1] = {"speaker": "Client", "text": "..."}
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportDataError, match=r"case\.json: record 1: field sessions\[2\]\.session_dialogue\[2\]"):
        import_arcs("psycheval", [path])


@pytest.mark.unit
def test_psycheval_session_without_dialogue_is_named(tmp_path: Path) -> None:
    case = json.loads((FIXTURES / "psycheval/case_7.json").read_text(encoding="utf-8"))
    del case["sessions"][0]["session_dialogue"]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportDataError) as caught:
        import_arcs("psycheval", [path])
    assert str(caught.value) == f"{path}: record 1: field sessions[1].session_dialogue: missing or empty"


@pytest.mark.unit
def test_memories_without_a_dialogue_are_refused() -> None:
    with pytest.raises(ImportDataError, match=r"memories_42\.txt: no dialogue file for client 42"):
        import_arcs("muspsy", [MUSPSY / "memories_42.txt"])


@pytest.mark.cli
def test_cli_writes_arcs_and_reports_bad_input_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(REPO / "src")
    out = tmp_path / "arcs.jsonl"

    def muspsy(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command = ["muspsy", *map(str, args)]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    ok = muspsy("arcs", "import", "--format", "muspsy", *sorted(MUSPSY.glob("*.txt")), "-o", out)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [
        "muspsy-42--imported\t2 of 2 session(s) (2 memories in memories_42.txt)\t10 turn(s)",
        "muspsy-43--imported\t3 of 3 session(s) (3 memories in memories_43.txt)\t16 turn(s)",
        "muspsy-44--imported\t3 of 3 session(s) (3 memories in memories_44.txt)\t14 turn(s)",
    ]
    before = out.read_bytes()
    bad = muspsy("arcs", "import", "--format", "psycheval", FIXTURES / "cactus/records.json", "-o", out)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"error: {FIXTURES / 'cactus/records.json'}: record 1: field client_info: missing"
    ]
    assert out.read_bytes() == before  # the earlier output is untouched


# --- the real samples --------------------------------------------------------------------------------


@pytest.mark.external
@needs_external
def test_real_muspsy_excerpt_imports_two_sessions_with_two_memos(tmp_path: Path) -> None:
    folder = EXTERNAL / "muspsy"
    files = [folder / "dialogues_1000_excerpt.txt", folder / "memories_1000_first2.txt", folder / "usercards_1000.txt"]
    (arc,) = reloaded(import_arcs("muspsy", files), tmp_path / "arcs.jsonl")
    assert len(arc.sessions) == 2 and arc.outcome.sessions == 2
    assert all(s.memo.summary.startswith("Explored Mr. Li's anxiety") for s in arc.sessions)
    assert arc.sessions[1].turns[0].text.startswith("Hi Mr. Li, it's good to see you again")
    assert arc.sessions[0].memo.session_goal.startswith("Use CBT techniques")
    assert arc.profile["language"] == "zh" and arc.language == "en"
    assert "sessions[1].memo.summary" not in arc.model_extra["import_placeholders"]  # type: ignore[index]


@pytest.mark.external
@needs_external
def test_real_psycheval_case_imports_seven_sessions(tmp_path: Path) -> None:
    (arc,) = reloaded(import_arcs("psycheval", [EXTERNAL / "psycheval/cbt_1.json"]), tmp_path / "arcs.jsonl")
    assert len(arc.sessions) == 7 and arc.strategy == "cbt"
    assert all(s.memo.summary != "Not in the source (imported arc)." for s in arc.sessions)
    assert not any("<think>" in t.text for s in arc.sessions for t in s.turns)
    assert len(arc.plan.stages) == 3
