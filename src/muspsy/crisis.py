"""The crisis protocol's data and pure rules: the protocol file (`agents/counselor/crisis.yaml`),
how the counselor's structured findings add up to a risk assessment, when the assessment and
the safety plan are complete, and the disposition, which code sets from the assessment alone.

Everything here works on what the counselor side knows: the counselor's own findings about what
the client said, never the client's hidden risk label or level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from muspsy.agents.spec import SpecError
from muspsy.data import agents_dir
from muspsy.records import (
    DISPOSITIONS,
    OTHER_CONCERNS,
    SAFETY_PLAN_STEPS,
    SCREENER_ITEMS,
    SUICIDE_LEVELS,
    TURN_RISK_SEVERITY,
    Disposition,
    RiskAssessment,
    SafetyPlan,
)

# How many entries a safety-plan step keeps: a plan the client can read at a glance.
STEP_ENTRIES = 3


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScreenerItem(_Strict):
    item: str
    ask: str = Field(description="What the counselor must find out, for its prompt.")
    question: str = Field(description="One way to ask it (the scripted counselor asks it like this).")


class PlanStep(_Strict):
    step: str
    ask: str


class DispositionAction(_Strict):
    technique: str
    action: str


class ProtocolLimits(_Strict):
    assessment_turns: int = Field(ge=1, le=8)
    safety_plan_turns: int = Field(ge=1, le=8)
    runs_per_session: int = Field(ge=1, le=4)


class CrisisProtocol(_Strict):
    screener: list[ScreenerItem]
    recency_question: str
    safety_plan: list[PlanStep]
    techniques: dict[str, str]
    dispositions: dict[str, DispositionAction]
    limits: ProtocolLimits

    @model_validator(mode="after")
    def _complete(self) -> CrisisProtocol:
        if [i.item for i in self.screener] != list(SCREENER_ITEMS):
            raise ValueError(f"screener: the items must be {', '.join(SCREENER_ITEMS)} in this order")
        if [s.step for s in self.safety_plan] != list(SAFETY_PLAN_STEPS):
            raise ValueError(f"safety_plan: the steps must be {', '.join(SAFETY_PLAN_STEPS)} in this order")
        if sorted(self.dispositions) != sorted(DISPOSITIONS):
            raise ValueError(f"dispositions: one entry for each of {', '.join(DISPOSITIONS)}")
        used = {"ask_directly", "risk_screening", "safety_planning", *(d.technique for d in self.dispositions.values())}
        missing = sorted(used - set(self.techniques))
        if missing:
            raise ValueError(f"techniques: {missing[0]!r} is used but not described")
        return self


def protocol_path() -> Path:
    return agents_dir() / "counselor" / "crisis.yaml"


@lru_cache(maxsize=4)
def load_protocol(path: Path | None = None) -> CrisisProtocol:
    """The protocol in `path` (default: the bundled `agents/counselor/crisis.yaml`)."""
    path = path or protocol_path()
    try:
        return CrisisProtocol.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise SpecError(f"{path}: {'field ' + where + ': ' if where else ''}{first['msg']}") from None


# --- the assessment -------------------------------------------------------------------------


def merge_findings(assessment: RiskAssessment | None, findings: Mapping[str, Any], turn: int) -> RiskAssessment:
    """The assessment after one more counselor turn: an item the counselor now answered (yes
    or no) replaces what it had; `unknown` keeps it; concerns add up."""
    current = assessment or RiskAssessment()
    update: dict[str, Any] = {
        item: findings[item] for item in SCREENER_ITEMS if findings.get(item, "unknown") != "unknown"
    }
    if findings.get("recency", "unknown") != "unknown":
        update["recency"] = findings["recency"]
    concerns = [*current.other_concerns, *findings.get("other_concerns", [])]
    update["other_concerns"] = [c for c in OTHER_CONCERNS if c in concerns]
    update["turns"] = [*current.turns, turn]
    merged = current.model_copy(update=update)
    return merged.model_copy(update={"complete": not still_to_ask(merged), "level": assessed_level(merged)})


def still_to_ask(assessment: RiskAssessment) -> list[str]:
    """The screener items (and `recency`) still unanswered, following its branching: items 3-5
    only when item 2 is yes, item 6 always, the recency once anything is yes."""
    items = ["wish_to_be_dead", "active_ideation"]
    if assessment.active_ideation == "yes":
        items += ["method", "intent", "plan"]
    items.append("preparatory_behavior")
    missing = [item for item in items if getattr(assessment, item) == "unknown"]
    if assessment.recency == "unknown" and any(getattr(assessment, i) == "yes" for i in SCREENER_ITEMS):
        missing.append("recency")
    return missing


def assessed_level(assessment: RiskAssessment) -> str:
    """The most severe C-SSRS level answered yes; else the first concern off that scale."""
    yes = [level for item, level in SCREENER_ITEMS.items() if getattr(assessment, item) == "yes"]
    if yes:
        return max(yes, key=TURN_RISK_SEVERITY.__getitem__)
    return assessment.other_concerns[0] if assessment.other_concerns else "none"


def disposition(assessment: RiskAssessment) -> Disposition:
    """What happens next, from the assessment alone (after the C-SSRS screener's triage):

    - emergency: intent together with a plan, or preparatory behaviour in the last three months
      together with intent or a plan;
    - urgent referral: intent or a plan, preparatory behaviour in the last three months, a risk
      to others or a safeguarding concern for a minor, or active ideation whose intent and plan
      the counselor could not rule out (an incomplete assessment is read cautiously);
    - else counseling continues with a safety plan and closer follow-up.
    An unknown recency counts as recent.
    """
    a = assessment
    intent, plan = a.intent == "yes", a.plan == "yes"
    recent_behavior = a.preparatory_behavior == "yes" and a.recency != "longer_ago"
    if (intent and plan) or (recent_behavior and (intent or plan)):
        return "emergency"
    unresolved = a.active_ideation == "yes" and "unknown" in (a.intent, a.plan)
    other = {"harm_to_others", "safeguarding_minor"} & set(a.other_concerns)
    if intent or plan or recent_behavior or other or unresolved:
        return "urgent_referral"
    return "continue_with_safety_plan"


def most_severe(dispositions: Sequence[str | None]) -> Disposition | None:
    given = [d for d in DISPOSITIONS if d in dispositions]
    return given[-1] if given else None


def ends_arc(value: str | None) -> bool:
    return value in ("urgent_referral", "emergency")


def covers(assessment: RiskAssessment | None, noticed: str) -> bool:
    """Whether an assessment already covers a risk the counselor noticed: a suicide-risk level
    no more severe than it found (wishing to be dead, when it found none), or a concern it
    recorded."""
    if assessment is None:
        return False
    if noticed in OTHER_CONCERNS:
        return noticed in assessment.other_concerns
    level = assessed_level(assessment)
    found = TURN_RISK_SEVERITY[level] if level in SUICIDE_LEVELS else 0
    return TURN_RISK_SEVERITY.get(noticed, 0) <= max(found, 1)


# --- the safety plan ------------------------------------------------------------------------


def merge_plan(plan: SafetyPlan | None, entries: Mapping[str, Sequence[str]], session: int) -> SafetyPlan:
    """The plan after one more safety-planning turn: new entries added to each step (without
    repeats, at most a few per step)."""
    current = plan or SafetyPlan()
    update: dict[str, Any] = {}
    for step in SAFETY_PLAN_STEPS:
        kept = list(getattr(current, step))
        for entry in entries.get(step, []):
            text = " ".join(entry.split())
            if text and text.lower() not in {k.lower() for k in kept} and len(kept) < STEP_ENTRIES:
                kept.append(text)
        update[step] = kept
    update["session"] = session
    merged = current.model_copy(update=update)
    return merged.model_copy(update={"complete": not steps_missing(merged)})


def steps_missing(plan: SafetyPlan | None) -> list[str]:
    return [step for step in SAFETY_PLAN_STEPS if plan is None or not getattr(plan, step)]


def protocol_due(session: Mapping[str, Any], noticed: str | None, protocol: CrisisProtocol | None = None) -> bool:
    """Whether the risk the counselor just noticed starts the protocol: any risk the session's
    assessment does not yet cover, while the session has runs left."""
    if TURN_RISK_SEVERITY.get(noticed or "none", 0) == 0:
        return False
    limits = (protocol or load_protocol()).limits
    if session.get("protocol_runs", 0) >= limits.runs_per_session:
        return False
    current = session.get("risk_assessment")
    return not covers(RiskAssessment.model_validate(current) if current else None, noticed or "none")


def crisis_fields(session: Mapping[str, Any]) -> dict[str, Any]:
    """The crisis protocol's part of a session record, from the current session in the state."""
    return {key: session.get(key) for key in ("risk_assessment", "safety_plan", "disposition", "safety_plan_reviewed")}
