"""The counselor: opens each session (following up the homework), talks, and closes with
homework. It sees only what a counselor would have (see `muspsy.views`).

Risk is noticed, not announced: every turn that answers the client (dialogue, crisis and
close) carries the counselor's own `assessed_risk` of the client's last words. The session
enters the crisis protocol (`muspsy.agents.crisis`) because the counselor noticed risk; the
client's own label is hidden ground truth, used only to measure detection
(`muspsy.evaluation.risk`). After a session with a safety plan, the opening starts with a risk
check and a review of the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from muspsy import views, views_crisis
from muspsy.agents.base import Agent
from muspsy.agents.outputs import ClosingOutput, CounselorTurnOutput, OpeningOutput
from muspsy.agents.session_ops import with_counselor_turn, with_turn
from muspsy.agents.spec import Strategy
from muspsy.crisis import protocol_due
from muspsy.graphs.state import ArcState, CurrentSession
from muspsy.records import Memo


@dataclass(frozen=True)
class Counselor:
    agent: Agent
    strategy: Strategy

    def _system(self, state: ArcState) -> dict[str, str]:
        return views.counselor_system(state, self.strategy, self.agent.spec.settings.earlier_memos)

    def _task(self, state: ArcState) -> dict[str, str]:
        return views.counselor_task(state, self.agent.spec.settings.recent_turns)

    async def open(self, state: ArcState) -> dict[str, Any]:
        """Start a new session and say its first words."""
        history = state.get("history", [])
        reviewed = Memo.model_validate(history[-1]["memo"]).counseling_assignments if history else []
        session: CurrentSession = {
            "index": len(history) + 1,
            "goal": state["next_goal"],
            "client_state": state["client_state"],
            "homework_reviewed": reviewed,
            "turns": [],
            "ready_to_close": False,
            "crisis": False,
            "homework_given": [],
            # Crisis follow-up: the safety plan the opening reviews.
            "safety_plan_reviewed": state.get("safety_plan"),
        }
        state = {**state, "session": session}
        out, usage = await self.agent.ask(
            OpeningOutput, "open", views.counselor_open(state), state, self._system(state)
        )
        return {"session": with_turn(session, "counselor", out.text, "open"), "usage": usage}

    async def turn(self, state: ArcState) -> dict[str, Any]:
        out, usage = await self.agent.ask(CounselorTurnOutput, "turn", self._task(state), state, self._system(state))
        session = with_counselor_turn(
            state["session"], out.text, "dialogue", out.assessed_risk, ready_to_close=out.ready_to_close
        )
        return {"session": session, "usage": usage}

    async def close(self, state: ArcState) -> dict[str, Any]:
        task = self._task(state)
        del task["turns_left"]
        task["safety_note"] = views_crisis.closing_safety_note(state)
        out, usage = await self.agent.ask(ClosingOutput, "close", task, state, self._system(state))
        if protocol_due(state["session"], out.assessed_risk):
            # The cap makes room: risk noticed at the close (a disclosure on the last allowed
            # turn) is answered, and the crisis protocol runs before the session closes.
            asked = with_counselor_turn(
                state["session"], out.text, "crisis", out.assessed_risk, technique="ask_directly"
            )
            return {"session": asked, "usage": usage}
        session = with_counselor_turn(
            state["session"], out.text, "close", out.assessed_risk, homework_given=list(out.homework)
        )
        return {"session": session, "usage": usage}
