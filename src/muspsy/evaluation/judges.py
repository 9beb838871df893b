"""LLM judges: score one session on the rubrics of `muspsy.evaluation.rubrics`.

Prompts and settings are data under `agents/judge/`. One structured call per rubric through
`muspsy.llm.call_structured`, so retries, usage and events work as for the simulation. Which
rubrics apply to a session: the fidelity rubrics matched to its strategy (settings
`fidelity`: CTRS for CBT, MITI globals and behaviour counts for MI, the person-centred process
scale, the SFBT fidelity scale); alliance and persona always; crisis handling when a client
turn disclosed a risk or the session went into the crisis protocol. A rubric whose call keeps
failing is recorded as an error, not a score.
"""

from __future__ import annotations

import functools
import statistics
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import yaml
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from muspsy.backends import open_models
from muspsy.config import ModelSettings, RunConfig
from muspsy.course import session_strategy
from muspsy.data import agents_dir
from muspsy.evaluation.rubrics import COUNTS, RUBRICS, SCALES, miti_summary_scores
from muspsy.events import EventLog
from muspsy.llm import RoleModel, StructuredOutputError, call_structured, format_hint
from muspsy.promptlog import PromptLog
from muspsy.records import ArcRecord, SessionRecord
from muspsy.templates import Template, load_template

PROFILE_SKIP = {"schema", "provenance", "extra", "planned_arc", "initial_state"}


class JudgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rubrics: list[str] = Field(min_length=1)
    # Strategy-matched fidelity: rubric -> the strategies it is scored for (others: every session).
    fidelity: dict[str, list[str]] = Field(default_factory=dict)
    max_turn_chars: int = Field(default=1500, ge=100)


@functools.cache
def load_judge(root: Path | None = None) -> tuple[JudgeSettings, dict[str, Template]]:
    folder = (root or agents_dir()) / "judge"
    settings = JudgeSettings.model_validate(yaml.safe_load((folder / "settings.yaml").read_text(encoding="utf-8")))
    unknown = (set(settings.rubrics) | settings.fidelity.keys()) - RUBRICS.keys()
    if unknown:
        raise ValueError(f"{folder / 'settings.yaml'}: field rubrics: unknown rubric(s) {sorted(unknown)}")
    return settings, {p.stem: load_template(p) for p in sorted(folder.glob("*.md"))}


def disclosed_risk(session: SessionRecord) -> bool:
    return session.crisis or any(t.risk not in (None, "none") for t in session.turns)


def fidelity_rubrics(strategy: str, settings: JudgeSettings) -> list[str]:
    """The strategy-matched fidelity rubrics of `strategy`, in the settings' order."""
    return [name for name in settings.rubrics if strategy in settings.fidelity.get(name, [])]


def matched_fidelity(strategy: str, judged: dict[str, Any] | None, root: Path | None = None) -> float | None:
    """The strategy-matched fidelity score on one 0-1 scale, comparable across strategies: the
    strategy's first fidelity rating scale (not a count rubric), its summary rescaled from the
    scale's range; None when the strategy has none or it was not scored."""
    settings, _ = load_judge(root)
    for rubric in fidelity_rubrics(strategy, settings):
        entry = (judged or {}).get(rubric)
        if rubric in COUNTS or not entry or "summary" not in entry:
            continue
        low, high = SCALES[rubric]
        items = len(RUBRICS[rubric].items()) if rubric == "ctrs" else 1  # the CTRS summary is a total
        return (float(entry["summary"]) / items - low) / (high - low)
    return None


def applicable(arc: ArcRecord, session: SessionRecord, settings: JudgeSettings) -> list[str]:
    """The rubrics that apply to this session, in the settings' order: the fidelity rubrics of
    its strategy, crisis handling when a risk came up, and the rest for every session."""
    strategy = session_strategy(arc, session)
    out = []
    for name in settings.rubrics:
        if name in settings.fidelity and strategy not in settings.fidelity[name]:
            continue
        if name == "crisis" and not disclosed_risk(session):
            continue
        out.append(name)
    return out


def render_transcript(session: SessionRecord, max_chars: int) -> str:
    lines = []
    for turn in session.turns:
        risk = f" [risk: {turn.risk}]" if turn.risk not in (None, "none") else ""
        text = " ".join(turn.text.split())
        if len(text) > max_chars:
            text = text[:max_chars] + " [...]"
        lines.append(f"[turn {turn.index}, {turn.speaker}]{risk} {text}")
    return "\n".join(lines) or "(no turns)"


def render_profile(profile: dict[str, Any]) -> str:
    shown = {k: v for k, v in profile.items() if k not in PROFILE_SKIP}
    return yaml.safe_dump(shown, allow_unicode=True, sort_keys=False, width=110).strip()[:6000]


def prompt_values(arc: ArcRecord, session: SessionRecord, settings: JudgeSettings) -> dict[str, str]:
    disclosures = [f"- turn {t.index}: {t.risk}: {t.text}" for t in session.turns if t.risk not in (None, "none")]
    return {
        "session_index": str(session.index),
        "session_goal": session.goal,
        "strategy": arc.strategy.replace("_", " "),
        "transcript": render_transcript(session, settings.max_turn_chars),
        "profile": render_profile(arc.profile),
        "disclosures": "\n".join(disclosures) or "- the session went into the crisis protocol",
    }


def messages_for(
    rubric: str, values: dict[str, str], templates: dict[str, Template]
) -> list[SystemMessage | HumanMessage]:
    template = templates[rubric]
    full = {**values, "response_format": format_hint(RUBRICS[rubric])}
    task = template.render({k: v for k, v in full.items() if k in template.variables})
    return [SystemMessage(templates["system"].render({})), HumanMessage(task)]


def summarize(rubric: str, scores: dict[str, int]) -> float:
    """One number per rubric: the CTRS total (0-66); for the MITI behaviour counts, reflections
    per question (a session without a question counts as one); else the mean item score."""
    if rubric == "ctrs":
        return float(sum(scores.values()))
    if rubric == "miti_behaviours":
        return (scores["simple_reflection"] + scores["complex_reflection"]) / max(scores["question"], 1)
    return statistics.fmean(scores.values())


async def judge_session(
    model: RoleModel,
    arc: ArcRecord,
    session: SessionRecord,
    *,
    retries: int,
    events: EventLog,
    root: Path | None = None,
    prompts: PromptLog | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Every applicable rubric for one session, {rubric: {scores, rationales, summary} | {error}},
    and the judge's usage (calls, prompt and completion tokens)."""
    settings, templates = load_judge(root)
    values = prompt_values(arc, session, settings)
    out: dict[str, Any] = {}
    usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for rubric in applicable(arc, session, settings):
        schema = RUBRICS[rubric]
        context = {"run": arc.run_id, "arc": arc.arc_id, "session": session.index, "role": "judge", "node": rubric}
        try:
            result = await call_structured(
                model,
                schema,
                messages_for(rubric, values, templates),
                retries=retries,
                events=events,
                context=context,
                prompts=prompts,
            )
        except StructuredOutputError as exc:
            out[rubric] = {"error": str(exc)}
            usage["calls"] += retries + 1
            continue
        except Exception as exc:
            # One unreachable or failing endpoint call must not throw away every other score:
            # it is recorded, and the command exits 1.
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            out[rubric] = {"error": f"{type(exc).__name__}: {first_line}"}
            usage["calls"] += 1
            continue
        usage["calls"] += result.retries + 1
        usage["prompt_tokens"] += result.prompt_tokens
        usage["completion_tokens"] += result.completion_tokens
        judgement = result.output
        scores = judgement.scores()
        entry: dict[str, Any] = {
            "scores": scores,
            "rationales": judgement.rationales(),
            "summary": summarize(rubric, scores),
        }
        extra = judgement.model_dump(exclude={*scores, *(f"{k}_rationale" for k in scores), "counts_rationale"})
        entry.update(extra)
        if rubric == "miti_behaviours":
            entry["miti_summary"] = miti_summary_scores(scores)
        out[rubric] = entry
    return out, usage


def judge_settings(config: RunConfig) -> ModelSettings:
    """The judge's model settings: `models.judge` over `models.default`."""
    default = config.models.get("default", ModelSettings())
    return config.models.get("judge", ModelSettings()).over(default)


async def open_judge(config: RunConfig, stack: AsyncExitStack) -> RoleModel:
    """The judge model, opened by the same code as the simulation's roles (backends, keys,
    embedded server, endpoint limits): a config whose default is the judge's settings."""
    judge_config = config.model_copy(update={"models": {"default": judge_settings(config)}})
    models = await open_models(judge_config, stack)
    return models.models["supervisor"]
