"""Scripted answers for the judge rubrics: deterministic scores derived from the transcript.

Not a judgement of quality, but not constants either: each item is mapped to one measurable
feature of the transcript in the prompt (share of counselor questions, reflective openings,
the client's share of words, homework talk, safety-plan talk, profile words the client uses),
scaled into the item's range, with a rationale naming the feature and its value. Different
sessions therefore get different, explainable scores, and every score is in range.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from muspsy.evaluation.rubrics import RUBRICS, CountJudgement

TURN_LINE = re.compile(r"^\[turn \d+, (counselor|client)\](?: \[risk: [a-z_]+\])? (.*)$", re.MULTILINE)
WORD = re.compile(r"\w+")
REFLECTIVE = ("it sounds", "you feel", "you have", "you noticed", "that makes sense", "thank you", "听起来", "你感到")
HOMEWORK_WORDS = ("homework", "before we meet", "last time", "planned to", "could you", "作业", "上次")
SAFETY_WORDS = ("safety plan", "crisis line", "acting on", "a plan", "keep you safe", "安全计划", "危机")
FEATURE_OF = {
    "homework": "homework",
    "agenda": "questions",
    "feedback": "questions",
    "guided_discovery": "questions",
    "focus_on_key_cognitions": "questions",
    "cultivating_change_talk": "questions",
    "task": "questions",
    "understanding": "reflections",
    "interpersonal_effectiveness": "reflections",
    "empathy": "reflections",
    "bond": "reflections",
    "partnership": "client_share",
    "softening_sustain_talk": "client_share",
    "pacing": "client_share",
    "collaboration": "client_share",
    "goal": "client_share",
    "risk_assessment": "safety",
    "safety_planning": "safety",
    "referral_and_resources": "safety",
    "overall": "safety",
    "consistency": "profile_words",
    "client_frame": "client_share",
    "core_meaning": "reflections",
    "client_flow": "client_share",
    "warmth": "reflections",
    "acceptance": "reflections",
    "genuineness": "reflections",
    "clarity": "client_share",
    "non_directiveness": "client_share",
    "emotion_focus": "reflections",
    "resources": "reflections",
    "client_language": "client_share",
    "next_step_and_task": "homework",
}
# MITI 4 behaviour codes the scripted judge counts, by phrases in the counselor's turns; a
# question is a turn with a question mark, a simple reflection a reflective opening.
BEHAVIOUR_PHRASES = {
    "complex_reflection": ("part of you", "both sides", "your own reasons"),
    "affirm": ("courage", "real resources", "important there"),
    "seeking_collaboration": ("together", "you decide whether"),
    "emphasizing_autonomy": ("your choice", "if any", "you decide"),
    "persuade_with_permission": ("may i share",),
}


def features(prompt: str) -> dict[str, float]:
    turns = TURN_LINE.findall(prompt)
    counselor = [t.lower() for s, t in turns if s == "counselor"]
    client = [t.lower() for s, t in turns if s == "client"]
    counselor_words = sum(len(WORD.findall(t)) for t in counselor)
    client_words = sum(len(WORD.findall(t)) for t in client)
    profile_part = prompt.partition("Client profile:")[2].partition("Transcript:")[0].lower()
    profile_words = {w for w in WORD.findall(profile_part) if len(w) > 4}
    used = {w for t in client for w in WORD.findall(t)}
    return {
        "questions": sum("?" in t or "\uff1f" in t for t in counselor) / max(len(counselor), 1),
        "reflections": sum(t.startswith(REFLECTIVE) for t in counselor) / max(len(counselor), 1),
        "client_share": client_words / max(client_words + counselor_words, 1),
        "homework": sum(any(w in t for w in HOMEWORK_WORDS) for t in counselor) / max(len(counselor), 1),
        "safety": sum(any(w in t for w in SAFETY_WORDS) for t in counselor) / max(len(counselor), 1),
        "profile_words": min(1.0, len(used & profile_words) / 5),
    }


def behaviour_counts(prompt: str) -> dict[str, Any]:
    """MITI 4 behaviour counts of the counselor's turns in a judge prompt."""
    counselor = [t.lower() for s, t in TURN_LINE.findall(prompt) if s == "counselor"]
    counts = dict.fromkeys(("giving_information", "persuade", "confront"), 0)
    counts["question"] = sum("?" in t or "\uff1f" in t for t in counselor)
    counts["simple_reflection"] = sum(t.startswith(REFLECTIVE) for t in counselor)
    for code, phrases in BEHAVIOUR_PHRASES.items():
        counts[code] = sum(any(p in t for p in phrases) for t in counselor)
    return {**counts, "counts_rationale": f"Scripted judge: {len(counselor)} counselor turns coded by phrase."}


def judge_reply(schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | None:
    """The reply to a judge rubric schema, or None when `schema` is not one."""
    model = next((m for m in RUBRICS.values() if m.__name__ == schema), None)
    if model is None:
        return None
    prompt = "\n".join(str(m.content) for m in messages)
    if issubclass(model, CountJudgement):
        return behaviour_counts(prompt)
    values = features(prompt)
    reply: dict[str, Any] = {}
    for item in model.items():
        info = model.model_fields[item]
        low = next(m.ge for m in info.metadata if hasattr(m, "ge"))
        high = next(m.le for m in info.metadata if hasattr(m, "le"))
        feature = FEATURE_OF.get(item, "questions")
        reply[item] = low + round((high - low) * values[feature])
        reply[f"{item}_rationale"] = f"Scripted judge: {feature.replace('_', ' ')} = {values[feature]:.2f}."
    if "inconsistencies" in model.model_fields:
        reply["inconsistencies"] = []
    return reply
