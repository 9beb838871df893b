"""The director: owns the client's world between sessions (simulation side, sees everything).

Its week has two parts. Code draws, from the arc's seed, whether the homework gets done (with a
probability from the client's acceptance, attitude and alliance), whether something happens
and which way, and whether the client comes back; the change engine (`muspsy.dynamics`) turns
that and the client's own appraisal of the session into the next distress and alliance. Then
one director call narrates the week consistent with the profile, the homework given, the
adherence, the drawn event and the planned state when the profile has one. The client's hidden
risk level moves too (`muspsy.risk_dynamics`), by the same seeded draws. Nothing the director
writes is shown to the counselor side.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from muspsy import views
from muspsy.agents.base import Agent
from muspsy.agents.outputs import DirectorWeekOutput
from muspsy.agents.spec import strategy_aliases
from muspsy.dynamics import (
    NEUTRAL_FIT,
    DynamicsParams,
    adherence_from_draw,
    adherence_probability,
    dropout_probability,
    life_event_from_draw,
    load_params,
    next_alliance,
    next_severity,
)
from muspsy.graphs.state import ArcState
from muspsy.records import (
    NEUTRAL_APPRAISAL,
    ClientProfile,
    ClientState,
    HomeworkAdherence,
    LifeEvent,
    RiskLevel,
    SessionAppraisal,
    Valence,
    Week,
)
from muspsy.risk_dynamics import next_risk_level


@dataclass(frozen=True)
class WeekDraws:
    """The random numbers of one week, always drawn in the same order and all of them, so
    paired arcs (same client and seed, another strategy) share every one."""

    adherence: float
    event: float
    valence: float
    impact: float
    noise: float
    dropout: float
    risk: float  # drawn last, so the draws before it are those of arcs recorded before it existed


def draw_numbers(seed: int, client_id: str, week: int) -> WeekDraws:
    # Seeded by client, seed and week, not by arc id: the arcs of a paired run draw the same
    # numbers, so their weeks differ only where the counseling made them differ.
    rng = random.Random(f"{seed}:{client_id}:{week}")
    return WeekDraws(
        adherence=rng.random(),
        event=rng.random(),
        valence=rng.random(),
        impact=rng.random(),
        noise=rng.gauss(0.0, 1.0),
        dropout=rng.random(),
        risk=rng.random(),
    )


@dataclass(frozen=True)
class WeekPlan:
    """The code-side week: every number the narration must keep to."""

    adherence: HomeworkAdherence
    adherence_probability: float
    event: tuple[Valence, float] | None
    severity: float
    alliance: float
    dropout_probability: float
    drops_out: bool
    risk_level: RiskLevel  # the client's hidden risk level for the next session


def strategy_fit(profile: ClientProfile, strategy: str, aliases: dict[str, str]) -> float:
    """How well the client responds to `strategy` (canonical name); 0.5 when the profile is silent."""
    by_name = {aliases.get(name, name): value for name, value in profile.strategy_fit.items()}
    return by_name.get(strategy, NEUTRAL_FIT)


def plan_week(state: ArcState, params: DynamicsParams, aliases: dict[str, str]) -> WeekPlan:
    profile = ClientProfile.model_validate(state["profile"])
    current = ClientState.model_validate(state["client_state"])
    sessions = state["sessions"]
    last = sessions[-1]
    appraisal = SessionAppraisal.model_validate(last["appraisal"]) if last.get("appraisal") else NEUTRAL_APPRAISAL
    draws = draw_numbers(state["seed"], profile.id, len(sessions))
    if last.get("homework_given"):
        p_work = adherence_probability(
            profile.attitude, appraisal.homework_accepted, current.alliance, params.adherence
        )
        adherence = adherence_from_draw(p_work, draws.adherence, params.adherence)
    else:
        p_work, adherence = 0.0, "not_assigned"
    event = life_event_from_draw(draws.event, draws.valence, draws.impact, params.life_events)
    severity = next_severity(
        current.symptom_severity,
        appraisal=appraisal,
        adherence=adherence,
        event=event,
        attitude=profile.attitude,
        fit=strategy_fit(profile, state["strategy"], aliases),
        alliance=current.alliance,
        noise=draws.noise,
        params=params.symptoms,
    )
    alliance = next_alliance(current.alliance, appraisal, params)
    p_drop = dropout_probability(profile.attitude, alliance, appraisal, params)
    may_drop = len(sessions) >= state["limits"]["sessions_min"]
    risk_level = next_risk_level(
        current.risk_level or profile.risk.level,
        profile.risk.level,
        draws.risk,
        severity - current.symptom_severity,
        event,
        bool(state.get("safety_plan")),
        params.risk,
    )
    return WeekPlan(
        adherence=adherence,
        adherence_probability=round(p_work, 3),
        event=event,
        severity=severity,
        alliance=alliance,
        dropout_probability=round(p_drop, 3),
        drops_out=may_drop and draws.dropout < p_drop,
        risk_level=risk_level,
    )


@dataclass(frozen=True)
class Director:
    agent: Agent
    params: DynamicsParams = field(default_factory=load_params)
    aliases: dict[str, str] = field(default_factory=strategy_aliases)

    async def week(self, state: ArcState) -> dict[str, Any]:
        """The `between_sessions` node: draw, move the client, narrate, maybe end in dropout."""
        plan = plan_week(state, self.params, self.aliases)
        out, usage = await self.agent.ask(
            DirectorWeekOutput, "week", views.director_week(state, plan), state, views.director_system(state, plan)
        )
        profile = ClientProfile.model_validate(state["profile"])
        current = ClientState.model_validate(state["client_state"])
        sessions = state["sessions"]
        planned = profile.planned(len(sessions) + 1)
        events = list(planned.recent_life_events) if planned else []
        if plan.event is not None:
            events.append(out.life_event)
        week = Week(
            homework_adherence=plan.adherence,
            adherence_probability=plan.adherence_probability,
            life_event=LifeEvent(valence=plan.event[0], impact=plan.event[1], text=out.life_event)
            if plan.event
            else None,
            narrative=out.narrative,
            symptom_change=round(plan.severity - current.symptom_severity, 2),
            alliance_change=round(plan.alliance - current.alliance, 2),
            dropped_out=plan.drops_out,
            risk_level=plan.risk_level,
        )
        next_state = ClientState(
            emotion_state=out.emotion_state,
            cognitive_state=out.cognitive_state,
            recent_life_events=events,
            homework_adherence=plan.adherence,
            alliance=plan.alliance,
            symptom_severity=plan.severity,
            risk_level=plan.risk_level,
        )
        update: dict[str, Any] = {
            "client_state": next_state.model_dump(),
            "sessions": [*sessions[:-1], {**sessions[-1], "week": week.model_dump()}],
            "usage": usage,
        }
        if plan.drops_out:
            update["outcome"] = {
                "end_reason": "dropout",
                "sessions": len(sessions),
                "rationale": "The client did not come back for the next session.",
            }
        return update
