"""The simulated client: replies in character (naming the ledger ids it disclosed), fills in
the outcome questionnaires at the start and end of every session, and lives a week between sessions.

The week is partly drawn by code from the arc's seed (did the homework get done, does
something happen, which way do symptoms drift) and partly written by the model, so arcs vary
with the seed even on a weak model, and follow the profile's planned states when it has them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from muspsy import views
from muspsy.agents.base import Agent
from muspsy.agents.outputs import (
    AllianceQuestionnaireOutput,
    ClientTurnOutput,
    SymptomQuestionnairesOutput,
    WeekOutput,
)
from muspsy.agents.session_ops import with_turn
from muspsy.graphs.state import ArcState
from muspsy.instruments import AT_END, AT_START, InstrumentSpec, load_instruments, score
from muspsy.ledger import accept_claims
from muspsy.records import (
    ClientProfile,
    ClientState,
    HomeworkAdherence,
    Instrument,
    Memo,
    cap_turn_risk,
)

ADHERENCE_BASE = {"positive": 0.75, "neutral": 0.55, "negative": 0.3}
PROGRESS_RELIEF = {"substantial": 2, "some": 1, "no_change": 0, "worse": -1}


@dataclass(frozen=True)
class WeekDraw:
    adherence: HomeworkAdherence
    life_event_expected: bool
    noise: int
    alliance_step: int
    drops_out: bool


def draw_week(state: ArcState) -> WeekDraw:
    """The seeded, code-side part of the client's week."""
    profile = ClientProfile.model_validate(state["profile"])
    current = ClientState.model_validate(state["client_state"])
    sessions = state["sessions"]
    memo = Memo.model_validate(sessions[-1]["memo"])
    # Seeded by client and seed, not arc id: the arcs of a paired run (same client and seed,
    # different strategies) draw the same random numbers, so their weeks differ only where the
    # counseling made them differ (progress, alliance), never by luck.
    rng = random.Random(f"{state['seed']}:{state['profile']['id']}:{len(sessions)}")
    p_done = min(0.95, max(0.05, ADHERENCE_BASE[profile.attitude] + 0.1 * (current.alliance - 3)))
    u = rng.random()
    adherence: HomeworkAdherence = "done" if u < 0.7 * p_done else "partial" if u < p_done else "not_done"
    improving = memo.progress in ("some", "substantial")
    alliance_step = 1 if improving and rng.random() < 0.5 else -1 if memo.progress == "worse" else 0
    may_drop = (
        profile.attitude == "negative"
        and current.alliance <= 1
        and adherence == "not_done"
        and len(sessions) >= state["limits"]["sessions_min"]
    )
    return WeekDraw(
        adherence=adherence,
        life_event_expected=rng.random() < 0.5,
        noise=rng.choice([-1, 0, 0, 1]),
        alliance_step=alliance_step,
        drops_out=may_drop and rng.random() < 0.5,
    )


def next_state(state: ArcState, draw: WeekDraw, week: WeekOutput) -> ClientState:
    profile = ClientProfile.model_validate(state["profile"])
    current = ClientState.model_validate(state["client_state"])
    memo = Memo.model_validate(state["sessions"][-1]["memo"])
    relief = PROGRESS_RELIEF.get(memo.progress, 0) + (1 if draw.adherence == "done" else 0) + draw.noise
    planned = profile.planned(len(state["sessions"]) + 1)
    return ClientState(
        emotion_state=planned.emotion_state if planned else week.emotion_state,
        cognitive_state=planned.cognitive_state if planned else week.cognitive_state,
        recent_life_events=planned.recent_life_events if planned else [week.life_event],
        homework_adherence=draw.adherence,
        alliance=min(5, max(1, current.alliance + draw.alliance_step)),
        symptom_severity=min(10, max(0, current.symptom_severity - relief)),
    )


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


@dataclass(frozen=True)
class Client:
    agent: Agent
    instruments: dict[Instrument, InstrumentSpec] = field(default_factory=load_instruments)

    def _questionnaires(self, names: tuple[Instrument, ...]) -> str:
        return "\n\n".join(self.instruments[name].text for name in names)

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
        """WAI-SR after the counselor's close, crisis sessions included."""
        if not outcomes_on(state):
            return {}
        task = views.client_self_report_end(state, self._questionnaires(AT_END), self.agent.spec.settings.recent_turns)
        out, usage = await self.agent.ask(
            AllianceQuestionnaireOutput, "self_report_end", task, state, views.client_system(state)
        )
        reports: dict[str, Any] = dict(state.get("reports", {}))
        reports.update({name: score(name, getattr(out, name)).model_dump() for name in AT_END})
        return {"reports": reports, "usage": usage}

    async def reply(self, state: ArcState) -> dict[str, Any]:
        """One client turn: its text, its hidden risk label (ground truth, capped by the
        profile's level) and the ledger ids it disclosed, checked against the unlock rules."""
        task = views.client_turn(state, self.agent.spec.settings.recent_turns)
        out, usage = await self.agent.ask(ClientTurnOutput, "turn", task, state, views.client_system(state))
        session = state["session"]
        risk = cap_turn_risk(out.risk, state["profile"]["risk"]["level"])
        updated = with_turn(session, "client", out.text, "dialogue", risk=risk)
        ledger = state.get("disclosures", [])
        claims = accept_claims(
            ClientProfile.model_validate(state["profile"]),
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

    async def live_week(self, state: ArcState) -> dict[str, Any]:
        draw = draw_week(state)
        task = views.client_week(state, draw.adherence, draw.life_event_expected)
        week, usage = await self.agent.ask(WeekOutput, "week", task, state)
        update: dict[str, Any] = {
            "client_state": next_state(state, draw, week).model_dump(),
            "client_memories": [*state.get("client_memories", []), week.recollection],
            "usage": usage,
        }
        if draw.drops_out:
            update["outcome"] = {
                "end_reason": "dropout",
                "sessions": len(state["sessions"]),
                "rationale": "The client did not come back after a week without homework and with little trust.",
            }
        return update
