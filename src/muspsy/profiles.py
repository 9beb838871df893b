"""Loading and validating client profile files (YAML, one client per file)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from muspsy.agents.spec import available_strategies, strategy_aliases
from muspsy.data import profiles_dir
from muspsy.records import ClientProfile
from muspsy.safeyaml import YamlFileError, is_yaml_name, parse_yaml, read_regular_file


class ProfileError(ValueError):
    """A profile file is unreadable or invalid; the message names the file and field."""


def load_profile(path: Path | str) -> ClientProfile:
    path = Path(path)
    try:
        text = read_regular_file(path)
        if not text.strip():
            raise ProfileError(f"{path}: empty file")
        data = parse_yaml(text, path)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except YamlFileError as exc:
        raise ProfileError(str(exc)) from None
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
    """Expand files and directories into profile files; directories contribute their *.yaml
    and *.yml files, in any letter case."""
    paths: list[Path] = []
    for target in targets:
        if target.is_dir():
            paths += sorted(p for p in target.iterdir() if is_yaml_name(p))
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
