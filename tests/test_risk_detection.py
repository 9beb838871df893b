"""Risk-detection metrics on hand-made arcs whose answers are known: sensitivity, specificity
and latency per arc (`muspsy evaluate`) and per group (`muspsy compare`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eval_arcs import arc
from muspsy.evaluation.compare import compare_groups, make_groups
from muspsy.evaluation.evaluate import summary_table
from muspsy.evaluation.metrics import arc_metrics
from muspsy.evaluation.risk import risk_detection
from muspsy.evaluation.sources import Source
from muspsy.records import ArcRecord

pytestmark = pytest.mark.unit

Spec = list[tuple[str, str | None]]  # (speaker, client label or counselor assessment)


def turns(spec: Spec) -> list[dict[str, Any]]:
    out = []
    for i, (speaker, label) in enumerate(spec, start=1):
        turn: dict[str, Any] = {"index": i, "speaker": speaker, "text": f"{speaker} words {i}"}
        if label is not None:
            turn["risk" if speaker == "client" else "assessed_risk"] = label
        out.append(turn)
    return out


def made(*sessions: Spec, client: str = "ann", strategy: str = "cbt") -> ArcRecord:
    memo = {
        "summary": "s",
        "emotion_and_cognitive_state": "e",
        "counselor_observations": "o",
        "counseling_assignments": ["a"],
        "session_goal": "g",
        "next_session_goal": "n",
        "progress": "some",
        "risk": "low",
    }
    records = [
        {
            "index": n,
            "goal": "g",
            "client_state": {"emotion_state": "e", "cognitive_state": "c"},
            "turns": turns(spec),
            "end_reason": "counselor_closed",
            "memo": memo,
        }
        for n, spec in enumerate(sessions, start=1)
    ]
    return arc(records, arc_id=f"{client}--{strategy}--seed0", client_id=client, strategy=strategy)


# One miss, one hit, one false alarm, one true negative; the first disclosure (turn 4) is
# first noticed at turn 7.
MIXED: Spec = [
    ("counselor", None),
    ("client", "none"),
    ("counselor", "none"),  # TN
    ("client", "active_ideation"),
    ("counselor", "none"),  # FN
    ("client", "passive_ideation"),
    ("counselor", "passive_ideation"),  # TP
    ("client", "none"),
    ("counselor", "active_ideation"),  # FP
]


def test_sensitivity_specificity_and_latency_of_one_session():
    assert risk_detection(made(MIXED)) == {
        "risk_disclosures": 2,
        "risk_sensitivity": 0.5,
        "risk_specificity": 0.5,
        "risk_detection_latency": 3,
        "risk_detected": True,
    }


def test_latency_counts_turns_across_sessions_and_a_session_end_gives_no_unit():
    # Disclosed in the last turn of session 1 (nobody answers it), noticed at session 2 turn 3.
    first: Spec = [("counselor", None), ("client", "none"), ("counselor", "none"), ("client", "active_ideation")]
    second: Spec = [("counselor", None), ("client", "none"), ("counselor", "passive_ideation"), ("client", "none")]
    result = risk_detection(made(first, second))
    assert result["risk_detection_latency"] == 3  # positions 4 -> 7
    assert result["risk_disclosures"] == 0 and result["risk_sensitivity"] is None
    assert result["risk_specificity"] == pytest.approx(1 / 2)  # turn 2 -> 3 TN, s2 turn 2 -> 3 FP


def test_an_arc_without_disclosure_or_with_a_missed_one():
    quiet = risk_detection(made([("counselor", None), ("client", "none"), ("counselor", "none")]))
    assert quiet["risk_sensitivity"] is None and quiet["risk_specificity"] == 1.0
    assert quiet["risk_detection_latency"] is None and quiet["risk_detected"] is None
    missed = risk_detection(made([("counselor", None), ("client", "active_ideation"), ("counselor", "none")]))
    assert missed["risk_sensitivity"] == 0.0 and missed["risk_detected"] is False
    assert missed["risk_detection_latency"] is None


def test_records_from_before_every_turn_was_assessed_give_no_units():
    old = made([("counselor", None), ("client", "active_ideation"), ("counselor", None), ("client", "none")])
    result = risk_detection(old)
    assert result["risk_sensitivity"] is None and result["risk_specificity"] is None
    assert result["risk_detected"] is False


def test_per_group_means_in_compare_and_evaluate():
    cbt = [made(MIXED, client=c) for c in ("ann", "bo")]
    perfect: Spec = [("counselor", None), ("client", "active_ideation"), ("counselor", "active_ideation")]
    pc = [made(perfect, client=c, strategy="person_centred") for c in ("ann", "bo")]
    groups = make_groups([Source(Path("/nowhere/mixed.jsonl"), [*cbt, *pc])], "strategy")
    rows = {r.key: r for r in compare_groups(groups)}
    assert [stat[1][0] for stat in rows["risk_sensitivity"].stats] == [0.5, 1.0]
    assert [stat[1][0] for stat in rows["risk_detection_latency"].stats] == [3.0, 1.0]
    kind, pairs, (diff, _, _) = rows["risk_sensitivity"].diffs[0]
    assert (kind, pairs, diff) == ("paired", 2, 0.5)
    arcs = [
        {
            "kind": "arc",
            "source": "s",
            "strategy": a.strategy,
            "metrics": arc_metrics(a),
            "trajectories": {"phq9": [], "gad7": []},
        }
        for a in [*cbt, *pc]
    ]
    table = {row[0]: row[1:] for row in summary_table(arcs).rows}
    assert table["risk detection sensitivity"] == ["0.50", "1.00"]
    assert table["risk detection latency (turns)"] == ["3.00", "1.00"]
