"""After the course: the client's exit measurement and an optional follow-up (simulation side).

Once the arc ends (goals met, the session limit, a referral), the client fills in the PHQ-9 and
GAD-7 once more, a week after the last session: the exit point that pre-post change is measured
to. The week between is the director's, drawn by code like any other week (the same seeded
numbers, so paired arcs share them; no narration call, no dropout). With `follow_up_weeks` the
director then lets that many weeks pass without counseling (life events and noise only) and the
client fills them in again. An arc that ends in crisis gets neither: it ends in emergency care.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from muspsy import views, views_supervision
from muspsy.agents.base import Agent
from muspsy.agents.director import draw_numbers, plan_week
from muspsy.agents.outputs import SymptomQuestionnairesOutput
from muspsy.agents.spec import strategy_aliases
from muspsy.dynamics import DynamicsParams, life_event_from_draw, load_params, untreated_severity
from muspsy.graphs.state import ArcState
from muspsy.instruments import AT_START, InstrumentSpec, load_instruments, questionnaires_text, score
from muspsy.records import ClientState, ExitMeasurement, Instrument

NOT_MEASURED_AFTER = frozenset({"crisis", "dropout"})


@dataclass(frozen=True)
class Ending:
    agent: Agent  # the client's
    params: DynamicsParams = field(default_factory=load_params)
    aliases: dict[str, str] = field(default_factory=strategy_aliases)
    instruments: dict[Instrument, InstrumentSpec] = field(default_factory=load_instruments)

    async def _measure(
        self, state: ArcState, client_state: ClientState, weeks: int, purpose: str
    ) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
        shown: ArcState = {**state, "client_state": client_state.model_dump()}
        index = len(state["sessions"])
        questionnaires = questionnaires_text(self.instruments, AT_START)
        task = views_supervision.client_self_report_exit(state, weeks, purpose, questionnaires)
        out, usage = await self.agent.ask(
            SymptomQuestionnairesOutput,
            "self_report_exit",
            task,
            shown,
            views.client_system(shown, index),
            session_index=index,
        )
        return {name: score(name, getattr(out, name)) for name in AT_START}, usage

    async def exit_measure(self, state: ArcState) -> dict[str, Any]:
        """The `exit_measure` node: the week after the last session, then PHQ-9 and GAD-7."""
        if not state.get("outcomes") or state["outcome"]["end_reason"] in NOT_MEASURED_AFTER:
            return {}
        week = plan_week(state, self.params, self.aliases)
        current = ClientState.model_validate(state["client_state"])
        after = current.model_copy(update={"symptom_severity": week.severity, "alliance": week.alliance})
        scores, usage = await self._measure(state, after, 1, "as you leave the service")
        exit_point = ExitMeasurement(point="exit", weeks_after_last_session=1, **scores)
        return {"exit_measurement": exit_point.model_dump(), "client_state": after.model_dump(), "usage": usage}

    async def follow_up(self, state: ArcState) -> dict[str, Any]:
        """The `follow_up` node: `follow_up_weeks` weeks without counseling, then PHQ-9 and GAD-7."""
        weeks = state["follow_up_weeks"]
        current = ClientState.model_validate(state["client_state"])
        severity = current.symptom_severity
        client_id, done = state["profile"]["id"], len(state["sessions"])
        for week in range(1, weeks + 1):
            # Numbers of the weeks after the exit week, seeded like every week of the arc.
            draws = draw_numbers(state["seed"], client_id, done + week)
            event = life_event_from_draw(draws.event, draws.valence, draws.impact, self.params.life_events)
            severity = untreated_severity(severity, event=event, noise=draws.noise, params=self.params.symptoms)
        later = current.model_copy(update={"symptom_severity": severity, "homework_adherence": "not_assigned"})
        scores, usage = await self._measure(state, later, 1 + weeks, "to see how you are doing some time later")
        point = ExitMeasurement(point="follow_up", weeks_after_last_session=1 + weeks, **scores)
        return {"follow_up": point.model_dump(), "usage": usage}
