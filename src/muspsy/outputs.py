"""Guarding output paths: nothing is overwritten by surprise, and no source is ever an output.

An existing output file or non-empty output folder is replaced only with `--force`. Refused
even with `--force`: an output that is one of the sources or holds one (a folder output would
replace it), and any path inside a run folder except the outputs documented there
(`evaluation.jsonl` and `evaluation.md`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from muspsy.runfolder import MANIFEST

# Files that muspsy documents as written into a run folder by a command other than run/resume.
RUN_FOLDER_OUTPUTS = ("evaluation.jsonl", "evaluation.md")


class OutputRefused(ValueError):
    """The output path would replace something the user did not ask to replace."""


def _real(path: Path) -> Path:
    try:
        return path.expanduser().resolve(strict=False)
    except RuntimeError:  # Python 3.11 reports a symlink loop so
        raise OutputRefused(f"{path}: a symlink loop; choose another path") from None


def run_folder_of(path: Path) -> Path | None:
    """The run folder `path` is in (or is), if any."""
    for folder in (path, *path.parents):
        if (folder / MANIFEST).is_file():
            return folder
    return None


def guard_output(
    out: Path, sources: Sequence[Path], *, force: bool, folder: bool = False, writes: Iterable[str] = ()
) -> None:
    """Raise OutputRefused unless writing `out` loses nothing the user did not ask to lose.

    `folder`: `out` is a folder that will be replaced as a whole. `writes`: `out` is a folder
    that will hold these files (checked one by one against the run-folder rule).
    """
    target = _real(out)
    names = list(writes)
    # A folder output replaces the folder; an output of named files replaces only those.
    written = [target / name for name in names] or [target]
    for source in sources:
        real = _real(source)
        if any(path == real or path in real.parents for path in written):
            raise OutputRefused(f"{out}: is (or holds) the source {source}; choose another output path")
    run_folder = run_folder_of(target)
    if run_folder is not None:
        inside = [target / name for name in names] if names else [target]
        for path in inside:
            if path.parent != run_folder or path.name not in RUN_FOLDER_OUTPUTS:
                raise OutputRefused(f"{out}: is inside the run folder {run_folder}; write outputs elsewhere")
    for path in written:
        if path.exists() and not (path.is_file() or path.is_dir()):
            raise OutputRefused(f"{path}: exists and is not a regular file or folder; choose another output path")
    if folder and (target == Path.cwd().resolve() or target in Path.cwd().resolve().parents):
        raise OutputRefused(f"{out}: is the current folder or holds it; choose a new folder for the output")
    if folder and target.is_dir() and any((child / MANIFEST).is_file() for child in target.iterdir()):
        raise OutputRefused(f"{out}: holds run folders; replacing it would delete them")
    if force:
        return
    if names:
        existing = [name for name in names if (target / name).exists()]
        if existing:
            raise OutputRefused(f"{out}: already holds {', '.join(existing)} (use --force to replace)")
    elif target.is_file():
        raise OutputRefused(f"{out}: file exists (use --force to replace it)")
    elif target.is_dir() and any(target.iterdir()):
        raise OutputRefused(f"{out}: folder exists and is not empty (use --force to replace it)")
