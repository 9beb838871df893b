"""The simulated client: replies in character (naming the ledger ids it disclosed), fills in
the outcome questionnaires at the start of every session, and appraises every session at its end.

The appraisal (felt understood, agreement on goals and tasks, rupture, new insight, homework
accepted) and what the client will remember of the session come from one structured call that
also holds the WAI-SR when outcomes are on. The appraisal drives the change engine
(`muspsy.dynamics`); the week between sessions belongs to the director
(`muspsy.agents.director`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from muspsy import views
from muspsy.agents.base import Agent
from muspsy.agents.outputs import (
    AllianceQuestionnaireOutput,
    AppraisalOutput,
    ClientTurnOutput,
    SymptomQuestionnairesOutput,
)
from muspsy.agents.session_ops import with_turn
from muspsy.agents.spec import Strategy, available_strategies, load_strategy
from muspsy.graphs.state import ArcState
from muspsy.instruments import AT_END, AT_START, InstrumentSpec, load_instruments, questionnaires_text, score
from muspsy.ledger import accept_claims
from muspsy.records import ClientProfile, ClientState, Instrument, SessionAppraisal, cap_turn_risk


def initial_state(profile: ClientProfile) -> ClientState:
    planned = profile.planned(1)
    if planned is None:
        return profile.initial_state
    return profile.initial_state.model_copy(
        update={
            "emotion_state": planned.emotion_state,
            "cognitive_state": planned.cognitive_state,
            "recent_life_events": planned.recent_life_events,
        }
    )


def outcomes_on(state: ArcState) -> bool:
    # States written before the switch existed measured nothing; new arcs always set it.
    return bool(state.get("outcomes", False))


def load_strategies() -> dict[str, Strategy]:
    return {name: load_strategy(name) for name in available_strategies()}


@dataclass(frozen=True)
class Client:
    agent: Agent
    instruments: dict[Instrument, InstrumentSpec] = field(default_factory=load_instruments)
    # What each approach looks like to a client, for the appraisal's "what helps you".
    strategies: dict[str, Strategy] = field(default_factory=load_strategies)

    def _questionnaires(self, names: tuple[Instrument, ...]) -> str:
        return questionnaires_text(self.instruments, names)

    async def report_start(self, state: ArcState) -> dict[str, Any]:
        """PHQ-9 and GAD-7 before the session opens, from the client's state and persona.

        Always resets `reports`, so a session never inherits the previous session's scores.
        """
        if not outcomes_on(state):
            return {"reports": {}}
        index = views.upcoming_session_index(state)
        task = views.client_self_report_start(state, self._questionnaires(AT_START))
        out, usage = await self.agent.ask(
            SymptomQuestionnairesOutput,
            "self_report_start",
            task,
            state,
            views.client_system(state, index),
            session_index=index,
        )
        reports = {name: score(name, getattr(out, name)).model_dump() for name in AT_START}
        return {"reports": reports, "usage": usage}

    async def report_end(self, state: ArcState) -> dict[str, Any]:
        """After the counselor's close (crisis sessions too): the client's appraisal of the
        session and its recollection, with the WAI-SR when outcomes are on.

        The appraisal is asked even with outcomes off, because the change engine needs it; it is
        simulation-side data, stored with the session and shown to no counselor-side agent.
        """
        with_alliance = outcomes_on(state)
        schema: type[AppraisalOutput] = AllianceQuestionnaireOutput if with_alliance else AppraisalOutput
        task = views.client_appraisal(
            state,
            self._questionnaires(AT_END) if with_alliance else "",
            # Two turns more than a turn's window: it starts where the client's last turn (two
            # turns before the close) started, so the server reuses that dialogue from its cache.
            self.agent.spec.settings.recent_turns + 2,
            views.client_preferences(ClientProfile.model_validate(state["profile"]), self.strategies),
        )
        out, usage = await self.agent.ask(schema, "self_report_end", task, state, views.client_system(state))
        reports: dict[str, Any] = dict(state.get("reports", {}))
        if isinstance(out, AllianceQuestionnaireOutput):
            reports.update({name: score(name, getattr(out, name)).model_dump() for name in AT_END})
        appraisal = SessionAppraisal.model_validate(out.model_dump(exclude={"recollection", "wai_sr"}))
        # Beside the questionnaire scores: the memo node stores every report with the session.
        reports["appraisal"] = appraisal.model_dump()
        return {
            "reports": reports,
            "client_memories": [*state.get("client_memories", []), out.recollection],
            "usage": usage,
        }

    async def reply(self, state: ArcState) -> dict[str, Any]:
        """One client turn: its text, its hidden risk label (ground truth, capped by its current
        risk level and the profile's concerns) and the ledger ids it disclosed, checked against
        the unlock rules."""
        task = views.client_turn(state, self.agent.spec.settings.recent_turns)
        out, usage = await self.agent.ask(ClientTurnOutput, "turn", task, state, views.client_system(state))
        session = state["session"]
        profile = ClientProfile.model_validate(state["profile"])
        level = ClientState.model_validate(state["client_state"]).risk_level or profile.risk.level
        risk = cap_turn_risk(out.risk, level, profile.risk.concerns)
        updated = with_turn(session, "client", out.text, "dialogue", risk=risk)
        ledger = state.get("disclosures", [])
        claims = accept_claims(
            profile,
            out.disclosed,
            session=session["index"],
            turn=len(updated["turns"]),
            alliance=ClientState.model_validate(state["client_state"]).alliance,
            disclosures=ledger,
        )
        if claims.dropped:
            self.agent.events.emit(
                "disclosure_dropped",
                run=state["run_id"],
                arc=state["arc_id"],
                session=session["index"],
                turn=len(updated["turns"]),
                facts=claims.dropped,
                reason="unknown or not unlocked",
            )
        return {
            "session": updated,
            "disclosures": [*ledger, *(entry.model_dump() for entry in claims.added)],
            "usage": usage,
        }
