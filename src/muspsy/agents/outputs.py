"""What each LLM call must return: small pydantic models with bounded strings and lists.

Every string and list field has a `max_length` so grammar-constrained local models terminate,
and dialogue text has a `min_length` so they cannot answer with an empty string. Field
descriptions are shown to the model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from muspsy.instruments import SCORING
from muspsy.records import (
    GoalAttainment,
    OtherConcern,
    Progress,
    Recency,
    RiskLevel,
    ScoreTrend,
    ScreenAnswer,
    TurnRisk,
)

TURN_TEXT = Field(min_length=8, max_length=700, description="Exactly what you say, in your own voice.")
SHORT = 300
LONG = 500
Line = Annotated[str, StringConstraints(min_length=2, max_length=200)]


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


# The counselor's own reading of the client's last words (the C-SSRS levels of the client's
# hidden label, plus three other concerns): the crisis path follows it, and it is measured
# against that label.
ASSESSED_RISK = Field(
    description="What the client's last words showed of risk: none unless they did; passive_ideation (wishing "
    "to be dead), active_ideation (thoughts of killing oneself), ideation_with_method (has thought how), "
    "ideation_with_intent (some intent to act), plan_with_intent (a worked-out plan and intent), "
    "preparatory_behavior (has done or prepared something to end their life); self_harm (hurting oneself "
    "without wanting to die), harm_to_others, safeguarding_minor (a child is being harmed or at risk)."
)
# The counselor quotes what it noticed before it names it: code keeps a risk only when the
# quote is found in what the client said (`muspsy.agents.session_ops.grounded_risk`).
RISK_CUE = Field(
    default="",
    max_length=200,
    description="The client's own words that show a risk, copied exactly from what they said this session; "
    "empty when they showed none.",
)
FactId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CounselorTurnOutput(Output):
    risk_cue: str = RISK_CUE
    assessed_risk: TurnRisk = ASSESSED_RISK
    text: str = TURN_TEXT
    ready_to_close: bool = Field(
        description="True when this session's work is done and you will wrap up after the client's next reply."
    )


# --- the crisis protocol's counselor turns (`muspsy.agents.crisis`) ---------------------------
SCREEN_ANSWER = "from what the client has said so far: yes, no, or unknown while not yet answered"


class RiskScreenOutput(Output):
    """One risk-screening turn: what the client's words have answered so far, then the question."""

    risk_cue: str = RISK_CUE
    assessed_risk: TurnRisk = ASSESSED_RISK
    wish_to_be_dead: ScreenAnswer = Field(description=f"Wished to be dead or not to wake up, {SCREEN_ANSWER}.")
    active_ideation: ScreenAnswer = Field(description=f"Thoughts of killing themselves, {SCREEN_ANSWER}.")
    method: ScreenAnswer = Field(description=f"Has thought how they would do it, {SCREEN_ANSWER}.")
    intent: ScreenAnswer = Field(description=f"Some intent to act on the thoughts, {SCREEN_ANSWER}.")
    plan: ScreenAnswer = Field(description=f"Has worked out details and means to carry them out, {SCREEN_ANSWER}.")
    preparatory_behavior: ScreenAnswer = Field(
        description=f"Has ever done or prepared something to end their life, {SCREEN_ANSWER}."
    )
    recency: Recency = Field(description="When the latest such thought or act was, from what they said.")
    other_concerns: list[OtherConcern] = Field(
        max_length=3, description="Other risks the client's words showed; [] if none."
    )
    text: str = TURN_TEXT


PLAN_ENTRIES: Any = Field(max_length=2, description="What the client agreed for this step; [] if not yet.")


class SafetyPlanOutput(Output):
    """One safety-planning turn: the entries the client agreed for each step, then the next step."""

    risk_cue: str = RISK_CUE
    assessed_risk: TurnRisk = ASSESSED_RISK
    warning_signs: list[Line] = PLAN_ENTRIES
    internal_coping: list[Line] = PLAN_ENTRIES
    distraction: list[Line] = PLAN_ENTRIES
    help_contacts: list[Line] = PLAN_ENTRIES
    professionals: list[Line] = PLAN_ENTRIES
    means_restriction: list[Line] = PLAN_ENTRIES
    text: str = TURN_TEXT


class CrisisActionOutput(Output):
    """The turn that carries out the disposition code set (follow-up, referral or emergency)."""

    risk_cue: str = RISK_CUE
    assessed_risk: TurnRisk = ASSESSED_RISK
    text: str = TURN_TEXT


class ClosingOutput(Output):
    risk_cue: str = RISK_CUE
    assessed_risk: TurnRisk = ASSESSED_RISK
    text: str = TURN_TEXT
    homework: list[Line] = Field(
        min_length=1, max_length=3, description="Between-session assignments you just gave, one short line each."
    )


class TerminationOutput(Output):
    """The close of a termination session: the last words of the course, no new homework."""

    risk_cue: str = RISK_CUE
    assessed_risk: TurnRisk = ASSESSED_RISK
    text: str = TURN_TEXT
    relapse_prevention: list[Line] = Field(
        min_length=1, max_length=3, description="The relapse-prevention plan you agreed, one short line each."
    )


class ClientTurnOutput(Output):
    text: str = TURN_TEXT
    risk: TurnRisk = Field(description="Does this reply disclose thoughts of death or suicide? none unless it does.")
    disclosed: list[FactId] = Field(
        default_factory=list,
        max_length=4,
        description="The ids (in square brackets in your instructions) of the private things this reply reveals; "
        "[] if none.",
    )


class PlanStageOutput(Output):
    name: str = Field(min_length=2, max_length=80)
    sessions: str = Field(min_length=1, max_length=20, description="Session range, e.g. 1-2.")
    focus: str = Field(min_length=2, max_length=SHORT)


class PlanOutput(Output):
    case_conceptualization: str = Field(min_length=2, max_length=LONG)
    goals: list[Line] = Field(min_length=1, max_length=4)
    stages: list[PlanStageOutput] = Field(min_length=1, max_length=4)
    first_session_goal: str = Field(min_length=2, max_length=SHORT)


class MemoOutput(Output):
    summary: str = Field(min_length=2, max_length=LONG)
    emotion_and_cognitive_state: str = Field(min_length=2, max_length=SHORT)
    counselor_observations: str = Field(min_length=2, max_length=SHORT)
    counseling_assignments: list[Line] = Field(min_length=1, max_length=3)
    session_goal: str = Field(min_length=2, max_length=SHORT)
    next_session_goal: str = Field(min_length=2, max_length=SHORT)
    progress: Progress
    risk: RiskLevel


class GoalReviewOutput(Output):
    goal: int = Field(ge=1, le=4, description="The goal's number in the plan's list of goals.")
    attainment: GoalAttainment = Field(description="How far the sessions so far show this goal attained.")


class DecisionOutput(Output):
    """The clinical supervisor's review after a session and its one proposal."""

    goal_review: list[GoalReviewOutput] = Field(
        min_length=1, max_length=4, description="Each plan goal's attainment, from what the sessions showed."
    )
    score_trend: ScoreTrend = Field(
        description="The questionnaire scores' trend when they are shown to you; not_measured otherwise."
    )
    action: Literal["continue", "revise_plan", "switch_strategy", "schedule_ending", "refer"]
    strategy: str = Field(
        max_length=40, description="For switch_strategy: the name of the approach for the next session; else none."
    )
    ending_in: int = Field(
        ge=0, le=10, description="For schedule_ending: sessions until the last one (1 = the next); else 0."
    )
    referral_cue: str = Field(
        max_length=SHORT,
        description="For refer: the client's own words, quoted exactly, that show the need for other care; else none.",
    )
    rationale: str = Field(min_length=2, max_length=SHORT)


class DirectorWeekOutput(Output):
    """The director's narration of the client's week between two sessions."""

    life_event: str = Field(
        min_length=2, max_length=SHORT, description="The week's notable event in one sentence, or that it was quiet."
    )
    emotion_state: str = Field(min_length=2, max_length=SHORT, description="How the client feels at the next session.")
    cognitive_state: str = Field(
        min_length=2, max_length=SHORT, description="How the client thinks at the next session."
    )
    narrative: str = Field(min_length=2, max_length=LONG, description="The week, in two to four sentences.")


class OpeningOutput(Output):
    text: str = TURN_TEXT


# Self-report questionnaires: one whole number per item, in the item order of the instrument
# file. Counts and ranges come from the scoring rules, so an out-of-range answer fails
# validation and is asked again (bounded retries) instead of being clipped.
SymptomAnswer = Annotated[int, Field(ge=SCORING["phq9"].low, le=SCORING["phq9"].high)]
AllianceAnswer = Annotated[int, Field(ge=SCORING["wai_sr"].low, le=SCORING["wai_sr"].high)]


class SymptomQuestionnairesOutput(Output):
    """The client's PHQ-9 and GAD-7 answers at the start of a session."""

    phq9: list[SymptomAnswer] = Field(
        min_length=SCORING["phq9"].items,
        max_length=SCORING["phq9"].items,
        description="Your answers to the PHQ-9 items, in order.",
    )
    gad7: list[SymptomAnswer] = Field(
        min_length=SCORING["gad7"].items,
        max_length=SCORING["gad7"].items,
        description="Your answers to the GAD-7 items, in order.",
    )


Rating = Annotated[int, Field(ge=1, le=5)]


class AppraisalOutput(Output):
    """The client's own appraisal of the session it just had, and what it will remember."""

    felt_understood: Rating = Field(description="How understood you felt, 1 (not at all) to 5 (completely).")
    goal_agreement: Rating = Field(description="How much you agree with what the counseling aims at, 1 to 5.")
    task_agreement: Rating = Field(description="How much what you did in the session suits you, 1 to 5.")
    rupture: bool = Field(description="True if something went wrong between you and the counselor.")
    new_insight: bool = Field(description="True if you see something about yourself in a new way.")
    homework_accepted: bool = Field(description="True if you mean to do the homework; false if none or you will not.")
    recollection: str = Field(
        min_length=2, max_length=SHORT, description="What you will remember of this session, in the first person."
    )


class AllianceQuestionnaireOutput(AppraisalOutput):
    """The appraisal plus the client's WAI-SR answers at the end of a session."""

    wai_sr: list[AllianceAnswer] = Field(
        min_length=SCORING["wai_sr"].items,
        max_length=SCORING["wai_sr"].items,
        description="Your answers to the WAI-SR items, in order.",
    )
