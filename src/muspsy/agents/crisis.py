"""The counselor's crisis protocol: risk screening, safety planning and carrying out the
disposition, one LLM call per node; `dispose` and `start` are code.

The protocol starts because the counselor noticed risk in the client's words (its own
`assessed_risk`), never because of the client's hidden label. The risk assessment is built from
the counselor's structured answers about what the client said (`RiskScreenOutput`), and the
disposition is set by code from that assessment (`muspsy.crisis.disposition`); the model cannot
choose it. Turns here are `kind: crisis` with a technique from the protocol file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from muspsy import views_crisis
from muspsy.agents.base import Agent
from muspsy.agents.counselor import Counselor
from muspsy.agents.outputs import CrisisActionOutput, RiskScreenOutput, SafetyPlanOutput
from muspsy.agents.session_ops import with_counselor_turn
from muspsy.crisis import (
    CrisisProtocol,
    disposition,
    load_protocol,
    merge_findings,
    merge_plan,
    most_severe,
    steps_missing,
)
from muspsy.graphs.state import ArcState, CurrentSession
from muspsy.records import SAFETY_PLAN_STEPS, RiskAssessment, SafetyPlan

CrisisTurn = RiskScreenOutput | SafetyPlanOutput | CrisisActionOutput


@dataclass(frozen=True)
class CrisisCounselor:
    """The counselor in its crisis protocol: same model, same system prompt as `counselor`."""

    counselor: Counselor
    protocol: CrisisProtocol = field(default_factory=load_protocol)

    @property
    def agent(self) -> Agent:
        return self.counselor.agent

    def _system(self, state: ArcState) -> dict[str, str]:
        return self.counselor._system(state)  # one system prompt for every counselor turn

    @property
    def _recent(self) -> int:
        return self.agent.spec.settings.recent_turns

    def start(self, state: ArcState) -> dict[str, Any]:
        """A new run of the protocol: count it; the safety plan starts from the last one agreed."""
        session = state["session"]
        plan = session.get("safety_plan") or state.get("safety_plan")
        started: CurrentSession = {
            **session,
            "protocol_runs": session.get("protocol_runs", 0) + 1,
            "protocol_turns": 0,
            "safety_plan": plan,
        }
        return {"session": started}

    async def screen(self, state: ArcState) -> dict[str, Any]:
        """Ask the screener's next items; record what the client's words have answered."""
        task = views_crisis.crisis_screen(state, self.protocol, self._recent)
        out, usage = await self.agent.ask(RiskScreenOutput, "crisis_screen", task, state, self._system(state))
        session = state["session"]
        current = session.get("risk_assessment")
        findings = out.model_dump(exclude={"risk_cue", "assessed_risk", "text"})
        assessment = merge_findings(
            RiskAssessment.model_validate(current) if current else None, findings, len(session["turns"]) + 1
        )
        updated = _crisis_turn(session, out, "risk_screening", risk_assessment=assessment.model_dump())
        return {"session": updated, "usage": usage}

    def screening_done(self, session: CurrentSession) -> bool:
        assessment = session.get("risk_assessment") or {}
        return bool(assessment.get("complete")) or session.get("protocol_turns", 0) >= (
            self.protocol.limits.assessment_turns
        )

    def dispose(self, state: ArcState) -> dict[str, Any]:
        """Code, not the model: the disposition from the assessment (the most severe this session)."""
        session = state["session"]
        found = disposition(RiskAssessment.model_validate(session["risk_assessment"]))
        chosen = most_severe([session.get("disposition"), found])
        return {"session": {**session, "disposition": chosen, "protocol_turns": 0}}

    async def plan(self, state: ArcState) -> dict[str, Any]:
        """Build (or review) the safety plan with the client, a step or two per turn."""
        task = views_crisis.crisis_safety_plan(state, self.protocol, self._recent)
        out, usage = await self.agent.ask(SafetyPlanOutput, "crisis_safety_plan", task, state, self._system(state))
        session = state["session"]
        current = session.get("safety_plan")
        entries = {step: getattr(out, step) for step in SAFETY_PLAN_STEPS}
        plan = merge_plan(SafetyPlan.model_validate(current) if current else None, entries, session["index"])
        updated = _crisis_turn(session, out, "safety_planning", safety_plan=plan.model_dump())
        return {"session": updated, "safety_plan": plan.model_dump(), "usage": usage}

    def planning_done(self, session: CurrentSession) -> bool:
        plan = session.get("safety_plan")
        turns = session.get("protocol_turns", 0)
        complete = not steps_missing(SafetyPlan.model_validate(plan) if plan else None)
        return turns >= self.protocol.limits.safety_plan_turns or (turns >= 1 and complete)

    async def act(self, state: ArcState) -> dict[str, Any]:
        """Carry out the disposition: closer follow-up, an urgent referral, or emergency steps."""
        task = views_crisis.crisis_action(state, self.protocol, self._recent)
        out, usage = await self.agent.ask(CrisisActionOutput, "crisis_action", task, state, self._system(state))
        session = state["session"]
        chosen = session.get("disposition") or "continue_with_safety_plan"
        updated = _crisis_turn(session, out, self.protocol.dispositions[chosen].technique)
        return {"session": updated, "usage": usage}


def _crisis_turn(session: CurrentSession, out: CrisisTurn, technique: str, **changes: Any) -> CurrentSession:
    """One more crisis turn of the counselor, counted against the current step's turn limit."""
    return with_counselor_turn(
        session,
        out.text,
        "crisis",
        out.assessed_risk,
        out.risk_cue,
        technique=technique,
        ready_to_close=False,
        protocol_turns=session.get("protocol_turns", 0) + 1,
        **changes,
    )
