"""The scripted backend's clinical supervisor review, plan revision and ending, and the client's
visible feedback they rest on: deterministic answers from the prompt alone.

- The client (simulation side) voices, at the start of a session, how the last one felt when
  its own recollection was that it was not for it: the counselor side sees only those words.
- The memo rates progress `no_change` when the transcript holds such words, else `some`.
- The review refers when the counselor noticed risk again after two earlier sessions it rated
  high risk (ideation that persists through two safety-plan reviews; one recurrence is met with
  the plan and closer follow-up, as the crisis protocol's disposition says); proposes switching to the first approach
  listed when the last memo shows no progress (or, with measurement-based care, the PHQ-9 got
  worse), switching is offered, the approach in use has had two sessions at least and the
  approach was not used before;
  schedules the ending one session ahead from session 3 on; else continues. Goal attainment
  follows the progress ratings in its memories.
"""

from __future__ import annotations

import re
from typing import Any

from muspsy.views import ENDING_NOTE

NOT_FOR_ME = "not on the same page"  # the scripted client's recollection of a session that put it off
FEEDBACK = "To be honest, I left last time feeling we were not on the same page, and nothing has really changed."
RISK_RATED = re.compile(r"; suicide risk (?:high|imminent)")
REFER_AFTER_HIGH_RISK_SESSIONS = 3
PROGRESS = re.compile(r"Rated: progress (\w+);")
PHQ9 = re.compile(r"^- Session \d+: PHQ-9 (\d+)", re.MULTILINE)
SWITCH_TO = re.compile(r"Approaches you may switch to \(use the name\): ([^.\n]+)\.")
SINCE = re.compile(r"Approach in use: [\w-]+, since session (\d+)\.")
USED = re.compile(r"([\w-]+) in sessions? \d")
GOAL_LINE = re.compile(r"^(\d)\. ", re.MULTILINE)
ATTAINMENT = {"worse": "not_started", "no_change": "not_started", "some": "some", "substantial": "mostly"}


def _memories_block(prompt: str) -> str:
    _, _, rest = prompt.partition("What you remember from earlier sessions:\n")
    return rest.split("\n\n", 1)[0]


def client_feedback(prompt: str, session: int, turn: int) -> dict[str, Any] | None:
    """The client's first reply of a session, when it remembers the last one as not for it."""
    memories = [line for line in _memories_block(prompt).splitlines() if line.startswith("- ")]
    if session < 2 or turn != 2 or not memories or NOT_FOR_ME not in memories[-1]:
        return None
    return {"text": FEEDBACK, "risk": "none", "disclosed": []}


def memo_progress(prompt: str) -> str:
    """Progress as the transcript shows it: none when the client said the work is not helping."""
    _, _, transcript = prompt.partition("Transcript (")
    return "no_change" if FEEDBACK.split(",")[0] in transcript else "some"


def _trend(prompt: str) -> str:
    totals = [int(t) for t in PHQ9.findall(prompt)]
    if len(totals) < 2:
        return "not_measured" if not totals else "stable"
    return "improving" if totals[-1] < totals[-2] else "worsening" if totals[-1] > totals[-2] else "stable"


def _switch_target(prompt: str, session: int) -> str | None:
    """The first approach offered that was not used yet, once the current one had two sessions."""
    offered = SWITCH_TO.search(prompt)
    since = SINCE.search(prompt)
    if offered is None or since is None or session - int(since.group(1)) + 1 < 2:
        return None
    used = USED.findall(prompt.partition("Approaches used so far:")[2].split(".")[0])
    fresh = [name.strip() for name in offered.group(1).split(",") if name.strip() not in used]
    return fresh[0] if fresh else None


def review(prompt: str, session: int, risk_words: str) -> dict[str, Any]:
    """The supervisor's review after session `session`; `risk_words` are the client's words the
    counselor quoted for a risk noticed in it ("" when none). It refers, quoting them, when the
    memories rate the risk high in this session and two earlier ones (ideation that persists
    despite the safety plan)."""
    progress = PROGRESS.findall(prompt)
    last = progress[-1] if progress else "some"
    goals = GOAL_LINE.findall(prompt.partition("The plan's goals, numbered:")[2].split("\n\n", 1)[0])
    trend = _trend(prompt)
    reply: dict[str, Any] = {
        "goal_review": [{"goal": int(n), "attainment": ATTAINMENT.get(last, "some")} for n in goals]
        or [{"goal": 1, "attainment": "some"}],
        "score_trend": trend,
        "action": "continue",
        "strategy": "none",
        "ending_in": 0,
        "referral_cue": "none",
        "rationale": "Work is under way; continue as planned.",
    }
    if risk_words and len(RISK_RATED.findall(prompt)) >= REFER_AFTER_HIGH_RISK_SESSIONS:
        reply.update(
            action="refer",
            referral_cue=risk_words,
            rationale="Suicidal thoughts again despite the safety plan: refer to specialist care.",
        )
        return reply
    target = _switch_target(prompt, session) if last in ("no_change", "worse") or trend == "worsening" else None
    if target:
        reply.update(
            action="switch_strategy",
            strategy=target,
            rationale=f"No progress with the current approach (progress {last}, scores {trend}): switch to {target}.",
        )
    elif "was the termination session" in prompt:
        reply["rationale"] = "The termination session was held: the course ends as planned."
    elif "The ending is scheduled" in prompt:
        reply["rationale"] = "The ending is scheduled; continue toward it."
    elif session >= 3 and last not in ("no_change", "worse"):
        reply.update(action="schedule_ending", ending_in=1, rationale="Goals nearly met: end after one more session.")
    return reply


def revised_plan(prompt: str) -> dict[str, Any] | None:
    """A revised plan when the prompt asks for a revision (else None: the intake plan is asked)."""
    if "Why you decided to revise the plan:" not in prompt:
        return None
    return {
        "case_conceptualization": "Revised: the client's doubts about the work are themselves a focus.",
        "goals": ["Agree on what the client wants from counseling", "Practise one coping skill weekly"],
        "stages": [
            {"name": "Re-engagement", "sessions": "1-3", "focus": "Repair the alliance and agree goals again."},
            {"name": "Consolidation", "sessions": "4-6", "focus": "Review gains and plan for setbacks."},
        ],
        "first_session_goal": "Agree again on what the client wants from counseling.",
    }


def termination_opening(prompt: str) -> dict[str, Any]:
    """The termination session's first words (nothing for any other session)."""
    if ENDING_NOTE not in prompt:
        return {}
    return {"text": "Welcome back. As we agreed, this is our last session. How have things been since we started?"}


def termination_close(risk_reading: dict[str, str]) -> dict[str, Any]:
    """The last close of the course: a look back and a relapse-prevention plan, no homework."""
    return {
        **risk_reading,
        "text": "This is where our work together ends. Looking back, you have made real progress. Let's write down "
        "the early warning signs and what you will do if they come back. Take good care.",
        "relapse_prevention": [
            "Notice early warning signs: poor sleep and pulling away from people",
            "Then go back to the coping skill that helped most",
            "If it gets worse for two weeks, contact your doctor or the clinic",
        ],
    }
