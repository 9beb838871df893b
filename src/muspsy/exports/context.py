"""What each training record may show, built from an arc record with `muspsy.views`.

The visibility rules are the simulation's own (`muspsy.views`): the counselor's context is the
intake, its approach, the session goal and its memo of the previous session (never the
client's private history); the client's context is its persona and state as the client agent
sees them. Export texts are templates under `agents/exports/`.

Dialogue is handled as *utterances*: consecutive turns of the same speaker (e.g. an imported
transcript with two counselor lines in a row) are merged into one, joined by a blank line, so
every conversation alternates strictly. An utterance keeps the index of its first turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from pydantic import ValidationError

from muspsy import views, views_crisis
from muspsy.data import agents_dir
from muspsy.exports.sources import ExportError
from muspsy.graphs.state import ArcState
from muspsy.records import ArcRecord, ClientProfile, Memo, SessionRecord, Speaker
from muspsy.templates import Template, load_template

LABELS: dict[str, str] = {"counselor": "Counselor", "client": "Client"}


@cache
def template(name: str, /) -> Template:
    return load_template(agents_dir() / "exports" / f"{name}.md")


def render(name: str, /, **values: str) -> str:
    return template(name).render(values).strip()


@dataclass(frozen=True)
class Utterance:
    speaker: Speaker
    text: str
    turn: int  # index of the first merged turn


def one_line(text: str) -> str:
    """Line-based layouts (task inputs, MusPsy files) need each utterance on one line."""
    return " ".join(text.split())


def utterances(session: SessionRecord) -> list[Utterance]:
    merged: list[Utterance] = []
    for turn in session.turns:
        text = turn.text.strip()
        if not text:
            continue
        if merged and merged[-1].speaker == turn.speaker:
            last = merged[-1]
            merged[-1] = Utterance(last.speaker, f"{last.text}\n\n{text}", last.turn)
        else:
            merged.append(Utterance(turn.speaker, text, turn.index))
    return merged


def dialogue_lines(items: list[Utterance]) -> str:
    return "\n".join(f"{LABELS[u.speaker]}: {one_line(u.text)}" for u in items)


def profile_of(arc: ArcRecord) -> ClientProfile:
    try:
        return ClientProfile.model_validate(arc.profile)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ExportError(f"arc {arc.arc_id}: field profile.{field}: {first['msg']}") from None


def previous_memo(arc: ArcRecord, session: SessionRecord) -> Memo | None:
    earlier = [s for s in arc.sessions if s.index < session.index]
    return earlier[-1].memo if earlier else None


def memo_or_none(memo: Memo | None) -> str:
    return views.memo_text(memo) if memo else "(none: this is the first session)"


def counselor_memories(arc: ArcRecord, session: SessionRecord, earlier_memos: int) -> str:
    """The memories as the simulated counselor saw them before `session` (`views.last_memo_block`)."""
    memos = [s.memo for s in arc.sessions if s.index < session.index]
    return views.last_memo_block(memos, earlier_memos) if memos else "(none: this is the first session)"


def counselor_system(arc: ArcRecord, session: SessionRecord) -> str:
    profile = profile_of(arc)
    return render(
        "counselor_system",
        language=views.language_name(arc.language),
        strategy=session.strategy or arc.strategy,
        intake=views.intake_text(profile),
        session=str(session.index),
        goal=session.goal,
        memo=memo_or_none(previous_memo(arc, session)),
        safety_plan=carried_safety_plan(session),
    )


def carried_safety_plan(session: SessionRecord) -> str:
    """The safety plan the counselor carried into the session (its system prompt held it)."""
    plan = session.safety_plan_reviewed
    return views_crisis.safety_plan_text(plan) if plan else "(none)"


def client_system(arc: ArcRecord, session: SessionRecord) -> str:
    earlier = [s for s in arc.sessions if s.index < session.index]
    state: dict[str, Any] = {
        "profile": arc.profile,
        "language": arc.language,
        "session": {"index": session.index},
        "client_state": session.client_state.model_dump(mode="json"),
        "history": [{"index": s.index, "homework_given": s.homework_given} for s in earlier],
        "client_memories": [],
        "disclosures": [d.model_dump() for d in arc.disclosures if d.session < session.index],
    }
    profile_of(arc)  # a clear error before views meets a malformed profile
    values = views.client_system(cast(ArcState, state))
    # The client's own recollections are not stored in arc records; say only what is certain.
    values["memories"] = (
        f"You have met this counselor {len(earlier)} time(s) before." if earlier else "(this is your first session)"
    )
    return render("client_system", **values)


def system_for(role: Speaker, arc: ArcRecord, session: SessionRecord) -> str:
    return counselor_system(arc, session) if role == "counselor" else client_system(arc, session)


def memory_text(memo: Memo) -> str:
    """A memo in the MusPsy paper's memory layout: four labelled fields, then the summary; the
    one layout of the simulation's prompts and of every export (`views.memo_text`)."""
    return views.memo_text(memo)


def chat_messages(role: Speaker, arc: ArcRecord, session: SessionRecord) -> list[tuple[str, str]]:
    """The session as (role, content) chat messages with `role` as the assistant.

    Starts with the system message; when the assistant speaks first (the counselor opens every
    simulated session) a short user cue from `session_start.md` goes before it, because chat
    templates expect a user message first.
    """
    messages: list[tuple[str, str]] = [("system", system_for(role, arc, session))]
    items = utterances(session)
    if items and items[0].speaker == role:
        messages.append(("user", render("session_start", session=str(session.index))))
    messages += [("assistant" if u.speaker == role else "user", u.text) for u in items]
    return messages


def assistant_units(messages: list[tuple[str, str]], unit: str) -> list[list[tuple[str, str]]]:
    """`session`: the whole conversation cut after its last assistant message; `turn`: one
    conversation per assistant message, with everything before it."""
    ends = [i for i, (r, _) in enumerate(messages) if r == "assistant"]
    if not ends:
        return []
    if unit == "session":
        return [messages[: ends[-1] + 1]]
    return [messages[: i + 1] for i in ends]
