"""What the counselor is shown of its strategy's protocol at each turn (counselor side): the
phase it is in, the phase that comes next, the techniques that fit them, the homework to review
where the protocol reviews homework, and the homework its close must (or may not) set.

The whole protocol (every phase and technique with its description) is in the counselor's
system prompt (`muspsy.views.strategy_text`); these task parts stay short, so a small model
sees the one instruction that matters now.
"""

from __future__ import annotations

from muspsy.agents.protocol import current_phase, next_phase
from muspsy.agents.spec import Phase, Strategy
from muspsy.graphs.state import CurrentSession
from muspsy.views import bullets

HOMEWORK_TASK = {
    "required": "Agree one to three concrete things to try before the next session, and list them.",
    "optional": "Agree something to try before the next session only if the client wants to (list it, or leave "
    "the list empty).",
    "none": "Set no homework: your approach gives none.",
}


def _phase_line(phase: Phase) -> str:
    return f"{phase.name} - {phase.description}"


def _homework_block(session: CurrentSession, strategy: Strategy, current: Phase) -> str:
    """The homework to review, while the dialogue phase that reviews it is current or ahead (an
    opening that reviews it has done so already)."""
    dialogue = strategy.dialogue_phases
    ahead = dialogue[dialogue.index(current) :] if current in dialogue else dialogue
    if not session["homework_reviewed"] or not any(p.reviews_homework for p in ahead):
        return ""
    return f"\nHomework to review:\n{bullets(session['homework_reviewed'])}"


def opening(session: CurrentSession, strategy: Strategy) -> dict[str, str]:
    """The opening turn's phase and the homework it reviews (none where the protocol reviews it
    later or never)."""
    first = strategy.opening
    if first.reviews_homework:
        homework = bullets(session["homework_reviewed"], empty="(none: there was no homework last time)")
    elif strategy.reviews_homework():
        later = next(p.name for p in strategy.phases if p.reviews_homework)
        homework = f"(not now: your approach reviews it in the {later} phase)"
    else:
        homework = "(none: your approach does not review homework)"
    if session["index"] == 1 and not session["homework_reviewed"]:
        homework = "(none: this is the first session)"
    return {"phase": _phase_line(first), "homework": homework}


def dialogue_turn(session: CurrentSession, strategy: Strategy) -> dict[str, str]:
    """Where the session is in the protocol: the current and next phase, the techniques that
    fit them, and the homework to review while its phase is current or ahead."""
    current = current_phase(session, strategy)
    upcoming = next_phase(session, strategy)
    shown = [current, upcoming] if upcoming else [current]
    lines = [f"Current phase: {_phase_line(current)}"]
    if current is strategy.opening and upcoming:
        lines = [f"Phase to begin with: {_phase_line(upcoming)}"]
        shown = [upcoming]
    elif upcoming:
        lines.append(f"Next phase: {_phase_line(upcoming)} Move on once the current phase's work is done.")
    else:
        lines.append("This is the last phase before the close.")
    names = ", ".join(t.name for t in strategy.techniques_for(*(p.name for p in shown)))
    lines.append(f"Techniques that fit: {names}")
    return {"protocol": "\n".join(lines) + _homework_block(session, strategy, current)}


def closing(strategy: Strategy) -> dict[str, str]:
    """The closing phase and what the close does about homework, by the homework policy."""
    return {"closing": _phase_line(strategy.closing), "homework_task": HOMEWORK_TASK[strategy.homework]}
