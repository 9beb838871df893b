"""How the client's hidden risk level moves between sessions: a pure function of the week.

Simulation side only: the level is the ground truth the client speaks from (its prompt, and the
cap on its turns' risk labels) and that risk detection is measured against; no counselor-side
prompt shows it. The director draws the one random number (seeded, like every other draw of
the week); the parameters live in the `risk` section of `agents/client/dynamics.yaml`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from muspsy.records import RISK_LEVELS, RiskLevel, Valence


class RiskParams(BaseModel):
    """Chances per week that the level moves one step. The defaults move nothing, so a
    dynamics file written before the level could move keeps it fixed."""

    model_config = ConfigDict(extra="forbid")

    base_up: float = Field(default=0.0, ge=0, le=1)
    base_down: float = Field(default=0.0, ge=0, le=1)
    negative_event_up: float = Field(default=0.0, ge=0, le=1, description="Per unit of a negative event's impact.")
    distress_up: float = Field(default=0.0, ge=0, le=1, description="Per distress point the week added.")
    distress_down: float = Field(default=0.0, ge=0, le=1, description="Per distress point the week took off.")
    safety_plan_up_factor: float = Field(default=1.0, ge=0, le=1, description="Multiplies the rise with a plan.")
    safety_plan_down: float = Field(default=0.0, ge=0, le=1, description="Added to the fall with a plan.")
    max_above_profile: int = Field(default=0, ge=0, le=4, description="Steps the level may rise above the profile's.")


def chances(
    severity_change: float, event: tuple[Valence, float] | None, safety_plan: bool, params: RiskParams
) -> tuple[float, float]:
    """(chance of a rise, chance of a fall) this week; together at most 1."""
    impact = event[1] if event and event[0] == "negative" else 0.0
    up = params.base_up + params.negative_event_up * impact + params.distress_up * max(0.0, severity_change)
    down = params.base_down + params.distress_down * max(0.0, -severity_change)
    if safety_plan:
        up *= params.safety_plan_up_factor
        down += params.safety_plan_down
    up, down = min(up, 1.0), min(down, 1.0)
    total = up + down
    return (up / total, down / total) if total > 1 else (up, down)


def next_risk_level(
    level: RiskLevel,
    profile_level: RiskLevel,
    draw: float,
    severity_change: float,
    event: tuple[Valence, float] | None,
    safety_plan: bool,
    params: RiskParams,
) -> RiskLevel:
    """The level after the week: one step up, one step down or the same, from `draw` in [0, 1).

    A client whose profile says no risk stays at none; others never rise more than
    `max_above_profile` steps above the profile's level.
    """
    if profile_level == "none":
        return "none"
    up, down = chances(severity_change, event, safety_plan, params)
    rank = RISK_LEVELS.index(level)
    ceiling = min(len(RISK_LEVELS) - 1, RISK_LEVELS.index(profile_level) + params.max_above_profile)
    if draw < up:
        rank = min(rank + 1, ceiling)
    elif draw < up + down:
        rank = max(rank - 1, 0)
    return RISK_LEVELS[rank]
