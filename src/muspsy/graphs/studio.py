"""Entry points for `langgraph dev` / LangGraph Studio (see `graphs/langgraph.json`).

Studio compiles graphs with its own checkpointer, so these are factories that yield
uncompiled-checkpointer graphs. The backend comes from the YAML file named by the environment
variable `MUSPSY_CONFIG` (default: the scripted backend, instant and offline). The input is an
arc state as made by `muspsy.runner.initial_arc_state`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from muspsy.agents.spec import load_strategy
from muspsy.backends import open_models
from muspsy.config import build_config, load_config_file, resolved
from muspsy.graphs.arc import build_arc_graph


@asynccontextmanager
async def arc_graph(config: Any = None) -> AsyncIterator[Any]:
    """The arc graph, with models from `MUSPSY_CONFIG` (scripted when unset)."""
    path = os.environ.get("MUSPSY_CONFIG")
    data = load_config_file(Path(path)) if path else {"backend": "scripted"}
    run_config = resolved(build_config(data, path or "MUSPSY_CONFIG"))
    async with AsyncExitStack() as stack:
        models = await open_models(run_config, stack)
        yield build_arc_graph(models.models, load_strategy(run_config.strategies[0])).compile(name="arc")
