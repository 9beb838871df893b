"""Where the bundled data lives: `agents/` and `profiles/` in a checkout or inside the wheel."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_root() -> Path:
    """The folder holding `agents/` and `profiles/`.

    In a checkout (editable install) they sit at the repository root; a built wheel carries a
    copy under `muspsy/_data/`.
    """
    bundled = PACKAGE_DIR / "_data"
    if (bundled / "agents").is_dir():
        return bundled
    return PACKAGE_DIR.parent.parent


def agents_dir() -> Path:
    return data_root() / "agents"


def profiles_dir() -> Path:
    return data_root() / "profiles"
