"""Small pure helpers for updating the current session in the state."""

from __future__ import annotations

from typing import Any

from muspsy.graphs.state import CurrentSession
from muspsy.records import TURN_RISK_SEVERITY


def noticed_risk(session: CurrentSession) -> str | None:
    """The risk the counselor noticed in its latest turn, when it noticed any."""
    counselor = [t for t in session["turns"] if t["speaker"] == "counselor"]
    assessed = counselor[-1].get("assessed_risk") if counselor else None
    return assessed if TURN_RISK_SEVERITY.get(assessed or "none", 0) > 0 else None


def with_counselor_turn(
    session: CurrentSession, text: str, kind: str, assessed_risk: str, **changes: Any
) -> CurrentSession:
    """A counselor turn with its risk assessment; the session's crisis flags follow the
    counselor's assessment, never the client's own label."""
    severity = TURN_RISK_SEVERITY[assessed_risk]
    return with_turn(
        session,
        "counselor",
        text,
        kind,
        assessed_risk=assessed_risk,
        crisis=session["crisis"] or severity > 0,
        **changes,
    )


def with_turn(
    session: CurrentSession,
    speaker: str,
    text: str,
    kind: str,
    risk: str | None = None,
    assessed_risk: str | None = None,
    technique: str | None = None,
    **changes: Any,
) -> CurrentSession:
    """A copy of `session` with one more turn (and other fields changed)."""
    turn: dict[str, Any] = {"index": len(session["turns"]) + 1, "speaker": speaker, "text": text.strip(), "kind": kind}
    if risk is not None:
        turn["risk"] = risk
    if assessed_risk is not None:
        turn["assessed_risk"] = assessed_risk
    if technique is not None:
        turn["technique"] = technique
    return {**session, **changes, "turns": [*session["turns"], turn]}  # type: ignore[typeddict-item]
