"""Typed domain records: client profiles and state, turns, memos, plans, decisions, arcs.

These are the contract between the agents, the graphs and the output files. Records that an
LLM writes (see `muspsy.agents.outputs`) are separate, with tight length bounds; the records
here describe what muspsy stores.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ARC_SCHEMA = "muspsy.arc/1"
PROFILE_SCHEMA = "muspsy.profile/1"

# Bounds that keep every id a valid file name and every number a 64-bit integer.
MAX_ID_LENGTH = 64
MAX_SESSIONS = 100

RiskLevel = Literal["none", "low", "moderate", "high", "imminent"]
# Per-turn disclosure labels, ordered by C-SSRS severity (wish to be dead .. plan or intent).
TurnRisk = Literal["none", "passive_ideation", "active_ideation", "plan_or_intent"]
Attitude = Literal["positive", "neutral", "negative"]
ConversationalStyle = Literal["plain", "verbose", "tangent", "upset", "reserved", "pleasing"]
HomeworkAdherence = Literal["not_assigned", "not_done", "partial", "done"]
Progress = Literal["worse", "no_change", "some", "substantial"]
EndReason = Literal["goals_met", "max_sessions", "referral", "crisis", "dropout"]
Speaker = Literal["counselor", "client"]
Role = Literal["client", "counselor", "supervisor"]
ROLES: tuple[Role, ...] = ("client", "counselor", "supervisor")

TURN_RISK_SEVERITY: dict[str, int] = {
    "none": 0,
    "passive_ideation": 1,
    "active_ideation": 2,
    "plan_or_intent": 3,
}
# The most severe disclosure a client of each profile risk level can make. The profile is the
# ground truth of the simulation: a low-risk client does not reveal a suicide plan because a
# weak model mislabelled a turn.
MAX_TURN_RISK: dict[str, TurnRisk] = {
    "none": "none",
    "low": "passive_ideation",
    "moderate": "active_ideation",
    "high": "plan_or_intent",
    "imminent": "plan_or_intent",
}


def cap_turn_risk(label: TurnRisk, profile_level: RiskLevel) -> TurnRisk:
    ceiling = MAX_TURN_RISK[profile_level]
    return label if TURN_RISK_SEVERITY[label] <= TURN_RISK_SEVERITY[ceiling] else ceiling


class Record(BaseModel):
    """Base for stored records: unknown fields are errors, so typos in data files surface."""

    model_config = ConfigDict(extra="forbid")


class Provenance(Record):
    source: str = Field(description="Where the profile comes from (a case report, a dataset, an author).")
    kind: Literal["synthetic", "case_report", "imported"]
    author: str | None = None
    license: str | None = None
    url: str | None = None
    source_sha256: str | None = None
    created: str | None = None


class Intake(Record):
    """What a counselor learns at intake; the only part of the profile the counselor sees."""

    presenting_problem: str
    reason_for_counseling: str
    history: str = ""
    functioning: str = ""
    support: str = ""


class PrivateFact(Record):
    """Something the client knows but shares only once trust has grown."""

    fact: str
    share_from_session: int = Field(ge=1, le=MAX_SESSIONS)


class ClientState(Record):
    """The client's dynamic state; it changes between sessions and is recorded per session."""

    emotion_state: str
    cognitive_state: str
    recent_life_events: list[str] = Field(default_factory=list)
    homework_adherence: HomeworkAdherence = "not_assigned"
    alliance: int = Field(default=2, ge=1, le=5, description="Working alliance as felt by the client, 1-5.")
    symptom_severity: int = Field(default=5, ge=0, le=10, description="Overall distress, 0 (none) to 10 (worst).")


class PlannedSession(Record):
    """One planned session of a profile's arc, as in MusPsy's per-session user cards."""

    session: int = Field(ge=1, le=MAX_SESSIONS)
    recent_life_events: list[str] = Field(default_factory=list)
    emotion_state: str
    cognitive_state: str
    goal: str


class Risk(Record):
    level: RiskLevel
    notes: str = ""


class ClientProfile(Record):
    """A client seeded from a case report: static traits, hidden history, state, planned arc."""

    schema_: Literal["muspsy.profile/1"] = Field(alias="schema")
    # Bounded: the id names files (transcripts/<arc id>.md) and database threads.
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=MAX_ID_LENGTH)
    name: str
    age: int = Field(ge=5, le=110)
    gender: str
    language: str = "en"
    culture: str
    occupation: str
    intake: Intake
    personality: str
    background: str
    private_history: list[PrivateFact] = Field(default_factory=list)
    conversational_style: ConversationalStyle = "plain"
    attitude: Attitude = "neutral"
    risk: Risk
    initial_state: ClientState
    planned_arc: list[PlannedSession] = Field(default_factory=list)
    provenance: Provenance
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Catch-all for source fields that have no field of their own."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def planned(self, session_index: int) -> PlannedSession | None:
        return next((p for p in self.planned_arc if p.session == session_index), None)


class Turn(Record):
    index: int = Field(ge=1)
    speaker: Speaker
    text: str
    risk: TurnRisk | None = Field(default=None, description="Client turns: what this turn disclosed.")
    assessed_risk: RiskLevel | None = Field(default=None, description="Crisis turns: the counselor's estimate.")
    kind: Literal["open", "dialogue", "crisis", "close"] = "dialogue"


class Memo(Record):
    """The supervisor's between-session memo: MusPsy's four memory fields plus summary and plan."""

    summary: str
    emotion_and_cognitive_state: str
    counselor_observations: str
    counseling_assignments: list[str]
    session_goal: str
    next_session_goal: str
    # "unknown" only in imported arcs whose source does not rate progress or risk: an honest
    # gap instead of a made-up rating that exports would pass on as fact.
    progress: Progress | Literal["unknown"]
    risk: RiskLevel | Literal["unknown"]


class PlanStage(Record):
    name: str
    sessions: str
    focus: str


class TreatmentPlan(Record):
    case_conceptualization: str
    goals: list[str]
    stages: list[PlanStage]
    first_session_goal: str


class ArcDecision(Record):
    """What the supervisor proposed after a session and what the code enforced."""

    proposed_action: Literal["continue", "end"]
    proposed_end_reason: EndReason | None = None
    action: Literal["continue", "end"]
    end_reason: EndReason | None = None
    rationale: str
    overridden_by: str | None = None


Instrument = Literal["phq9", "gad7", "wai_sr"]


class InstrumentScore(Record):
    """One self-report questionnaire as the simulated client filled it in, with its scoring.

    PHQ-9 and GAD-7 are filled at the start of a session (items 0-3), the WAI-SR at its end
    (items 1-5; subscales goal, task and bond). Scoring lives in `muspsy.instruments`.
    """

    instrument: Instrument
    items: list[int]
    total: int
    band: str | None = Field(default=None, description="Severity band (PHQ-9, GAD-7).")
    subscales: dict[str, int] = Field(default_factory=dict, description="WAI-SR: goal, task, bond.")


class SessionRecord(Record):
    index: int = Field(ge=1)
    goal: str
    client_state: ClientState
    homework_reviewed: list[str] = Field(default_factory=list)
    turns: list[Turn]
    homework_given: list[str] = Field(default_factory=list)
    crisis: bool = False
    end_reason: Literal["counselor_closed", "turn_cap"]
    memo: Memo
    decision: ArcDecision | None = None
    # Client-reported outcomes; absent in imported arcs and when outcomes are switched off.
    phq9: InstrumentScore | None = None
    gad7: InstrumentScore | None = None
    wai_sr: InstrumentScore | None = None


class Outcome(Record):
    end_reason: EndReason
    sessions: int
    rationale: str


class RoleUsage(Record):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    llm_seconds: float = 0.0


class ArcRecord(BaseModel):
    """One finished arc: the canonical line of `arcs.jsonl`. Extra fields are welcome."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: Literal["muspsy.arc/1"] = Field(default="muspsy.arc/1", alias="schema")
    run_id: str
    arc_id: str
    client_id: str
    language: str
    profile: dict[str, Any]
    strategy: str
    plan: TreatmentPlan
    sessions: list[SessionRecord]
    outcome: Outcome
    usage: dict[str, RoleUsage]
    provenance: dict[str, Any]
