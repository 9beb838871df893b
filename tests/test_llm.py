"""The structured call: format hints, retries on bad output, usage accounting, scripted models."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from muspsy.agents import outputs
from muspsy.agents.outputs import CounselorTurnOutput, MemoOutput
from muspsy.events import NullEventLog
from muspsy.llm import RoleModel, StructuredOutputError, call_structured, format_hint
from muspsy.testing import ScriptedChatModel, ScriptExhausted

pytestmark = pytest.mark.unit

CONTEXT: dict[str, Any] = {"run": "run-llm", "arc": "arc-llm", "session": 1, "turn": 3, "role": "counselor"}
MESSAGES: list[BaseMessage] = [
    SystemMessage("You are a careful counselor."),
    HumanMessage("Session 1, turn 3. Write your next turn."),
]
VALID_TURN = {
    "assessed_risk": "none",
    "text": "That sounds exhausting. What happens right before the worry starts?",
    "ready_to_close": False,
}
VALID_MEMO = {
    "summary": "Explored the work worry.",
    "emotion_and_cognitive_state": "Anxious but engaged.",
    "counselor_observations": "Opened up after reflection.",
    "counseling_assignments": ["Keep a sleep diary"],
    "session_goal": "Map the worry.",
    "next_session_goal": "Review the diary.",
    "progress": "some",
    "risk": "low",
}


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


def _words(messages: list[BaseMessage]) -> int:
    # ScriptedChatModel counts prompt tokens as whitespace-separated words of every message.
    return sum(len(str(m.content).split()) for m in messages)


def _role_model(replies: list[dict[str, Any] | str]) -> tuple[RoleModel, ScriptedChatModel]:
    chat = ScriptedChatModel.from_replies(replies)
    return RoleModel(chat, "scripted", "function_calling"), chat


# --- format_hint ---------------------------------------------------------------------------


def field_line(hint: str, name: str) -> str:
    """The hint's bullet line for field `name` (quoted or not); fails when there is none or several."""
    pattern = re.compile(rf'^- "?{re.escape(name)}"? \(')
    found = [line for line in hint.splitlines() if pattern.match(line)]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


@pytest.mark.parametrize("schema", [CounselorTurnOutput, MemoOutput])
def test_format_hint_lists_every_field(schema: type[BaseModel]) -> None:
    hint = format_hint(schema)
    assert "JSON" in hint
    for name in schema.model_fields:
        field_line(hint, name)
    assert len([line for line in hint.splitlines() if line.startswith("- ")]) == len(schema.model_fields)


def test_format_hint_describes_types_and_descriptions() -> None:
    turn = format_hint(CounselorTurnOutput)
    assert "true or false" in field_line(turn, "ready_to_close")
    assert CounselorTurnOutput.model_fields["ready_to_close"].description in field_line(turn, "ready_to_close")
    assert "700" in field_line(turn, "text")
    memo = format_hint(MemoOutput)
    assert "worse, no_change, some, substantial" in field_line(memo, "progress")
    assert "none, low, moderate, high, imminent" in field_line(memo, "risk")
    assert "3" in field_line(memo, "counseling_assignments")


@pytest.mark.parametrize(
    "schema",
    [obj for obj in vars(outputs).values() if isinstance(obj, type) and issubclass(obj, outputs.Output)],
    ids=lambda s: s.__name__,
)
def test_format_hint_covers_every_output_schema(schema: type[BaseModel]) -> None:
    hint = format_hint(schema)
    for name, info in schema.model_fields.items():
        line = field_line(hint, name)
        if info.description:
            assert info.description in line


def test_format_hint_for_decision_leaves_out_nothing() -> None:
    hint = format_hint(outputs.DecisionOutput)
    for value in ("continue", "revise_plan", "switch_strategy", "schedule_ending", "refer"):
        assert value in field_line(hint, "action")
    for value in ("improving", "stable", "worsening", "not_measured"):
        assert value in field_line(hint, "score_trend")
    assert "10" in field_line(hint, "ending_in")


# --- call_structured -----------------------------------------------------------------------


async def test_malformed_then_valid_succeeds_with_one_retry() -> None:
    model, chat = _role_model(["not json", VALID_TURN])
    events = RecordingEvents()
    result = await call_structured(model, CounselorTurnOutput, MESSAGES, retries=2, events=events, context=CONTEXT)
    assert result.output == CounselorTurnOutput.model_validate(VALID_TURN)
    assert result.retries == 1
    assert len(chat.calls) == 2
    assert result.prompt_tokens == 2 * _words(MESSAGES)
    assert result.completion_tokens == len(["not", "json"]) + len(json.dumps(VALID_TURN).split())
    assert result.seconds >= 0
    assert [(e, f["attempt"], f["ok"]) for e, f in events.events] == [("llm_call", 1, False), ("llm_call", 2, True)]
    for _, fields in events.events:
        assert fields["schema"] == "CounselorTurnOutput"
        assert fields["run"] == "run-llm" and fields["role"] == "counselor"


async def test_valid_first_time_has_no_retries() -> None:
    model, chat = _role_model([VALID_MEMO])
    result = await call_structured(model, MemoOutput, MESSAGES, retries=2, events=NullEventLog(), context=CONTEXT)
    assert result.retries == 0
    assert result.output.counseling_assignments == ["Keep a sleep diary"]
    assert result.prompt_tokens == _words(MESSAGES)
    assert len(chat.calls) == 1
    assert chat.calls[0][0] == "MemoOutput"


async def test_schema_invalid_dict_then_valid_is_retried() -> None:
    too_long = {"text": "x" * 701, "ready_to_close": True}
    model, chat = _role_model([too_long, VALID_TURN])
    result = await call_structured(
        model, CounselorTurnOutput, MESSAGES, retries=1, events=NullEventLog(), context=CONTEXT
    )
    assert result.retries == 1
    assert result.output.ready_to_close is False
    assert len(chat.calls) == 2


@pytest.mark.parametrize("retries", [0, 2])
async def test_always_invalid_raises_after_retries_plus_one(retries: int) -> None:
    invalid = [{"summary": "only a summary"}] * (retries + 1)
    model, chat = _role_model(invalid)
    events = RecordingEvents()
    with pytest.raises(StructuredOutputError) as info:
        await call_structured(model, MemoOutput, MESSAGES, retries=retries, events=events, context=CONTEXT)
    message = str(info.value)
    assert "MemoOutput" in message
    assert f"after {retries + 1} attempts" in message
    assert message.startswith("counselor ")
    assert len(chat.calls) == retries + 1
    assert [f["ok"] for _, f in events.events] == [False] * (retries + 1)


async def test_always_malformed_raises_structured_output_error() -> None:
    model, chat = _role_model(["not json", "{still not", "nope"])
    with pytest.raises(StructuredOutputError, match="CounselorTurnOutput"):
        await call_structured(model, CounselorTurnOutput, MESSAGES, retries=2, events=NullEventLog(), context={})
    assert len(chat.calls) == 3


# --- ScriptedChatModel -----------------------------------------------------------------------


async def test_from_replies_raises_script_exhausted_when_it_runs_out() -> None:
    model, chat = _role_model([VALID_TURN])
    await call_structured(model, CounselorTurnOutput, MESSAGES, retries=0, events=NullEventLog(), context=CONTEXT)
    with pytest.raises(ScriptExhausted, match="CounselorTurnOutput"):
        await call_structured(model, CounselorTurnOutput, MESSAGES, retries=3, events=NullEventLog(), context=CONTEXT)
    assert len(chat.calls) == 2


async def test_script_exhausted_is_not_retried_as_bad_output() -> None:
    model, chat = _role_model(["not json"])
    with pytest.raises(ScriptExhausted):
        await call_structured(model, MemoOutput, MESSAGES, retries=5, events=NullEventLog(), context=CONTEXT)
    assert len(chat.calls) == 2


def test_from_replies_replays_in_order_then_raises() -> None:
    chat = ScriptedChatModel.from_replies([VALID_TURN, VALID_MEMO])
    structured = chat.with_structured_output(CounselorTurnOutput, method="function_calling")
    assert structured.invoke("hi") == CounselorTurnOutput.model_validate(VALID_TURN)
    second = chat.with_structured_output(MemoOutput, method="function_calling").invoke("hi")
    assert second == MemoOutput.model_validate(VALID_MEMO)
    with pytest.raises(ScriptExhausted):
        structured.invoke("hi")


def test_scripted_model_reports_usage() -> None:
    chat = ScriptedChatModel.from_replies([VALID_TURN])
    message = chat.invoke(MESSAGES)
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] == _words(MESSAGES)
    assert message.usage_metadata["output_tokens"] == len(json.dumps(VALID_TURN).split())


async def test_structured_options_and_the_endpoints_extra_body_reach_the_server_together() -> None:
    from contextlib import AsyncExitStack

    from muspsy.backends import open_models
    from muspsy.config import RunConfig
    from muspsy.testing import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        config = RunConfig.model_validate(
            {
                "backend": "openai",
                "models": {
                    "default": {"base_url": server.base_url, "model": "fake", "extra_body": {"repeat_penalty": 1.2}}
                },
            }
        )
        async with AsyncExitStack() as stack:
            models = (await open_models(config, stack)).models
            messages = [SystemMessage("You are a counselor."), HumanMessage("Session 1, turn 2.")]
            result = await call_structured(
                models["counselor"], CounselorTurnOutput, messages, retries=0, events=NullEventLog(), context={}
            )
    assert result.output.text
    payload = server.last_payload
    assert payload is not None
    assert payload["repeat_penalty"] == 1.2
    assert payload["response_format"]["json_schema"]["name"] == "CounselorTurnOutput"
    sent = payload["response_format"]["json_schema"]["schema"]
    assert sent == {**CounselorTurnOutput.model_json_schema(), "additionalProperties": False}
