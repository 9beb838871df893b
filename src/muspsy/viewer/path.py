"""The route an arc took through the arc and session graphs, read from its record.

The record is enough to retrace the route: one `session`, `memo` and `decide` per session,
`revise_plan` after a decision that revised the plan, `between_sessions` between sessions,
`exit_measure` (and `follow_up`) after the last one when the record holds them, and inside a
session one node per turn by its speaker and kind (open, dialogue, close), the crisis
protocol's turns together one run of `crisis`. Nodes the record cannot speak for (added by
newer graphs) are left uncounted; the viewer draws them as not traced.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

START, END = "__start__", "__end__"


@dataclass
class Route:
    """How often each node ran and each edge was taken."""

    nodes: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)

    def walk(self, sequence: list[str]) -> None:
        self.nodes.update(sequence)
        self.edges.update(itertools.pairwise(sequence))


def turn_node(turn: dict[str, Any]) -> str:
    if turn.get("speaker") == "client":
        return "client_turn"
    kind = turn.get("kind", "dialogue")
    if kind == "crisis" and turn.get("technique") == "ask_directly":
        return "close"  # a close that noticed new risk asked about it instead of closing
    return {"open": "open", "close": "close", "crisis": "crisis"}.get(kind, "counselor_turn")


def session_sequence(session: dict[str, Any]) -> list[str]:
    """The session graph's nodes in the order they ran: the crisis protocol's turns (its
    counselor turns and the client's answers between them) are one run of the `crisis` node."""
    sequence = [START, "self_report_start"]
    in_protocol = False
    for turn in session.get("turns") or []:
        node = turn_node(turn)
        if in_protocol and node in ("crisis", "client_turn"):
            continue
        in_protocol = node == "crisis"
        sequence.append(node)
    return [*sequence, "self_report_end", END]


def arc_sequence(record: dict[str, Any]) -> list[str]:
    """The arc graph's nodes in the order they ran."""
    sessions = record.get("sessions") or []
    sequence = [START, "plan"]
    for number, session in enumerate(sessions, start=1):
        sequence += ["session", "memo", "decide"]
        last = number == len(sessions)
        decision = session.get("decision") or {}
        if decision.get("applied") == "revise_plan":
            sequence.append("revise_plan")
        # A dropout is decided in the week after a session the supervisor wanted to continue.
        if not last or decision.get("action") == "continue":
            sequence.append("between_sessions")
    last_decision = (sessions[-1].get("decision") or {}) if sessions else {}
    # After every end decided by the review (records that have `applied`), whether it measured or not.
    if record.get("exit_measurement") or ("applied" in last_decision and last_decision.get("action") == "end"):
        sequence.append("exit_measure")
    if record.get("follow_up"):
        sequence.append("follow_up")
    return [*sequence, "finalize", END]


def arc_route(record: dict[str, Any]) -> Route:
    route = Route()
    route.walk(arc_sequence(record))
    return route


def session_route(sessions: list[dict[str, Any]]) -> Route:
    """The session graph's route summed over `sessions`."""
    route = Route()
    for session in sessions:
        route.walk(session_sequence(session))
    return route
