"""Agent specs as data: each role's prompt templates and settings under `agents/<role>/`,
and the counselor strategies under `agents/counselor/strategies/`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from muspsy.data import agents_dir
from muspsy.records import Role
from muspsy.templates import Template, load_template


class SpecError(ValueError):
    """An agent spec or strategy file is missing or invalid."""


class Windows(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recent_turns: int | None = Field(default=None, ge=2)
    earlier_memos: int | None = Field(default=None, ge=0)


class RoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recent_turns: int = Field(default=12, ge=2, description="Dialogue turns of the current session shown.")
    earlier_memos: int = Field(default=3, ge=0, description="Earlier memo summaries shown beside the last memo.")
    compact: Windows = Field(
        default_factory=Windows, description="Smaller windows for the compact tier (the embedded model)."
    )

    def compacted(self) -> RoleSettings:
        return self.model_copy(update=self.compact.model_dump(exclude_none=True))


class ScriptedPlay(BaseModel):
    """How the scripted backend plays this strategy: one line per technique it uses, the
    homework it gives, and the phrases by which the scripted client recognises the strategy's
    techniques in a transcript."""

    model_config = ConfigDict(extra="forbid")

    lines: dict[str, str] = Field(min_length=1, description="Technique name -> what the scripted counselor says.")
    homework: list[str] = Field(default_factory=list)
    markers: list[str] = Field(min_length=1, description="Lower-case phrases that show this strategy's techniques.")


HomeworkPolicy = Literal["required", "optional", "none"]
NAME = r"^[a-z][a-z0-9_]*$"


class Phase(BaseModel):
    """One step of a session. The first phase is the opening turn, the last the closing turn,
    the ones between are the dialogue phases the counselor moves through, forward only."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, max_length=40)
    description: str = Field(min_length=2, max_length=300)
    reviews_homework: bool = Field(default=False, description="The last session's homework is reviewed here.")


class Technique(BaseModel):
    """One technique of the repertoire; `phases` names where it fits (empty: anywhere)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, max_length=40)
    description: str = Field(min_length=2, max_length=200)
    phases: list[str] = Field(default_factory=list)


class Strategy(BaseModel):
    """A counselor strategy as a protocol: its stance, the phases of a session, its homework
    policy and its repertoire of techniques."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_-]+$")
    title: str
    aliases: list[str] = Field(default_factory=list, description="Short names --strategy also accepts.")
    stance: str
    phases: list[Phase] = Field(min_length=3, max_length=10)
    homework: HomeworkPolicy
    homework_style: str
    techniques: list[Technique] = Field(min_length=1, max_length=24)
    client_view: str = Field(default="", description="What a client notices of this approach, in lay words.")
    scripted: ScriptedPlay | None = Field(default=None, description="How the scripted backend plays it.")

    @model_validator(mode="after")
    def _names_agree(self) -> Strategy:
        phases = [p.name for p in self.phases]
        techniques = [t.name for t in self.techniques]
        for kind, names in (("phases", phases), ("techniques", techniques)):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{kind}: {repeated[0]!r} is named twice")
        for technique in self.techniques:
            unknown = [p for p in technique.phases if p not in phases]
            if unknown:
                raise ValueError(f"techniques: {technique.name!r} names unknown phase {unknown[0]!r}")
        for phase in phases:
            if not self.techniques_for(phase):
                raise ValueError(f"phases: no technique fits phase {phase!r}")
        unknown = sorted(set(self.scripted.lines) - set(techniques)) if self.scripted else []
        if unknown:
            raise ValueError(f"scripted.lines: {unknown[0]!r} is not a technique of this strategy")
        if self.scripted and self.homework != "none" and not self.scripted.homework:
            raise ValueError(f"scripted.homework: homework is {self.homework}, so the scripted counselor needs some")
        return self

    @property
    def opening(self) -> Phase:
        return self.phases[0]

    @property
    def closing(self) -> Phase:
        return self.phases[-1]

    @property
    def dialogue_phases(self) -> list[Phase]:
        return self.phases[1:-1]

    def techniques_for(self, *phases: str) -> list[Technique]:
        """The techniques that fit any of `phases`, in repertoire order."""
        return [t for t in self.techniques if not t.phases or set(t.phases) & set(phases)]

    def reviews_homework(self) -> bool:
        return any(p.reviews_homework for p in self.phases)


@dataclass(frozen=True)
class AgentSpec:
    role: Role
    settings: RoleSettings
    templates: dict[str, Template]

    def template(self, name: str) -> Template:
        try:
            return self.templates[name]
        except KeyError:
            raise SpecError(f"agents/{self.role}/{name}.md: template missing") from None


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: {exc}") from None


def load_spec(role: Role, root: Path | None = None) -> AgentSpec:
    folder = (root or agents_dir()) / role
    settings_path = folder / "settings.yaml"
    try:
        settings = RoleSettings.model_validate(_read_yaml(settings_path) or {})
    except ValidationError as exc:
        raise SpecError(f"{settings_path}: {exc.errors()[0]['msg']}") from None
    templates = {p.stem: load_template(p) for p in sorted(folder.glob("*.md"))}
    return AgentSpec(role=role, settings=settings, templates=templates)


def load_specs(roles: Sequence[Role], *, compact: bool = False) -> dict[Role, AgentSpec]:
    """Every role's spec; `compact` applies each role's compact windows."""
    specs = {role: load_spec(role) for role in roles}
    if compact:
        specs = {role: replace(spec, settings=spec.settings.compacted()) for role, spec in specs.items()}
    return specs


def strategies_dir(root: Path | None = None) -> Path:
    return (root or agents_dir()) / "counselor" / "strategies"


def available_strategies(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in strategies_dir(root).glob("*.yaml"))


def load_strategy(name: str, root: Path | None = None) -> Strategy:
    path = strategies_dir(root) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_strategies(root)) or "none"
        raise SpecError(f"unknown strategy {name!r} (known: {known})")
    try:
        strategy = Strategy.model_validate(_read_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across fields (the protocol's names): its message names the field
            raise SpecError(f"{path}: field {first['msg'].removeprefix('Value error, ')}") from None
        raise SpecError(f"{path}: field {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    if strategy.name != name:
        raise SpecError(f"{path}: field name: {strategy.name!r} does not match the file name")
    return strategy


def strategy_aliases(root: Path | None = None) -> dict[str, str]:
    """Alias -> canonical strategy name, for every strategy file that declares aliases.

    An alias that is another strategy's name or another strategy's alias is an error: a short
    name must mean one strategy.
    """
    names = available_strategies(root)
    aliases: dict[str, str] = {}
    for name in names:
        for alias in load_strategy(name, root).aliases:
            if alias in names or aliases.get(alias, name) != name:
                taken = alias if alias in names else aliases[alias]
                path = strategies_dir(root) / f"{name}.yaml"
                raise SpecError(f"{path}: field aliases: {alias!r} already names strategy {taken!r}")
            aliases[alias] = name
    return aliases


def resolve_strategies(value: str | list[str], root: Path | None = None) -> list[str]:
    """Canonical strategy names from `cbt,mi` or a list; aliases resolved, duplicates dropped.

    Raises SpecError naming the unknown strategy (and the known ones).
    """
    raw = value.split(",") if isinstance(value, str) else [part for v in value for part in str(v).split(",")]
    names = [part.strip() for part in raw if part.strip()]
    if not names:
        raise SpecError("no strategy given (known: " + ", ".join(available_strategies(root)) + ")")
    aliases = strategy_aliases(root)
    resolved: list[str] = []
    for name in names:
        canonical = aliases.get(name, name)
        load_strategy(canonical, root)  # raises on an unknown name
        if canonical not in resolved:
            resolved.append(canonical)
    return resolved
