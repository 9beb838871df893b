"""Small pure helpers for updating the current session in the state."""

from __future__ import annotations

from typing import Any

from muspsy.graphs.state import CurrentSession


def with_turn(
    session: CurrentSession,
    speaker: str,
    text: str,
    kind: str,
    risk: str | None = None,
    assessed_risk: str | None = None,
    **changes: Any,
) -> CurrentSession:
    """A copy of `session` with one more turn (and other fields changed)."""
    turn: dict[str, Any] = {"index": len(session["turns"]) + 1, "speaker": speaker, "text": text.strip(), "kind": kind}
    if risk is not None:
        turn["risk"] = risk
    if assessed_risk is not None:
        turn["assessed_risk"] = assessed_risk
    return {**session, **changes, "turns": [*session["turns"], turn]}  # type: ignore[typeddict-item]
