"""Deterministic importers (no LLM): other projects' client data -> muspsy profiles and arcs.

One module per source format; `common` holds what they share. The field mappings are
documented in docs/importers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from muspsy.importers.arcs import run_id_for, write_arcs
from muspsy.importers.cactus import import_cactus
from muspsy.importers.common import Batch, ImportDataError, unique_ids, write_profiles
from muspsy.importers.muspsy_arcs import import_muspsy_arcs
from muspsy.importers.muspsy_cards import import_cards
from muspsy.importers.patient_psi import import_patient_psi
from muspsy.importers.patienthub import importer
from muspsy.importers.patienthub_cases import (
    read_adaptivevp,
    read_cars,
    read_clientcast,
    read_mindvoyager,
    read_psyche,
    read_roleplaydoh,
)
from muspsy.importers.patienthub_formats import (
    read_annaagent,
    read_deprofile,
    read_eeyore,
    read_patientact,
    read_patientzero,
    read_saps,
    read_simpatient,
    read_talkdep,
)
from muspsy.importers.patienthub_mi import import_patienthub_mi
from muspsy.importers.psycheval import import_psycheval
from muspsy.importers.psycheval_arcs import import_psycheval_arcs
from muspsy.records import ArcRecord, ClientProfile

PROFILE_FORMATS: dict[str, Callable[[Path, Batch], list[ClientProfile]]] = {
    "muspsy": import_cards,
    "psycheval": import_psycheval,
    "cactus": import_cactus,
    "patient-psi": import_patient_psi,
    "patienthub-mi": import_patienthub_mi,
    "patienthub-saps": importer("saps", read_saps),
    "patienthub-patientact": importer("patientact", read_patientact),
    "patienthub-deprofile": importer("deprofile", read_deprofile),
    "patienthub-eeyore": importer("eeyore", read_eeyore),
    "patienthub-talkdep": importer("talkdep", read_talkdep),
    "patienthub-annaagent": importer("annaagent", read_annaagent),
    "patienthub-patientzero": importer("patientzero", read_patientzero),
    "patienthub-simpatient": importer("simpatient", read_simpatient),
    "patienthub-clientcast": importer("clientcast", read_clientcast),
    "patienthub-cars": importer("cars", read_cars),
    "patienthub-roleplaydoh": importer("roleplaydoh", read_roleplaydoh),
    "patienthub-mindvoyager": importer("mindvoyager", read_mindvoyager),
    "patienthub-psyche": importer("psyche", read_psyche),
    "patienthub-adaptivevp": importer("adaptivevp", read_adaptivevp),
}


def import_profiles(fmt: str, paths: Sequence[Path], batch: Batch | None = None) -> list[ClientProfile]:
    """Every profile in `paths`, read as `fmt`; ids made unique across all files, in order.

    With a `Batch(skip_bad=True)` bad records are left out and listed in `batch.bad`.
    """
    if fmt not in PROFILE_FORMATS:
        raise ImportDataError(f"--format: unknown format {fmt!r} (known: {', '.join(PROFILE_FORMATS)})")
    batch = batch or Batch()
    profiles = [profile for path in paths for profile in PROFILE_FORMATS[fmt](path, batch)]
    ids = unique_ids(p.id for p in profiles)
    return [p if p.id == new else p.model_copy(update={"id": new}) for p, new in zip(profiles, ids, strict=True)]


ARC_FORMATS: dict[str, Callable[[Sequence[Path], str, bool, Batch], list[ArcRecord]]] = {
    "muspsy": import_muspsy_arcs,
    "psycheval": import_psycheval_arcs,
}


def import_arcs(
    fmt: str, paths: Sequence[Path], full_length: bool = False, batch: Batch | None = None
) -> list[ArcRecord]:
    """Arc records from published multi-session data; one run id for the whole import.

    `full_length` (muspsy only): sessions 2.. come from the full-length dialogue blocks.
    With a `Batch(skip_bad=True)` bad records are left out and listed in `batch.bad`.
    """
    if fmt not in ARC_FORMATS:
        raise ImportDataError(f"--format: unknown arc format {fmt!r} (known: {', '.join(ARC_FORMATS)})")
    for path in paths:
        if not path.is_file():
            raise ImportDataError(f"{path}: no such file")
    arcs = ARC_FORMATS[fmt](paths, run_id_for(paths), full_length, batch or Batch())
    ids = [a.arc_id for a in arcs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ImportDataError(f"{paths[0]}: two arcs would share the arc id {dupes[0]!r}")
    return arcs


__all__ = [
    "ARC_FORMATS",
    "PROFILE_FORMATS",
    "Batch",
    "ImportDataError",
    "import_arcs",
    "import_profiles",
    "write_arcs",
    "write_profiles",
]
