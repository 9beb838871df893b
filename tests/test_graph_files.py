"""The graphs' published shape: Mermaid files are current, JSON is well formed and sound."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess

import networkx as nx
import pytest

from conftest import REPO
from muspsy.graphs.export import GRAPH_NAMES, to_mermaid
from muspsy.graphs.studio import sample_inputs

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", GRAPH_NAMES)
def test_mermaid_files_are_current(name):
    on_disk = (REPO / "graphs" / f"{name}.mmd").read_text(encoding="utf-8")
    assert on_disk.strip() == to_mermaid(name).strip(), f"regenerate: muspsy graph --which {name} > graphs/{name}.mmd"


@pytest.mark.cli
def test_graph_json_every_node_reaches_the_end_and_none_is_orphaned():
    out = subprocess.run(["muspsy", "graph", "--format", "json"], capture_output=True, text=True, check=True)
    graphs = json.loads(out.stdout)
    assert set(graphs) == set(GRAPH_NAMES)
    for name, data in graphs.items():
        graph = nx.node_link_graph(data, edges="edges")
        assert "__start__" in graph and "__end__" in graph, name
        reachable = nx.descendants(graph, "__start__") | {"__start__"}
        assert reachable == set(graph.nodes), f"{name}: orphaned {set(graph.nodes) - reachable}"
        for node in graph.nodes:
            if node != "__end__":
                assert nx.has_path(graph, node, "__end__"), f"{name}: {node} cannot reach the end"
    assert {"plan", "session", "memo", "decide", "between_sessions", "finalize"} <= set(
        graphs["arc"]["nodes"][i]["id"] for i in range(len(graphs["arc"]["nodes"]))
    )
    session_nodes = {n["id"] for n in graphs["session"]["nodes"]}
    assert {"open", "client_turn", "counselor_turn", "crisis", "close"} <= session_nodes


async def _enter(factory):
    async with factory() as graph:
        return graph


def test_langgraph_json_entries_are_module_form_and_load():
    config = json.loads((REPO / "graphs" / "langgraph.json").read_text(encoding="utf-8"))
    for name, entry in config["graphs"].items():
        module_name, _, attribute = entry.partition(":")
        assert "/" not in module_name and not module_name.endswith(".py"), entry
        factory = getattr(importlib.import_module(module_name), attribute)

        graph = asyncio.run(_enter(factory))
        assert graph.checkpointer is None, f"{name}: Studio refuses graphs compiled with a checkpointer"
        assert {"arc": "session", "session": "client_turn"}[name] in graph.get_graph().nodes


def test_sample_inputs_are_current():
    for name, state in sample_inputs().items():
        on_disk = json.loads((REPO / "graphs" / f"input.{name}.json").read_text(encoding="utf-8"))
        assert on_disk == state, f"regenerate: python -m muspsy.graphs.studio graphs ({name})"
