"""The counselor: opens each session, talks, and closes it, following its strategy's protocol
(`muspsy.agents.protocol`): every turn names its phase and technique, the homework is reviewed
only where the protocol reviews it, and the close sets homework by the protocol's policy; the
termination session of a scheduled ending closes with a progress review and a
relapse-prevention plan instead. It sees only what a counselor would have (see `muspsy.views`).
Its strategy is the arc state's current one, looked up in the graph's catalog, so a switch the
clinical supervisor made after a session holds from the next session on.

Risk is noticed, not announced: every turn that answers the client (dialogue, crisis and
close) carries the counselor's own `assessed_risk` of the client's last words. The session
enters the crisis protocol (`muspsy.agents.crisis`) because the counselor noticed risk; the
client's own label is hidden ground truth, used only to measure detection
(`muspsy.evaluation.risk`). After a session with a safety plan, the opening starts with a risk
check and a review of the plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from muspsy import views, views_crisis, views_protocol
from muspsy.agents import protocol
from muspsy.agents.base import Agent
from muspsy.agents.session_ops import grounded_risk, with_counselor_turn, with_turn
from muspsy.agents.spec import Strategy
from muspsy.crisis import protocol_due
from muspsy.graphs.state import ArcState, CurrentSession
from muspsy.records import Memo


@dataclass(frozen=True)
class Counselor:
    agent: Agent
    strategies: Mapping[str, Strategy]  # the catalog; `state["strategy"]` names the current one

    def strategy_for(self, state: ArcState) -> Strategy:
        return self.strategies[state["strategy"]]

    def _system(self, state: ArcState) -> dict[str, str]:
        return views.counselor_system(state, self.strategy_for(state), self.agent.spec.settings.earlier_memos)

    def _task(self, state: ArcState) -> dict[str, str]:
        return views.counselor_task(state, self.agent.spec.settings.recent_turns)

    async def open(self, state: ArcState) -> dict[str, Any]:
        """Start a new session and say its first words."""
        history = state.get("history", [])
        strategy = self.strategy_for(state)
        # The memo's assignments, when the last close gave homework and the protocol reviews it.
        gave = bool(history and history[-1].get("homework_given"))
        assigned = Memo.model_validate(history[-1]["memo"]).counseling_assignments if gave else []
        session: CurrentSession = {
            "index": len(history) + 1,
            "goal": state["next_goal"],
            "client_state": state["client_state"],
            "homework_reviewed": protocol.homework_to_review(assigned, strategy),
            "turns": [],
            "ready_to_close": False,
            "crisis": False,
            "homework_given": [],
            "strategy": state["strategy"],
            "termination": is_termination(state, len(history) + 1),
            "relapse_prevention": [],
            # Crisis follow-up: the safety plan the opening reviews.
            "safety_plan_reviewed": state.get("safety_plan"),
        }
        state = {**state, "session": session}
        task = {**views.counselor_open(state), **views_protocol.opening(session, strategy)}
        out: Any
        out, usage = await self.agent.ask(protocol.schema(strategy, "open"), "open", task, state, self._system(state))
        opened = with_turn(session, "counselor", out.text, "open")
        return {"session": protocol.labelled(opened, strategy.opening.name, out.technique), "usage": usage}

    async def turn(self, state: ArcState) -> dict[str, Any]:
        strategy = self.strategy_for(state)
        task = {**self._task(state), **views_protocol.dialogue_turn(state["session"], strategy)}
        out: Any
        out, usage = await self.agent.ask(protocol.schema(strategy, "turn"), "turn", task, state, self._system(state))
        phase = protocol.forward_phase(state["session"], strategy, out.phase)
        session = with_counselor_turn(
            state["session"], out.text, "dialogue", out.assessed_risk, out.risk_cue, ready_to_close=out.ready_to_close
        )
        return {"session": protocol.labelled(session, phase, out.technique), "usage": usage}

    async def close(self, state: ArcState) -> dict[str, Any]:
        strategy = self.strategy_for(state)
        task = self._task(state)
        del task["turns_left"]
        task["safety_note"] = views_crisis.closing_safety_note(state)
        task.update(views_protocol.closing(strategy))
        termination = bool(state["session"].get("termination"))
        out: Any
        if termination:
            # The last close of the course: progress review and relapse prevention, no homework.
            del task["homework_task"]
            schema = protocol.schema(strategy, "terminate")
            out, usage = await self.agent.ask(schema, "terminate", task, state, self._system(state))
        else:
            out, usage = await self.agent.ask(
                protocol.schema(strategy, "close"), "close", task, state, self._system(state)
            )
        if protocol_due(state["session"], grounded_risk(state["session"], out.assessed_risk, out.risk_cue)):
            # The cap makes room: risk noticed at the close (a disclosure on the last allowed
            # turn) is answered, and the crisis protocol runs before the session closes.
            asked = with_counselor_turn(
                state["session"], out.text, "crisis", out.assessed_risk, out.risk_cue, technique="ask_directly"
            )
            return {"session": asked, "usage": usage}
        # A protocol without homework has no field for it.
        changes = (
            {"relapse_prevention": list(out.relapse_prevention)}
            if termination
            else {"homework_given": list(getattr(out, "homework", []))}
        )
        session = with_counselor_turn(state["session"], out.text, "close", out.assessed_risk, out.risk_cue, **changes)
        return {"session": protocol.labelled(session, strategy.closing.name, out.technique), "usage": usage}


def is_termination(state: ArcState, index: int) -> bool:
    """Whether session `index` is the termination session of the arc's scheduled ending."""
    return (state.get("ending") or {}).get("at") == index
