"""The arc graph: plan -> session -> memo -> decide -> (between_sessions -> session | finalize).

One LangGraph thread runs one client's whole course of counseling. The factory takes the
models; nothing here knows which backend, checkpointer or executor is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from muspsy.agents.base import Agent
from muspsy.agents.client import Client
from muspsy.agents.counselor import Counselor
from muspsy.agents.spec import AgentSpec, Strategy, load_spec
from muspsy.agents.supervisor import Supervisor
from muspsy.events import EventLog, NullEventLog
from muspsy.graphs.session import compile_session_graph
from muspsy.graphs.state import ArcState
from muspsy.llm import RoleModel
from muspsy.promptlog import PromptLog
from muspsy.records import ROLES, Role


def recursion_limit(sessions_max: int, turns_max: int) -> int:
    """Steps an arc may take: every turn of every session plus the per-session arc nodes."""
    return sessions_max * (turns_max + 8) + 10


def after_decide(state: ArcState) -> Literal["between_sessions", "finalize"]:
    return "finalize" if state.get("outcome") else "between_sessions"


def after_week(state: ArcState) -> Literal["session", "finalize"]:
    return "finalize" if state.get("outcome") else "session"


def finalize(state: ArcState) -> dict[str, Any]:
    """Check the arc is complete; the record itself is assembled by the runner."""
    sessions = state["sessions"]
    if not sessions or any("memo" not in s for s in sessions):
        raise ValueError(f"arc {state['arc_id']} finished without a memo for every session")
    return {"outcome": {**state["outcome"], "sessions": len(sessions)}}


def build_arc_graph(
    models: Mapping[Role, RoleModel],
    strategy: Strategy,
    *,
    events: EventLog | None = None,
    retries: int = 2,
    specs: Mapping[Role, AgentSpec] | None = None,
    prompts: PromptLog | None = None,
) -> StateGraph[ArcState]:
    """The uncompiled arc graph for one strategy; compile it with a checkpointer to run."""
    missing = [role for role in ROLES if role not in models]
    if missing:
        raise ValueError(f"no model for role(s): {', '.join(missing)}")
    log = events or NullEventLog()
    specs = specs or {role: load_spec(role) for role in ROLES}
    agent = {role: Agent(specs[role], models[role], log, retries, prompts) for role in ROLES}
    client = Client(agent["client"])
    counselor = Counselor(agent["counselor"], strategy)
    supervisor = Supervisor(agent["supervisor"], strategy)

    graph = StateGraph(ArcState)
    graph.add_node("plan", supervisor.plan)
    graph.add_node("session", compile_session_graph(client, counselor))
    graph.add_node("memo", supervisor.memo)
    graph.add_node("decide", supervisor.decide)
    graph.add_node("between_sessions", client.live_week)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "session")
    graph.add_edge("session", "memo")
    graph.add_edge("memo", "decide")
    graph.add_conditional_edges("decide", after_decide)
    graph.add_conditional_edges("between_sessions", after_week)
    graph.add_edge("finalize", END)
    return graph
