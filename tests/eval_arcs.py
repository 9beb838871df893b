"""Hand-made arcs with known answers for the evaluation tests (no LLM, no run)."""

from __future__ import annotations

from typing import Any

from muspsy.records import ArcRecord

MEMO: dict[str, Any] = {
    "summary": "Talked about sleep and worry at work.",
    "emotion_and_cognitive_state": "Tense, expects the worst.",
    "counselor_observations": "Engaged, a little guarded.",
    "counseling_assignments": ["Keep a thought diary every evening"],
    "session_goal": "Map the worry cycle.",
    "next_session_goal": "Review the diary.",
    "progress": "some",
    "risk": "none",
}
PROFILE: dict[str, Any] = {
    "id": "lena",
    "name": "Lena Park",
    "age": 29,
    "personality": "Careful, self-critical, dry humour.",
    "intake": {"presenting_problem": "Worry about work and poor sleep."},
}


def session(
    index: int,
    turns: list[tuple[str, str]],
    *,
    homework: list[str] | None = None,
    reviewed: list[str] | None = None,
    memo: dict[str, Any] | None = None,
    risks: dict[int, str] | None = None,
    phq9: int | None = None,
    gad7: int | None = None,
    wai: int | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": index,
        "goal": "Understand the worry.",
        "client_state": {"emotion_state": "tense", "cognitive_state": "expects the worst"},
        "homework_reviewed": reviewed or [],
        "turns": [
            {"index": i, "speaker": speaker, "text": text, "risk": (risks or {}).get(i)}
            for i, (speaker, text) in enumerate(turns, start=1)
        ],
        "homework_given": homework if homework is not None else ["Keep a thought diary every evening"],
        "end_reason": "counselor_closed",
        "memo": {**MEMO, **(memo or {})},
    }
    if phq9 is not None:
        out["phq9"] = {"instrument": "phq9", "items": [0] * 9, "total": phq9}
    if gad7 is not None:
        out["gad7"] = {"instrument": "gad7", "items": [0] * 7, "total": gad7}
    if wai is not None:
        out["wai_sr"] = {"instrument": "wai_sr", "items": [3] * 12, "total": wai}
    return out


def arc_dict(
    sessions: list[dict[str, Any]],
    *,
    arc_id: str = "lena--cbt--seed0",
    client_id: str = "lena",
    strategy: str = "cbt",
    seed: int | None = 0,
    end_reason: str = "goals_met",
    language: str = "en",
    run_id: str = "handmade",
) -> dict[str, Any]:
    """An arcs.jsonl line as an importer would write it: no usage, provenance only with a seed."""
    arc: dict[str, Any] = {
        "schema": "muspsy.arc/1",
        "run_id": run_id,
        "arc_id": arc_id,
        "client_id": client_id,
        "language": language,
        "profile": PROFILE,
        "strategy": strategy,
        "plan": {
            "case_conceptualization": "Worry is kept going by avoidance.",
            "goals": ["Sleep better"],
            "stages": [{"name": "Work", "sessions": "1-3", "focus": "Worry"}],
            "first_session_goal": "Map the worry cycle.",
        },
        "sessions": sessions,
        "outcome": {"end_reason": end_reason, "sessions": len(sessions), "rationale": "Done."},
    }
    if seed is not None:
        arc["provenance"] = {"seed": seed}
    return arc


def arc(sessions: list[dict[str, Any]], **kw: Any) -> ArcRecord:
    data = arc_dict(sessions, **kw)
    data.setdefault("usage", {})
    data.setdefault("provenance", {})
    return ArcRecord.model_validate(data)


CLEAN_S1 = [
    ("counselor", "Welcome. What brings you here today?"),
    ("client", "I worry about work all the time and I sleep badly."),
    ("counselor", "It sounds exhausting. When is the worry strongest?"),
    ("client", "At night, when I replay the day."),
    ("counselor", "Before we meet again, could you keep a thought diary every evening?"),
]
CLEAN_S2 = [
    ("counselor", "Welcome back. How did the thought diary go this week?"),
    ("client", "I filled it in on four evenings and noticed the same fear each time."),
    ("counselor", "What was the fear?"),
    ("client", "That my manager thinks I am useless."),
]
