"""Typed domain records: client profiles and state, turns, memos, plans, decisions, arcs.

These are the contract between the agents, the graphs and the output files. Records that an
LLM writes (see `muspsy.agents.outputs`) are separate, with tight length bounds; the records
here describe what muspsy stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

ARC_SCHEMA = "muspsy.arc/1"
PROFILE_SCHEMA = "muspsy.profile/1"

# Bounds that keep every id a valid file name and every number a 64-bit integer.
MAX_ID_LENGTH = 64
MAX_SESSIONS = 100

RiskLevel = Literal["none", "low", "moderate", "high", "imminent"]
# Per-turn risk labels: the C-SSRS screener's levels in order of severity (wish to be dead,
# non-specific active thoughts, thoughts of a method, intent, a plan with intent, preparatory
# behaviour), then three concerns off that scale: non-suicidal self-harm, risk to others, and a
# safeguarding concern for a minor.
SuicideRisk = Literal[
    "passive_ideation",
    "active_ideation",
    "ideation_with_method",
    "ideation_with_intent",
    "plan_with_intent",
    "preparatory_behavior",
]
OtherConcern = Literal["self_harm", "harm_to_others", "safeguarding_minor"]
TurnRisk = Literal["none", SuicideRisk, OtherConcern]
# Records written before the C-SSRS levels hold `plan_or_intent` (a plan, means or intent):
# still readable, never produced.
LEGACY_TURN_RISK = "plan_or_intent"
StoredTurnRisk = TurnRisk | Literal["plan_or_intent"]
Attitude = Literal["positive", "neutral", "negative"]
ConversationalStyle = Literal["plain", "verbose", "tangent", "upset", "reserved", "pleasing"]
HomeworkAdherence = Literal["not_assigned", "not_done", "partial", "done"]
Progress = Literal["worse", "no_change", "some", "substantial"]
EndReason = Literal["goals_met", "max_sessions", "referral", "crisis", "dropout"]
Speaker = Literal["counselor", "client"]
# The director is the simulation side's role (the client's world between sessions); nothing it
# writes reaches the counselor side.
Role = Literal["client", "counselor", "supervisor", "director"]
ROLES: tuple[Role, ...] = ("client", "counselor", "supervisor", "director")
# Which side of the one-way mirror a role sits on: the counselor side never sees profile text.
COUNSELOR_SIDE: frozenset[str] = frozenset({"counselor", "supervisor"})
Valence = Literal["negative", "neutral", "positive"]

SUICIDE_LEVELS: tuple[SuicideRisk, ...] = get_args(SuicideRisk)
OTHER_CONCERNS: tuple[OtherConcern, ...] = get_args(OtherConcern)
# Severity on the C-SSRS scale (1 wish to be dead .. 6 preparatory behaviour). The concerns off
# that scale count as noticed risk (above 0) but are not ranked against it.
TURN_RISK_SEVERITY: dict[str, int] = {
    "none": 0,
    **{label: rank for rank, label in enumerate(SUICIDE_LEVELS, start=1)},
    LEGACY_TURN_RISK: SUICIDE_LEVELS.index("plan_with_intent") + 1,
    **dict.fromkeys(OTHER_CONCERNS, 1),
}
# The most severe suicide-risk disclosure a client can make at each (current) risk level. The
# level is the ground truth of the simulation: a low-risk client does not reveal a suicide
# plan because a weak model mislabelled a turn.
MAX_TURN_RISK: dict[str, TurnRisk] = {
    "none": "none",
    "low": "passive_ideation",
    "moderate": "ideation_with_method",
    "high": "preparatory_behavior",
    "imminent": "preparatory_behavior",
}
RISK_LEVELS: tuple[RiskLevel, ...] = get_args(RiskLevel)


def cap_turn_risk(label: TurnRisk, level: RiskLevel, concerns: Sequence[str] = ()) -> TurnRisk:
    """The label as the simulation allows it: suicide risk capped by the client's current
    level, a concern off the C-SSRS scale kept only when the profile has it."""
    if label in OTHER_CONCERNS:
        return label if label in concerns else "none"
    ceiling = MAX_TURN_RISK[level]
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


FACT_ID = r"^[a-z0-9][a-z0-9_-]*$"


class UnlockRule(Record):
    """When a disclosable item may be told: from a session on, and once trust is high enough.

    A reserved or resistant client is given a higher `min_alliance` so it opens up later; the
    alliance is the client's own felt trust (1-5) in its state at the start of the session.
    """

    share_from_session: int = Field(default=1, ge=1, le=MAX_SESSIONS)
    min_alliance: int = Field(default=1, ge=1, le=5)

    def unlocked(self, session: int, alliance: float) -> bool:
        return session >= self.share_from_session and alliance >= self.min_alliance


class PrivateFact(UnlockRule):
    """Something the client knows but shares only once the session and trust allow it."""

    id: str | None = Field(
        default=None, pattern=FACT_ID, max_length=40, description="Ledger id; default fact-<position>."
    )
    fact: str
    share_from_session: int = Field(ge=1, le=MAX_SESSIONS)


class RiskNote(UnlockRule):
    """One risk or protective factor the client may disclose (ideation, means, history...)."""

    id: str | None = Field(
        default=None, pattern=FACT_ID, max_length=40, description="Ledger id; default risk-<position>."
    )
    note: str


class Disclosable(BaseModel):
    """A private fact or risk note with its ledger id, as the disclosure ledger sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["fact", "risk"]
    text: str
    rule: UnlockRule


class Disclosure(Record):
    """One ledger entry: the client first disclosed `fact` in `session`, at turn `turn`."""

    fact: str
    session: int = Field(ge=1)
    turn: int = Field(ge=1)


class ClientState(Record):
    """The client's dynamic state; it changes between sessions and is recorded per session."""

    emotion_state: str
    cognitive_state: str
    recent_life_events: list[str] = Field(default_factory=list)
    homework_adherence: HomeworkAdherence = "not_assigned"
    # Floats: the change engine (`muspsy.dynamics`) moves them by fractions of a point a week,
    # which whole numbers would round away.
    alliance: float = Field(default=2, ge=1, le=5, description="Working alliance as felt by the client, 1-5.")
    symptom_severity: float = Field(default=5, ge=0, le=10, description="Overall distress, 0 (none) to 10 (worst).")
    # Hidden ground truth that moves between sessions (the director's week); None: the
    # profile's `risk.level` (the first session, and records written before it could move).
    risk_level: RiskLevel | None = Field(default=None, description="The client's current risk of self-harm.")


class PlannedSession(Record):
    """One planned session of a profile's arc, as in MusPsy's per-session user cards."""

    session: int = Field(ge=1, le=MAX_SESSIONS)
    recent_life_events: list[str] = Field(default_factory=list)
    emotion_state: str
    cognitive_state: str
    goal: str


class Risk(Record):
    level: RiskLevel
    # Risks off the C-SSRS scale this client may disclose (ground truth, like the level).
    concerns: list[OtherConcern] = Field(default_factory=list)
    # A plain string (older profiles, importers) is one risk note, disclosable from session 1.
    notes: str | list[RiskNote] = ""

    def items(self) -> list[RiskNote]:
        if isinstance(self.notes, str):
            return [RiskNote(note=self.notes.strip())] if self.notes.strip() else []
        return self.notes


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
    strategy_fit: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Strategy name -> how well this client responds to it, 0 (not at all) to 1; unnamed: 0.5.",
    )
    provenance: Provenance
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Catch-all for source fields that have no field of their own."
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _ledger_ids_unique(self) -> ClientProfile:
        ids = [item.id for item in self.disclosable()]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"private_history and risk.notes: id {repeated[0]!r} is used twice")
        return self

    def planned(self, session_index: int) -> PlannedSession | None:
        return next((p for p in self.planned_arc if p.session == session_index), None)

    def disclosable(self) -> list[Disclosable]:
        """Every private fact and risk note with its ledger id (by position when not given)."""
        facts = [
            Disclosable(id=f.id or f"fact-{n}", kind="fact", text=f.fact, rule=UnlockRule(**_rule(f)))
            for n, f in enumerate(self.private_history, start=1)
        ]
        risks = [
            Disclosable(id=r.id or f"risk-{n}", kind="risk", text=r.note, rule=UnlockRule(**_rule(r)))
            for n, r in enumerate(self.risk.items(), start=1)
        ]
        return facts + risks


def _rule(item: UnlockRule) -> dict[str, int]:
    return {"share_from_session": item.share_from_session, "min_alliance": item.min_alliance}


class Turn(Record):
    index: int = Field(ge=1)
    speaker: Speaker
    text: str
    risk: StoredTurnRisk | None = Field(
        default=None, description="Client turns: what this turn disclosed (hidden ground truth, never shown)."
    )
    # Counselor turns: the counselor's own reading of the client's last words, on the scale of
    # `risk`. Records written before the counselor assessed every turn hold an overall level
    # (low .. imminent) on crisis turns only.
    assessed_risk: StoredTurnRisk | RiskLevel | None = Field(
        default=None, description="Counselor turns: the risk the counselor noticed in the client's last words."
    )
    risk_cue: str | None = Field(
        default=None, description="Counselor turns that noticed a risk: the client's words it quoted for it."
    )
    kind: Literal["open", "dialogue", "crisis", "close"] = "dialogue"
    # Counselor turns: where in the strategy's protocol the turn was and which technique of its
    # repertoire it used (crisis turns: of the crisis protocol's repertoire, with no phase; None
    # in records written before protocols, and in imported arcs).
    phase: str | None = Field(default=None, description="Counselor turns: the protocol phase of the turn.")
    technique: str | None = Field(default=None, description="Counselor turns: the technique the turn used.")


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


# The clinical supervisor's proposals after a session's review ("end" is how records from
# before the review proposed an ending, and how code ends an arc).
Proposal = Literal["continue", "revise_plan", "switch_strategy", "schedule_ending", "refer", "end"]
GoalAttainment = Literal["not_started", "some", "mostly", "met"]
ScoreTrend = Literal["improving", "stable", "worsening", "not_measured"]


class GoalReview(Record):
    """How far one plan goal is attained, judged from the memos and transcripts."""

    goal: str
    attainment: GoalAttainment


class ArcDecision(Record):
    """What the supervisor proposed after a session and what the code enforced.

    `action` is the arc's fate (continue or end); `applied` is what code made of the proposal
    (the proposal itself, or `continue` when a rule refused it). Every refusal or forced end is
    one reason in `overridden_by`, joined by "; ".
    """

    proposed_action: Proposal
    proposed_end_reason: EndReason | None = None
    action: Literal["continue", "end"]
    end_reason: EndReason | None = None
    rationale: str
    overridden_by: str | None = None
    applied: Proposal | None = None
    goal_review: list[GoalReview] = Field(default_factory=list)
    score_trend: ScoreTrend | None = None
    proposed_strategy: str | None = None
    strategy: str | None = Field(default=None, description="The strategy of the next session, when it switched.")
    ending_in: int | None = Field(default=None, description="Proposed: the ending this many sessions ahead.")
    ending_at: int | None = Field(default=None, description="The session scheduled to be the termination session.")
    referral_cue: str | None = Field(
        default=None, description="The client's words, quoted from the sessions, that a referral acted on."
    )


class PlanVersion(Record):
    """One version of the treatment plan: the intake plan (after session 0) or a revision."""

    after_session: int = Field(ge=0)
    reason: str
    plan: TreatmentPlan


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


class ExitMeasurement(Record):
    """PHQ-9 and GAD-7 filled in after the course ended: at exit, or at a later follow-up."""

    point: Literal["exit", "follow_up"]
    weeks_after_last_session: int = Field(ge=0)
    phq9: InstrumentScore
    gad7: InstrumentScore


class SessionAppraisal(Record):
    """How the client experienced a session, in its own eyes (simulation side: never shown to
    the counselor side). The change engine's main input; 1-5 ratings, 3 is neutral."""

    felt_understood: int = Field(ge=1, le=5)
    goal_agreement: int = Field(ge=1, le=5)
    task_agreement: int = Field(ge=1, le=5)
    rupture: bool
    new_insight: bool
    homework_accepted: bool


NEUTRAL_APPRAISAL = SessionAppraisal(
    felt_understood=3, goal_agreement=3, task_agreement=3, rupture=False, new_insight=False, homework_accepted=False
)


class LifeEvent(Record):
    """Something the director decided happens in the client's week."""

    valence: Valence
    impact: float = Field(ge=0, le=1, description="How much it moves the client, 0-1.")
    text: str


class Week(Record):
    """The director's week after a session: the draws, the narration and the state change."""

    homework_adherence: HomeworkAdherence
    adherence_probability: float = Field(ge=0, le=1)
    life_event: LifeEvent | None = None
    narrative: str
    symptom_change: float = Field(description="Change in distress (0-10 scale); negative is better.")
    alliance_change: float
    dropped_out: bool = False
    risk_level: RiskLevel | None = Field(default=None, description="The client's risk level after the week.")


ScreenAnswer = Literal["unknown", "yes", "no"]
Recency = Literal["unknown", "today", "past_month", "past_3_months", "longer_ago"]
Disposition = Literal["continue_with_safety_plan", "urgent_referral", "emergency"]
DISPOSITIONS: tuple[Disposition, ...] = get_args(Disposition)
# The C-SSRS screener items in the order it asks them, each with the level a "yes" shows.
SCREENER_ITEMS: dict[str, SuicideRisk] = {
    "wish_to_be_dead": "passive_ideation",
    "active_ideation": "active_ideation",
    "method": "ideation_with_method",
    "intent": "ideation_with_intent",
    "plan": "plan_with_intent",
    "preparatory_behavior": "preparatory_behavior",
}


class RiskAssessment(Record):
    """The counselor's structured risk assessment (C-SSRS screener items): what it learned by
    asking, from its own structured answers about what the client said; `unknown` until asked."""

    wish_to_be_dead: ScreenAnswer = "unknown"
    active_ideation: ScreenAnswer = "unknown"
    method: ScreenAnswer = "unknown"
    intent: ScreenAnswer = "unknown"
    plan: ScreenAnswer = "unknown"
    preparatory_behavior: ScreenAnswer = "unknown"
    recency: Recency = Field(default="unknown", description="When the latest suicidal thought or act was.")
    other_concerns: list[OtherConcern] = Field(default_factory=list)
    complete: bool = Field(default=False, description="Every item the screener's branching asks is answered.")
    level: TurnRisk = Field(default="none", description="The most severe C-SSRS level answered yes.")
    turns: list[int] = Field(default_factory=list, description="The counselor turns that asked.")


class SafetyPlan(Record):
    """A Stanley-Brown safety plan as agreed with the client, step by step (counselor side)."""

    warning_signs: list[str] = Field(default_factory=list)
    internal_coping: list[str] = Field(default_factory=list)
    distraction: list[str] = Field(default_factory=list, description="People and places that take the mind off it.")
    help_contacts: list[str] = Field(default_factory=list, description="People to ask for help.")
    professionals: list[str] = Field(default_factory=list, description="Professionals and crisis lines.")
    means_restriction: list[str] = Field(default_factory=list, description="Making the surroundings safe.")
    complete: bool = False
    session: int | None = Field(default=None, description="The session that last updated it.")


SAFETY_PLAN_STEPS: tuple[str, ...] = (
    "warning_signs",
    "internal_coping",
    "distraction",
    "help_contacts",
    "professionals",
    "means_restriction",
)


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
    # Simulation side: the client's own appraisal and the director's week that followed.
    appraisal: SessionAppraisal | None = None
    week: Week | None = None
    # Adaptive supervision and the ending: the strategy the counselor used in this session
    # (None in records from before strategies could switch) and whether it was the
    # termination session of a scheduled ending.
    strategy: str | None = None
    termination: bool = False
    relapse_prevention: list[str] = Field(default_factory=list, description="Termination session: the plan agreed.")
    # The crisis protocol (counselor side): the assessment, the safety plan as it stood at the
    # session's end, the disposition code set from the assessment, and the plan reviewed at
    # the opening (a session after one with a safety plan opens with a risk check).
    risk_assessment: RiskAssessment | None = None
    safety_plan: SafetyPlan | None = None
    disposition: Disposition | None = None
    safety_plan_reviewed: SafetyPlan | None = None


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
    disclosures: list[Disclosure] = Field(
        default_factory=list, description="The disclosure ledger: which private fact was first told when."
    )
    plan_versions: list[PlanVersion] = Field(
        default_factory=list, description="Every version of the plan, the intake plan first; `plan` is the last."
    )
    exit_measurement: ExitMeasurement | None = None
    follow_up: ExitMeasurement | None = None
