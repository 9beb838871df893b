"""A run's totals: sessions, turns, token usage and estimated cost, read from `arcs.jsonl`."""

from __future__ import annotations

from typing import Any

from muspsy.config import RunConfig
from muspsy.graphs.state import add_usage
from muspsy.runfolder import ARCS, RunFolder, read_lines


def totals(folder: RunFolder) -> tuple[int, int, dict[str, dict[str, float]]]:
    """(sessions, turns, usage per role) over every finished arc, whatever happened before."""
    usage: dict[str, dict[str, float]] = {}
    sessions = turns = 0
    for record in read_lines(folder.path(ARCS)):
        usage = add_usage(usage, record["usage"])
        sessions += len(record["sessions"])
        turns += sum(len(s["turns"]) for s in record["sessions"])
    return sessions, turns, usage


def estimate_cost(
    usage: dict[str, dict[str, float]], models: dict[str, dict[str, Any]], config: RunConfig
) -> dict[str, float] | None:
    """Per-role and total cost from the config's price table; None when it has no prices."""
    if not config.prices:
        return None
    cost: dict[str, float] = {}
    for role, counts in usage.items():
        price = config.prices.get(models.get(role, {}).get("name", ""))
        if price:
            cost[role] = round(
                counts.get("prompt_tokens", 0) * price.prompt_per_million / 1e6
                + counts.get("completion_tokens", 0) * price.completion_per_million / 1e6,
                6,
            )
    cost["total"] = round(sum(cost.values()), 6)
    return cost
