"""PsychEval dialogue turns -> spoken turns and the generating model's reasoning.

Counselor turns carry reasoning in `<think>...</think>`, usually in front of the spoken text.
All of it leaves the transcript: whole blocks anywhere in a turn, text before a `</think>`
whose opening tag was lost (speech follows it), and text after a `<think>` that is never
closed; a `</think>` with nothing after it is a stray tag and only the tag goes. A turn with
nothing spoken left is dropped, and the turns around it are merged when one speaker now
speaks twice in a row, so a transcript never holds an empty turn or a same-speaker pair.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from muspsy.importers.common import Where

THINK_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
ROLES = {"counselor": "counselor", "client": "client", "咨询师": "counselor", "来访者": "client"}


def split_reasoning(text: str) -> tuple[str, str]:
    """(spoken text, reasoning) of one turn's text."""
    reasoning = [m.strip() for m in THINK_BLOCK.findall(text)]
    spoken = THINK_BLOCK.sub(" ", text)
    if "</think>" in spoken:
        before, _, after = spoken.rpartition("</think>")
        if after.strip():  # the opening tag was lost: what comes before is reasoning
            reasoning.append(before.replace("<think>", "").strip())
            spoken = after
        else:  # a stray closing tag after the speech
            spoken = before
    if "<think>" in spoken:
        spoken, _, after = spoken.partition("<think>")
        reasoning.append(after.strip())
    return spoken.strip(), "\n".join(r for r in reasoning if r)


@dataclass
class SpokenTurns:
    lines: list[tuple[str, str]] = field(default_factory=list)
    reasoning: dict[str, str] = field(default_factory=dict)  # source turn number -> reasoning
    dropped: list[int] = field(default_factory=list)  # source turns with nothing spoken
    merged: list[int] = field(default_factory=list)  # source turns appended to the turn before


def spoken_turns(dialogue: list[Any], where: Where, at: str) -> SpokenTurns:
    out = SpokenTurns()
    for t, turn in enumerate(dialogue, start=1):
        role = str(turn.get("role", "")).strip().lower() if isinstance(turn, dict) else ""
        text = turn.get("text") if isinstance(turn, dict) else None
        if role not in ROLES or not isinstance(text, str):
            raise where.fail(f"{at}[{t}]", "expected {role: Counselor|Client, text}")
        spoken, reasoning = split_reasoning(text)
        if reasoning:
            out.reasoning[str(t)] = reasoning
        speaker = ROLES[role]
        if not spoken:
            out.dropped.append(t)
        elif out.lines and out.lines[-1][0] == speaker:
            out.lines[-1] = (speaker, f"{out.lines[-1][1]}\n{spoken}")
            out.merged.append(t)
        else:
            out.lines.append((speaker, spoken))
    if not out.lines:
        raise where.fail(at, "no spoken turn (every turn is empty or only reasoning)")
    return out
