"""Calibration of the change engine: a simulated caseload's dose-response curve.

Runs the caseload described under `calibration` in `agents/client/dynamics.yaml` through the
pure functions of `muspsy.dynamics`, each session appraised by a draw from the typical-session
distribution there, so the share of clients improved by session can be set beside the
published curve (Howard et al. 1986). Clients are followed whatever they would have done (no
dropout), as Howard's curve counts clients by the sessions they attended.
`benchmarks/dose_response.py` prints it; a test keeps the defaults on the published curve.
"""

from __future__ import annotations

import random

from muspsy.dynamics import (
    DynamicsParams,
    adherence_from_draw,
    adherence_probability,
    clip,
    life_event_from_draw,
    next_alliance,
    next_severity,
)
from muspsy.records import Attitude, SessionAppraisal


def typical_appraisal(rng: random.Random, params: DynamicsParams) -> SessionAppraisal:
    t = params.calibration.typical_session

    def rating() -> int:
        return int(clip(round(rng.gauss(t.rating_mean, t.rating_sd)), 1, 5))

    return SessionAppraisal(
        felt_understood=rating(),
        goal_agreement=rating(),
        task_agreement=rating(),
        rupture=rng.random() < t.rupture,
        new_insight=rng.random() < t.new_insight,
        homework_accepted=rng.random() < t.homework_accepted,
    )


def pick_attitude(rng: random.Random, params: DynamicsParams) -> Attitude:
    shares = params.calibration.caseload.attitude
    u, cumulative = rng.random() * sum(shares.values()), 0.0
    for attitude, share in shares.items():
        cumulative += share
        if u < cumulative:
            return attitude
    return "neutral"


def improved_by_session(params: DynamicsParams, clients: int, seed: int) -> list[float]:
    """Share of clients improved after each session 1..calibration.sessions."""
    cal = params.calibration
    rng = random.Random(seed)
    counts = [0] * cal.sessions
    for _ in range(clients):
        attitude = pick_attitude(rng, params)
        severity = start = rng.uniform(*cal.caseload.symptom_severity)
        alliance = rng.uniform(*cal.caseload.alliance)
        fit = rng.uniform(*cal.caseload.strategy_fit)
        for session in range(cal.sessions):
            appraisal = typical_appraisal(rng, params)
            p_work = adherence_probability(attitude, appraisal.homework_accepted, alliance, params.adherence)
            adherence = adherence_from_draw(p_work, rng.random(), params.adherence)
            event = life_event_from_draw(rng.random(), rng.random(), rng.random(), params.life_events)
            severity = next_severity(
                severity,
                appraisal=appraisal,
                adherence=adherence,
                event=event,
                attitude=attitude,
                fit=fit,
                alliance=alliance,
                noise=rng.gauss(0.0, 1.0),
                params=params.symptoms,
            )
            alliance = next_alliance(alliance, appraisal, params)
            if severity <= start - cal.improvement:
                counts[session] += 1
    return [count / clients for count in counts]
