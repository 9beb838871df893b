"""The README agrees with the code: its config example is valid, its test command is CI's."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO
from muspsy.config import build_config, role_settings

pytestmark = pytest.mark.unit

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_config_example_is_a_valid_config():
    section = README.split("## The config file", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example
    config = build_config(yaml.safe_load(example.group(1)), "README.md")
    roles = role_settings(config, "openai")
    assert roles["supervisor"].model == "gpt-4o" and roles["client"].temperature == 0.9
    assert roles["counselor"].model == "gpt-4o-mini"


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n\s*(python3 -m venv .*?)\n", README)
    assert len(commands) == 2, "the quickstart has exactly two commands"
    assert "muspsy run" in commands[0] and commands[1].endswith("pytest")
    assert commands[1] in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_lists_every_cli_command():
    from typer.main import get_command

    from muspsy.cli import app

    for name in get_command(app).commands:  # type: ignore[attr-defined]
        assert f"muspsy {name}" in README, name
