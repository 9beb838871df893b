"""Conformance with the paper's published data: the memo contract covers MusPsy's memory fields.

Reads the real sample in `../shared/data/external` (skipped when it is absent, as in a user's
clone of the project).
"""

from __future__ import annotations

import re

import pytest

from conftest import EXTERNAL
from muspsy.records import Memo

pytestmark = pytest.mark.external

MEMORIES = EXTERNAL / "muspsy" / "memories_1000_first2.txt"
# The paper's memory labels and the memo fields that carry them.
MUSPSY_TO_MEMO = {
    "Emotion and Cognitive State": "emotion_and_cognitive_state",
    "Counselor Observations": "counselor_observations",
    "Counseling Assignments": "counseling_assignments",
    "Session Goal": "session_goal",
    "Counseling Summary": "summary",
}


@pytest.mark.skipif(not MEMORIES.exists(), reason="../shared/data/external is not beside this checkout")
def test_every_muspsy_memory_label_has_a_memo_field():
    text = MEMORIES.read_text(encoding="utf-8")
    labels = set(re.findall(r"^\[([A-Za-z ]+):\]", text, re.M)) | set(re.findall(r"^(Counseling Summary):", text, re.M))
    assert labels == set(MUSPSY_TO_MEMO), labels
    for field in MUSPSY_TO_MEMO.values():
        assert field in Memo.model_fields
    # Each memory record holds every label once: as many records as summaries.
    assert text.count("[Session Goal:]") == text.count("Counseling Summary:") == 2
