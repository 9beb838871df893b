"""The clinical supervisor (counselor side of the one-way mirror): drafts the treatment plan
from the intake, writes the memo after every session (MusPsy's memory task: transcript and
earlier memories -> memory), and proposes whether the arc goes on. It sees only what the
counselor learned (`muspsy.views`), plus the questionnaire scores with measurement-based care.
Code, not the model, has the last word on when an arc ends: the crisis rule ends an arc whose
crisis protocol ended in an urgent referral (`referral`) or an emergency (`crisis`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from muspsy import views
from muspsy.agents.base import Agent
from muspsy.agents.client import initial_state
from muspsy.agents.outputs import DecisionOutput, MemoOutput, PlanOutput
from muspsy.agents.spec import Strategy
from muspsy.crisis import crisis_fields
from muspsy.graphs.state import ArcState, Limits
from muspsy.records import ArcDecision, ClientProfile, Disposition, EndReason, Memo, SessionRecord, TreatmentPlan

CRISIS_ENDINGS: dict[str, tuple[EndReason, str]] = {
    "urgent_referral": ("referral", "crisis rule: the risk assessment calls for an urgent referral"),
    "emergency": ("crisis", "crisis rule: the risk assessment calls for emergency care"),
}


def enforce(proposal: DecisionOutput, completed: int, limits: Limits, disposition: Disposition | None) -> ArcDecision:
    """Apply the rules no model may break: crisis first, then the session limits."""
    proposed_reason = None if proposal.end_reason == "none" else proposal.end_reason
    action, reason, override = proposal.action, proposed_reason, None
    if action == "end" and reason is None:
        reason = "goals_met"
    if action == "continue":
        reason = None
    if disposition in CRISIS_ENDINGS:  # whatever sessions_min says
        action = "end"
        reason, override = CRISIS_ENDINGS[disposition]
    elif completed < limits["sessions_min"] and action == "end":
        action, reason, override = "continue", None, f"sessions_min: only {completed} of {limits['sessions_min']} held"
    elif completed >= limits["sessions_max"] and action == "continue":
        action, reason, override = "end", "max_sessions", f"sessions_max: {limits['sessions_max']} held"
    if override and (action, reason) == (proposal.action, proposed_reason):
        override = None
    return ArcDecision(
        proposed_action=proposal.action,
        proposed_end_reason=proposed_reason,
        action=action,
        end_reason=reason,
        rationale=proposal.rationale,
        overridden_by=override,
    )


@dataclass(frozen=True)
class Supervisor:
    agent: Agent
    strategy: Strategy

    def _system(self, state: ArcState) -> dict[str, str]:
        return views.supervisor_system(state, self.strategy)

    async def plan(self, state: ArcState) -> dict[str, Any]:
        out, usage = await self.agent.ask(PlanOutput, "plan", views.supervisor_plan(state), state, self._system(state))
        plan = TreatmentPlan.model_validate(out.model_dump())
        profile = ClientProfile.model_validate(state["profile"])
        return {
            "plan": plan.model_dump(),
            "next_goal": plan.first_session_goal,
            "client_state": initial_state(profile).model_dump(),
            "client_memories": [],
            "sessions": [],
            "history": [],
            "usage": usage,
        }

    async def memo(self, state: ArcState) -> dict[str, Any]:
        out, usage = await self.agent.ask(
            MemoOutput,
            "memo",
            views.supervisor_memo(state, self.agent.spec.settings.earlier_memos),
            state,
            self._system(state),
        )
        session = state["session"]
        record = SessionRecord(
            index=session["index"],
            goal=session["goal"],
            client_state=session["client_state"],
            homework_reviewed=session["homework_reviewed"],
            turns=session["turns"],
            homework_given=session["homework_given"],
            crisis=session["crisis"],
            end_reason="counselor_closed" if session["ready_to_close"] else "turn_cap",
            memo=Memo.model_validate(out.model_dump()),
            **state.get("reports", {}),
            **crisis_fields(session),
        )
        compact = {"index": record.index, "memo": record.memo.model_dump(), "homework_given": record.homework_given}
        return {
            "sessions": [*state.get("sessions", []), record.model_dump()],
            "history": [*state.get("history", []), compact],
            "usage": usage,
        }

    async def decide(self, state: ArcState) -> dict[str, Any]:
        out, usage = await self.agent.ask(
            DecisionOutput, "decide", views.supervisor_decide(state), state, self._system(state)
        )
        sessions = state["sessions"]
        decision = enforce(out, len(sessions), state["limits"], sessions[-1].get("disposition"))
        last = {**sessions[-1], "decision": decision.model_dump()}
        update: dict[str, Any] = {
            "sessions": [*sessions[:-1], last],
            "next_goal": last["memo"]["next_session_goal"],
            "usage": usage,
        }
        if decision.action == "end":
            assert decision.end_reason is not None
            update["outcome"] = {
                "end_reason": decision.end_reason,
                "sessions": len(sessions),
                "rationale": decision.overridden_by or decision.rationale,
            }
        return update
