"""The wheel carries the agent specs and bundled profiles, so an install outside a checkout runs."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from conftest import REPO

pytestmark = pytest.mark.unit


def test_wheel_ships_agents_and_profiles(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("muspsy-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (REPO / "agents").rglob("*"):
        if path.is_file():
            assert f"muspsy/_data/agents/{path.relative_to(REPO / 'agents').as_posix()}" in names
    for path in (REPO / "profiles").glob("*.yaml"):
        assert f"muspsy/_data/profiles/{path.name}" in names
    assert "muspsy/cli/__init__.py" in names
