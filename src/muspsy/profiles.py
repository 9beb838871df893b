"""Loading and validating client profile files (YAML, one client per file)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from muspsy.agents.spec import available_strategies, strategy_aliases
from muspsy.data import profiles_dir
from muspsy.records import ClientProfile

SUFFIXES = (".yaml", ".yml")


class ProfileError(ValueError):
    """A profile file is unreadable or invalid; the message names the file and field."""


def load_profile(path: Path | str) -> ClientProfile:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from None
    if not text.strip():
        raise ProfileError(f"{path}: empty file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise ProfileError(f"{path}: {where}malformed YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of profile fields, got {type(data).__name__}")
    try:
        profile = ClientProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise ProfileError(f"{path}: field {field}: {message}{more}") from None
    if profile.id != path.stem:
        raise ProfileError(f"{path}: field id: {profile.id!r} does not match the file name {path.stem!r}")
    known = [*available_strategies(), *strategy_aliases()]
    unknown = [name for name in profile.strategy_fit if name not in known]
    if unknown:
        raise ProfileError(f"{path}: field strategy_fit.{unknown[0]}: unknown strategy (known: {', '.join(known)})")
    return profile


def profile_paths(targets: Iterable[Path]) -> list[Path]:
    """Expand files and directories into profile files; directories contribute their *.yaml."""
    paths: list[Path] = []
    for target in targets:
        if target.is_dir():
            paths += sorted(p for p in target.iterdir() if p.suffix in SUFFIXES)
        elif target.exists():
            paths.append(target)
        else:
            raise ProfileError(f"{target}: no such file or directory")
    if not paths:
        raise ProfileError(f"no profile files (*.yaml) in {', '.join(str(t) for t in targets)}")
    return paths


def load_profiles(targets: Iterable[Path] | None = None) -> list[ClientProfile]:
    """Load every profile under `targets` (default: the bundled profiles); ids must be unique."""
    profiles: list[ClientProfile] = []
    seen: dict[str, Path] = {}
    for path in profile_paths(list(targets) if targets else [profiles_dir()]):
        profile = load_profile(path)
        if profile.id in seen:
            raise ProfileError(f"{path}: field id: {profile.id!r} is also used by {seen[profile.id]}")
        seen[profile.id] = path
        profiles.append(profile)
    return profiles
