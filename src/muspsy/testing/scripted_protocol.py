"""How the scripted counselor follows its strategy's protocol: one phase after another, a
technique of the phase from the repertoire, that technique's scripted line, and homework by the
strategy's homework policy. The strategy is recognised by its description in the counselor's
system prompt; everything else comes from the prompt the counselor was shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from langchain_core.messages import BaseMessage

from muspsy.agents.spec import Phase, Strategy, Technique, available_strategies, load_strategy
from muspsy.views import strategy_text

HOMEWORK_HEADING = "Homework to review:"
WELCOME = "Welcome. I am glad you came. What would you like to talk about today?"


@lru_cache(maxsize=1)
def strategies() -> tuple[Strategy, ...]:
    return tuple(load_strategy(name) for name in available_strategies())


@lru_cache(maxsize=1)
def _described() -> tuple[tuple[str, Strategy], ...]:
    return tuple((strategy_text(s), s) for s in strategies())


def strategy_in(prompt: str) -> Strategy | None:
    """The strategy whose description the counselor's system prompt holds."""
    return next((s for text, s in _described() if text in prompt), None)


def items_under(prompt: str, heading: str) -> list[str]:
    """The `- ` lines under a `heading` line of the prompt (views write lists this way)."""
    _, found, rest = prompt.partition(heading)
    items = []
    for line in rest.splitlines()[1:] if found else []:
        if not line.startswith("- "):
            break
        items.append(line[2:].strip())
    return items


def _pick(strategy: Strategy, phase: Phase, rotation: int, last: bool = False) -> Technique:
    """A technique of `phase`, one the scripted counselor has a line for when there is one, in
    repertoire order from `rotation` (or the phase's last one, e.g. setting homework at the close)."""
    fitting = strategy.techniques_for(phase.name)
    voiced = [t for t in fitting if strategy.scripted and t.name in strategy.scripted.lines] or fitting
    return fitting[-1] if last else voiced[rotation % len(voiced)]


def _line(strategy: Strategy, technique: Technique, homework: list[str]) -> str | None:
    line = strategy.scripted.lines.get(technique.name) if strategy.scripted else None
    if line and "{homework}" in line:
        return line.format(homework=_lowered(homework[0])) if homework else None
    return line


def _lowered(text: str) -> str:
    return text[:1].lower() + text[1:]


def opening(strategy: Strategy, messages: Sequence[BaseMessage], session: int) -> dict[str, Any]:
    """A greeting in the opening phase's first technique; the homework reviewed first where the
    opening reviews it."""
    homework = items_under(str(messages[-1].content), HOMEWORK_HEADING)
    technique = _pick(strategy, strategy.opening, 0)
    if homework:
        text = f"Welcome back. Last time you planned to: {homework[0]}. How did that go?"
    else:
        line = _line(strategy, technique, homework)
        text = f"{'Welcome.' if session == 1 else 'Welcome back.'} {line}" if line else WELCOME
    return {"technique": technique.name, "text": text}


def dialogue(strategy: Strategy, messages: Sequence[BaseMessage], session: int, turn: int) -> dict[str, Any]:
    """One dialogue phase per counselor turn, in order, skipping a homework review when there is
    no homework; the last dialogue phase is held until the close."""
    homework = items_under(str(messages[-1].content), HOMEWORK_HEADING)
    phases = [p for p in strategy.dialogue_phases if homework or not p.reviews_homework]
    phase = phases[min(max((turn - 3) // 2, 0), len(phases) - 1)]
    step = max((turn - 3) // 2, 0)
    technique = _pick(strategy, phase, session + step)
    return {"phase": phase.name, "technique": technique.name, "text": _line(strategy, technique, homework)}


def closing(strategy: Strategy, session: int) -> dict[str, Any]:
    """The close: the closing phase's technique and homework by the strategy's policy."""
    technique = _pick(strategy, strategy.closing, 0, last=True)
    tasks = strategy.scripted.homework if strategy.scripted else []
    if strategy.homework == "none" or not tasks:
        return {
            "technique": technique.name,
            "text": "We are nearly at time. Thank you for what you shared today; take care until we meet again.",
        }
    task = tasks[(session - 1) % len(tasks)]
    return {
        "technique": technique.name,
        "text": f"We are nearly at time. Before we meet again, could you {task.lower()}?",
        "homework": [task],
    }
