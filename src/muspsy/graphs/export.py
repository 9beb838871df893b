"""The graphs' shape, for people and tools: Mermaid text and networkx node-link JSON.

The shape does not depend on the models, so it is drawn from graphs built on the scripted
backend; drawing needs no network (`draw_mermaid`, not the PNG renderer).
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx
from langchain_core.runnables.graph import Graph

from muspsy.agents.spec import load_strategy
from muspsy.graphs.arc import build_arc_graph
from muspsy.testing import scripted_models

GraphName = Literal["arc", "session", "crisis"]
GRAPH_NAMES: tuple[GraphName, ...] = ("arc", "session", "crisis")


def drawable(name: GraphName) -> Graph:
    arc = build_arc_graph(scripted_models(), load_strategy("cbt")).compile(name="arc")
    if name == "arc":
        return arc.get_graph()
    namespace = {"session": "session", "crisis": "session|crisis"}[name]  # the crisis graph is inside the session
    return next(g for n, g in arc.get_subgraphs(recurse=True) if n == namespace).get_graph()


def to_mermaid(name: GraphName) -> str:
    return drawable(name).draw_mermaid()


def to_networkx(name: GraphName) -> nx.DiGraph:
    graph = drawable(name)
    out = nx.DiGraph(name=name)
    for node_id in graph.nodes:
        out.add_node(node_id)
    for edge in graph.edges:
        out.add_edge(edge.source, edge.target, conditional=edge.conditional)
    return out


def to_node_link(name: GraphName) -> dict[str, Any]:
    data: dict[str, Any] = nx.node_link_data(to_networkx(name), edges="edges")
    return data
