"""A short real arc on the embedded SmolLM2 model: the record is complete. Structure only:
a 135M model's wording is never asserted on."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from conftest import PROFILES
from muspsy.config import RunConfig
from muspsy.instruments import score
from muspsy.profiles import load_profile
from muspsy.records import ArcRecord
from muspsy.runner import start_run

pytestmark = pytest.mark.embedded


async def test_short_real_arc_on_the_embedded_model(tmp_path):
    config = RunConfig.model_validate(
        {"backend": "embedded", "limits": {"sessions_min": 2, "sessions_max": 2, "turns_min": 3, "turns_max": 5}}
    )
    profile = load_profile(PROFILES / "hannah-work-anxiety.yaml")
    result = await start_run([profile], config, tmp_path)
    assert result.failed == {}, result.failed
    lines = (result.run_dir / "arcs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = ArcRecord.model_validate(json.loads(lines[0]))
    assert len(record.sessions) == 2
    for session in record.sessions:
        assert 3 <= len(session.turns) <= 5
        speakers = [t.speaker for t in session.turns]
        assert all(a != b for a, b in pairwise(speakers))
        assert all(t.text.strip() for t in session.turns)
        assert session.memo.counseling_assignments
        for instrument in ("phq9", "gad7", "wai_sr"):  # the questionnaires, answered in range
            found = getattr(session, instrument)
            assert found is not None and found == score(instrument, found.items)
    for role in ("client", "counselor", "supervisor"):
        usage = record.usage[role]
        assert usage.calls > 0 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    # Each role keeps its slot: its later calls reuse the cached prefix (at least the system prompt).
    calls = [e for e in map(json.loads, (result.run_dir / "events.jsonl").open()) if e["event"] == "llm_call"]
    for role in ("client", "counselor"):
        later = [c for c in calls if c["role"] == role][1:]
        assert later and all(c["cached_tokens"] > 0 for c in later), later
    assert record.provenance["backend"] == "embedded"
    assert "base_url" not in json.dumps(record.provenance["models"])
