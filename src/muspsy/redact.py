"""The one redaction step for everything muspsy writes: errors, events, manifests, failure
lines, evaluations, record provenance, exports and stderr.

Three kinds of secret are scrubbed:
- the values of API keys muspsy read from the environment (registered when they are read);
- URL userinfo passwords and credential-like query parameters (`password`, `key`, `api-key`,
  `token`, ...) in every URL, wherever it appears in a text;
- the values of those URL credentials elsewhere, e.g. echoed in a server's error body.

The registry of secret values is per process: a key read once is scrubbed from every later
write, whichever module writes it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# Shorter values are not worth masking (and would mask ordinary words).
MIN_SECRET_LENGTH = 6
CREDENTIAL_PARAM = re.compile(r"pass|pwd|key|token|secret|auth|sig|credential", re.IGNORECASE)
# From "://" on; the scheme before it is found by hand (a leading character class would make the
# regex try every word of a long text).
URL_REST = re.compile(r"://[^\s'\"<>]+")
SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
# Well-known key shapes (OpenAI-style sk-..., bearer tokens), even if never registered. Each
# starts with a literal, which keeps the scan fast; a word boundary is checked per match.
KEY_SHAPES = (re.compile(r"sk-[A-Za-z0-9_-]{12,}"), re.compile(r"Bearer\s+[A-Za-z0-9._~+/=-]{12,}"))

_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Scrub `value` from everything written from now on."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _secrets.add(value)
        _secrets.add(json.dumps(value)[1:-1])  # as it appears inside JSON text


def register_url(url: str | None) -> None:
    """Register the credentials a URL carries (password, credential query values)."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        register_secret(parts.password)
    except ValueError:
        return
    for raw in parts.query.split("&"):
        name, _, value = raw.partition("=")
        if value and CREDENTIAL_PARAM.search(name):
            register_secret(value)


def redact_url(url: str) -> str:
    """The URL without its password, long bare userinfo or credential query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # unparseable: nothing of it is worth the risk
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        if has_password:
            user = f"{user}:{MASK}"
        elif len(user) > 32 or looks_like_key(user):  # a key passed as the user name
            user = MASK
        netloc = f"{user}@{host}"
    pairs = []
    for raw in parts.query.split("&"):
        name, _, value = raw.partition("=")
        if raw:
            pairs.append(f"{name}={MASK}" if value and CREDENTIAL_PARAM.search(name) else raw)
    query = "&".join(pairs)
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing to mask: the URL as written (urlunsplit would drop an empty "//")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact(text: str) -> str:
    """`text` with every registered secret, URL credential and key-shaped token masked."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _redact_urls(text)
    for shape in KEY_SHAPES:
        text = shape.sub(_mask_word, text)
    return text


def looks_like_key(text: str) -> bool:
    return any(shape.fullmatch(text) for shape in KEY_SHAPES)


def _mask_word(match: re.Match[str]) -> str:
    # "task-memory-extraction" holds "sk-..." but is no key: only whole words are masked.
    start = match.start()
    return match.group(0) if start and match.string[start - 1].isalnum() else MASK


def _redact_urls(text: str) -> str:
    pieces, done = [], 0
    for match in URL_REST.finditer(text):
        start = match.start()
        while start > done and text[start - 1] in SCHEME_CHARS:
            start -= 1
        if start == match.start():
            continue  # "://" with no scheme before it
        url = text[start : match.end()]
        # Punctuation after a URL in a sentence ("... at http://host/v1: refused") is not part of it.
        bare = url.rstrip(".,;:!?)]}")
        pieces += [text[done:start], redact_url(bare), url[len(bare) :]]
        done = match.end()
    return "".join(pieces) + text[done:]


def scrub_exception(exc: BaseException) -> BaseException:
    """Redact an exception in place (its args and message), keeping its type: LangGraph stores a
    failed node's exception in the checkpoint as its repr, and an error body may echo a key."""
    exc.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in exc.args)
    if isinstance(getattr(exc, "message", None), str):
        exc.message = redact(exc.message)  # type: ignore[attr-defined]
    if getattr(exc, "body", None) is not None:
        exc.body = redact_data(exc.body)  # type: ignore[attr-defined]
    return exc


def redact_data(value: Any) -> Any:
    """A JSON-like value with `redact` applied to every string in it, keys included."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value
