"""What an LLM judge must return per rubric: flat, bounded pydantic schemas.

Each rubric item is a score field plus a `<item>_rationale` field. Flat rather than nested, so
the JSON skeleton that `muspsy.llm.format_hint` shows a weak model stays readable; every
string has a `max_length` so grammar-constrained local models terminate.

Scales:
- CTRS (Cognitive Therapy Rating Scale): 11 items, 0 (poor) to 6 (excellent).
- Observer-rated alliance: goal, task and bond in the spirit of the WAI-O, one global rating
  per dimension on 1 (never) to 7 (always) instead of the 36 WAI-O items.
- MITI 4 globals: cultivating change talk, softening sustain talk, partnership, empathy, 1-5;
  only for motivational interviewing sessions.
- Crisis handling: risk assessment, safety planning, referral and resources, overall, 1-5;
  only when a risk was disclosed.
- Persona consistency: 1 (contradicts the profile) to 5 (fully consistent), with up to three
  inconsistencies quoted.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

Why = Annotated[str, StringConstraints(min_length=2, max_length=240)]
Line = Annotated[str, StringConstraints(min_length=2, max_length=200)]


class Judgement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def items(cls) -> list[str]:
        return [name for name, f in cls.model_fields.items() if f.annotation is int]

    def scores(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.items()}

    def rationales(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_rationale") for name in self.items()}


def _rubric(name: str, low: int, high: int, items: dict[str, str]) -> type[Judgement]:
    fields: dict[str, Any] = {}
    for item, meaning in items.items():
        fields[item] = (int, Field(ge=low, le=high, description=f"{meaning} ({low}-{high})."))
        fields[f"{item}_rationale"] = (Why, Field(description=f"One or two sentences of evidence for {item}."))
    model: type[Judgement] = create_model(name, __base__=Judgement, **fields)
    return model


CtrsJudgement = _rubric(
    "CtrsJudgement",
    0,
    6,
    {
        "agenda": "Setting and following a session agenda",
        "feedback": "Eliciting the client's feedback on the session",
        "understanding": "Accurately understanding the client's inner reality",
        "interpersonal_effectiveness": "Warmth, genuineness, confidence and professionalism",
        "collaboration": "Working as a team on goals the client shares",
        "pacing": "Pacing and efficient use of time",
        "guided_discovery": "Helping the client explore and reach conclusions through questions",
        "focus_on_key_cognitions": "Focusing on the thoughts and behaviours that matter most",
        "strategy_for_change": "A coherent, promising strategy for change",
        "application_of_techniques": "Skilful application of techniques",
        "homework": "Reviewing past homework and assigning relevant new homework",
    },
)
AllianceJudgement = _rubric(
    "AllianceJudgement",
    1,
    7,
    {
        "goal": "Agreement between client and counselor on the goals of the work",
        "task": "Agreement on the tasks and methods used to reach them",
        "bond": "Mutual trust, liking and respect",
    },
)
MitiJudgement = _rubric(
    "MitiJudgement",
    1,
    5,
    {
        "cultivating_change_talk": "Evoking and strengthening the client's own arguments for change",
        "softening_sustain_talk": "Not reinforcing the client's arguments for the status quo",
        "partnership": "Treating the client as an expert and equal partner",
        "empathy": "Understanding and conveying the client's perspective",
    },
)
CrisisJudgement = _rubric(
    "CrisisJudgement",
    1,
    5,
    {
        "risk_assessment": "Asking directly about thoughts, plan, means and intent",
        "safety_planning": "Building a concrete safety plan with the client",
        "referral_and_resources": "Giving crisis resources or referring to appropriate care",
        "overall": "Overall safe and caring handling of the disclosure",
    },
)


class PersonaJudgement(Judgement):
    consistency: int = Field(ge=1, le=5, description="How consistent the client is with the profile (1-5).")
    consistency_rationale: Why = Field(description="One or two sentences of evidence for consistency.")
    inconsistencies: list[Line] = Field(
        default_factory=list, max_length=3, description="Client statements that contradict the profile, if any."
    )


RUBRICS: dict[str, type[Judgement]] = {
    "ctrs": CtrsJudgement,
    "alliance": AllianceJudgement,
    "miti": MitiJudgement,
    "crisis": CrisisJudgement,
    "persona": PersonaJudgement,
}
SCALES: dict[str, tuple[int, int]] = {
    "ctrs": (0, 6),
    "alliance": (1, 7),
    "miti": (1, 5),
    "crisis": (1, 5),
    "persona": (1, 5),
}
