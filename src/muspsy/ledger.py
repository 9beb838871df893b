"""The disclosure ledger: which private facts and risk notes the client may tell, and which it told.

Every private fact and risk note of a profile has an id and an unlock rule (a first session
and a minimum felt trust, `ClientState.alliance`). The client's prompt holds an item's text
only once it is unlocked: in a session at or after `share_from_session` whose starting
alliance reaches `min_alliance`. Once told, an item stays unlocked (the client cannot un-tell
it), even if trust drops later.

The client's structured turn names the ids it disclosed. A claim of an id that is unknown or
not unlocked is dropped from the ledger (and reported, so the run's events show it): the
ledger records only what the client could have told. Repeated claims of an item already in the
ledger are not added again: an entry is the *first* disclosure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from muspsy.records import ClientProfile, Disclosable, Disclosure


def disclosed_ids(disclosures: Iterable[dict[str, Any]]) -> set[str]:
    return {entry["fact"] for entry in disclosures}


def unlocked(
    profile: ClientProfile, session: int, alliance: int, disclosures: Iterable[dict[str, Any]] = ()
) -> list[Disclosable]:
    """The items the client may tell in `session` with trust `alliance`, in profile order."""
    told = disclosed_ids(disclosures)
    return [item for item in profile.disclosable() if item.id in told or item.rule.unlocked(session, alliance)]


@dataclass(frozen=True)
class ClaimResult:
    added: list[Disclosure]  # new ledger entries
    dropped: list[str]  # claimed ids that were unknown or not unlocked


def accept_claims(
    profile: ClientProfile,
    claimed: Sequence[str],
    *,
    session: int,
    turn: int,
    alliance: int,
    disclosures: Sequence[dict[str, Any]],
) -> ClaimResult:
    """Check a client turn's claimed disclosures against the unlock rules."""
    allowed = {item.id for item in unlocked(profile, session, alliance, disclosures)}
    told = disclosed_ids(disclosures)
    added: list[Disclosure] = []
    dropped: list[str] = []
    for fact in dict.fromkeys(claimed):  # a repeated id in one claim counts once
        if fact not in allowed:
            dropped.append(fact)
        elif fact not in told:
            added.append(Disclosure(fact=fact, session=session, turn=turn))
    return ClaimResult(added=added, dropped=dropped)
