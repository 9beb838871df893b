"""The clinical supervisor (counselor side of the one-way mirror): drafts the treatment plan
from the intake, writes the memo after every session (MusPsy's memory task: transcript and
earlier memories -> memory), and reviews the course after every session: goal attainment per
plan goal from what it may see (score trends only with measurement-based care) and one
proposal: continue, revise the plan, switch strategy (only when the run is `adaptive`),
schedule the ending some sessions ahead, or refer. It sees only what the counselor learned
(`muspsy.views`), plus the questionnaire scores with measurement-based care.

Code, not the model, has the last word (`enforce`): the crisis rule ends an arc whose crisis
protocol ended in an urgent referral (`referral`) or an emergency (`crisis`); a referral ends it
whatever `sessions_min` says, but only when it quotes something the client said; an ending is
never scheduled before `sessions_min` nor after `sessions_max`, and the last allowed session is
always a termination session; a switch needs `adaptive` and a known strategy. Every refusal is
recorded with its reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from muspsy import views, views_supervision
from muspsy.agents.base import Agent
from muspsy.agents.client import initial_state
from muspsy.agents.outputs import DecisionOutput, MemoOutput, PlanOutput
from muspsy.agents.plan_rules import fit_stages, plan_version
from muspsy.agents.session_ops import quotes_client
from muspsy.agents.spec import Strategy
from muspsy.crisis import crisis_fields
from muspsy.graphs.state import ArcState, Limits
from muspsy.records import (
    ArcDecision,
    ClientProfile,
    Disposition,
    EndReason,
    GoalReview,
    Memo,
    Proposal,
    SessionRecord,
    TreatmentPlan,
)

CRISIS_ENDINGS: dict[str, tuple[EndReason, str]] = {
    "urgent_referral": ("referral", "crisis rule: the risk assessment calls for an urgent referral"),
    "emergency": ("crisis", "crisis rule: the risk assessment calls for emergency care"),
}
TERMINATION_GOAL = (
    "Termination session: review the progress made on the plan's goals, consolidate what helped, and agree a "
    "relapse-prevention plan."
)


@dataclass(frozen=True)
class Course:
    """What `enforce` needs to know of the course beyond the session count."""

    adaptive: bool = False
    strategy: str | None = None  # the current strategy
    catalog: Sequence[str] = ()  # the strategies a switch may go to
    ending: Mapping[str, Any] | None = None  # the scheduled ending: {"at": session, "reason": ...}
    goals: Sequence[str] = ()  # the plan's goals, numbered from 1 in the review
    turns: Sequence[Mapping[str, Any]] = ()  # the course's turns so far: a referral must quote the client


def enforce(
    proposal: DecisionOutput,
    completed: int,
    limits: Limits,
    disposition: Disposition | None,
    course: Course | None = None,
) -> ArcDecision:
    """Apply the rules no model may break: crisis first, then the proposal within the limits."""
    course = course or Course()
    notes: list[str] = []
    action: Literal["continue", "end"] = "continue"
    reason: EndReason | None = None
    applied: Proposal = proposal.action
    strategy, ending = None, dict(course.ending) if course.ending else None
    referral: str | None = None
    proposed_strategy = proposal.strategy.strip() or None if proposal.action == "switch_strategy" else None
    if disposition in CRISIS_ENDINGS:  # whatever sessions_min says
        action, applied = "end", "end"
        reason, note = CRISIS_ENDINGS[disposition]
        notes.append(note)
    elif ending and ending["at"] <= completed:
        # The termination session was held: the course ends as scheduled.
        referral = _grounded_referral(proposal, course, notes)
        action, reason = "end", "referral" if referral else ending["reason"]
        applied = "refer" if referral else "end"
        if proposal.action in ("revise_plan", "switch_strategy"):
            notes.append(f"scheduled ending: session {ending['at']} was the termination session")
    elif proposal.action == "refer":
        referral = _grounded_referral(proposal, course, notes)
        if referral:
            action, reason = "end", "referral"  # whatever sessions_min says: the client needs other care
        else:
            applied = "continue"
    elif proposal.action == "schedule_ending":
        ending = {"at": _ending_at(completed, proposal.ending_in, limits, notes), "reason": "goals_met"}
    elif proposal.action == "switch_strategy":
        refused = _switch_refused(proposed_strategy, course)
        if refused:
            applied = "continue"
            notes.append(refused)
        else:
            strategy = proposed_strategy
    if action == "continue" and completed >= limits["sessions_max"]:
        action, reason, applied = "end", "max_sessions", "end"
        notes.append(f"sessions_max: {limits['sessions_max']} held")
    elif action == "continue" and not ending and completed + 1 >= limits["sessions_max"]:
        # The last allowed session is a termination session, not an ordinary one.
        ending = {"at": completed + 1, "reason": "max_sessions"}
        notes.append(f"sessions_max: session {completed + 1} is the last allowed, so it is the termination session")
    if strategy and ending and ending["at"] == completed + 1:
        # The termination session reviews the work done; it is no place to start another approach.
        strategy, applied = None, "continue"
        notes.append(f"switch_strategy: session {completed + 1} is the termination session; the strategy stays")
    return ArcDecision(
        proposed_action=proposal.action,
        proposed_end_reason="referral" if proposal.action == "refer" else None,
        action=action,
        end_reason=reason,
        rationale=proposal.rationale,
        overridden_by="; ".join(notes) or None,
        applied=applied,
        goal_review=_goal_review(proposal, course.goals),
        score_trend=proposal.score_trend,
        proposed_strategy=proposed_strategy,
        strategy=strategy,
        ending_in=proposal.ending_in if proposal.action == "schedule_ending" else None,
        ending_at=ending["at"] if ending and action == "continue" else None,
        referral_cue=referral,
    )


def _grounded_referral(proposal: DecisionOutput, course: Course, notes: list[str]) -> str | None:
    """The referral's quote when it occurs in something the client said in the course; a
    referral that quotes nothing the client said is refused, as an ungrounded risk is."""
    if proposal.action != "refer":
        return None
    if quotes_client(proposal.referral_cue, course.turns):
        return " ".join(proposal.referral_cue.split())
    notes.append("refer: the referral quotes nothing the client said, so code does not act on it")
    return None


def _ending_at(completed: int, ending_in: int, limits: Limits, notes: list[str]) -> int:
    """The termination session of an ending scheduled `ending_in` sessions ahead, in the limits."""
    wanted = completed + max(ending_in, 1)
    if ending_in < 1:
        notes.append("schedule_ending: the ending needs a termination session, so it is the next session")
    at = min(max(wanted, limits["sessions_min"]), limits["sessions_max"])
    if at > wanted:
        notes.append(f"sessions_min: the ending moved from session {wanted} to session {at}")
    elif at < wanted:
        notes.append(f"sessions_max: the ending moved from session {wanted} to session {at}")
    return at


def _switch_refused(proposed: str | None, course: Course) -> str | None:
    if not course.adaptive:
        return f"adaptive off: the strategy stays {course.strategy} (a paired design keeps it fixed)"
    if proposed not in course.catalog:
        return f"switch_strategy: {proposed!r} is not a strategy of this run ({', '.join(course.catalog)})"
    if proposed == course.strategy:
        return f"switch_strategy: {proposed} is already the strategy"
    return None


def _goal_review(proposal: DecisionOutput, goals: Sequence[str]) -> list[GoalReview]:
    """The review's goal numbers as the plan's goals; numbers the plan does not have are dropped."""
    seen: dict[int, GoalReview] = {}
    for item in proposal.goal_review:
        if 1 <= item.goal <= len(goals) and item.goal not in seen:
            seen[item.goal] = GoalReview(goal=goals[item.goal - 1], attainment=item.attainment)
    return [seen[n] for n in sorted(seen)]


@dataclass(frozen=True)
class Supervisor:
    agent: Agent
    strategies: Mapping[str, Strategy]  # the catalog; `state["strategy"]` names the current one

    def _system(self, state: ArcState) -> dict[str, str]:
        return views.supervisor_system(state, self.strategies[state["strategy"]])

    async def plan(self, state: ArcState) -> dict[str, Any]:
        out, usage = await self.agent.ask(PlanOutput, "plan", views.supervisor_plan(state), state, self._system(state))
        plan, notes = fit_stages(TreatmentPlan.model_validate(out.model_dump()), state["limits"]["sessions_max"])
        profile = ClientProfile.model_validate(state["profile"])
        return {
            "plan": plan.model_dump(),
            "plan_versions": [plan_version(plan, 0, "; ".join(["intake plan", *notes]))],
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
            strategy=session.get("strategy", state["strategy"]),
            termination=session.get("termination", False),
            relapse_prevention=session.get("relapse_prevention", []),
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
        """The review after a session: goal attainment, one proposal, and the rules applied."""
        out, usage = await self.agent.ask(
            DecisionOutput,
            "decide",
            views_supervision.supervisor_review(state, list(self.strategies)),
            state,
            self._system(state),
        )
        sessions = state["sessions"]
        course = Course(
            adaptive=bool(state.get("adaptive")),
            strategy=state["strategy"],
            catalog=list(self.strategies),
            ending=state.get("ending"),
            goals=TreatmentPlan.model_validate(state["plan"]).goals,
            turns=[turn for session in sessions for turn in session["turns"]],
        )
        decision = enforce(out, len(sessions), state["limits"], sessions[-1].get("disposition"), course)
        last = {**sessions[-1], "decision": decision.model_dump()}
        update: dict[str, Any] = {
            "sessions": [*sessions[:-1], last],
            "next_goal": last["memo"]["next_session_goal"],
            "usage": usage,
        }
        if decision.strategy:
            update["strategy"] = decision.strategy
        if decision.ending_at is not None:
            update["ending"] = {
                "at": decision.ending_at,
                "reason": _ending_reason(decision, state.get("ending")),
            }
            if decision.ending_at == len(sessions) + 1:
                update["next_goal"] = TERMINATION_GOAL
        if decision.action == "end":
            assert decision.end_reason is not None
            update["outcome"] = {
                "end_reason": decision.end_reason,
                "sessions": len(sessions),
                "rationale": decision.overridden_by or decision.rationale,
            }
        return update

    async def revise_plan(self, state: ArcState) -> dict[str, Any]:
        """The `revise_plan` node: a new plan version from the plan, the memories and the review."""
        last = state["sessions"][-1]
        out, usage = await self.agent.ask(
            PlanOutput, "revise", views_supervision.supervisor_revise(state), state, self._system(state)
        )
        plan, notes = fit_stages(TreatmentPlan.model_validate(out.model_dump()), state["limits"]["sessions_max"])
        reason = "; ".join([(last.get("decision") or {}).get("rationale", "revised plan"), *notes])
        # Arcs checkpointed before plan versions existed start their list with the plan in force.
        intake = plan_version(TreatmentPlan.model_validate(state["plan"]), 0, "intake plan")
        versions = state.get("plan_versions") or [intake]
        update: dict[str, Any] = {
            "plan": plan.model_dump(),
            "plan_versions": [*versions, plan_version(plan, last["index"], reason)],
            "usage": usage,
        }
        if (state.get("ending") or {}).get("at") != last["index"] + 1:
            update["next_goal"] = plan.first_session_goal  # the revised plan's goal for the next session
        return update


def _ending_reason(decision: ArcDecision, scheduled: Mapping[str, Any] | None) -> EndReason:
    if decision.applied == "schedule_ending":
        return "goals_met"
    return scheduled["reason"] if scheduled else "max_sessions"
