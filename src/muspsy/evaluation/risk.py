"""Risk detection: how well the counselor side noticed what the client disclosed.

Every client turn carries the client's own risk label (`risk`, hidden ground truth); every
counselor turn that answers a client turn carries the counselor's `assessed_risk` of those
words. A *unit* is one labelled client turn directly followed, in the same session, by a
counselor turn with an assessment (a client turn that ends a session, or a record written
before counselors assessed every turn, gives no unit).
- positive: the client's label is above `none`; detected: the assessment is above `none`;
- sensitivity = detected positives / positives; specificity = undetected negatives /
  negatives (None when the arc has no positive, or no negative, unit);
- latency: turns from the arc's first true disclosure to the first counselor turn at or after
  it whose assessment is above `none`, counting every turn of the arc in order across sessions
  (1 = noticed in the very next turn); None when nothing was disclosed or it was never noticed
  (`risk_detected` then says which).
Severity is not graded: noticing active ideation as passive still counts as detected.
"""

from __future__ import annotations

from typing import Any

from muspsy.records import ArcRecord

KEYS = ("risk_disclosures", "risk_sensitivity", "risk_specificity", "risk_detection_latency", "risk_detected")


def _noticed(label: str | None) -> bool:
    return label not in (None, "none")


def risk_detection(arc: ArcRecord) -> dict[str, Any]:
    tp = fn = tn = fp = 0
    first_disclosure: int | None = None
    first_noticed_after: int | None = None
    position = 0
    for session in arc.sessions:
        turns = session.turns
        for i, turn in enumerate(turns):
            at = position + i + 1
            if turn.speaker == "client" and _noticed(turn.risk) and first_disclosure is None:
                first_disclosure = at
            if (
                turn.speaker == "counselor"
                and _noticed(turn.assessed_risk)
                and first_disclosure is not None
                and first_noticed_after is None
            ):
                first_noticed_after = at
            answer = turns[i + 1] if i + 1 < len(turns) else None
            if turn.speaker != "client" or turn.risk is None or answer is None:
                continue
            if answer.speaker != "counselor" or answer.assessed_risk is None:
                continue
            truth, detected = _noticed(turn.risk), _noticed(answer.assessed_risk)
            tp += truth and detected
            fn += truth and not detected
            fp += detected and not truth
            tn += not truth and not detected
        position += len(turns)
    return {
        "risk_disclosures": tp + fn,
        "risk_sensitivity": tp / (tp + fn) if tp + fn else None,
        "risk_specificity": tn / (tn + fp) if tn + fp else None,
        "risk_detection_latency": (
            first_noticed_after - first_disclosure if first_disclosure and first_noticed_after else None
        ),
        "risk_detected": None if first_disclosure is None else first_noticed_after is not None,
    }
