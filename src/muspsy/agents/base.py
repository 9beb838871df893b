"""What every agent does: render its templates from a view, make one structured call, and
report usage for the arc's accounting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from muspsy.agents.spec import AgentSpec
from muspsy.events import EventLog
from muspsy.graphs.state import ArcState, add_usage
from muspsy.llm import RoleModel, call_structured, format_hint
from muspsy.promptlog import PromptLog

T = TypeVar("T", bound=BaseModel)
DIALOGUE_TEMPLATES = frozenset({"open", "turn", "crisis_screen", "crisis_safety_plan", "crisis_action", "close"})


@dataclass(frozen=True)
class Agent:
    spec: AgentSpec
    model: RoleModel
    events: EventLog
    retries: int
    prompts: PromptLog | None = None

    def messages(
        self, template: str, task: dict[str, str], schema: type[BaseModel], system: dict[str, str] | None
    ) -> list[BaseMessage]:
        prompt = self.spec.template(template).render({**task, "response_format": format_hint(schema)})
        if system is None:
            return [HumanMessage(prompt)]
        return [SystemMessage(self.spec.template("system").render(system)), HumanMessage(prompt)]

    async def ask(
        self,
        schema: type[T],
        template: str,
        task: dict[str, str],
        state: ArcState,
        system: dict[str, str] | None = None,
        session_index: int | None = None,
    ) -> tuple[T, dict[str, dict[str, float]]]:
        """One LLM call; returns the parsed output and the arc's new usage totals.

        `session_index` names the session in the events when the state's `session` is not yet
        the one the call belongs to (the questionnaires before a session opens).
        """
        session = state.get("session")
        if session_index is None and session:
            session_index = session["index"]
        context: dict[str, Any] = {
            "run": state["run_id"],
            "arc": state["arc_id"],
            "session": session_index,
            "turn": len(session["turns"]) + 1 if session and template in DIALOGUE_TEMPLATES else None,
            "role": self.spec.role,
            "node": template,
        }
        # Where the arc is, before the call that may take minutes: progress and failures name it.
        self.events.emit("llm_call_started", **context)
        result = await call_structured(
            self.model,
            schema,
            self.messages(template, task, schema, system),
            retries=self.retries,
            events=self.events,
            context=context,
            prompts=self.prompts,
        )
        delta: dict[str, dict[str, float]] = {
            self.spec.role: {
                "calls": result.retries + 1,
                "retries": result.retries,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "llm_seconds": round(result.seconds, 4),
            }
        }
        return result.output, add_usage(state.get("usage", {}), delta)
