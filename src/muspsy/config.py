"""Run configuration: a YAML file and command-line overrides, resolved per role and fingerprinted.

Secrets never live here: a role names the environment variable that holds its API key, and
only that name reaches manifests and logs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from muspsy.agents.spec import resolve_strategies
from muspsy.records import ROLES, Role
from muspsy.redact import redact
from muspsy.safeyaml import YamlFileError, parse_yaml, read_regular_file

Backend = Literal["openai", "embedded", "scripted"]
# llguidance: a llama.cpp server built with LLGuidance, sent the JSON schema as a grammar that
# allows no whitespace between JSON tokens (the embedded model's default).
StructuredMethod = Literal["json_schema", "function_calling", "json_mode", "llguidance"]


MAX_SEED = 2**31 - 1


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file (or flag) and field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSettings(Strict):
    """One role's model; every field is optional so a role only states what it changes."""

    model: str | None = None
    base_url: str | None = None
    # A name, never the key: a pasted key would otherwise be stored in every manifest.
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=64,
        description="Name of the environment variable with the key (letters, digits, underscores).",
    )
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=16, le=1_000_000)
    timeout_s: float | None = Field(default=None, gt=0, le=86_400, description="Seconds per read (client).")
    deadline_s: float | None = Field(
        default=None, gt=0, le=86_400, description="Total seconds per LLM call, client retries included."
    )
    max_retries: int | None = Field(
        default=None, ge=0, le=100, description="Client retries on transport errors, 429, 5xx."
    )
    extra_body: dict[str, Any] | None = None
    structured_method: StructuredMethod | None = None
    max_concurrent_requests: int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Requests in flight to this role's endpoint (shared by roles on one endpoint).",
    )
    requests_per_minute: float | None = Field(
        default=None, gt=0, le=1e9, description="Request rate cap for the endpoint."
    )

    def over(self, base: ModelSettings) -> ModelSettings:
        """These settings laid over `base`: fields set here win."""
        return base.model_copy(update=self.model_dump(exclude_none=True))


class Limits(Strict):
    sessions_min: int = Field(default=2, ge=1, le=50)
    sessions_max: int = Field(default=6, ge=1, le=50)
    turns_min: int = Field(
        default=8, ge=3, le=400, description="Fewest turns (both speakers) before a session may close."
    )
    turns_max: int = Field(default=24, ge=3, le=400, description="Most turns (both speakers) in one session.")

    @model_validator(mode="before")
    @classmethod
    def _minimums_fit_a_given_maximum(cls, data: Any) -> Any:
        # `--turns-max 5` alone should just work: an unset minimum shrinks to fit the maximum.
        if isinstance(data, dict):
            data = dict(data)
            for low, high, floor in (("sessions_min", "sessions_max", 1), ("turns_min", "turns_max", 3)):
                if low not in data and isinstance(data.get(high), int):
                    # Never below the minimum's own floor, so a bad maximum is reported as itself.
                    data[low] = max(floor, min(cls.model_fields[low].default, data[high]))
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.sessions_min > self.sessions_max:
            raise ValueError(f"sessions_min ({self.sessions_min}) is above sessions_max ({self.sessions_max})")
        if self.turns_min > self.turns_max:
            raise ValueError(f"turns_min ({self.turns_min}) is above turns_max ({self.turns_max})")
        return self


class EmbeddedSettings(Strict):
    """The embedded llama.cpp server: how it uses a small, often shared, machine."""

    context_tokens: int = Field(default=8192, ge=1024, le=1_048_576, description="Context per slot.")
    parallel: int = Field(
        default=3,
        ge=1,
        le=16,
        description=(
            "Server slots; each role keeps its own (client, counselor, supervisor; the director shares the client's)."
        ),
    )
    threads: int | None = Field(
        default=None,
        ge=0,
        le=256,
        description="llama.cpp worker threads; default: the cores free when the server starts; 0: llama.cpp's own.",
    )
    slot_per_role: bool = Field(
        default=True, description="Pin each role to one slot so its prompt prefix stays cached between calls."
    )
    compact: bool = Field(
        default=True, description="Shorter dialogue windows and answer bounds, sized for a small model on a CPU."
    )
    weights: Literal["q8_0", "as_shipped"] = Field(
        default="q8_0",
        description="q8_0: serve a Q8_0 copy of the shipped Q4_1 GGUF (built once in muspsy's cache folder; "
        "faster prompt processing on a CPU); as_shipped: the file as installed.",
    )


class Price(Strict):
    """US dollars per million tokens."""

    prompt_per_million: float = Field(ge=0)
    completion_per_million: float = Field(ge=0)


class RunConfig(Strict):
    backend: Backend | None = None
    concurrency: int = Field(default=4, ge=1, le=4096, description="Arcs in flight at once.")
    start_spacing_ms: float = Field(
        default=10.0,
        ge=0,
        le=60_000,
        description="Pause between starting the first arcs of a run (more than the client CPU of one call).",
    )
    arcs_per_profile: int = Field(
        default=1, ge=1, le=10000, description="Arcs per profile, with seeds seed, seed+1, ..."
    )
    strategy: str | list[str] = Field(
        default="cbt",
        description="Counselor strategy, or several (a list, or `cbt,mi`) run on the same profiles and seeds.",
    )
    outcomes: bool = Field(
        default=True, description="The client fills in PHQ-9 and GAD-7 at each session's start, WAI-SR at its end."
    )
    measurement_based_care: bool = Field(
        default=False,
        description="The clinical supervisor sees the questionnaire scores (PHQ-9, GAD-7, WAI-SR) when writing "
        "memos and proposing the next step.",
    )
    adaptive: bool = Field(
        default=False,
        description="The clinical supervisor may switch the counselor's strategy between sessions (off: paired "
        "designs keep each arc's strategy fixed).",
    )
    follow_up_weeks: int = Field(
        default=0,
        ge=0,
        le=52,
        description="A follow-up PHQ-9 and GAD-7 this many weeks after the exit measurement; 0: no follow-up.",
    )
    record_prompts: bool = Field(
        default=False, description="Write every LLM call's exact messages to prompts.jsonl in the run folder."
    )
    language: str | None = Field(default=None, description="Dialogue language for every arc; default: the profile's.")
    # Bounded so that every seed of a run (seed + replicate) fits the checkpoint store's integers.
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    structured_retries: int = Field(default=2, ge=0, le=10)
    limits: Limits = Field(default_factory=Limits)
    models: dict[Literal["default", "client", "counselor", "supervisor", "director", "judge"], ModelSettings] = Field(
        default_factory=dict
    )
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    prices: dict[str, Price] = Field(default_factory=dict, description="Model name -> price, for cost estimates.")

    @property
    def strategies(self) -> list[str]:
        """The strategy names as given (resolve aliases with `resolved`)."""
        raw = self.strategy.split(",") if isinstance(self.strategy, str) else self.strategy
        return [name.strip() for name in raw if name.strip()]


BACKEND_DEFAULTS: dict[Backend, ModelSettings] = {
    "openai": ModelSettings(
        model="gpt-4o-mini",
        api_key_env="OPENAI_API_KEY",
        temperature=0.7,
        max_tokens=800,
        timeout_s=120,
        deadline_s=300,
        max_retries=6,
        structured_method="json_schema",
    ),
    # A local server is not a remote endpoint: a timeout throws away work it is still doing and
    # a retry queues the same work again behind it. No client retries, and a timeout far above
    # the slowest call seen on a 2-core machine at load 10 (under 400 s; the old 300 s timeout
    # failed the quickstart arc there three times in a row).
    "embedded": ModelSettings(
        model="SmolLM2-135M-Instruct-Q4_1",
        temperature=0.7,
        max_tokens=900,
        timeout_s=3600,
        max_retries=0,
        extra_body={"repeat_penalty": 1.2},
        structured_method="llguidance",
    ),
    "scripted": ModelSettings(model="scripted", structured_method="json_schema"),
}


def load_config_file(path: Path) -> dict[str, Any]:
    try:
        data = parse_yaml(read_regular_file(path), path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def build_config(data: dict[str, Any], source: str) -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{source}: field {field}: {first['msg'].removeprefix('Value error, ')}") from None


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two config mappings; `override` wins."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def choose_backend(config: RunConfig, environ: dict[str, str] | None = None) -> Backend:
    """Explicit choice first; else `openai` when an endpoint or key is configured; else `embedded`."""
    if config.backend:
        return config.backend
    env = os.environ if environ is None else environ
    configured = any(s.base_url for s in config.models.values())
    if configured or env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY"):
        return "openai"
    return "embedded"


def role_settings(config: RunConfig, backend: Backend) -> dict[Role, ModelSettings]:
    default = config.models.get("default", ModelSettings()).over(BACKEND_DEFAULTS[backend])
    return {role: config.models.get(role, ModelSettings()).over(default) for role in ROLES}


# The embedded model's limits when none are configured: the quickstart's short arc, not six
# sessions of 24 turns (hours on a 2-core machine).
EMBEDDED_LIMITS = {"sessions_min": 2, "sessions_max": 2, "turns_min": 5, "turns_max": 7}


def embedded_limits(limits: Limits) -> Limits:
    """`limits` with every field the user did not set taken from EMBEDDED_LIMITS."""
    given = limits.model_dump(include=limits.model_fields_set)
    merged = {**EMBEDDED_LIMITS, **given}
    # A given minimum above a short maximum raises the maximum, and a given maximum below a
    # short minimum lowers the minimum: what was given always holds.
    for low, high in (("sessions_min", "sessions_max"), ("turns_min", "turns_max")):
        if low in given and high not in given:
            merged[high] = max(merged[high], merged[low])
        if high in given and low not in given:
            merged[low] = min(merged[low], merged[high])
    return Limits.model_validate(merged)


def resolved(config: RunConfig, environ: dict[str, str] | None = None) -> RunConfig:
    """The config with its backend chosen, strategy names canonical and, on the embedded
    model, short limits where none were set: as stored in the manifest and fingerprinted. One
    strategy stays a string, several become a list.

    Raises SpecError on an unknown strategy.
    """
    names = resolve_strategies(config.strategy)
    backend = choose_backend(config, environ)
    limits = embedded_limits(config.limits) if backend == "embedded" else config.limits
    return config.model_copy(
        update={"backend": backend, "strategy": names[0] if len(names) == 1 else names, "limits": limits}
    )


# How a run executes, not what it produces: changing these never blocks a resume.
EXECUTION_ONLY = {"concurrency", "start_spacing_ms", "prices", "record_prompts"}
EMBEDDED_EXECUTION_ONLY = {"parallel", "threads", "slot_per_role"}
ROLE_EXECUTION_ONLY = {"timeout_s", "deadline_s", "max_retries", "max_concurrent_requests", "requests_per_minute"}


def fingerprint(config: RunConfig, prompt_hashes: dict[str, str] | None = None) -> str:
    """Stable hash of everything that changes what a run produces: config and prompts.

    The hash is taken as the config is stored, credentials in URLs masked (`muspsy.redact`),
    so a resume from the stored config finds the same fingerprint."""
    backend = config.backend or "embedded"
    payload = {
        **config.model_dump(
            mode="json",
            exclude={"models": True, "embedded": EMBEDDED_EXECUTION_ONLY, **dict.fromkeys(EXECUTION_ONLY, True)},
        ),
        "roles": {
            role: s.model_dump(mode="json", exclude=ROLE_EXECUTION_ONLY)
            for role, s in role_settings(config, backend).items()
        },
        "prompts": prompt_hashes or {},
    }
    canonical = redact(json.dumps(payload, sort_keys=True, ensure_ascii=False))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
