"""Which arcs a run is made of: ids, seeds, strategies, their first state and the hashes that
say what the run is (config and prompts). Pure functions; nothing here touches the disk."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from muspsy.agents.spec import AgentSpec, Strategy, available_strategies, load_strategy
from muspsy.config import RunConfig
from muspsy.crisis import protocol_path
from muspsy.dynamics import dynamics_path
from muspsy.graphs.state import ArcState
from muspsy.instruments import instrument_hashes
from muspsy.records import ClientProfile, Role


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def prompt_hashes(specs: dict[Role, AgentSpec], strategies: Sequence[Strategy]) -> dict[str, str]:
    """sha256 of every template, every strategy used, every questionnaire the client reads, the
    change engine's parameters and the crisis protocol."""
    hashes = {f"{role}/{name}": t.sha256 for role, spec in specs.items() for name, t in spec.templates.items()}
    for strategy in strategies:
        # Aliases are spellings on the command line; they change nothing an arc produces.
        strategy_text = strategy.model_dump_json(exclude={"aliases"}).encode("utf-8")
        hashes[f"counselor/strategies/{strategy.name}"] = hashlib.sha256(strategy_text).hexdigest()
    hashes.update(instrument_hashes())
    hashes["client/dynamics"] = hashlib.sha256(dynamics_path().read_bytes()).hexdigest()
    hashes["counselor/crisis"] = hashlib.sha256(protocol_path().read_bytes()).hexdigest()
    return dict(sorted(hashes.items()))


def load_strategies(config: RunConfig) -> dict[str, Strategy]:
    """The config's strategies by name (names already canonical: see `config.resolved`), then,
    when the run is adaptive, every other strategy the supervisor may switch to: the graphs'
    catalog, all hashed into the fingerprint."""
    names = [*config.strategies, *(n for n in available_strategies() if config.adaptive and n not in config.strategies)]
    return {name: load_strategy(name) for name in names}


def new_run_id(runs_dir: Path, config_fingerprint: str) -> str:
    base = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{config_fingerprint[:6]}"
    run_id, n = base, 1
    while (runs_dir / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


@dataclass(frozen=True)
class ArcPlan:
    arc_id: str
    client_id: str
    seed: int
    strategy: str


def plan_arcs(profiles: Sequence[ClientProfile], config: RunConfig) -> list[ArcPlan]:
    """K arcs per profile with seeds seed, seed+1, ..., each under every strategy.

    The same profile and replicate get the same seed under every strategy (the pairing);
    arc ids stay distinct because they name the strategy.
    """
    return [
        ArcPlan(arc_id(p, strategy, config.seed + k), p.id, config.seed + k, strategy)
        for p in profiles
        for k in range(config.arcs_per_profile)
        for strategy in config.strategies
    ]


def manifest_entry(plan: ArcPlan) -> dict[str, Any]:
    return {"client_id": plan.client_id, "seed": plan.seed, "strategy": plan.strategy, "status": "pending"}


def arc_id(profile: ClientProfile, strategy: str, seed: int) -> str:
    return f"{profile.id}--{strategy}--seed{seed}"


def thread_id(run_id: str, arc: str) -> str:
    """The arc's checkpoint thread, unique across runs: a shared Postgres holds many runs."""
    return f"{run_id}/{arc}"


def initial_arc_state(
    run_id: str, profile: ClientProfile, config: RunConfig, seed: int | None = None, strategy: str | None = None
) -> ArcState:
    seed = config.seed if seed is None else seed
    strategy = strategy or config.strategies[0]
    return {
        "run_id": run_id,
        "arc_id": arc_id(profile, strategy, seed),
        "seed": seed,
        "strategy": strategy,
        "assigned_strategy": strategy,
        "outcomes": config.outcomes,
        "measurement_based_care": config.measurement_based_care,
        "adaptive": config.adaptive,
        "follow_up_weeks": config.follow_up_weeks,
        "disclosures": [],
        "language": config.language or profile.language,
        "profile": profile.model_dump(mode="json", by_alias=True),
        "limits": {
            "sessions_min": config.limits.sessions_min,
            "sessions_max": config.limits.sessions_max,
            "turns_min": config.limits.turns_min,
            "turns_max": config.limits.turns_max,
        },
        "usage": {},
    }
