"""Dose-response of the change engine next to the published curve (no model involved).

Simulates the caseload described under `calibration` in `agents/client/dynamics.yaml`
(`muspsy.calibration`) and prints the share of clients improved by session next to Howard et
al. (1986). Improved = distress at least `calibration.improvement` below its start.

    python benchmarks/dose_response.py [--clients N] [--seed S] [--dynamics FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from muspsy.calibration import improved_by_session
from muspsy.dynamics import load_params

SHOWN = (1, 2, 4, 8, 13, 26, 39, 52)


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
