"""Simulate one arc in memory and get its canonical record: the smallest public entry point.

    record = await simulate_arc(profile, scripted_models())

Runs that write folders, checkpoints and events go through `muspsy.runner` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from langgraph.checkpoint.memory import InMemorySaver

from muspsy import __version__
from muspsy.agents.spec import resolve_strategies
from muspsy.config import Limits, RunConfig
from muspsy.events import EventLog
from muspsy.graphs.arc import build_arc_graph, recursion_limit
from muspsy.graphs.state import ArcState
from muspsy.llm import RoleModel, describe_models
from muspsy.planning import load_strategies
from muspsy.promptlog import PromptLog
from muspsy.records import ArcRecord, ClientProfile, Role
from muspsy.runner import assemble_record, initial_arc_state, now


async def simulate_arc(
    profile: ClientProfile,
    models: Mapping[Role, RoleModel],
    *,
    strategy: str = "cbt",
    limits: Limits | None = None,
    seed: int = 0,
    language: str | None = None,
    retries: int = 2,
    events: EventLog | None = None,
    outcomes: bool = True,
    measurement_based_care: bool = False,
    adaptive: bool = False,
    follow_up_weeks: int = 0,
    prompts: PromptLog | None = None,
) -> ArcRecord:
    """Run one client's whole course of counseling with `models` and return its record.

    With `outcomes` the client fills in PHQ-9 and GAD-7 at each session's start and the WAI-SR
    at its end (stored in each session record); with `measurement_based_care` the clinical
    supervisor sees those scores. With `adaptive` the supervisor may switch to any strategy
    between sessions; `follow_up_weeks` adds a follow-up measurement that many weeks after the
    exit. `prompts` records the exact messages of every call.
    """
    names = resolve_strategies(strategy)
    if len(names) != 1:
        raise ValueError(f"simulate_arc runs one strategy, got {', '.join(names)}: use muspsy.runner for paired runs")
    strategy = names[0]  # an alias (mi, pc, ...) becomes the canonical name the record carries
    config = RunConfig(
        strategy=strategy,
        seed=seed,
        language=language,
        limits=limits or Limits(),
        outcomes=outcomes,
        measurement_based_care=measurement_based_care,
        adaptive=adaptive,
        follow_up_weeks=follow_up_weeks,
    )
    graph = build_arc_graph(models, load_strategies(config), events=events, retries=retries, prompts=prompts).compile(
        checkpointer=InMemorySaver()
    )
    state = initial_arc_state("in-memory", profile, config)
    started = now()
    final = await graph.ainvoke(
        state,
        {
            "configurable": {"thread_id": state["arc_id"]},
            "recursion_limit": recursion_limit(config.limits.sessions_max, config.limits.turns_max),
        },
    )
    provenance = {
        "version": __version__,
        "models": describe_models(models),
        "seed": seed,
        "started_at": started,
        "finished_at": now(),
    }
    return assemble_record(cast(ArcState, final), provenance)
