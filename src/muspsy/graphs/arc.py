"""The arc graph: plan -> session -> memo -> decide -> (revise_plan ->) between_sessions ->
session ... ; once the arc ends: exit_measure (-> follow_up) -> finalize.

One LangGraph thread runs one client's whole course of counseling; `between_sessions` is the
director's week (`muspsy.agents.director`), `revise_plan` the clinical supervisor's new plan
version when its review proposed one, `exit_measure` and `follow_up` the client's PHQ-9 and GAD-7
after the course (`muspsy.agents.ending`). The factory takes the models and a catalog of
strategies: the arc's state says which one each session uses, so a switch proposed after a
session takes effect at the next. Nothing here knows which backend, checkpointer or executor is
used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph

from muspsy.agents.base import Agent
from muspsy.agents.client import Client
from muspsy.agents.counselor import Counselor
from muspsy.agents.director import Director
from muspsy.agents.ending import Ending
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
    return sessions_max * (turns_max + 9) + 12


def after_decide(state: ArcState) -> Literal["revise_plan", "between_sessions", "exit_measure"]:
    if state.get("outcome"):
        return "exit_measure"
    decision = state["sessions"][-1].get("decision") or {}
    return "revise_plan" if decision.get("applied") == "revise_plan" else "between_sessions"


def after_week(state: ArcState) -> Literal["session", "finalize"]:
    return "finalize" if state.get("outcome") else "session"


def after_exit(state: ArcState) -> Literal["follow_up", "finalize"]:
    return "follow_up" if state.get("exit_measurement") and state.get("follow_up_weeks") else "finalize"


def finalize(state: ArcState) -> dict[str, Any]:
    """Check the arc is complete; the record itself is assembled by the runner."""
    sessions = state["sessions"]
    if not sessions or any("memo" not in s for s in sessions):
        raise ValueError(f"arc {state['arc_id']} finished without a memo for every session")
    return {"outcome": {**state["outcome"], "sessions": len(sessions)}}


def build_arc_graph(
    models: Mapping[Role, RoleModel],
    strategies: Strategy | Mapping[str, Strategy],
    *,
    events: EventLog | None = None,
    retries: int = 2,
    specs: Mapping[Role, AgentSpec] | None = None,
    prompts: PromptLog | None = None,
) -> StateGraph[ArcState]:
    """The uncompiled arc graph; compile it with a checkpointer to run.

    `strategies` is the catalog the arcs' strategies come from (one strategy is a catalog of
    one): every arc's starting strategy, and with `adaptive` every strategy it may switch to.
    """
    missing = [role for role in ROLES if role not in models]
    if missing:
        raise ValueError(f"no model for role(s): {', '.join(missing)}")
    log = events or NullEventLog()
    specs = specs or {role: load_spec(role) for role in ROLES}
    agent = {role: Agent(specs[role], models[role], log, retries, prompts) for role in ROLES}
    catalog = {strategies.name: strategies} if isinstance(strategies, Strategy) else dict(strategies)
    client = Client(agent["client"])
    counselor = Counselor(agent["counselor"], catalog)
    supervisor = Supervisor(agent["supervisor"], catalog)
    director = Director(agent["director"])
    ending = Ending(agent["client"])

    graph = StateGraph(ArcState)
    graph.add_node("plan", supervisor.plan)
    graph.add_node("session", compile_session_graph(client, counselor))
    graph.add_node("memo", supervisor.memo)
    graph.add_node("decide", supervisor.decide)
    graph.add_node("revise_plan", supervisor.revise_plan)
    graph.add_node("between_sessions", director.week)
    graph.add_node("exit_measure", ending.exit_measure)
    graph.add_node("follow_up", ending.follow_up)
    graph.add_node("finalize", finalize)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "session")
    graph.add_edge("session", "memo")
    graph.add_edge("memo", "decide")
    graph.add_conditional_edges("decide", after_decide)
    graph.add_edge("revise_plan", "between_sessions")
    graph.add_conditional_edges("between_sessions", after_week)
    graph.add_conditional_edges("exit_measure", after_exit)
    graph.add_edge("follow_up", "finalize")
    graph.add_edge("finalize", END)
    return graph
