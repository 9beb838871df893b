"""The crisis subgraph: start -> screen <-> client_turn -> dispose -> plan <-> client_turn ->
act -> client_turn, entered from the session graph when the counselor noticed risk.

Several counselor turns, each answered by the client: the risk screening (C-SSRS screener items)
until the assessment is complete or its turns run out, the disposition set by code, the
Stanley-Brown safety plan (skipped in an emergency), and one turn that carries out the
disposition. Every loop is bounded by `limits` in `agents/counselor/crisis.yaml`.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from muspsy.agents.client import Client
from muspsy.agents.crisis import CrisisCounselor
from muspsy.graphs.state import ArcState, SessionState

# The client's turns inside the protocol (the session graph's own is `client_turn`).
CRISIS_CLIENT_NODES = frozenset({"client_screen", "client_plan", "client_act"})


def build_crisis_graph(client: Client, crisis: CrisisCounselor) -> StateGraph[SessionState]:
    """The uncompiled crisis subgraph; the session graph adds it, compiled, as its `crisis` node."""

    def after_screening(state: ArcState) -> Literal["screen", "dispose"]:
        return "dispose" if crisis.screening_done(state["session"]) else "screen"

    def after_disposition(state: ArcState) -> Literal["plan", "act"]:
        return "act" if state["session"].get("disposition") == "emergency" else "plan"

    def after_planning(state: ArcState) -> Literal["plan", "act"]:
        return "act" if crisis.planning_done(state["session"]) else "plan"

    graph = StateGraph(SessionState)
    graph.add_node("start", crisis.start)
    graph.add_node("screen", crisis.screen)
    graph.add_node("client_screen", client.reply)
    graph.add_node("dispose", crisis.dispose)
    graph.add_node("plan", crisis.plan)
    graph.add_node("client_plan", client.reply)
    graph.add_node("act", crisis.act)
    graph.add_node("client_act", client.reply)
    graph.add_edge(START, "start")
    graph.add_edge("start", "screen")
    graph.add_edge("screen", "client_screen")
    graph.add_conditional_edges("client_screen", after_screening)
    graph.add_conditional_edges("dispose", after_disposition)
    graph.add_edge("plan", "client_plan")
    graph.add_conditional_edges("client_plan", after_planning)
    graph.add_edge("act", "client_act")
    graph.add_edge("client_act", END)
    return graph


def compile_crisis_graph(client: Client, crisis: CrisisCounselor) -> CompiledStateGraph[SessionState]:
    return build_crisis_graph(client, crisis).compile(name="crisis")
