"""What an LLM judge must return per rubric: flat, bounded pydantic schemas.

Each rubric item is a score field plus a `<item>_rationale` field. Flat rather than nested, so
the JSON skeleton that `muspsy.llm.format_hint` shows a weak model stays readable; every
string has a `max_length` so grammar-constrained local models terminate.

Scales:
- CTRS (Cognitive Therapy Rating Scale): 11 items, 0 (poor) to 6 (excellent).
- Observer-rated alliance: goal, task and bond in the spirit of the WAI-O, one global rating
  per dimension on 1 (never) to 7 (always) instead of the 36 WAI-O items.
- Strategy-matched fidelity, each only for its strategy (judge settings, `fidelity`):
  CTRS for CBT; MITI 4 globals (cultivating change talk, softening sustain talk, partnership,
  empathy, 1-5) and MITI 4 behaviour counts for motivational interviewing; a person-centred
  process scale for person-centred sessions (own paraphrases of the kind of items the
  Person-Centred and Experiential Psychotherapy Scale rates, PCEPS, Freire, Elliott &
  Westwater 2014, on its 1-6 range); an SFBT fidelity scale (own items, one per core component
  of the SFBTA treatment manual, Trepper et al. 2010, 1-5).
- MITI 4 behaviour counts (Moyers, Manuel & Ernst 2014; own wording): how often the counselor
  gave information, persuaded (with or without permission), asked questions, reflected (simple
  or complex), affirmed, sought collaboration, emphasised autonomy or confronted; summary:
  reflections per question (a session without a question counts one).
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


PcepsJudgement = _rubric(
    "PcepsJudgement",
    1,
    6,
    {
        "client_frame": "Staying within the client's frame of reference and following their track",
        "core_meaning": "Reflecting the core meaning of what the client says, not just its surface",
        "client_flow": "Going with the flow of the client's experience instead of redirecting it",
        "warmth": "Warmth and caring the client can feel",
        "acceptance": "Accepting the client's experience without judging or correcting it",
        "genuineness": "Responding as a real person rather than from behind a technique",
        "clarity": "Clear, concise language that fits the client's words",
        "non_directiveness": "Leaving the topic and direction of the session to the client",
        "emotion_focus": "Attending to the client's feelings and what they mean to the client",
    },
)
SfbtJudgement = _rubric(
    "SfbtJudgement",
    1,
    5,
    {
        "preferred_future": "Inviting a concrete description of the future the client wants",
        "exceptions": "Finding and exploring times the problem was absent or smaller",
        "scaling": "Using scales to mark progress and the next small step",
        "resources": "Noticing and complimenting the client's strengths and coping",
        "client_language": "Building on the client's own words and goals",
        "future_focus": "Keeping the talk on solutions rather than on the problem's causes",
        "next_step_and_task": "Ending with feedback and a small task that does more of what works",
    },
)

MITI_BEHAVIOURS = {
    "giving_information": "gives information, educates or explains without persuading",
    "persuade": "tries to change the client's mind or behaviour by argument, advice or warning, unasked",
    "persuade_with_permission": "advises or argues after asking permission or stressing the client's choice",
    "question": "asks a question",
    "simple_reflection": "reflects what the client said, adding little meaning",
    "complex_reflection": "reflects with added meaning, feeling or both sides",
    "affirm": "says something positive about the client's strengths or efforts",
    "seeking_collaboration": "shares power or asks for the client's ideas",
    "emphasizing_autonomy": "stresses the client's choice and control",
    "confront": "disagrees, criticises, shames or argues with the client",
}
MAX_COUNT = 60


class CountJudgement(Judgement):
    """Counts of behaviours in a session, with one rationale for them all."""

    counts_rationale: Why = Field(description="One or two sentences on the most frequent behaviours.")

    def rationales(self) -> dict[str, str]:
        return {"counts": self.counts_rationale}


_COUNT_FIELDS: dict[str, Any] = {
    code: (int, Field(ge=0, le=MAX_COUNT, description=f"How many times the counselor {meaning}."))
    for code, meaning in MITI_BEHAVIOURS.items()
}
MitiBehaviourJudgement: type[Judgement] = create_model(
    "MitiBehaviourJudgement", __base__=CountJudgement, **_COUNT_FIELDS
)


def reflection_to_question(scores: dict[str, int]) -> float | None:
    """MITI 4's reflection-to-question ratio; None without a question."""
    reflections = scores["simple_reflection"] + scores["complex_reflection"]
    return reflections / scores["question"] if scores["question"] else None


def miti_summary_scores(scores: dict[str, int]) -> dict[str, float | None]:
    """The MITI 4 summary scores computed from the behaviour counts."""
    reflections = scores["simple_reflection"] + scores["complex_reflection"]
    return {
        "reflection_to_question": reflection_to_question(scores),
        "percent_complex_reflections": scores["complex_reflection"] / reflections if reflections else None,
        "mi_adherent": scores["affirm"] + scores["seeking_collaboration"] + scores["emphasizing_autonomy"],
        "mi_non_adherent": scores["confront"] + scores["persuade"],
    }


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
    "miti_behaviours": MitiBehaviourJudgement,
    "pceps": PcepsJudgement,
    "sfbt": SfbtJudgement,
    "crisis": CrisisJudgement,
    "persona": PersonaJudgement,
}
SCALES: dict[str, tuple[int, int]] = {
    "ctrs": (0, 6),
    "alliance": (1, 7),
    "miti": (1, 5),
    "miti_behaviours": (0, MAX_COUNT),
    "pceps": (1, 6),
    "sfbt": (1, 5),
    "crisis": (1, 5),
    "persona": (1, 5),
}
# Rubrics whose items are counts, not ratings: no strategy-matched fidelity score from them.
COUNTS = frozenset({"miti_behaviours"})
