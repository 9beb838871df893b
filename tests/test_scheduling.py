"""How a run schedules its arcs: the first wave starts staggered, later arcs start as slots
free up, the spacing is an execution setting (resume may change it), and the collector's
freeze lasts only as long as the run."""

from __future__ import annotations

import gc
import json
from datetime import datetime
from pathlib import Path

import pytest

from muspsy.config import RunConfig, fingerprint
from muspsy.profiles import load_profiles
from muspsy.runner import start_run

pytestmark = pytest.mark.graph

SMALL = {"sessions_min": 1, "sessions_max": 1, "turns_min": 5, "turns_max": 5}


def arc_starts(run_dir: Path) -> dict[str, float]:
    """When each arc started, by arc id, relative to the first."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").open()]
    starts = {
        e["arc"]: datetime.fromisoformat(e["timestamp"]).timestamp() for e in events if e["event"] == "arc_started"
    }
    first = min(starts.values())
    return {arc: at - first for arc, at in starts.items()}


async def test_the_first_wave_of_arcs_starts_staggered_and_later_arcs_do_not_wait(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {"backend": "scripted", "concurrency": 3, "start_spacing_ms": 150, "arcs_per_profile": 5, "limits": SMALL}
    )
    result = await start_run(load_profiles()[:1], config, tmp_path, progress=None)
    assert not result.failed
    starts = arc_starts(result.run_dir)
    by_seed = [starts[arc] for arc in sorted(starts, key=lambda arc: int(arc.rsplit("seed", 1)[1]))]
    assert len(by_seed) == 5
    assert by_seed[1] >= 0.14 and by_seed[2] >= 0.29, by_seed
    # Arcs 4 and 5 take the slot of an arc that finished, with no spacing of their own: a
    # scripted arc of one short session is over long before the third arc's 300 ms.
    assert by_seed[3] < by_seed[2] and by_seed[4] < by_seed[2], by_seed


async def test_no_spacing_starts_the_first_wave_together(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {"backend": "scripted", "concurrency": 3, "start_spacing_ms": 0, "arcs_per_profile": 3, "limits": SMALL}
    )
    result = await start_run(load_profiles()[:1], config, tmp_path, progress=None)
    assert max(arc_starts(result.run_dir).values()) < 0.14


def test_start_spacing_is_an_execution_setting_outside_the_fingerprint() -> None:
    base = RunConfig.model_validate({"backend": "scripted"})
    assert fingerprint(base) == fingerprint(base.model_copy(update={"start_spacing_ms": 250.0}))


async def test_the_collector_is_unfrozen_after_a_run(tmp_path: Path) -> None:
    config = RunConfig.model_validate({"backend": "scripted", "limits": SMALL})
    await start_run(load_profiles()[:1], config, tmp_path, progress=None)
    assert gc.get_freeze_count() == 0
