"""Entry points for `langgraph dev` / LangGraph Studio (see `graphs/langgraph.json`).

Studio compiles graphs with its own checkpointer, so these are factories that yield graphs
compiled without one. The backend comes from the YAML file named by the environment variable
`MUSPSY_CONFIG` (default: the scripted backend, instant and offline).

`langgraph dev` refuses blocking calls in its event loop, and building a graph reads files
(config, prompts, strategies, questionnaires): the factories build in a worker thread and only
await in the loop. Inputs: `graphs/input.arc.json` (an arc's start state, as made by
`muspsy.runner.initial_arc_state`) and `graphs/input.session.json` (the state after `plan`,
as the arc graph hands it to its first session); `sample_inputs()` writes both.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from muspsy.agents.spec import load_strategy
from muspsy.backends import open_models
from muspsy.config import Limits, RunConfig, build_config, load_config_file, resolved
from muspsy.data import profiles_dir
from muspsy.graphs.arc import build_arc_graph
from muspsy.graphs.state import SessionState
from muspsy.llm import RoleModel
from muspsy.planning import load_strategies
from muspsy.profiles import load_profile
from muspsy.records import Role
from muspsy.runner import initial_arc_state
from muspsy.testing import scripted_models
from muspsy.testing.scripted import preload as preload_scripted

SAMPLE_PROFILE = "hannah-work-anxiety"
SAMPLE_LIMITS = Limits(sessions_min=2, sessions_max=2, turns_min=5, turns_max=7)


def studio_config() -> RunConfig:
    path = os.environ.get("MUSPSY_CONFIG")
    data = load_config_file(Path(path)) if path else {"backend": "scripted"}
    return resolved(build_config(data, path or "MUSPSY_CONFIG"))


def _compiled_arc(models: dict[Role, RoleModel], config: RunConfig) -> Any:
    if config.backend == "scripted":
        preload_scripted()  # here, in the worker thread, not in the first call inside the loop
    return build_arc_graph(models, load_strategies(config)).compile(name="arc")


@asynccontextmanager
async def _models(config: RunConfig) -> AsyncIterator[dict[Role, RoleModel]]:
    async with AsyncExitStack() as stack:
        yield dict((await open_models(config, stack)).models)


@asynccontextmanager
async def arc_graph(runnable_config: Any = None) -> AsyncIterator[Any]:
    """The arc graph, with models from `MUSPSY_CONFIG` (scripted when unset)."""
    config = await asyncio.to_thread(studio_config)
    async with _models(config) as models:
        yield await asyncio.to_thread(_compiled_arc, models, config)


@asynccontextmanager
async def session_graph(runnable_config: Any = None) -> AsyncIterator[Any]:
    """The session subgraph of the arc graph, with the same models."""
    async with arc_graph(runnable_config) as arc:
        yield next(graph for name, graph in arc.get_subgraphs() if name == "session")


def sample_inputs() -> dict[str, dict[str, Any]]:
    """Start states for both graphs: a bundled client, two short sessions; the session input is
    the arc state after the scripted `plan` node."""
    profile = load_profile(profiles_dir() / f"{SAMPLE_PROFILE}.yaml")
    config = RunConfig(backend="scripted", strategy="cbt", limits=SAMPLE_LIMITS)
    arc_input = initial_arc_state("studio", profile, config)
    graph = build_arc_graph(scripted_models(), load_strategy("cbt")).compile(
        checkpointer=InMemorySaver(), interrupt_after=["plan"]
    )
    thread: Any = {"configurable": {"thread_id": "sample"}}
    after_plan = asyncio.run(graph.ainvoke(arc_input, thread))
    # Usage starts at zero: the plan's timing would make the file differ on every write.
    session_input = {k: v for k, v in after_plan.items() if k in SessionState.__annotations__} | {"usage": {}}
    return {"arc": dict(arc_input), "session": session_input}


def write_sample_inputs(folder: Path) -> list[Path]:
    """`input.<graph>.json` in `folder` for both graphs (python -m muspsy.graphs.studio DIR)."""
    written = []
    for name, state in sample_inputs().items():
        path = folder / f"input.{name}.json"
        path.write_text(json.dumps(state, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_sample_inputs(Path(sys.argv[1] if len(sys.argv) > 1 else "graphs")):
        print(path)
