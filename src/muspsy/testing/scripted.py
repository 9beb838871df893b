"""A deterministic, instant chat model that speaks muspsy's structured outputs.

`ScriptedChatModel` is a real LangChain `BaseChatModel`: it goes through the same
`with_structured_output` path as a remote model, returns usage metadata, and fails loudly when
a reply queue runs out (LangChain's fake models silently cycle). Users can drive it with their
own replies in their tests, or with `default_responder`, which plays every role plausibly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, PrivateAttr

from muspsy.agents.spec import Strategy
from muspsy.llm import RoleModel
from muspsy.records import ROLES, Role
from muspsy.testing import scripted_crisis, scripted_protocol, scripted_supervision
from muspsy.testing.judge_replies import judge_reply
from muspsy.testing.scripted_crisis import RISK_RESPONSE, risk_reading
from muspsy.testing.scripted_protocol import items_under, strategy_in
from muspsy.testing.scripted_protocol import strategies as _strategies
from muspsy.views import ATTITUDE_NOTES

# A responder gets the schema name asked for and the prompt, and returns the tool arguments
# (a dict) or a raw string (to simulate malformed output).
Responder = Callable[[str, Sequence[BaseMessage]], "dict[str, Any] | str"]


class ScriptExhausted(RuntimeError):
    """A scripted model was asked for more replies than it was given."""


class ScriptedChatModel(BaseChatModel):
    """Answers every structured call with what its responder returns."""

    responder: Responder
    model_name: str = "scripted"
    model_config = ConfigDict(arbitrary_types_allowed=True)
    _calls: list[tuple[str, list[BaseMessage]]] = PrivateAttr(default_factory=list)

    @classmethod
    def from_replies(cls, replies: Sequence[dict[str, Any] | str]) -> ScriptedChatModel:
        """Replay `replies` in order, whatever is asked; raise `ScriptExhausted` after the last."""
        queue: Iterator[dict[str, Any] | str] = iter(list(replies))

        def next_reply(schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | str:
            try:
                return next(queue)
            except StopIteration:
                raise ScriptExhausted(f"scripted model ran out of replies (asked for {schema})") from None

        return cls(responder=next_reply)

    @property
    def calls(self) -> list[tuple[str, list[BaseMessage]]]:
        """Every (schema name, messages) this model was asked, in order."""
        return self._calls

    @property
    def _llm_type(self) -> str:
        return "muspsy-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[Any, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(tool) for tool in tools], **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._reply(messages, kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._reply(messages, kwargs)

    def _reply(self, messages: list[BaseMessage], options: dict[str, Any]) -> ChatResult:
        """Answer like an OpenAI-compatible server: JSON content for a `response_format` JSON
        schema, a tool call for `tools`, whether sent as parameters or as raw body fields."""
        options = {**options, **options.get("extra_body", {})}
        fmt = options.get("response_format")
        tools = options.get("tools")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            schema, as_tool = fmt["json_schema"]["name"], False
        elif tools:
            schema, as_tool = tools[0]["function"]["name"], True
        else:
            schema, as_tool = "text", False
        self._calls.append((schema, list(messages)))
        reply = self.responder(schema, messages)
        content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        if not as_tool:
            message = AIMessage(content=content)
        elif isinstance(reply, str):
            invalid = {"name": schema, "args": reply, "id": "call_0", "error": "malformed", "type": "invalid_tool_call"}
            message = AIMessage(content="", invalid_tool_calls=[invalid])
        else:
            message = AIMessage(
                content="", tool_calls=[{"name": schema, "args": reply, "id": "call_0", "type": "tool_call"}]
            )
        prompt_tokens = sum(len(str(m.content).split()) for m in messages)
        message.usage_metadata = {
            "input_tokens": prompt_tokens,
            "output_tokens": len(content.split()),
            "total_tokens": prompt_tokens + len(content.split()),
        }
        return ChatResult(generations=[ChatGeneration(message=message)])


TURN_MARK = re.compile(r"Session (\d+), turn (\d+)")


def _position(messages: Sequence[BaseMessage]) -> tuple[int, int]:
    match = TURN_MARK.search(str(messages[-1].content))
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _section_items(messages: Sequence[BaseMessage], heading: str) -> list[str]:
    """The `- ` lines under a `heading` line of the prompt (views write lists this way)."""
    return items_under("\n".join(str(m.content) for m in messages), heading)


COUNSELOR_LINES = [
    "Thank you for telling me that. What goes through your mind when it happens?",
    "It sounds like that has been weighing on you. How does it affect your days?",
    "Let's slow down on that moment. What did you feel, and what did you do next?",
    "You have noticed something important there. What would you like to be different?",
    "That makes sense given what you have been through. What has helped, even a little?",
    "If we looked at that thought together, what evidence would you find for and against it?",
]
CLIENT_LINES = [
    "Honestly, it has been a hard few weeks and I am not sure where to start.",
    "Mostly at night. I lie awake and replay everything that went wrong.",
    "I guess I pull back from people. It feels easier than explaining myself.",
    "I would like to feel less on edge, and to sleep through the night again.",
    "Talking to my sister helps sometimes, when I let myself call her.",
    "I have not really looked at it that way before. I can try.",
]
HOMEWORK = [
    "Write down one upsetting thought each day, with the evidence for and against it",
    "Take a ten-minute walk on three days and note your mood before and after",
    "Plan one small activity you used to enjoy and do it before next session",
]


STATE_NUMBER = {
    "severity": re.compile(r"Distress \(0-10\): (\d+(?:\.\d+)?)"),
    "alliance": re.compile(r"Trust in the counselor \(1-5\): (\d+(?:\.\d+)?)"),
}
RISK_LEVEL = re.compile(r"Risk of self-harm: (none|low|moderate|high|imminent)")
# PHQ-9 item 9 (thoughts of death or self-harm) by the profile's risk level.
DEATH_THOUGHTS = {"none": 0, "low": 0, "moderate": 1, "high": 1, "imminent": 2}


def _state_number(prompt: str, key: str, default: float) -> float:
    match = STATE_NUMBER[key].search(prompt)
    return float(match.group(1)) if match else default


def _spread(total: int, items: int, high: int) -> list[int]:
    """`total` spread as evenly as possible over `items` answers of at most `high`."""
    total = max(0, min(total, items * high))
    return [total // items + (1 if i < total % items else 0) for i in range(items)]


def _symptom_answers(prompt: str) -> dict[str, list[int]]:
    # Answers follow the client's distress (0-10) in the prompt, so they fall as an arc
    # makes progress; item 9 follows the profile's risk level and rises with high distress.
    severity = _state_number(prompt, "severity", 5)
    match = RISK_LEVEL.search(prompt)
    level = match.group(1) if match else "none"
    item9 = min(3, DEATH_THOUGHTS[level] + (1 if level != "none" and severity >= 7 else 0))
    phq = round(severity * 2.5)
    return {"phq9": [*_spread(phq - item9, 8, 3), item9], "gad7": _spread(round(severity * 2.0), 7, 3)}


def _alliance_answers(prompt: str) -> list[int]:
    # Answers follow the client's felt alliance (1-5), so they rise as trust grows; the bond
    # items (3, 5, 7, 9) run one point ahead once there is some trust, as is common early on.
    alliance = round(_state_number(prompt, "alliance", 2))
    bond = {3, 5, 7, 9}
    return [min(5, alliance + (1 if number in bond and alliance >= 2 else 0)) for number in range(1, 13)]


LEDGER_ITEM = re.compile(r"^- \[([a-z0-9][a-z0-9_-]*)\] ", re.MULTILINE)


def _ledger_ids(prompt: str, heading: str) -> list[str]:
    """The ids of the unlocked items listed under `heading` in the client's system prompt."""
    _, found, rest = prompt.partition(heading)
    block = rest.split("\n\n", 1)[0] if found else ""
    return LEDGER_ITEM.findall(block)


def _client_turn(prompt: str, session: int, turn: int) -> dict[str, Any]:
    """A high-risk client reveals suicidal thoughts at turn 4 of session 1 (naming its first
    unlocked risk note); every client reveals the most recently unlocked private fact at turn 6.
    The words never quote the profile, so canary tests can tell disclosure from leakage."""
    risky = "Risk of self-harm: high" in prompt or "Risk of self-harm: imminent" in prompt
    risk_ids = _ledger_ids(prompt, "What you are ready to reveal about it:")
    fact_ids = _ledger_ids(prompt, "Private things you are ready to talk about")
    if risky and session == 1 and turn == 4:
        return {
            "text": "Some nights I think everyone would be better off if I were not here.",
            "risk": "active_ideation",
            "disclosed": risk_ids[:1],
        }
    if turn == 6 and fact_ids:
        return {
            "text": "There is something I have not told anyone yet, and it is hard to say out loud.",
            "risk": "none",
            "disclosed": fact_ids[-1:],
        }
    return {"text": CLIENT_LINES[(turn // 2 + session) % len(CLIENT_LINES)], "risk": "none", "disclosed": []}


COUNSELOR_SCHEMAS = frozenset({"OpeningOutput", "CounselorTurnOutput", "ClosingOutput", "TerminationOutput"})
CRISIS_TURNS: dict[str, Callable[[Sequence[BaseMessage]], dict[str, Any]]] = {
    "RiskScreenOutput": scripted_crisis.screen,
    "SafetyPlanOutput": scripted_crisis.safety_plan,
    "CrisisActionOutput": scripted_crisis.action,
}


def default_responder(schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """Play any muspsy role deterministically from the prompt alone."""
    judged = judge_reply(schema, messages)  # the evaluation judges' rubrics
    if judged is not None:
        return judged
    session, turn = _position(messages)
    prompt = "\n".join(str(m.content) for m in messages)
    if schema == "PlanOutput":
        return scripted_supervision.revised_plan(prompt) or {
            "case_conceptualization": "Distress is kept going by avoidance and harsh self-talk.",
            "goals": ["Understand what keeps the difficulties going", "Practise one coping skill weekly"],
            "stages": [
                {"name": "Assessment", "sessions": "1-2", "focus": "Build alliance and map the problem."},
                {"name": "Change", "sessions": "3-4", "focus": "Practise new responses between sessions."},
                {"name": "Consolidation", "sessions": "5-6", "focus": "Review gains and plan for setbacks."},
            ],
            "first_session_goal": "Build rapport and agree on what the client wants from counseling.",
        }
    # The counselor's calls follow the protocol of the strategy its system prompt describes.
    strategy = strategy_in(prompt) if schema in COUNSELOR_SCHEMAS else None
    if schema == "CounselorTurnOutput":
        noticed = risk_reading(messages)
        step = scripted_protocol.dialogue(strategy, messages, session, turn) if strategy else {"text": None}
        fallback = COUNSELOR_LINES[(turn // 2 + session) % len(COUNSELOR_LINES)]
        text = RISK_RESPONSE if noticed["assessed_risk"] != "none" else step["text"] or fallback
        return {**step, **noticed, "text": text, "ready_to_close": turn >= 7}
    if schema == "OpeningOutput" and strategy:
        risk_check = scripted_crisis.opening(messages, _section_items(messages, "Homework to review:")) or {}
        return {
            **scripted_protocol.opening(strategy, messages, session),
            **scripted_supervision.termination_opening(prompt),
            **risk_check,  # the risk check comes first
        }
    if schema == "OpeningOutput":
        opening = scripted_supervision.termination_opening(prompt)
        if opening:
            return opening
        homework = _section_items(messages, "Homework to review:")
        checked = scripted_crisis.opening(messages, homework)
        if checked:
            return checked
        if homework:
            text = f"Welcome back. Last time you planned to: {homework[0]}. How did that go?"
        else:
            text = "Welcome. I am glad you came. What would you like to talk about today?"
        return {"text": text}
    if schema in CRISIS_TURNS:
        return CRISIS_TURNS[schema](messages)
    if schema in ("ClosingOutput", "TerminationOutput") and strategy:
        noticed = risk_reading(messages)
        reply = {**scripted_protocol.closing(strategy, session), **noticed}
        if schema == "TerminationOutput":
            reply = {**scripted_supervision.termination_close(noticed), "technique": reply["technique"]}
        asked = scripted_crisis.closing_text(messages)  # new risk at the close: ask about it first
        return {**reply, "text": asked} if asked else reply
    if schema == "ClosingOutput":
        task = HOMEWORK[(session - 1) % len(HOMEWORK)]
        return {
            **risk_reading(messages),
            "text": scripted_crisis.closing_text(messages)
            or f"We are nearly at time. Before we meet again, could you {task.lower()}?",
            "homework": [task],
        }
    if schema == "ClientTurnOutput":
        return (
            scripted_crisis.client_reply(prompt, messages)
            or scripted_supervision.client_feedback(prompt, session, turn)
            or _client_turn(prompt, session, turn)
        )
    if schema == "TerminationOutput":
        return scripted_supervision.termination_close(risk_reading(messages))
    if schema == "MemoOutput":
        assigned = _section_items(messages, "Homework given at the end of the session:")
        return {
            "summary": f"Session {session}: explored the main difficulty and agreed a between-session task.",
            "emotion_and_cognitive_state": "Anxious and self-critical, but curious about change.",
            "counselor_observations": "Engaged more as the session went on; avoidance remains a theme.",
            "counseling_assignments": assigned or ["No between-session task was agreed"],
            "session_goal": "Understand the current difficulties and agree a first step.",
            "next_session_goal": f"Review the homework and deepen the work begun in session {session}.",
            "progress": scripted_supervision.memo_progress(prompt),
            "risk": scripted_crisis.memo_risk(prompt),
        }
    if schema == "DecisionOutput":
        risk_words = scripted_crisis.noticed_words(prompt)
        return {**scripted_supervision.review(prompt, session, risk_words), **scripted_crisis.decision(prompt)}
    if schema == "DirectorWeekOutput":
        return _director_week(prompt)
    if schema == "SymptomQuestionnairesOutput":
        return dict(_symptom_answers(prompt))
    if schema == "AppraisalOutput":
        return _appraisal(messages)
    if schema == "AllianceQuestionnaireOutput":
        return {**_appraisal(messages), "wai_sr": _alliance_answers(prompt)}
    if schema == "ExtractedProfileOutput":
        return _extracted_profile(prompt)
    if schema == "HintOutput":  # `muspsy play`: the supervisor's hint to a person in the counselor's chair
        return {"hint": "Reflect back the feeling you heard before you ask the next question."}
    raise ScriptExhausted(f"default_responder has no reply for schema {schema!r}")


def preload() -> None:
    """Read the strategy files the default responder plays from, so its first call does no file
    I/O (an event loop that forbids blocking calls, as `langgraph dev`'s, would refuse it)."""
    _strategies()
    strategy_in("")


def _marker_hits(text: str, strategies: Sequence[Strategy]) -> int:
    return sum(text.count(marker) for s in strategies if s.scripted for marker in s.scripted.markers)


REFLECTIONS = ("it sounds like", "you feel", "what i hear")


def _appraisal(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """The client's appraisal from what the counselor actually did: how often the counselor's
    lines show the techniques of approaches that help this client, and of those that put it off
    (the client's preferences are listed in the prompt, in the strategies' lay words)."""
    prompt = "\n".join(str(m.content) for m in messages)
    by_view = {s.client_view: s for s in _strategies() if s.client_view}
    helps = [by_view[item] for item in _section_items(messages, "What tends to help you:") if item in by_view]
    puts_off = [by_view[item] for item in _section_items(messages, "What tends to put you off:") if item in by_view]
    said = "\n".join(line.lower() for line in prompt.splitlines() if line.startswith("Counselor:"))
    good, bad = _marker_hits(said, helps), _marker_hits(said, puts_off)
    homework = " ".join(_section_items(messages, "Homework you were given:")).lower()
    reluctant = ATTITUDE_NOTES["negative"] in prompt
    accepted = bool(homework) and (
        _marker_hits(homework, helps) > 0 or (_marker_hits(homework, puts_off) == 0 and not reluctant)
    )
    # Feeling heard is a common factor: reflections help whatever the approach; a session full
    # of what puts the client off, with no reflection and nothing that helps, is a rupture.
    heard = sum(said.count(phrase) for phrase in REFLECTIONS)
    rupture = bad >= 4 and heard == 0 and good == 0

    def rating(value: int) -> int:
        return min(5, max(1, value))

    return {
        "felt_understood": rating(3 + (heard >= 1) + (good >= 3) - (bad >= 4 and heard == 0) - rupture),
        "goal_agreement": rating(3 + (good >= 2) - (bad >= 4)),
        "task_agreement": rating(3 + (good >= 2) + (good >= 4) - (bad >= 2) - (bad >= 4)),
        "rupture": rupture,
        "new_insight": good >= 3,
        "homework_accepted": accepted,
        "recollection": "The counselor really got what helps me, and I want to keep going."
        if good > bad
        else "It felt like we were not on the same page, and I am not sure it is for me."
        if bad > good
        else "We talked things through; I am still working out what I make of it.",
    }


WEEK_EVENTS = {
    "negative": "A row with someone close left a sour taste for days.",
    "neutral": "An errand-filled week with one unexpected phone call.",
    "positive": "An old friend got in touch and they met for coffee.",
}


def _director_week(prompt: str) -> dict[str, Any]:
    """The director's week narrated from the numbers code already decided."""
    valence = re.search(r"Something (negative|neutral|positive) happens", prompt)
    adherence = re.search(r"the homework was (done|partial|not done|not assigned) this week", prompt)
    change = re.search(r"Distress \(0-10\) goes from ([\d.]+) to ([\d.]+)", prompt)
    better = bool(change) and float(change.group(2)) < float(change.group(1))  # type: ignore[union-attr]
    event = WEEK_EVENTS[valence.group(1)] if valence else "A quiet week; nothing much happened."
    did = adherence.group(1) if adherence else "not assigned"
    return {
        "life_event": event,
        "emotion_state": "A little calmer, still worried." if better else "More on edge than last week.",
        "cognitive_state": "Starting to question some harsh thoughts."
        if better
        else "Doubts that anything will change.",
        "narrative": f"{event} The homework: {did}. "
        + ("Some days felt lighter." if better else "Most days felt heavy."),
    }


REPORT_START, REPORT_END = "----- case report -----", "----- end of case report -----"


def _extracted_profile(prompt: str) -> dict[str, Any]:
    """A plausible profile from the case report quoted in the prompt: its name, age and gender
    lines when it has them, its first sentence as the presenting problem."""
    report = prompt.partition(REPORT_START)[2].partition(REPORT_END)[0].strip()
    zh = len(re.findall(r"[\u4e00-\u9fff]", report)) > len(re.findall(r"[A-Za-z]+", report))
    lines = [line.strip().lstrip("#").strip() for line in report.splitlines() if line.strip()]
    facts = [line for line in lines[1:] if not re.match(r"^[^\s:\uff1a]{1,12}\s*[:\uff1a]", line)] or lines or ["-"]
    first = re.split(r"(?<=[.!?\u3002\uff01\uff1f])", facts[0])[0][:300]
    name = re.search(r"(?:Name|Pseudonym|\u59d3\u540d|\u5316\u540d)\s*[:\uff1a]\s*([^\s,\uff0c\u3002;]+)", report)
    age = re.search(r"(\d{1,3})\s*(?:\u5c81|-year-old| years old)", report)
    female = re.search(r"\b(she|her|woman|female)\b", report, re.IGNORECASE) or "\u5973" in report
    unknown = "\u672a\u8bf4\u660e" if zh else "not stated"
    return {
        "name": name.group(1) if name else ("\u6765\u8bbf\u8005" if zh else "Client"),
        "age": min(max(int(age.group(1)), 5), 110) if age else 35,
        "gender": ("\u5973" if female else "\u7537") if zh else ("female" if female else "male"),
        "culture": unknown,
        "occupation": unknown,
        "presenting_problem": first,
        "reason_for_counseling": first,
        "personality": unknown,
        "background": " ".join(facts[1:3])[:500] or first,
        "private_history": [{"fact": facts[-1][:300], "share_from_session": 2}] if len(facts) > 1 else [],
        "conversational_style": "plain",
        "attitude": "neutral",
        "risk_level": "low",
        "risk_notes": unknown,
        "emotion_state": first,
        "cognitive_state": unknown,
        "recent_life_events": [],
        "symptom_severity": 5,
    }


def scripted_models(responder: Responder = default_responder) -> dict[Role, RoleModel]:
    """One scripted model per role, each with its own call log, ready for `build_arc_graph`."""
    return {role: RoleModel(ScriptedChatModel(responder=responder), "scripted") for role in ROLES}
