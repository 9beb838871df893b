"""Deterministic importers (no LLM): other projects' client data -> muspsy profiles and arcs.

One module per source format; `common` holds what they share. The field mappings are
documented in docs/importers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from muspsy.importers.cactus import import_cactus
from muspsy.importers.common import ImportDataError, unique_ids, write_profiles
from muspsy.importers.muspsy_cards import import_cards
from muspsy.importers.patient_psi import import_patient_psi
from muspsy.importers.patienthub_mi import import_patienthub_mi
from muspsy.importers.psycheval import import_psycheval
from muspsy.records import ClientProfile

PROFILE_FORMATS: dict[str, Callable[[Path], list[ClientProfile]]] = {
    "muspsy": import_cards,
    "psycheval": import_psycheval,
    "cactus": import_cactus,
    "patient-psi": import_patient_psi,
    "patienthub-mi": import_patienthub_mi,
}


def import_profiles(fmt: str, paths: Sequence[Path]) -> list[ClientProfile]:
    """Every profile in `paths`, read as `fmt`; ids made unique across all files, in order."""
    if fmt not in PROFILE_FORMATS:
        raise ImportDataError(f"--format: unknown format {fmt!r} (known: {', '.join(PROFILE_FORMATS)})")
    profiles = [profile for path in paths for profile in PROFILE_FORMATS[fmt](path)]
    ids = unique_ids(p.id for p in profiles)
    return [p if p.id == new else p.model_copy(update={"id": new}) for p, new in zip(profiles, ids, strict=True)]


__all__ = ["PROFILE_FORMATS", "ImportDataError", "import_profiles", "write_profiles"]
