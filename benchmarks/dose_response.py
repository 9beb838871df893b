"""Dose-response of the change engine next to the published curve (no model involved).

Simulates the caseload described under `calibration` in `agents/client/dynamics.yaml` with the
pure functions of `muspsy.dynamics`, each session appraised by a draw from the typical-session
distribution there, and prints the share of clients improved by session next to Howard et al.
(1986). Improved = distress at least `calibration.improvement` below its start. Clients are
followed whatever they would have done (no dropout), as Howard's curve counts clients by the
sessions they attended.

    python benchmarks/dose_response.py [--clients N] [--seed S] [--dynamics FILE]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from muspsy.dynamics import (
    DynamicsParams,
    adherence_from_draw,
    adherence_probability,
    clip,
    life_event_from_draw,
    load_params,
    next_alliance,
    next_severity,
)
from muspsy.records import Attitude, SessionAppraisal

SHOWN = (1, 2, 4, 8, 13, 26, 39, 52)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=None, help="default: calibration.clients")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dynamics", type=Path, default=None, help="default: agents/client/dynamics.yaml")
    args = parser.parse_args()
    params = load_params(args.dynamics)
    clients = args.clients or params.calibration.clients
    started = time.perf_counter()
    curve = improved_by_session(params, clients, args.seed)
    seconds = time.perf_counter() - started
    published = params.calibration.published
    print(f"share of {clients} simulated clients improved (distress down >= {params.calibration.improvement})")
    print(f"{'session':>8} {'simulated':>10} {'Howard 1986':>12}")
    for session in sorted({*SHOWN, *published}):
        if session <= len(curve):
            reference = f"{published[session]:.2f}" if session in published else ""
            print(f"{session:>8} {curve[session - 1]:>10.2f} {reference:>12}")
    print(f"({seconds:.1f} s)")


if __name__ == "__main__":
    main()
