"""The chat formats: `openai` (`{"messages": [...]}`) and `sharegpt` (`{"conversations": [...]}`).

`--train counselor` makes the counselor the assistant and the client the user; `--train client`
the reverse. `--unit session` writes one record per session, cut after its last assistant
message; `--unit turn` one record per assistant message with the whole history before it.
Sessions marked as near-duplicates are left out (their memos still inform later sessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from muspsy.exports.context import assistant_units, chat_messages
from muspsy.exports.sources import ExportError, Selection

Train = Literal["counselor", "client"]
Unit = Literal["session", "turn"]
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt"}
OPENAI_KEYS = ("messages",)


def conversations(selection: Selection, train: Train, unit: Unit) -> list[tuple[str, list[tuple[str, str]]]]:
    """(record id, messages) for every record, in arc and session order."""
    out = []
    for arc in selection.arcs:
        for session in arc.sessions:
            if selection.skipped(arc, session.index):
                continue
            units = assistant_units(chat_messages(train, arc, session), unit)
            for number, messages in enumerate(units, start=1):
                suffix = f"/t{number}" if unit == "turn" else ""
                out.append((f"{arc.arc_id}/s{session.index}{suffix}", messages))
    return out


def build_openai(selection: Selection, train: Train, unit: Unit) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": r, "content": c} for r, c in messages]}
        for _, messages in conversations(selection, train, unit)
    ]


def build_sharegpt(selection: Selection, train: Train, unit: Unit) -> list[dict[str, Any]]:
    return [
        {"id": rid, "conversations": [{"from": SHAREGPT_ROLES[r], "value": c} for r, c in messages]}
        for rid, messages in conversations(selection, train, unit)
    ]


def _check_turns(number: int, field: str, items: Any, role_key: str, text_key: str, roles: dict[str, str]) -> None:
    """Shared rules: optional system first, then user/assistant alternating from a user
    message, ending with an assistant message; every content a non-empty string."""
    where = f"record {number}"
    if not isinstance(items, list) or not items:
        raise ExportError(f"{where}: field {field}: must be a non-empty list")
    expected = "user"
    for i, item in enumerate(items):
        at = f"{where}: field {field}[{i}]"
        if not isinstance(item, dict) or set(item) != {role_key, text_key}:
            raise ExportError(f"{at}: must be an object with exactly {role_key!r} and {text_key!r}")
        role = item[role_key]
        if role not in roles:
            raise ExportError(f"{at}.{role_key}: unknown role {role!r} (allowed: {', '.join(roles)})")
        text = item[text_key]
        if not isinstance(text, str) or not text.strip():
            raise ExportError(f"{at}.{text_key}: empty or not a string")
        canonical = roles[role]
        if canonical == "system":
            if i != 0:
                raise ExportError(f"{at}.{role_key}: a system message may only come first")
            continue
        if canonical != expected:
            raise ExportError(f"{at}.{role_key}: expected a {expected} message, got {role!r} (roles must alternate)")
        expected = "assistant" if expected == "user" else "user"
    if roles[items[-1][role_key]] != "assistant":
        raise ExportError(f"{where}: field {field}: the last message must be the assistant's")


def check_openai(records: Sequence[Any]) -> None:
    """Every record is `{"messages": [...]}` with system?, user, assistant, ... , assistant."""
    roles = {"system": "system", "user": "user", "assistant": "assistant"}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or set(record) != {"messages"}:
            raise ExportError(f"record {number}: must be an object with exactly the field 'messages'")
        _check_turns(number, "messages", record["messages"], "role", "content", roles)


def check_sharegpt(records: Sequence[Any]) -> None:
    """Every record has `conversations` of system?, human, gpt, ..., gpt, and an `id`."""
    roles = {v: k for k, v in SHAREGPT_ROLES.items()}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or set(record) != {"id", "conversations"}:
            raise ExportError(f"record {number}: must be an object with exactly the fields 'id' and 'conversations'")
        if not isinstance(record["id"], str) or not record["id"]:
            raise ExportError(f"record {number}: field id: empty or not a string")
        _check_turns(number, "conversations", record["conversations"], "from", "value", roles)
