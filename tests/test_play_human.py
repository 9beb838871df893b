"""The human chat model on its own: typed lines become schema-valid answers, fields it was not
written for are asked for from the schema, and /close holds until the session closes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from muspsy.agents.outputs import ClosingOutput, CounselorTurnOutput, CrisisActionOutput
from muspsy.events import NullEventLog
from muspsy.llm import RoleModel, call_structured
from muspsy.play.human import HumanChatModel, PlayerQuit

pytestmark = pytest.mark.unit


class Typist:
    """A terminal whose person types the given lines, one per question."""

    def __init__(self, lines: list[str]) -> None:
        self.lines: Iterator[str] = iter(lines)
        self.shown: list[str] = []

    async def ask(self, prompt: str) -> str:
        self.shown.append(prompt)
        return next(self.lines)

    def say(self, text: str) -> None:
        self.shown.append(text)


MESSAGES = [SystemMessage("Intake: Hannah, worry and poor sleep."), HumanMessage("Dialogue so far: ...")]


async def answer(model: HumanChatModel, schema: type[BaseModel]) -> BaseModel:
    role = RoleModel(chat=model, name="human")
    result = await call_structured(role, schema, MESSAGES, retries=0, events=NullEventLog(), context={})
    return result.output


async def test_close_holds_until_the_session_closes_and_commands_answer():
    async def hint(messages):
        return f"hint from {len(messages)} messages"

    typist = Typist(["/see", "/hint", "ok", "/close Let us wrap up for today.", "One more thought on that?",
                     "Thank you, see you next week.", "Keep a worry diary", "", "Welcome back, Hannah."])  # fmt: skip
    model = HumanChatModel(terminal=typist, hint=hint)
    first = await answer(model, CounselorTurnOutput)
    assert first == CounselorTurnOutput(text="Let us wrap up for today.", ready_to_close=True, assessed_risk="none")
    assert any("Intake: Hannah" in line for line in typist.shown) and "supervisor: hint from 2 messages" in typist.shown
    assert "(say it in 8 to 700 characters)" in typist.shown  # "ok" was too short for a turn
    second = await answer(model, CounselorTurnOutput)
    assert second == CounselorTurnOutput(text="One more thought on that?", ready_to_close=True, assessed_risk="none")
    closing = await answer(model, ClosingOutput)
    assert closing == ClosingOutput(
        text="Thank you, see you next week.", homework=["Keep a worry diary"], assessed_risk="none"
    )
    assert (await answer(model, CounselorTurnOutput)).ready_to_close is False  # a new session


async def test_fields_of_newer_schemas_are_asked_for_or_defaulted():
    class NewerTurnOutput(BaseModel):
        text: str = Field(min_length=2, max_length=200)
        technique: Literal["reflection", "question", "summary"] = Field(description="What you are doing.")
        confidence: int = Field(ge=1, le=5)
        tags: list[str] = Field(max_length=2)
        note: str = "default note"

    typist = Typist(["How did the week go?", "shout", "question", "4", "sleep", "work"])
    found = await answer(HumanChatModel(terminal=typist), NewerTurnOutput)
    assert found == NewerTurnOutput(
        text="How did the week go?", technique="question", confidence=4, tags=["sleep", "work"], note="default note"
    )
    assert "one of: reflection, question, summary" in typist.shown


async def test_risk_is_the_persons_own_assessment_for_one_answer_and_quit_stops():
    typist = Typist(["/risk bogus", "/risk active_ideation", "/risk active_ideation no way out but to end it",
                     "Are you thinking of ending your life?", "Let us make a safety plan.", "/quit"])  # fmt: skip
    model = HumanChatModel(terminal=typist)
    noticed = await answer(model, CounselorTurnOutput)
    assert noticed.assessed_risk == "active_ideation" and noticed.text == "Are you thinking of ending your life?"
    assert noticed.risk_cue == "no way out but to end it"  # the quote, which code checks against the client
    assert any("/risk takes one of: none, passive_ideation" in line for line in typist.shown)
    assert any("quote the client's words" in line for line in typist.shown)  # a level alone is refused
    crisis = await answer(model, CrisisActionOutput)  # the assessment holds for one answer only
    assert crisis == CrisisActionOutput(text="Let us make a safety plan.", assessed_risk="none")
    assert any("crisis protocol" in line for line in typist.shown)
    with pytest.raises(PlayerQuit):
        await answer(model, CounselorTurnOutput)
