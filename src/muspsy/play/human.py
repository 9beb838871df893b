"""A chat model that is a person at a terminal: `muspsy play` puts it in the counselor's chair.

The arc graph runs unchanged; when it asks the counselor for a structured answer, this model
reads the schema it was asked for, takes the person's typed line as the answer's `text`, and
fills every other field from the schema: a default where the schema has one, else a short
question (a choice, a yes/no, a list one item per line). New fields in newer schemas are asked
for the same way, so the model needs no change when the counselor's outputs grow.

Commands at the prompt: `/close` (say this and then wind the session up), `/see` (what the
counselor may see: its system prompt with intake, plan and memos), `/hint` (ask the clinical
supervisor), `/risk LEVEL WORDS` (the risk the person noticed in the client's words, quoting
them: the counselor-side assessment that routes the crisis protocol, kept like a model's only
when the quote is the client's; `none` unless given), `/help`,
`/quit` (stop; `muspsy play` with the same folder resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, get_args

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, PrivateAttr

from muspsy.records import TurnRisk

HELP = """commands:
  /close TEXT  say TEXT and wind the session up (the closing words and homework come next)
  /see         what the counselor may see: intake, plan, memos, strategy
  /hint        ask the clinical supervisor for a hint
  /risk LEVEL WORDS  your assessment of risk, quoting the client's words that show it, sent
               with your next line (none, passive_ideation ... preparatory_behavior, self_harm,
               harm_to_others, safeguarding_minor; none unless you say)
  /help        this list
  /quit        stop here; run the same `muspsy play` again to resume"""


CRISIS_STEPS = {
    "RiskScreenOutput": "risk screening - ask the next questions, then record what the client has answered",
    "SafetyPlanOutput": "safety plan - work on the next steps, then record what the client agreed",
    "CrisisActionOutput": "next steps - tell the client what the disposition means now",
}


class PlayerQuit(Exception):
    """The person typed /quit or closed the input: the arc stops at its last checkpoint."""


class Terminal(Protocol):
    """Where the person reads and types (standard input and error in `muspsy play`)."""

    async def ask(self, prompt: str) -> str: ...
    def say(self, text: str) -> None: ...


Hint = Callable[[Sequence[BaseMessage]], Awaitable[str]]


class HumanChatModel(BaseChatModel):
    """Answers the counselor's structured calls with what a person types."""

    terminal: Any  # a Terminal (a Protocol is not a pydantic field type)
    hint: Any = None  # a Hint: the supervisor's advice on the counselor's current prompt
    model_name: str = "human"
    model_config = ConfigDict(arbitrary_types_allowed=True)
    # Set by /close until the session closes: every later turn keeps asking to close, as the
    # graph reads the signal of the latest counselor turn.
    _closing: bool = PrivateAttr(default=False)
    # Set by /risk for the next answer only: the person's own reading of the client's words.
    _risk: str = PrivateAttr(default="none")
    _cue: str = PrivateAttr(default="")

    @property
    def _llm_type(self) -> str:
        return "muspsy-human"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("a person answers asynchronously: use ainvoke")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        name, schema = requested_schema(kwargs)
        answer = await self._answer(name, schema, messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=json.dumps(answer)))])

    async def _answer(self, name: str, schema: dict[str, Any], messages: Sequence[BaseMessage]) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        answer: dict[str, Any] = {}
        closing = name in ("ClosingOutput", "TerminationOutput")  # the last close of the course too
        if name == "OpeningOutput" or closing:
            self._closing = False
        elif self._closing:
            self.terminal.say("(the session closes once it has its minimum of turns: one more turn from you)")
        if name in CRISIS_STEPS:
            self.terminal.say(f"(crisis protocol: {CRISIS_STEPS[name]}; /risk LEVEL with each answer)")
        if "text" in properties:
            prompt = "closing words> " if closing else "counselor> "
            text, wants_close = await self._line(prompt, messages, properties["text"])
            answer["text"] = text
            if "ready_to_close" in properties:
                self._closing = self._closing or wants_close
                answer["ready_to_close"] = self._closing
        if "assessed_risk" in properties:
            answer["assessed_risk"], self._risk = self._risk, "none"
            answer["risk_cue"], self._cue = self._cue, ""
        for field, spec in properties.items():
            if field in answer:
                continue
            answer[field] = await self._field(field, _resolve(spec, schema))
        return answer

    async def _line(self, prompt: str, messages: Sequence[BaseMessage], spec: dict[str, Any]) -> tuple[str, bool]:
        """The person's utterance; commands are handled here and the prompt shown again."""
        while True:
            text, wants_close = await self._command_or_text(prompt, messages)
            low, high = int(spec.get("minLength", 1)), int(spec.get("maxLength", 10_000))
            if low <= len(text) <= high:
                return text, wants_close
            self.terminal.say(f"(say it in {low} to {high} characters)")

    async def _command_or_text(self, prompt: str, messages: Sequence[BaseMessage]) -> tuple[str, bool]:
        while True:
            line = (await self.terminal.ask(prompt)).strip()
            command, _, rest = line.partition(" ")
            if command == "/quit":
                raise PlayerQuit
            if command == "/help":
                self.terminal.say(HELP)
            elif command == "/see":
                self.terminal.say(_system_text(messages))
            elif command == "/hint":
                if self.hint is None:
                    self.terminal.say("(no supervisor to ask)")
                else:
                    self.terminal.say(f"supervisor: {await self.hint(messages)}")
            elif command == "/risk":
                levels = list(get_args(TurnRisk))
                level, _, quote = rest.strip().partition(" ")
                if level not in levels:
                    self.terminal.say(f"(/risk takes one of: {', '.join(levels)})")
                elif level != "none" and not quote.strip():
                    self.terminal.say("(quote the client's words that show it: /risk LEVEL WORDS)")
                else:
                    self._risk, self._cue = level, quote.strip()
                    self.terminal.say(f"(noted: risk {self._risk}, sent with your next line)")
            elif command == "/close":
                if rest.strip():
                    return rest.strip(), True
                self.terminal.say("(type what you say before closing: /close TEXT)")
            elif line.startswith("/"):
                self.terminal.say(f"unknown command {command}; /help lists them")
            elif line:
                return line, False

    async def _field(self, field: str, spec: dict[str, Any]) -> Any:
        """A value for one non-text field: its default, else a short question."""
        if "default" in spec:
            return spec["default"]
        label = field.replace("_", " ")
        note = f" ({spec['description']})" if spec.get("description") else ""
        choices = _choices(spec)
        if choices:
            while True:
                reply = (await self.terminal.ask(f"{label}{note} [{'/'.join(choices)}]: ")).strip()
                if reply in choices:
                    return reply
                if not reply:  # the mildest choice: the first listed
                    return choices[0]
                self.terminal.say(f"one of: {', '.join(choices)}")
        kind = spec.get("type")
        if kind == "boolean":
            return (await self.terminal.ask(f"{label}{note}? [y/N]: ")).strip().lower().startswith("y")
        if kind == "integer":
            low = int(spec.get("minimum", 0))
            reply = (await self.terminal.ask(f"{label}{note} [{low}-{spec.get('maximum', '')}]: ")).strip()
            return int(reply) if reply.lstrip("-").isdigit() else low
        if kind == "array":
            self.terminal.say(f"{label}{note}: one per line, an empty line to finish")
            items: list[str] = []
            limit = int(spec.get("maxItems", 5))
            while len(items) < limit:
                reply = (await self.terminal.ask("  - ")).strip()
                if not reply:
                    break
                items.append(reply)
            return items
        return (await self.terminal.ask(f"{label}{note}: ")).strip()


def requested_schema(options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, JSON schema) the caller asked for, from its request-body options."""
    options = {**options, **options.get("extra_body", {})}
    fmt = options.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt["json_schema"]["name"], fmt["json_schema"].get("schema", {})
    tools = options.get("tools")
    if tools:
        function = tools[0]["function"]
        return function["name"], function.get("parameters", {})
    return "text", {"properties": {"text": {"type": "string"}}}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A property with its `$ref` (enums, nested types) looked up in the schema's `$defs`."""
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {
            **schema.get("$defs", {}).get(ref.rsplit("/", 1)[1], {}),
            **{k: v for k, v in spec.items() if k != "$ref"},
        }
    return spec


def _choices(spec: dict[str, Any]) -> list[str]:
    if "enum" in spec:
        return [str(v) for v in spec["enum"]]
    options = spec.get("anyOf") or []
    return [str(v) for option in options for v in option.get("enum", [option.get("const")]) if v is not None]


def _system_text(messages: Sequence[BaseMessage]) -> str:
    system = [m for m in messages if m.type == "system"]
    text = "\n\n".join(str(m.content) for m in system) or "(no system prompt)"
    return f"--- what the counselor may see ---\n{text}\n--- end ---"


class StdioTerminal:
    """Standard input for the person's lines, standard error for everything shown."""

    def __init__(self, say: Callable[[str], None], read: Callable[[], str]) -> None:
        self._say, self._read = say, read

    async def ask(self, prompt: str) -> str:
        self._say(prompt)
        # Reading blocks: off the event loop, in a daemon thread, so that Ctrl-C ends the
        # process at once (an executor thread would keep it waiting for one more line).
        loop = asyncio.get_running_loop()
        typed: asyncio.Future[str] = loop.create_future()

        def deliver(line: str) -> None:
            if not typed.done():
                typed.set_result(line)

        def read() -> None:
            line = self._read()
            with contextlib.suppress(RuntimeError):  # the loop is gone: the person stopped
                loop.call_soon_threadsafe(deliver, line)

        threading.Thread(target=read, daemon=True, name="muspsy-play-input").start()
        line = await typed
        if not line:  # end of input
            raise PlayerQuit
        return line.rstrip("\n")

    def say(self, text: str) -> None:
        self._say(text + "\n")
