"""The disclosure ledger: ids, unlock rules by session and trust, claims checked against them,
and the ledger in whole arcs (state and arc record)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from conftest import overriding
from muspsy.config import Limits
from muspsy.ledger import accept_claims, unlocked
from muspsy.records import ClientProfile
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models

pytestmark = pytest.mark.unit


def _profile(hannah: ClientProfile, **changes: Any) -> ClientProfile:
    data = hannah.model_dump(mode="json", by_alias=True)
    data["private_history"] = [
        {"fact": "wine at night", "share_from_session": 1},
        {"id": "rival-job", "fact": "applied elsewhere", "share_from_session": 2, "min_alliance": 3},
    ]
    data["risk"] = {"level": "low", "notes": "drinks to sleep"}
    data.update(changes)
    return ClientProfile.model_validate(data)


def test_items_get_ids_by_position_unless_given(profile):
    items = _profile(profile("hannah-work-anxiety")).disclosable()
    assert [(i.id, i.kind) for i in items] == [("fact-1", "fact"), ("rival-job", "fact"), ("risk-1", "risk")]
    # A plain risk.notes string (older profiles, importers) is one risk note from session 1 on.
    assert items[2].text == "drinks to sleep" and items[2].rule.share_from_session == 1


def test_risk_notes_as_a_list_carry_their_own_rules(profile):
    notes = [{"id": "risk-means", "note": "saved tablets", "share_from_session": 2, "min_alliance": 2}]
    p = _profile(profile("hannah-work-anxiety"), risk={"level": "high", "notes": notes})
    assert [i.id for i in unlocked(p, 1, 5)] == ["fact-1"]
    assert [i.id for i in unlocked(p, 2, 2)] == ["fact-1", "risk-means"]


@pytest.mark.parametrize(
    ("session", "alliance", "expected"),
    [(1, 5, ["fact-1", "risk-1"]), (2, 2, ["fact-1", "risk-1"]), (2, 3, ["fact-1", "rival-job", "risk-1"])],
)
def test_unlocking_needs_the_session_and_the_trust(profile, session, alliance, expected):
    assert [i.id for i in unlocked(_profile(profile("hannah-work-anxiety")), session, alliance)] == expected


def test_a_claim_that_is_not_unlocked_or_unknown_is_dropped(profile):
    p = _profile(profile("hannah-work-anxiety"))
    result = accept_claims(
        p, ["rival-job", "fact-1", "made-up", "fact-1"], session=2, turn=4, alliance=2, disclosures=[]
    )
    assert [(d.fact, d.session, d.turn) for d in result.added] == [("fact-1", 2, 4)]
    assert result.dropped == ["rival-job", "made-up"]


def test_an_item_is_entered_once_at_its_first_disclosure(profile):
    p = _profile(profile("hannah-work-anxiety"))
    told = [{"fact": "fact-1", "session": 1, "turn": 6}]
    result = accept_claims(p, ["fact-1"], session=2, turn=2, alliance=2, disclosures=told)
    assert result.added == [] and result.dropped == []


def test_a_repeated_id_is_a_clear_profile_error(profile):
    data = profile("hannah-work-anxiety").model_dump(mode="json", by_alias=True)
    data["private_history"][0]["id"] = "risk-1"
    data["risk"] = {"level": "low", "notes": [{"note": "x"}]}
    with pytest.raises(ValidationError, match="id 'risk-1' is used twice"):
        ClientProfile.model_validate(data)


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.seen.append((event, fields))


@pytest.mark.graph
async def test_the_ledger_of_a_whole_arc_keeps_only_what_could_be_told(profile):
    hannah = profile("hannah-work-anxiety")  # job-applications: session 3, trust 3

    def claims_too_much(messages):
        reply = default_responder("ClientTurnOutput", messages)
        if "Session 1, turn 2." in str(messages[-1].content):
            return {**reply, "disclosed": ["job-applications", "no-such-fact"]}
        return reply

    events = Events()
    record = await simulate_arc(
        hannah,
        scripted_models(overriding(ClientTurnOutput=claims_too_much)),
        limits=Limits(sessions_min=2, sessions_max=2, turns_min=7, turns_max=9),
        events=events,
    )
    ledger = [(d.fact, d.session) for d in record.disclosures]
    assert ("job-applications", 1) not in ledger
    allowed = {1: {"risk-no-ideation"}, 2: {"risk-no-ideation", "wine-to-sleep", "risk-alcohol"}}
    assert ledger and all(fact in allowed[session] for fact, session in ledger)
    dropped = [fields for name, fields in events.seen if name == "disclosure_dropped"]
    assert dropped[0]["facts"] == ["job-applications", "no-such-fact"] and dropped[0]["turn"] == 2
    # Each entry points at the client turn that told it.
    for entry in record.disclosures:
        turn = record.sessions[entry.session - 1].turns[entry.turn - 1]
        assert turn.speaker == "client"
