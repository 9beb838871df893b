"""Strategies as protocols: each strategy's sessions follow its own phases, every counselor turn
names a technique of its repertoire, and the close follows the homework policy."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import BaseMessage
from pydantic import ValidationError

from conftest import overriding
from muspsy.agents import protocol
from muspsy.agents.spec import SpecError, available_strategies, load_strategy
from muspsy.config import Limits
from muspsy.records import ArcRecord, Turn
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models

LIMITS = Limits(sessions_min=2, sessions_max=2, turns_min=5, turns_max=11)


async def _arc(profile: Any, strategy: str, responder: Any = default_responder) -> tuple[ArcRecord, Any]:
    models = scripted_models(responder)
    record = await simulate_arc(profile("hannah-work-anxiety"), models, strategy=strategy, limits=LIMITS)
    return record, models


@pytest.mark.graph
@pytest.mark.parametrize("name", available_strategies())
async def test_each_strategys_sessions_follow_its_phases_with_techniques_from_its_repertoire(profile, name):
    strategy = load_strategy(name)
    order = [p.name for p in strategy.phases]
    dialogue = {p.name for p in strategy.dialogue_phases}
    record, _ = await _arc(profile, name)
    for session in record.sessions:
        counselor = [t for t in session.turns if t.speaker == "counselor"]
        assert counselor[0].kind == "open" and counselor[0].phase == strategy.opening.name
        assert counselor[-1].kind == "close" and counselor[-1].phase == strategy.closing.name
        assert {t.phase for t in counselor if t.kind == "dialogue"} <= dialogue
        positions = [order.index(t.phase) for t in counselor if t.phase is not None]
        assert positions == sorted(positions), f"{name} session {session.index}: phases went backwards"
        assert len(positions) == len(counselor)
        for turn in counselor:
            fitting = {t.name for t in strategy.techniques_for(turn.phase or "")}
            assert turn.technique in fitting, (turn.index, turn.phase, turn.technique)
        assert all(t.phase is None and t.technique is None for t in session.turns if t.speaker == "client")


@pytest.mark.graph
async def test_strategies_differ_in_structure(profile):
    cbt, _ = await _arc(profile, "cbt")
    pc, _ = await _arc(profile, "person_centred")

    def phases(record: ArcRecord) -> set[str | None]:
        return {t.phase for s in record.sessions for t in s.turns}

    assert {"agenda", "homework_review"} <= phases(cbt)
    assert not phases(pc) & {"agenda", "homework_review", "homework"}
    ordinary = [s for s in cbt.sessions if not s.termination]  # a termination session gives no homework
    assert ordinary and all(s.homework_given for s in ordinary)
    cbt_techniques = {t.technique for s in cbt.sessions for t in s.turns} - {None}
    pc_techniques = {t.technique for s in pc.sessions for t in s.turns} - {None}
    assert cbt_techniques and pc_techniques and not cbt_techniques & pc_techniques


@pytest.mark.graph
async def test_person_centred_sessions_close_without_homework(profile):
    record, models = await _arc(profile, "person_centred")
    assert [s.homework_given for s in record.sessions] == [[], []]
    assert [s.homework_reviewed for s in record.sessions] == [[], []]
    closes = [msgs for schema, msgs in models["counselor"].chat.calls if schema == "ClosingOutput"]
    assert closes and all("Set no homework" in str(msgs[-1].content) for msgs in closes)
    # The closing schema has no homework field at all, so no model can be made to invent one.
    closing = protocol.schema(load_strategy("person_centred"), "close")
    assert "homework" not in closing.model_json_schema()["properties"]


def test_the_closing_schema_follows_the_homework_policy():
    def homework(name: str) -> dict[str, Any]:
        return protocol.schema(load_strategy(name), "close").model_json_schema()["properties"]["homework"]

    assert (homework("cbt")["minItems"], homework("cbt")["maxItems"]) == (1, 3)
    assert (homework("motivational_interviewing")["minItems"], homework("motivational_interviewing")["maxItems"]) == (
        0,
        3,
    )
    mi_close = protocol.schema(load_strategy("motivational_interviewing"), "close")
    mi_close.model_validate({"assessed_risk": "none", "technique": "summary", "homework": [], "text": "Bye for now."})
    cbt_close = protocol.schema(load_strategy("cbt"), "close")
    with pytest.raises(ValidationError):
        cbt_close.model_validate(
            {"assessed_risk": "none", "technique": "summarising", "homework": [], "text": "Bye now."}
        )


def test_phase_and_technique_are_enums_of_the_strategys_own_names():
    strategy = load_strategy("solution_focused")
    turn = protocol.schema(strategy, "turn")
    properties = turn.model_json_schema()["properties"]
    assert properties["phase"]["enum"] == [p.name for p in strategy.dialogue_phases]
    assert set(properties["technique"]["enum"]) == {
        t.name for t in strategy.techniques_for(*properties["phase"]["enum"])
    }
    assert list(properties)[:4] == ["risk_cue", "assessed_risk", "phase", "technique"]  # chosen before the text
    assert turn.__name__ == "CounselorTurnOutput"  # backends and scripted responders see the usual name
    base = {"assessed_risk": "none", "phase": "scaling", "text": "Where are you on the scale?", "ready_to_close": False}
    turn.model_validate({**base, "technique": "scaling_question"})
    with pytest.raises(ValidationError):
        turn.model_validate({**base, "technique": "weighing_evidence"})  # CBT's, not SFBT's
    with pytest.raises(ValidationError):
        turn.model_validate({**base, "phase": "agenda", "technique": "scaling_question"})


@pytest.mark.graph
async def test_phases_only_move_forward_whatever_the_model_says(profile):
    def backwards(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        reply = default_responder("CounselorTurnOutput", messages)
        return {**reply, "phase": "summary" if "turn 3." in str(messages[-1].content) else "agenda"}

    def technique_of(messages: Sequence[BaseMessage]) -> dict[str, Any]:
        return {**backwards(messages), "technique": "guided_discovery"}

    record, _ = await _arc(profile, "cbt", overriding(CounselorTurnOutput=technique_of))
    for session in record.sessions:
        dialogue = [t.phase for t in session.turns if t.kind == "dialogue" and t.speaker == "counselor"]
        assert dialogue == ["summary"] * len(dialogue)  # "agenda" after "summary" is held at summary


@pytest.mark.graph
async def test_the_turn_prompt_names_the_current_and_next_phase(profile):
    _, models = await _arc(profile, "cbt")
    turns = [
        str(msgs[-1].content) for schema, msgs in models["counselor"].chat.calls if schema == "CounselorTurnOutput"
    ]
    assert "Phase to begin with: agenda" in turns[0]
    assert "Current phase: agenda" in turns[1] and "Next phase: homework_review" in turns[1]
    system = str(models["counselor"].chat.calls[0][1][0].content)
    assert "1. check_in:" in system and "weighing_evidence:" in system


def test_records_written_before_protocols_still_validate():
    turn = Turn.model_validate({"index": 1, "speaker": "counselor", "text": "Hello there.", "kind": "open"})
    assert turn.phase is None and turn.technique is None


def _strategy_file(tmp_path: Path, change: dict[str, Any]) -> Path:
    root = tmp_path / "agents"
    folder = root / "counselor" / "strategies"
    folder.mkdir(parents=True)
    data = yaml.safe_load((Path(__file__).parent.parent / "agents/counselor/strategies/cbt.yaml").read_text("utf-8"))
    (folder / "cbt.yaml").write_text(json.dumps({**data, **change}), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"homework": "sometimes"}, r"field homework: Input should be 'required', 'optional' or 'none'"),
        ({"phases": [{"name": "check_in", "description": "Hello."}]}, r"field phases: List should have at least 3"),
        (
            {"techniques": [{"name": "mood_check", "description": "How are you?", "phases": ["nowhere"]}]},
            r"cbt.yaml: field techniques: 'mood_check' names unknown phase 'nowhere'$",
        ),
    ],
)
def test_a_bad_protocol_names_the_file_and_field(tmp_path, change, message):
    root = _strategy_file(tmp_path, change)
    with pytest.raises(SpecError, match=message) as info:
        load_strategy("cbt", root)
    assert "cbt.yaml" in str(info.value)


@pytest.mark.graph
async def test_exports_carry_the_phase_and_technique_of_counselor_turns(profile):
    from muspsy.exports.parquet import build_tables, check_tables
    from muspsy.exports.sources import Selection
    from muspsy.exports.tasks import build_tasks, check_tasks

    record, _ = await _arc(profile, "solution_focused")
    selection = Selection(arcs=[record])
    tables = build_tables(selection)
    check_tables(tables)
    turns = tables["turns"].to_pylist()
    counselor = [t for t in turns if t["speaker"] == "counselor"]
    assert counselor and all(t["phase"] and t["technique"] for t in counselor)
    assert all(t["phase"] is None and t["technique"] is None for t in turns if t["speaker"] == "client")
    nested = tables["sessions"].to_pylist()[0]["turns"]
    assert nested[0]["phase"] == "whats_better" and nested[0]["technique"] == "eliciting_whats_better"
    tasks = build_tasks(selection)
    check_tasks(tasks, [record])
    generation = [t for t in tasks if t["task"] == "counseling_generation"]
    by_turn = {t.index: t for s in record.sessions for t in s.turns if s.index == 1}
    first = next(t for t in generation if t["session"] == 1)
    assert (first["phase"], first["technique"]) == (by_turn[first["turn"]].phase, by_turn[first["turn"]].technique)
    assert all(t["technique"] is None for t in tasks if t["task"] != "counseling_generation")


@pytest.mark.graph
async def test_transcripts_show_each_counselor_turns_phase_and_technique(profile):
    from muspsy.transcript import render_transcript

    record, _ = await _arc(profile, "cbt")
    text = render_transcript(record)
    assert "**Counselor:** _[agenda / agenda_setting]_ Let's set an agenda" in text
    assert "**Client:** _[" not in text
