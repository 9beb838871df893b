"""Case report -> client profile: one structured LLM call per report, validated, with provenance.

The prompt is data (`agents/extractor/extract.md`); the output schema is bounded like every
other LLM output, so grammar-constrained local models terminate. The report's language decides
the profile's language (not the model), and provenance records the file, its hash and the
source URL and licence the user gives.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from muspsy.backends import open_models
from muspsy.config import RunConfig
from muspsy.data import agents_dir
from muspsy.events import EventLog, NullEventLog
from muspsy.importers.common import ImportDataError, detect_language, read_text, sha256_file, slug, unique_ids
from muspsy.llm import RoleModel, StructuredOutputError, call_structured, format_hint
from muspsy.records import PROFILE_SCHEMA, Attitude, ClientProfile, ConversationalStyle, RiskLevel, Role
from muspsy.templates import Template, load_template

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese"}
REPORT_SUFFIXES = (".txt", ".md", ".markdown")
MAX_REPORT_CHARS = 40_000
# The extraction runs on the supervisor's model: it is the role that sees whole profiles.
EXTRACTION_ROLE: Role = "supervisor"


class ExtractionFailed(RuntimeError):
    """The model gave no valid profile for a report (after the bounded retries)."""


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


Text = Field(min_length=2, max_length=500)
Short = Field(min_length=1, max_length=300)


class PrivateFactOutput(Output):
    fact: str = Field(min_length=2, max_length=300)
    share_from_session: int = Field(ge=1, le=6, description="First session in which the client may share it.")


class ExtractedProfileOutput(Output):
    name: str = Field(min_length=1, max_length=80, description="Name or pseudonym as used in the report.")
    age: int = Field(ge=5, le=110)
    gender: str = Field(min_length=1, max_length=40)
    culture: str = Short
    occupation: str = Short
    presenting_problem: str = Text
    reason_for_counseling: str = Text
    history: str = Field(default="", max_length=500)
    functioning: str = Field(default="", max_length=500)
    support: str = Field(default="", max_length=500)
    personality: str = Text
    background: str = Text
    private_history: list[PrivateFactOutput] = Field(default_factory=list, max_length=4)
    conversational_style: ConversationalStyle
    attitude: Attitude
    risk_level: RiskLevel
    risk_notes: str = Field(default="", max_length=300)
    emotion_state: str = Short
    cognitive_state: str = Short
    recent_life_events: list[str] = Field(default_factory=list, max_length=4)
    symptom_severity: int = Field(ge=0, le=10, description="Overall distress, 0 (none) to 10 (worst).")


@dataclass(frozen=True)
class Report:
    path: Path
    text: str
    language: str


def template() -> Template:
    return load_template(agents_dir() / "extractor" / "extract.md")


def read_report(path: Path) -> Report:
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ImportDataError(f"{path}: not a case report: expected a {', '.join(REPORT_SUFFIXES)} file")
    text = read_text(path).strip()
    if len(text) > MAX_REPORT_CHARS:
        raise ImportDataError(f"{path}: report too long ({len(text)} characters, at most {MAX_REPORT_CHARS})")
    return Report(path, text, detect_language(text))


def extraction_view(report: Report) -> dict[str, str]:
    return {
        "file_name": report.path.name,
        "language": LANGUAGE_NAMES.get(report.language, report.language),
        "report": report.text,
    }


def extraction_messages(report: Report) -> list[BaseMessage]:
    view = {**extraction_view(report), "response_format": format_hint(ExtractedProfileOutput)}
    return [HumanMessage(template().render(view))]


def to_profile(
    out: ExtractedProfileOutput,
    report: Report,
    profile_id: str,
    *,
    url: str | None,
    license: str | None,
    model: RoleModel,
) -> ClientProfile:
    data: dict[str, Any] = {
        "schema": PROFILE_SCHEMA,
        "id": profile_id,
        "name": out.name,
        "age": out.age,
        "gender": out.gender,
        "language": report.language,
        "culture": out.culture,
        "occupation": out.occupation,
        "intake": {
            "presenting_problem": out.presenting_problem,
            "reason_for_counseling": out.reason_for_counseling,
            "history": out.history,
            "functioning": out.functioning,
            "support": out.support,
        },
        "personality": out.personality,
        "background": out.background,
        "private_history": [p.model_dump() for p in out.private_history],
        "conversational_style": out.conversational_style,
        "attitude": out.attitude,
        "risk": {"level": out.risk_level, "notes": out.risk_notes},
        "initial_state": {
            "emotion_state": out.emotion_state,
            "cognitive_state": out.cognitive_state,
            "recent_life_events": out.recent_life_events,
            "symptom_severity": out.symptom_severity,
        },
        "provenance": {
            "source": f"case report: {report.path.name}",
            "kind": "case_report",
            "author": f"extracted by muspsy with {model.name}",
            "license": license,
            "url": url,
            "source_sha256": sha256_file(report.path),
            "created": datetime.date.today().isoformat(),
        },
        "extra": {"extraction": {"model": model.name, "prompt_sha256": template().sha256}},
    }
    try:
        return ClientProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise ExtractionFailed(f"{report.path}: extracted profile field {field}: {first['msg']}") from None


def profile_ids(paths: Sequence[Path]) -> list[str]:
    return unique_ids(slug(p.stem) or f"report-{sha256_file(p)[:8]}" for p in paths)


async def extract_profiles(
    paths: Sequence[Path],
    config: RunConfig,
    *,
    url: str | None = None,
    license: str | None = None,
    events: EventLog | None = None,
    on_report: Callable[[int, Path], None] | None = None,
) -> list[ClientProfile]:
    """One profile per report, in order; every report is read (and checked) before any model call."""
    reports = [read_report(p) for p in paths]
    ids = profile_ids(paths)
    log = events or NullEventLog()
    profiles = []
    async with AsyncExitStack() as stack:
        model = (await open_models(config, stack)).models[EXTRACTION_ROLE]
        for n, (report, profile_id) in enumerate(zip(reports, ids, strict=True), start=1):
            if on_report:
                on_report(n, report.path)
            try:
                result = await call_structured(
                    model,
                    ExtractedProfileOutput,
                    extraction_messages(report),
                    retries=config.structured_retries,
                    events=log,
                    context={"role": "extractor", "report": report.path.name},
                )
            except StructuredOutputError as exc:
                raise ExtractionFailed(f"{report.path}: {exc}") from None
            except Exception as exc:  # transport errors that outlived the client's own retries
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                raise ExtractionFailed(f"{report.path}: model call failed: {type(exc).__name__}: {first}") from None
            profiles.append(to_profile(result.output, report, profile_id, url=url, license=license, model=model))
    return profiles
