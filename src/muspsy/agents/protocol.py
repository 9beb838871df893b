"""A strategy as a protocol at run time: the structured outputs a strategy's counselor must
give (phase and technique constrained to the strategy's own names, homework to its policy),
and the rules code keeps whatever the model says (phases only move forward).

The schemas are built once per strategy from the plain ones in `muspsy.agents.outputs` and
keep their names, so backends, scripted responders and prompt logs see the same schema names;
the phase and technique fields are small enums, which grammar-constrained local models follow.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field, create_model
from pydantic.fields import FieldInfo

from muspsy.agents.outputs import ClosingOutput, CounselorTurnOutput, OpeningOutput, Output, TerminationOutput
from muspsy.agents.spec import Phase, Strategy
from muspsy.graphs.state import CurrentSession

PHASE_NOTE = "The phase of the session this turn belongs to: the current phase or a later one, never an earlier one."
TECHNIQUE_NOTE = "The one technique of your approach that this turn uses (see your approach's repertoire)."
HOMEWORK_NOTE = {
    "required": "Between-session assignments you just gave, one short line each.",
    "optional": "Between-session assignments you just agreed, one short line each; [] if none.",
}


def _enum(names: list[str]) -> Any:
    return Literal[tuple(names)]


def _rebuilt(base: type[Output], extra: dict[str, tuple[Any, FieldInfo]], drop: tuple[str, ...] = ()) -> type[Output]:
    """`base` with `extra` fields inserted after its risk reading (or first), `drop` left out:
    the model picks its phase and technique before it writes what it says."""
    fields: dict[str, Any] = {}
    own = {name: (info.annotation, info) for name, info in base.model_fields.items() if name not in drop}
    for reading in ("risk_cue", "assessed_risk"):
        if reading in own:
            fields[reading] = own.pop(reading)
    fields.update(extra)
    fields.update(own)
    model: type[Output] = create_model(base.__name__, __base__=Output, __doc__=base.__doc__, **fields)
    return model


def _technique_field(names: list[str]) -> tuple[Any, FieldInfo]:
    return (_enum(names), Field(description=TECHNIQUE_NOTE))


@functools.cache
def _schemas(strategy_json: str) -> dict[str, type[Output]]:
    strategy = Strategy.model_validate_json(strategy_json)
    dialogue = [p.name for p in strategy.dialogue_phases]

    def technique_names(*phases: str) -> list[str]:
        return [t.name for t in strategy.techniques_for(*phases)]

    closing_extra: dict[str, tuple[Any, FieldInfo]] = {
        "technique": _technique_field(technique_names(strategy.closing.name))
    }
    if strategy.homework != "none":
        low = 1 if strategy.homework == "required" else 0
        closing_extra["homework"] = (
            ClosingOutput.model_fields["homework"].annotation,
            Field(min_length=low, max_length=3, description=HOMEWORK_NOTE[strategy.homework]),
        )
    return {
        "open": _rebuilt(OpeningOutput, {"technique": _technique_field(technique_names(strategy.opening.name))}),
        "turn": _rebuilt(
            CounselorTurnOutput,
            {
                "phase": (_enum(dialogue), Field(description=PHASE_NOTE)),
                "technique": _technique_field(technique_names(*dialogue)),
            },
        ),
        "close": _rebuilt(ClosingOutput, closing_extra, drop=("homework",)),
        # The termination close is in the closing phase too, and gives no homework whatever the policy.
        "terminate": _rebuilt(TerminationOutput, {"technique": closing_extra["technique"]}),
    }


def schema(strategy: Strategy, kind: Literal["open", "turn", "close", "terminate"]) -> type[Output]:
    """The structured output of a counselor's opening, dialogue turn, close or termination close
    under `strategy`."""
    return _schemas(strategy.model_dump_json())[kind]


# ---------------------------------------------------------------- phases


def current_phase(session: CurrentSession, strategy: Strategy) -> Phase:
    """The phase of the latest counselor turn that has one (the opening phase before any)."""
    by_name = {p.name: p for p in strategy.phases}
    labelled = [t["phase"] for t in session["turns"] if t["speaker"] == "counselor" and t.get("phase") in by_name]
    return by_name[labelled[-1]] if labelled else strategy.opening


def next_phase(session: CurrentSession, strategy: Strategy) -> Phase | None:
    """The dialogue phase after the current one, when there is one."""
    names = [p.name for p in strategy.phases]
    following = strategy.phases[names.index(current_phase(session, strategy).name) + 1 :]
    return following[0] if following and following[0] is not strategy.closing else None


def forward_phase(session: CurrentSession, strategy: Strategy, chosen: str) -> str:
    """The phase a dialogue turn is recorded in: the model's choice, unless it is earlier than
    the current phase (phases only move forward), then the current one."""
    names = [p.name for p in strategy.phases]
    current = current_phase(session, strategy).name
    return chosen if names.index(chosen) >= names.index(current) else current


def labelled(session: CurrentSession, phase: str, technique: str) -> CurrentSession:
    """`session` with its latest turn labelled with the phase and technique it used."""
    last = {**session["turns"][-1], "phase": phase, "technique": technique}
    return {**session, "turns": [*session["turns"][:-1], last]}


def homework_to_review(previous: list[str], strategy: Strategy) -> list[str]:
    """The homework a session reviews: last session's, only where the protocol has a review."""
    return list(previous) if strategy.reviews_homework() else []
