"""The console script on user errors: one line naming the file and field, exit 2, no traceback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from muspsy.cli import app
from muspsy.data import profiles_dir

pytestmark = pytest.mark.cli

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BUNDLED = profiles_dir()
HANNAH = BUNDLED / "hannah-work-anxiety.yaml"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def stderr_of(result: Result) -> str:
    """Stderr alone when click captures it separately, else the mixed output."""
    try:
        text = result.stderr
    except ValueError:  # older click without separate stderr capture
        text = result.output
    return ANSI.sub("", text)


def stdout_of(result: Result) -> str:
    return ANSI.sub("", result.stdout)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_clean_user_error(result: Result) -> str:
    """Exit 2 through typer.Exit, no traceback anywhere, exactly one error line; returns it."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    assert "Traceback" not in stderr_of(result)
    error_lines = lines(stderr_of(result))
    assert len(error_lines) == 1, error_lines
    assert error_lines[0].startswith("error: ")
    return error_lines[0]


def hannah() -> dict[str, Any]:
    data = yaml.safe_load(HANNAH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_profile(folder: Path, data: dict[str, Any], name: str | None = None) -> Path:
    path = folder / f"{name or data['id']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- valid profiles --------------------------------------------------------------------------


def test_bundled_profiles_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BUNDLED.parent)
    result = invoke("profiles", "validate", "profiles/")
    assert result.exit_code == 0, result.output
    ok_lines = lines(stdout_of(result))
    bundled = sorted(BUNDLED.glob("*.yaml"))
    assert len(bundled) >= 1
    assert len(ok_lines) == len(bundled)
    for path, line in zip(bundled, ok_lines, strict=True):
        assert line == f"ok profiles/{path.name} ({path.stem})"
    assert lines(stderr_of(result)) == []


def test_a_rewritten_valid_profile_validates(tmp_path: Path) -> None:
    """Positive control for the invalid cases below: the same writer produces a valid file."""
    path = write_profile(tmp_path, hannah())
    result = invoke("profiles", "validate", str(path))
    assert result.exit_code == 0, result.output
    assert lines(stdout_of(result)) == [f"ok {path} (hannah-work-anxiety)"]


# --- invalid profiles ------------------------------------------------------------------------


def _missing_intake(folder: Path) -> Path:
    data = hannah()
    del data["intake"]
    return write_profile(folder, data)


def _wrong_age_type(folder: Path) -> Path:
    return write_profile(folder, {**hannah(), "age": "old"})


def _unknown_field(folder: Path) -> Path:
    return write_profile(folder, {**hannah(), "favourite_colour": "teal"})


def _nested_field(folder: Path) -> Path:
    data = hannah()
    data["private_history"][0]["share_from_session"] = 0
    return write_profile(folder, data)


def _malformed_yaml(folder: Path) -> Path:
    path = folder / "hannah-work-anxiety.yaml"
    path.write_text("schema: muspsy.profile/1\nid: hannah-work-anxiety\nintake: [unclosed\nage: 26\n", encoding="utf-8")
    return path


def _empty_file(folder: Path) -> Path:
    path = folder / "hannah-work-anxiety.yaml"
    path.write_text("  \n\n", encoding="utf-8")
    return path


def _not_a_mapping(folder: Path) -> Path:
    path = folder / "hannah-work-anxiety.yaml"
    path.write_text("- one\n- two\n", encoding="utf-8")
    return path


def _id_mismatch(folder: Path) -> Path:
    return write_profile(folder, hannah(), name="someone-else")


def _fit_out_of_range(folder: Path) -> Path:
    return write_profile(folder, {**hannah(), "strategy_fit": {"cbt": 1.5}})


def _fit_unknown_strategy(folder: Path) -> Path:
    return write_profile(folder, {**hannah(), "strategy_fit": {"cbtt": 0.8}})


INVALID = {
    "missing-intake": (_missing_intake, "field intake"),
    "wrong-type-age": (_wrong_age_type, "field age"),
    "unknown-field": (_unknown_field, "field favourite_colour"),
    "nested-field": (_nested_field, "field private_history.0.share_from_session"),
    "malformed-yaml": (_malformed_yaml, "malformed YAML"),
    "empty-file": (_empty_file, "empty file"),
    "not-a-mapping": (_not_a_mapping, "expected a mapping"),
    "id-mismatch": (_id_mismatch, "field id"),
    "fit-out-of-range": (_fit_out_of_range, "field strategy_fit.cbt"),
    "fit-unknown-strategy": (_fit_unknown_strategy, "field strategy_fit.cbtt: unknown strategy"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_profile_is_one_line_naming_file_and_field(tmp_path: Path, case: str) -> None:
    make, expected = INVALID[case]
    path = make(tmp_path)
    result = invoke("profiles", "validate", str(path))
    line = assert_clean_user_error(result)
    assert str(path) in line
    assert expected in line
    assert stdout_of(result).strip() == ""


def test_id_mismatch_names_both_ids(tmp_path: Path) -> None:
    path = _id_mismatch(tmp_path)
    line = assert_clean_user_error(invoke("profiles", "validate", str(path)))
    assert "'hannah-work-anxiety'" in line and "'someone-else'" in line


def test_a_folder_with_one_bad_profile(tmp_path: Path) -> None:
    good = write_profile(tmp_path, hannah())
    bad = write_profile(tmp_path, {**hannah(), "id": "other", "age": "old"})
    result = invoke("profiles", "validate", str(tmp_path))
    line = assert_clean_user_error(result)
    assert str(bad) in line and "field age" in line
    assert lines(stdout_of(result)) == [f"ok {good} (hannah-work-anxiety)"]


def test_missing_path_is_a_user_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    line = assert_clean_user_error(invoke("profiles", "validate", str(missing)))
    assert str(missing) in line
    assert "no such file" in line


@pytest.mark.parametrize("folder_name", ["[draft]", "a[/b]"], ids=["style-tag", "closing-tag"])
def test_error_line_keeps_brackets_in_the_path(tmp_path: Path, folder_name: str) -> None:
    folder = tmp_path / folder_name
    folder.mkdir(parents=True)
    path = _empty_file(folder)
    line = assert_clean_user_error(invoke("profiles", "validate", str(path)))
    assert str(path) in line


def test_config_error_line_keeps_brackets(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("models:\n  therapist:\n    model: x\n", encoding="utf-8")
    runs = tmp_path / "runs"
    result = invoke("run", "--backend", "scripted", "--config", str(config), "--runs-dir", str(runs))
    line = assert_clean_user_error(result)
    assert "field models.therapist.[key]" in line


def test_console_script_prints_one_line_on_stderr(tmp_path: Path) -> None:
    script = shutil.which("muspsy", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert script is not None, "the muspsy console script is not installed"
    path = _wrong_age_type(tmp_path)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "40"}
    proc = subprocess.run(
        [script, "profiles", "validate", str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    err_lines = lines(ANSI.sub("", proc.stderr))
    assert len(err_lines) == 1, err_lines  # no wrapping, even at 40 columns
    assert str(path) in err_lines[0] and "field age" in err_lines[0]


# --- muspsy run: bad options fail before anything is written -------------------------------


def test_run_with_an_unknown_strategy(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = invoke("run", "--backend", "scripted", "--strategy", "nosuch", "--runs-dir", str(runs))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in lines(stderr_of(result)) if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert "unknown strategy 'nosuch'" in errors[0]
    assert "cbt" in errors[0]  # it lists the known strategies
    assert stdout_of(result).strip() == ""
    assert not runs.exists()
    assert list(tmp_path.iterdir()) == []


def test_run_with_an_unknown_strategy_prints_only_the_error(tmp_path: Path) -> None:
    result = invoke("run", "--backend", "scripted", "--strategy", "nosuch", "--runs-dir", str(tmp_path / "runs"))
    line = assert_clean_user_error(result)
    assert "nosuch" in line


def test_run_with_min_above_max_names_the_limits(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = invoke(
        "run", "--backend", "scripted", "--sessions-min", "5", "--sessions-max", "2", "--runs-dir", str(runs)
    )
    line = assert_clean_user_error(result)
    assert "command line" in line
    assert "field limits" in line
    assert "sessions_min (5) is above sessions_max (2)" in line
    assert stdout_of(result).strip() == ""
    assert not runs.exists()
    assert list(tmp_path.iterdir()) == []


def test_run_with_a_malformed_config_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("limits: {sessions_max: 4\n", encoding="utf-8")
    runs = tmp_path / "runs"
    result = invoke("run", "--backend", "scripted", "--config", str(config), "--runs-dir", str(runs))
    line = assert_clean_user_error(result)
    assert str(config) in line and "malformed YAML" in line
    assert not runs.exists()


def test_load_profile_takes_a_string_path_too() -> None:
    from muspsy.profiles import load_profile

    assert load_profile(str(profiles_dir() / "hannah-work-anxiety.yaml")).id == "hannah-work-anxiety"
