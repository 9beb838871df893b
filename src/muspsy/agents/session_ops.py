"""Small pure helpers for updating the current session in the state."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from muspsy.graphs.state import CurrentSession
from muspsy.records import TURN_RISK_SEVERITY


def noticed_risk(session: CurrentSession) -> str | None:
    """The risk the counselor noticed in its latest turn, when it noticed any."""
    counselor = [t for t in session["turns"] if t["speaker"] == "counselor"]
    assessed = counselor[-1].get("assessed_risk") if counselor else None
    return assessed if TURN_RISK_SEVERITY.get(assessed or "none", 0) > 0 else None


# A quote shorter than this says too little to show a risk ("I", "yes").
CUE_MIN_WORDS = 2


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def quotes_client(cue: str, turns: Iterable[Mapping[str, Any]]) -> bool:
    """Whether `cue` (at least two words, case and punctuation aside, whole words) occurs in
    something the client said in `turns`: the test every decision that acts on the client's
    words must pass, so that what the client said stays the only evidence."""
    words = _words(cue)
    if len(words.split()) < CUE_MIN_WORDS:
        return False
    said = (_words(t["text"]) for t in turns if t["speaker"] == "client")
    return any(f" {words} " in f" {text} " for text in said)


def grounded_risk(session: CurrentSession, assessed_risk: str, risk_cue: str) -> str:
    """The counselor's risk reading as code acts on it: a risk stands only when its quoted cue
    occurs in something the client said this session. A label the client's words do not bear
    out reads as none, so it cannot start the crisis protocol."""
    if TURN_RISK_SEVERITY[assessed_risk] == 0:
        return "none"
    return assessed_risk if quotes_client(risk_cue, session["turns"]) else "none"


def with_counselor_turn(
    session: CurrentSession, text: str, kind: str, assessed_risk: str, risk_cue: str, **changes: Any
) -> CurrentSession:
    """A counselor turn with its risk reading, grounded in the client's words; the session's
    crisis flag follows the counselor's reading, never the client's own label."""
    risk = grounded_risk(session, assessed_risk, risk_cue)
    cue = {"risk_cue": " ".join(risk_cue.split())} if risk != "none" else {}
    return with_turn(
        session,
        "counselor",
        text,
        kind,
        assessed_risk=risk,
        crisis=session["crisis"] or risk != "none",
        **cue,
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
    risk_cue: str | None = None,
    **changes: Any,
) -> CurrentSession:
    """A copy of `session` with one more turn (and other fields changed)."""
    turn: dict[str, Any] = {"index": len(session["turns"]) + 1, "speaker": speaker, "text": text.strip(), "kind": kind}
    if risk is not None:
        turn["risk"] = risk
    if assessed_risk is not None:
        turn["assessed_risk"] = assessed_risk
    if risk_cue is not None:
        turn["risk_cue"] = risk_cue
    if technique is not None:
        turn["technique"] = technique
    return {**session, **changes, "turns": [*session["turns"], turn]}  # type: ignore[typeddict-item]
