"""The client's change engine: pure functions from one week's inputs to the client's next state.

Inputs are what the simulation side knows after a session: the client's own appraisal of it,
homework adherence, a life event (valence and impact), attitude, strategy fit and the current
alliance. The supervisor's memo is deliberately not an input: the client changes because of how
it experienced the counseling, not because someone rated it. Parameters are data
(`agents/client/dynamics.yaml`, with the sources they are calibrated against); randomness comes
in as numbers the caller drew, so these functions are deterministic and cheap enough for the
dose-response benchmark to run thousands of clients.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from muspsy.data import agents_dir
from muspsy.records import Attitude, HomeworkAdherence, SessionAppraisal, Valence
from muspsy.risk_dynamics import RiskParams

NEUTRAL_FIT = 0.5
VALENCE_SIGN: dict[Valence, int] = {"negative": -1, "neutral": 0, "positive": 1}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppraisalWeights(Strict):
    felt_understood: float = Field(ge=0)
    goal_agreement: float = Field(ge=0)
    task_agreement: float = Field(ge=0)


class SymptomParams(Strict):
    floor: float = Field(ge=0, le=10)
    base_rate: float = Field(ge=0, le=1)
    appraisal_weights: AppraisalWeights
    quality_gain: float = Field(ge=0)
    insight_rate: float = Field(ge=0)
    homework_rate: dict[HomeworkAdherence, float]
    attitude: dict[Attitude, float]
    fit_gain: float = Field(ge=0)
    alliance_gain: float = Field(ge=0)
    rupture_setback: float = Field(ge=0)
    repair_threshold: int = Field(ge=1, le=5)
    event_effect: float = Field(ge=0)
    noise_sd: float = Field(ge=0)


class AllianceParams(Strict):
    rate: float = Field(ge=0, le=1)
    rupture_drop: float = Field(ge=0)
    repair_gain: float = Field(ge=0)


class AdherenceParams(Strict):
    base: dict[Attitude, float]
    accepted: float
    not_accepted: float
    alliance_slope: float
    done_share: float = Field(ge=0, le=1)
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)


class LifeEventParams(Strict):
    probability: float = Field(ge=0, le=1)
    valence: dict[Valence, float]
    impact: tuple[float, float]


class DropoutParams(Strict):
    base: dict[Attitude, float]
    per_alliance_point_below_3: float = Field(ge=0)
    rupture: float = Field(ge=0)
    high: float = Field(ge=0, le=1)


class Caseload(Strict):
    attitude: dict[Attitude, float]
    symptom_severity: tuple[float, float]
    alliance: tuple[float, float]
    strategy_fit: tuple[float, float]


class TypicalSession(Strict):
    rating_mean: float
    rating_sd: float = Field(ge=0)
    rupture: float = Field(ge=0, le=1)
    new_insight: float = Field(ge=0, le=1)
    homework_accepted: float = Field(ge=0, le=1)


class Calibration(Strict):
    clients: int = Field(ge=1)
    sessions: int = Field(ge=1)
    improvement: float = Field(gt=0)
    caseload: Caseload
    typical_session: TypicalSession
    published: dict[int, float]


class DynamicsParams(Strict):
    symptoms: SymptomParams
    alliance: AllianceParams
    adherence: AdherenceParams
    life_events: LifeEventParams
    dropout: DropoutParams
    calibration: Calibration
    risk: RiskParams = Field(default_factory=RiskParams)  # the hidden risk level's weekly moves


def dynamics_path() -> Path:
    return agents_dir() / "client" / "dynamics.yaml"


def load_params(path: Path | None = None) -> DynamicsParams:
    """The parameters in `path` (default: the bundled `agents/client/dynamics.yaml`)."""
    if path is None:
        return _bundled_params()
    return DynamicsParams.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _bundled_params() -> DynamicsParams:
    return DynamicsParams.model_validate(yaml.safe_load(dynamics_path().read_text(encoding="utf-8")))


def clip(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def session_quality(appraisal: SessionAppraisal, params: SymptomParams) -> float:
    """The session as the client lived it, -1 (very poor) .. 1 (excellent)."""
    w = params.appraisal_weights
    total = w.felt_understood + w.goal_agreement + w.task_agreement
    centred = (
        w.felt_understood * (appraisal.felt_understood - 3)
        + w.goal_agreement * (appraisal.goal_agreement - 3)
        + w.task_agreement * (appraisal.task_agreement - 3)
    ) / 2
    return centred / total if total else 0.0


def rupture_repaired(appraisal: SessionAppraisal, params: SymptomParams) -> bool:
    return appraisal.rupture and appraisal.felt_understood >= params.repair_threshold


def adherence_probability(attitude: Attitude, accepted: bool, alliance: float, params: AdherenceParams) -> float:
    """Chance the client works on the homework at all this week."""
    p = params.base[attitude] + (params.accepted if accepted else params.not_accepted)
    p += params.alliance_slope * (alliance - 3)
    return clip(p, params.low, params.high)


def adherence_from_draw(probability: float, u: float, params: AdherenceParams) -> HomeworkAdherence:
    """`u` uniform in [0, 1): below the attempt probability the homework was worked on."""
    if u < params.done_share * probability:
        return "done"
    return "partial" if u < probability else "not_done"


def life_event_from_draw(
    u_happens: float, u_valence: float, u_impact: float, params: LifeEventParams
) -> tuple[Valence, float] | None:
    """Valence and impact of this week's event, or None for a quiet week."""
    if u_happens >= params.probability:
        return None
    total = sum(params.valence.values())
    cumulative = 0.0
    chosen: Valence = "neutral"
    for valence, weight in params.valence.items():
        cumulative += weight / total
        chosen = valence
        if u_valence < cumulative:
            break
    low, high = params.impact
    return chosen, round(low + (high - low) * u_impact, 2)


def dropout_probability(
    attitude: Attitude, alliance: float, appraisal: SessionAppraisal, params: DynamicsParams
) -> float:
    d = params.dropout
    p = d.base[attitude] + d.per_alliance_point_below_3 * max(0.0, 3 - alliance)
    if appraisal.rupture and not rupture_repaired(appraisal, params.symptoms):
        p += d.rupture
    return clip(p, 0.0, d.high)


def fit_factor(fit: float, params: SymptomParams) -> float:
    return 1 + params.fit_gain * (fit - NEUTRAL_FIT)


def next_severity(
    severity: float,
    *,
    appraisal: SessionAppraisal,
    adherence: HomeworkAdherence,
    event: tuple[Valence, float] | None,
    attitude: Attitude,
    fit: float,
    alliance: float,
    noise: float,
    params: SymptomParams,
) -> float:
    """Distress after the week: the session's pull toward the floor, then setbacks and noise.

    `noise` is a standard normal draw (scaled by `noise_sd` here), so paired arcs that share
    their random numbers differ only by what the counseling changed.
    """
    rate = params.base_rate * (1 + params.quality_gain * session_quality(appraisal, params))
    rate += params.insight_rate if appraisal.new_insight else 0.0
    rate += params.homework_rate[adherence]
    rate *= params.attitude[attitude] * fit_factor(fit, params)
    rate *= 1 + params.alliance_gain * (alliance - 3) / 2
    change = -rate * max(0.0, severity - params.floor)
    if appraisal.rupture and not rupture_repaired(appraisal, params):
        change += params.rupture_setback
    if event is not None:
        valence, impact = event
        change -= VALENCE_SIGN[valence] * impact * params.event_effect
    change += params.noise_sd * noise
    return round(clip(severity + change, 0.0, 10.0), 2)


def next_alliance(alliance: float, appraisal: SessionAppraisal, params: DynamicsParams) -> float:
    """Alliance after the session: toward how the session felt, down after a rupture."""
    a = params.alliance
    felt = (appraisal.felt_understood + appraisal.goal_agreement + appraisal.task_agreement) / 3
    value = alliance + a.rate * (felt - alliance)
    if appraisal.rupture:
        value += a.repair_gain if rupture_repaired(appraisal, params.symptoms) else -a.rupture_drop
    return round(clip(value, 1.0, 5.0), 2)


def untreated_severity(
    severity: float, *, event: tuple[Valence, float] | None, noise: float, params: SymptomParams
) -> float:
    """Distress after a week without counseling (the weeks to a follow-up): no session pulls it
    toward the floor; life events and noise still move it."""
    change = params.noise_sd * noise
    if event is not None:
        valence, impact = event
        change -= VALENCE_SIGN[valence] * impact * params.event_effect
    return round(clip(severity + change, 0.0, 10.0), 2)
