"""Bounded YAML loading for user files (profiles, configs): regular files only, a size cap,
no aliases, bounded nesting.

`yaml.safe_load` expands aliases, so a few kilobytes of nested aliases (a "billion laughs")
become gigabytes in memory; profiles and configs never need them. A FIFO or a device named as
a profile would block the read forever; only regular files are read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_YAML_BYTES = 1_000_000
SUFFIXES = (".yaml", ".yml")


class YamlFileError(ValueError):
    """The file cannot be read as bounded YAML; the message names the file and the reason."""


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in muspsy files; write the value out", mark
            )
        return super().compose_node(parent, index)


def is_yaml_name(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def read_regular_file(path: Path, limit: int = MAX_YAML_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; OSError or YamlFileError otherwise."""
    # O_NONBLOCK: opening a FIFO must not wait for a writer before we can see what it is.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise YamlFileError(f"{path}: not a regular file")
        if info.st_size > limit:
            raise YamlFileError(f"{path}: {info.st_size} bytes, more than the {limit} allowed")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise YamlFileError(f"{path}: more than the {limit} bytes allowed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlFileError(f"{path}: not UTF-8 text (byte {exc.start}); is it a binary file?") from None


def parse_yaml(text: str, path: Path) -> Any:
    """`text` as YAML without aliases; YamlFileError names the line of the problem."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        raise YamlFileError(f"{path}: {where}malformed YAML: {problem}") from None
    except RecursionError:
        raise YamlFileError(f"{path}: nested too deeply") from None
