"""The scripted backend's crisis protocol: deterministic counselor and client behaviour read
from the prompt alone, so whole arcs show screening, safety planning, dispositions and the
risk check of later sessions offline.

The scripted counselor notices risk by phrases in the client's last words and records screener
answers and safety-plan entries only from phrases the client said in the dialogue it was shown;
the scripted client answers from its current risk level (the `Risk of self-harm:` line of its
own prompt): low wishes to be dead, moderate adds thoughts of killing itself, high adds a
method, imminent answers every item yes (intent, plan and preparation today).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

from muspsy.crisis import load_protocol, still_to_ask
from muspsy.records import SAFETY_PLAN_STEPS, SCREENER_ITEMS, TURN_RISK_SEVERITY, RiskAssessment
from muspsy.testing.scripted_protocol import items_under

# The scripted client's answer to each screener item: (yes, no). No yes phrase occurs in a no
# phrase, so the counselor's phrase rules below read them apart.
ITEM_ANSWERS: dict[str, tuple[str, str]] = {
    "wish_to_be_dead": ("Some days I have wished I were dead.", "No, I have not wanted to be dead."),
    "active_ideation": ("Yes, thoughts of killing myself do come.", "No, that has not crossed my mind."),
    "method": ("I have thought about how I would do it.", "I have not pictured any way of doing it."),
    "intent": ("Part of me means to act on it.", "I do not mean to act on it."),
    "plan": ("I have worked out the details and I mean to go through with it.", "I have not worked out any details."),
    "preparatory_behavior": ("I have got everything ready to end my life.", "I have never got anything ready."),
}
YES_BY_LEVEL: dict[str, tuple[str, ...]] = {
    "none": (),
    "low": ("wish_to_be_dead",),
    "moderate": ("wish_to_be_dead", "active_ideation"),
    "high": ("wish_to_be_dead", "active_ideation", "method"),
    "imminent": tuple(SCREENER_ITEMS),
}
RECENCY_ANSWERS: dict[str, str] = {
    "today": "It was today, just before I came.",
    "past_month": "The last time was a few days ago.",
    "past_3_months": "It was a couple of months ago.",
    "longer_ago": "That was years ago.",
}
# What the scripted client agrees for each safety-plan step, and how the counselor asks.
PLAN_ANSWERS: dict[str, str] = {
    "warning_signs": "lying awake and replaying everything",
    "internal_coping": "taking the dog out for a walk",
    "distraction": "sitting in the cafe on the corner",
    "help_contacts": "calling my daughter",
    "professionals": "the crisis line number on the fridge",
    "means_restriction": "giving the tablets to the pharmacist to keep",
}
PLAN_QUESTIONS: dict[str, str] = {
    "warning_signs": "what tells you a bad spell is building",
    "internal_coping": "what you can do on your own to get through it",
    "distraction": "which people or places take your mind off it",
    "help_contacts": "who you can ask for help",
    "professionals": "which professionals or crisis line you can call",
    "means_restriction": "how we can put the means out of reach",
}
RISK_CHECK = "have thoughts of suicide or self-harm come back since we last met"
RISK_CHECK_ANSWERS: dict[str, tuple[str, str]] = {  # current level -> (words, label)
    "none": ("No, those thoughts have not come back this week. The plan is on the fridge.", "none"),
    "low": ("Some days I have wished I were dead, but I looked at the plan.", "passive_ideation"),
    "moderate": ("Yes, thoughts of killing myself do come, though I used the plan.", "active_ideation"),
    "high": ("Yes, thoughts of killing myself do come, though I used the plan.", "active_ideation"),
    "imminent": ("I have worked out the details and I mean to go through with it.", "plan_with_intent"),
}

# The scripted counselor's keyword rule for noticing risk in the client's last words: the
# first rule (most severe) whose phrase occurs wins.
RISK_PHRASES: list[tuple[str, tuple[str, ...]]] = [
    ("preparatory_behavior", ("got everything ready", "pills saved", "saved up the tablets")),
    ("plan_with_intent", ("worked out the details and i mean", "a plan to", "picked a day", "going to do it")),
    ("ideation_with_intent", ("means to act on it", "tonight i will")),
    ("ideation_with_method", ("thought about how i would do it",)),
    (
        "active_ideation",
        (
            "thoughts of killing myself do come",
            "end my life",
            "kill myself",
            "better off if i were not here",
            "suicide",
        ),
    ),
    (
        "passive_ideation",
        ("wished i were dead", "wish i were dead", "not wake up", "better off without me", "no point going on"),
    ),
    ("harm_to_others", ("hurt someone", "make them pay")),
    ("self_harm", ("cut myself", "hurt myself")),
    ("safeguarding_minor", ("he hits my little", "not safe at home")),
]
# The supervisor's memo risk rating from the most severe risk the counselor noticed.
MEMO_RISK: dict[str, str] = {
    "none": "low",
    "passive_ideation": "moderate",
    "active_ideation": "high",
    "ideation_with_method": "high",
    "ideation_with_intent": "imminent",
    "plan_with_intent": "imminent",
    "preparatory_behavior": "imminent",
    "plan_or_intent": "imminent",
    "self_harm": "moderate",
    "harm_to_others": "high",
    "safeguarding_minor": "high",
}
# The counselor's first words on noticing risk: it asks about it directly, with the screener's
# question, so the scripted client answers it.
RISK_RESPONSE = (
    f"I am really glad you told me that. {load_protocol().screener[1].question} "
    "I would like us to talk about it openly and keep you safe."
)
NOTICED_LINE = re.compile(r"^Counselor \[noticed risk: (\w+)[;\]]", re.MULTILINE)
NOTICED_WORDS = re.compile(r"^Counselor \[noticed risk: \w+; the client's words: \"([^\"]+)\"\]", re.MULTILINE)
RISK_LEVEL = re.compile(r"Risk of self-harm: (none|low|moderate|high|imminent)")
DISPOSITION_LINE = re.compile(r"Disposition \(set by the rules from the assessment\): ([a-z ]+)\.")


def _prompt(messages: Sequence[BaseMessage]) -> str:
    return "\n".join(str(m.content) for m in messages)


def _lines(messages: Sequence[BaseMessage], label: str) -> list[str]:
    return [line[len(label) :].strip() for line in str(messages[-1].content).splitlines() if line.startswith(label)]


def _last(messages: Sequence[BaseMessage], label: str) -> str:
    lines = _lines(messages, label)
    return lines[-1] if lines else ""


def risk_reading(messages: Sequence[BaseMessage]) -> dict[str, str]:
    """What the scripted counselor notices in the client's last line of the dialogue shown, with
    the phrase it noticed as the quoted cue."""
    words = _last(messages, "Client:").lower()
    for label, phrases in RISK_PHRASES:
        for phrase in phrases:
            if phrase in words:
                return {"risk_cue": phrase, "assessed_risk": label}
    return {"risk_cue": "", "assessed_risk": "none"}


def most_noticed(prompt: str) -> str:
    """The most severe risk the counselor noticed in a transcript the supervisor is shown."""
    found = NOTICED_LINE.findall(prompt)
    return max(found, key=lambda label: TURN_RISK_SEVERITY.get(label, 0)) if found else "none"


def noticed_words(prompt: str) -> str:
    """The client's words the counselor last quoted for a noticed risk ("" when none)."""
    found = NOTICED_WORDS.findall(prompt)
    return found[-1] if found else ""


def memo_risk(prompt: str) -> str:
    return MEMO_RISK[most_noticed(prompt)]


# --- counselor --------------------------------------------------------------------------------


def screen(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """RiskScreenOutput: the answers the client's lines gave, then the next two questions the
    screener's branching leaves."""
    protocol = load_protocol()
    said = " ".join(_lines(messages, "Client:")).lower()
    findings: dict[str, Any] = {}
    for item, (yes, no) in ITEM_ANSWERS.items():
        findings[item] = "yes" if yes.lower() in said else "no" if no.lower() in said else "unknown"
    findings["recency"] = next((r for r, words in RECENCY_ANSWERS.items() if words.lower() in said), "unknown")
    questions = {i.item: i.question for i in protocol.screener} | {"recency": protocol.recency_question}
    to_ask = [questions[item] for item in still_to_ask(RiskAssessment.model_validate(findings))][:2]
    text = (
        " ".join(to_ask)
        or "Thank you for answering all of that so openly. Now let us plan together how to keep you safe."
    )
    return {**risk_reading(messages), **findings, "other_concerns": [], "text": text}


def safety_plan(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """SafetyPlanOutput: entries from the client's last words, then the next three steps."""
    last = _last(messages, "Client:").lower()
    entries = {step: [answer] if answer in last else [] for step, answer in PLAN_ANSWERS.items()}
    missing = items_under(_prompt(messages), "Steps still to fill:")
    asks = {s.step: s.ask for s in load_protocol().safety_plan}
    steps = [s for s in SAFETY_PLAN_STEPS if any(item.endswith(asks[s]) for item in missing) and not entries[s]]
    if steps:
        text = f"Let's write your safety plan together. Tell me {', and '.join(PLAN_QUESTIONS[s] for s in steps[:3])}."
    else:
        text = "Let's go over your safety plan together, step by step: does each part of it still fit?"
    return {**risk_reading(messages), **entries, "text": text}


ACTION_LINES = {
    "continue with safety plan": "We will keep going with our sessions, and next time we start with how you have "
    "been and your safety plan. Use the plan and the crisis line whenever the thoughts get strong.",
    "urgent referral": "I want you to be seen by a mental-health professional today. I will call them now, and "
    "we will agree together how you get there safely.",
    "emergency": "I am worried about your safety right now. I am going to stay with you and call emergency "
    "services; please keep the tablets out of reach until they arrive.",
}


def action(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """CrisisActionOutput: the disposition's next steps, said plainly."""
    match = re.search(r"the disposition is: ([a-z ]+)\.", _prompt(messages))
    chosen = match.group(1) if match else "continue with safety plan"
    return {**risk_reading(messages), "text": ACTION_LINES[chosen]}


def opening(messages: Sequence[BaseMessage], homework: list[str]) -> dict[str, Any] | None:
    """OpeningOutput with the risk check, when the prompt asks for one."""
    if "Risk check first" not in _prompt(messages):
        return None
    text = f"Welcome back. Before anything else: {RISK_CHECK}? And did you use your safety plan?"
    if homework:
        text += f" Afterwards, let's hear how it went with: {homework[0]}."
    return {"text": text}


def closing_text(messages: Sequence[BaseMessage]) -> str | None:
    """The close's words when the client's last words show risk: ask about it first."""
    return RISK_RESPONSE if risk_reading(messages)["assessed_risk"] != "none" else None


def decision(prompt: str) -> dict[str, Any]:
    """The review's proposal when the disposition shown to the supervisor ends the arc (a
    referral to other care); nothing when there is no crisis ending."""
    match = DISPOSITION_LINE.search(prompt)
    chosen = match.group(1) if match else None
    rationale = {
        "urgent referral": "Urgent referral after the risk assessment.",
        "emergency": "Emergency care after the risk assessment.",
    }.get(chosen or "")
    return {"action": "refer", "referral_cue": noticed_words(prompt), "rationale": rationale} if rationale else {}


# --- client -----------------------------------------------------------------------------------


def client_reply(prompt: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | None:
    """ClientTurnOutput for a crisis question in the counselor's last line; None otherwise."""
    match = RISK_LEVEL.search(prompt)
    level = match.group(1) if match else "none"
    asked = _last(messages, "Counselor:")
    if RISK_CHECK in asked:
        words, label = RISK_CHECK_ANSWERS[level]
        return {"text": words, "risk": label, "disclosed": []}
    protocol = load_protocol()
    items = [i.item for i in protocol.screener if i.question in asked]
    if items or protocol.recency_question in asked:
        yes = YES_BY_LEVEL[level]
        parts = [ITEM_ANSWERS[item][0 if item in yes else 1] for item in items]
        if protocol.recency_question in asked:
            parts.append(RECENCY_ANSWERS["today" if level == "imminent" else "past_month"])
        said = [SCREENER_ITEMS[item] for item in items if item in yes]
        label = max(said, key=TURN_RISK_SEVERITY.__getitem__) if said else "none"
        return {"text": " ".join(parts), "risk": label, "disclosed": []}
    steps = [step for step, question in PLAN_QUESTIONS.items() if question in asked]
    if steps:
        text = " ".join(f"For that, {PLAN_ANSWERS[step]}." for step in steps)
        return {"text": text, "risk": "none", "disclosed": []}
    if "safety plan together, step by step" in asked:
        return {"text": "Yes, it still fits. I keep it by the phone.", "risk": "none", "disclosed": []}
    return None
