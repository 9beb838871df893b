"""Run configuration: backend choice, per-role layering, merging, validation, fingerprints."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from pydantic import ValidationError

from muspsy.config import (
    BACKEND_DEFAULTS,
    ConfigError,
    Limits,
    RunConfig,
    build_config,
    choose_backend,
    fingerprint,
    load_config_file,
    merge,
    resolved,
    role_settings,
)

pytestmark = pytest.mark.unit


# --- choose_backend ------------------------------------------------------------------------


@pytest.mark.parametrize("explicit", ["openai", "embedded", "scripted"])
def test_explicit_backend_wins_over_environment_and_models(explicit: str) -> None:
    config = RunConfig(backend=explicit, models={"default": {"base_url": "http://127.0.0.1:9/v1"}})
    environ = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    assert choose_backend(config, environ) == explicit


@pytest.mark.parametrize(
    "environ",
    [{"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, {"OPENAI_API_KEY": "sk-test"}],
    ids=["base-url", "api-key"],
)
def test_openai_when_the_environment_configures_it(environ: dict[str, str]) -> None:
    assert choose_backend(RunConfig(), environ) == "openai"


@pytest.mark.parametrize("role", ["default", "client", "counselor", "supervisor", "director"])
def test_openai_when_a_models_entry_has_a_base_url(role: str) -> None:
    config = RunConfig(models={role: {"base_url": "http://127.0.0.1:8000/v1"}})
    assert choose_backend(config, {}) == "openai"


def test_embedded_when_nothing_is_configured() -> None:
    assert choose_backend(RunConfig(), {}) == "embedded"
    assert choose_backend(RunConfig(models={"counselor": {"temperature": 0.2}}), {}) == "embedded"


def test_empty_environment_values_do_not_count() -> None:
    assert choose_backend(RunConfig(), {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}) == "embedded"


def test_a_passed_environ_replaces_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-process")
    assert choose_backend(RunConfig(), {}) == "embedded"
    assert choose_backend(RunConfig()) == "openai"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert choose_backend(RunConfig()) == "embedded"


def test_resolved_fills_in_the_backend() -> None:
    config = RunConfig()
    assert resolved(config, {"OPENAI_API_KEY": "sk-test"}).backend == "openai"
    assert resolved(config, {}).backend == "embedded"
    assert config.backend is None


# --- role_settings -------------------------------------------------------------------------


def test_role_settings_layers_backend_default_then_default_then_role() -> None:
    config = RunConfig(
        models={
            "default": {"model": "shared-model", "temperature": 0.3},
            "counselor": {"temperature": 0.9, "max_tokens": 400},
        }
    )
    settings = role_settings(config, "openai")
    base = BACKEND_DEFAULTS["openai"]
    assert set(settings) == {"client", "counselor", "supervisor", "director"}
    # models.<role> beats models.default ...
    assert settings["counselor"].temperature == 0.9
    assert settings["counselor"].max_tokens == 400
    # ... models.default beats the backend default ...
    assert settings["client"].temperature == 0.3
    assert settings["supervisor"].temperature == 0.3
    assert all(s.model == "shared-model" for s in settings.values())
    assert settings["client"].max_tokens == base.max_tokens
    # ... and the backend default fills in everything else.
    assert all(s.api_key_env == base.api_key_env == "OPENAI_API_KEY" for s in settings.values())
    assert all(s.timeout_s == base.timeout_s for s in settings.values())


def test_role_settings_without_models_are_the_backend_defaults() -> None:
    for backend in ("openai", "embedded", "scripted"):
        settings = role_settings(RunConfig(), backend)
        assert all(s == BACKEND_DEFAULTS[backend] for s in settings.values())
    assert (
        role_settings(RunConfig(), "embedded")["client"].model != role_settings(RunConfig(), "openai")["client"].model
    )


def test_role_settings_do_not_mutate_backend_defaults() -> None:
    before = BACKEND_DEFAULTS["openai"].model_copy(deep=True)
    role_settings(RunConfig(models={"default": {"temperature": 1.5, "model": "x"}}), "openai")
    assert before == BACKEND_DEFAULTS["openai"]


# --- merge ---------------------------------------------------------------------------------


def test_merge_is_deep_and_override_wins() -> None:
    base = {"seed": 1, "limits": {"sessions_min": 2, "sessions_max": 6}, "models": {"default": {"model": "a"}}}
    override = {"seed": 7, "limits": {"sessions_max": 4}, "models": {"counselor": {"temperature": 0.1}}}
    assert merge(base, override) == {
        "seed": 7,
        "limits": {"sessions_min": 2, "sessions_max": 4},
        "models": {"default": {"model": "a"}, "counselor": {"temperature": 0.1}},
    }


def test_merge_replaces_non_mappings_and_leaves_inputs_alone() -> None:
    base = {"limits": {"sessions_min": 2}, "strategy": "cbt", "models": {"default": {"model": "a"}}}
    override = {"limits": None, "strategy": {"odd": True}, "models": {"default": {"model": "b"}}}
    base_copy, override_copy = copy.deepcopy(base), copy.deepcopy(override)
    assert merge(base, override) == {"limits": None, "strategy": {"odd": True}, "models": {"default": {"model": "b"}}}
    assert base == base_copy and override == override_copy
    assert merge(base, {}) == base and merge({}, override) == override


# --- Limits --------------------------------------------------------------------------------


def test_limits_reject_min_above_max() -> None:
    with pytest.raises(ValidationError, match=r"sessions_min \(5\) is above sessions_max \(2\)"):
        Limits(sessions_min=5, sessions_max=2)
    with pytest.raises(ValidationError, match="turns_min"):
        Limits(turns_min=30, turns_max=10)


def test_an_unset_minimum_shrinks_to_fit_a_given_maximum() -> None:
    assert Limits(sessions_max=1).sessions_min == 1
    assert Limits(turns_max=5).turns_min == 5
    assert Limits(sessions_max=40).sessions_min == Limits().sessions_min
    with pytest.raises(ValidationError, match="sessions_min"):
        Limits(sessions_min=3, sessions_max=1)


def test_limits_accept_equal_bounds_and_have_sane_defaults() -> None:
    assert Limits(sessions_min=3, sessions_max=3).sessions_max == 3
    default = Limits()
    assert default.sessions_min <= default.sessions_max
    assert default.turns_min <= default.turns_max


@pytest.mark.parametrize(
    "limits",
    [{"sessions_min": 0}, {"sessions_max": 51}, {"turns_min": 2}, {"turns_max": 401}, {"bogus": 1}],
    ids=lambda v: next(iter(v)),
)
def test_limits_reject_out_of_range_values(limits: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Limits(**limits)


# --- build_config --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"limits": {"sessions_max": 51}}, "field limits.sessions_max:"),
        ({"limits": {"sessions_min": 5, "sessions_max": 2}}, "field limits:"),
        ({"models": {"counselor": {"temperature": 5}}}, "field models.counselor.temperature:"),
        ({"models": {"therapist": {"model": "x"}}}, "field models.therapist"),
        ({"backend": "llamafile"}, "field backend:"),
        ({"seeed": 3}, "field seeed:"),
        ({"structured_retries": 99}, "field structured_retries:"),
    ],
    ids=["range", "ordering", "nested", "unknown-role", "literal", "typo", "retries"],
)
def test_build_config_errors_name_the_source_and_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_config(data, "my-run.yaml")
    message = str(info.value)
    assert message.startswith("my-run.yaml: ")
    assert field in message
    assert "\n" not in message


def test_build_config_names_the_field_the_user_got_wrong() -> None:
    with pytest.raises(ConfigError) as info:
        build_config({"limits": {"sessions_max": 0}}, "my-run.yaml")
    assert "field limits.sessions_max:" in str(info.value)


def test_build_config_reports_the_ordering_problem() -> None:
    with pytest.raises(ConfigError, match=r"sessions_min \(5\) is above sessions_max \(2\)"):
        build_config({"limits": {"sessions_min": 5, "sessions_max": 2}}, "command line")


def test_build_config_accepts_a_valid_mapping() -> None:
    config = build_config(
        {"backend": "scripted", "strategy": "person_centred", "limits": {"sessions_max": 3}, "seed": 4}, "x"
    )
    assert config.backend == "scripted"
    assert config.strategy == "person_centred"
    assert config.limits.sessions_max == 3
    assert config.limits.sessions_min == Limits().sessions_min
    assert config.seed == 4


# --- load_config_file ----------------------------------------------------------------------


def test_load_config_file_reads_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("strategy: cbt\nlimits:\n  sessions_max: 4\n", encoding="utf-8")
    assert load_config_file(path) == {"strategy": "cbt", "limits": {"sessions_max": 4}}


def test_load_config_file_empty_is_an_empty_mapping(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_config_file(path) == {}


def test_load_config_file_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("limits: {sessions_max: 4\nseed: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(path) in str(info.value)
    assert "malformed YAML" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just a string\n", "str"), ("42\n", "int")])
def test_load_config_file_non_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(path) in str(info.value)
    assert "mapping" in str(info.value)
    assert kind in str(info.value)


def test_load_config_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "run.yaml"
    with pytest.raises(ConfigError) as info:
        load_config_file(path)
    assert str(path) in str(info.value)
    assert "cannot read" in str(info.value)


# --- fingerprint ---------------------------------------------------------------------------


def test_fingerprint_is_stable_for_equal_configs() -> None:
    data = {
        "backend": "openai",
        "strategy": "cbt",
        "limits": {"sessions_max": 4},
        "models": {"default": {"model": "m"}},
    }
    first = fingerprint(build_config(data, "a"))
    same = fingerprint(build_config(dict(reversed(list(data.items()))), "b"))
    assert first == same
    assert len(first) == 16
    assert int(first, 16) >= 0


def test_fingerprint_changes_with_a_limit() -> None:
    base = RunConfig(backend="scripted")
    changed = RunConfig(backend="scripted", limits=Limits(sessions_max=5))
    assert fingerprint(base) != fingerprint(changed)
    assert fingerprint(base) != fingerprint(RunConfig(backend="scripted", limits=Limits(turns_max=30)))


def test_fingerprint_changes_with_what_a_run_produces() -> None:
    base = RunConfig(backend="openai")
    assert fingerprint(base) != fingerprint(RunConfig(backend="openai", seed=1))
    assert fingerprint(base) != fingerprint(RunConfig(backend="openai", strategy="person_centred"))
    assert fingerprint(base) != fingerprint(RunConfig(backend="embedded"))
    assert fingerprint(base) != fingerprint(RunConfig(backend="openai", models={"counselor": {"temperature": 0.1}}))


def test_fingerprint_depends_on_effective_role_settings() -> None:
    # Restating a backend default changes nothing a run produces, so the fingerprint is equal.
    plain = RunConfig(backend="openai")
    restated = RunConfig(backend="openai", models={"default": {"temperature": BACKEND_DEFAULTS["openai"].temperature}})
    assert fingerprint(plain) == fingerprint(restated)
