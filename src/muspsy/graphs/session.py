"""The session subgraph: self_report_start -> open -> client_turn <-> counselor_turn (or the
crisis subgraph, `muspsy.graphs.crisis`) -> close -> self_report_end.

The crisis path follows the counselor's own risk assessment of the client's last words (its
latest turn's `assessed_risk`), never the client's hidden label; it runs before the turn cap,
and a close that notices new risk asks about it and lets the protocol run first. After an
urgent referral or an emergency the session closes. A session ends on the
counselor's structured `ready_to_close` signal once the minimum length
is reached, or at the turn cap; never by matching strings in the dialogue. The client fills in
the PHQ-9 and GAD-7 before the counselor's first words and the WAI-SR after the close (crisis
sessions too); with outcomes switched off both nodes pass through without a model call.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from muspsy.agents.client import Client
from muspsy.agents.counselor import Counselor
from muspsy.agents.crisis import CrisisCounselor
from muspsy.agents.session_ops import noticed_risk
from muspsy.crisis import ends_arc, protocol_due
from muspsy.graphs.crisis import compile_crisis_graph
from muspsy.graphs.state import ArcState, SessionState


def after_client(state: ArcState) -> Literal["crisis", "counselor_turn", "close"]:
    session = state["session"]
    # The crisis protocol comes before the turn cap: a disclosure the counselor noticed on the
    # last allowed turn still gets the whole protocol (the cap makes room for it).
    if protocol_due(session, noticed_risk(session)):  # the counselor's own assessment, never the client's label
        return "crisis"
    return after_dialogue(state)


def after_dialogue(state: ArcState) -> Literal["counselor_turn", "close"]:
    session = state["session"]
    limits = state["limits"]
    length_after_close = len(session["turns"]) + 1
    if length_after_close >= limits["turns_max"] or ends_arc(session.get("disposition")):
        return "close"
    if session["ready_to_close"] and length_after_close >= limits["turns_min"]:
        return "close"
    return "counselor_turn"


def after_close(state: ArcState) -> Literal["client_turn", "self_report_end"]:
    """A close that noticed new risk asked about it instead of closing: the client answers."""
    return "self_report_end" if state["session"]["turns"][-1]["kind"] == "close" else "client_turn"


def build_session_graph(client: Client, counselor: Counselor) -> StateGraph[SessionState]:
    """The uncompiled session graph; compile it, or add it to the arc graph as a node."""
    graph = StateGraph(SessionState)
    graph.add_node("self_report_start", client.report_start)
    graph.add_node("open", counselor.open)
    graph.add_node("client_turn", client.reply)
    graph.add_node("counselor_turn", counselor.turn)
    graph.add_node("crisis", compile_crisis_graph(client, CrisisCounselor(counselor)))
    graph.add_node("close", counselor.close)
    graph.add_node("self_report_end", client.report_end)
    graph.add_edge(START, "self_report_start")
    graph.add_edge("self_report_start", "open")
    graph.add_edge("open", "client_turn")
    graph.add_conditional_edges("client_turn", after_client)
    graph.add_edge("counselor_turn", "client_turn")
    graph.add_conditional_edges("crisis", after_dialogue)
    graph.add_conditional_edges("close", after_close)
    graph.add_edge("self_report_end", END)
    return graph


def compile_session_graph(client: Client, counselor: Counselor) -> CompiledStateGraph[SessionState]:
    return build_session_graph(client, counselor).compile(name="session")
