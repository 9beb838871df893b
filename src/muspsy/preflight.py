"""Fail fast on an endpoint that cannot work: a preflight request to each endpoint before any
arc starts, and a circuit breaker that stops the run after repeated connection or
authentication failures, with one line naming the URL.

Without them a dead endpoint made every arc retry on its own for ~20 s and fail with a message
naming no URL, and a rejected key failed the arcs one by one.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit, urlunsplit

from muspsy.redact import redact_url

PREFLIGHT_TIMEOUT_S = 15.0
# Consecutive failures of one endpoint, with no success in between, that stop the run.
CONNECTION_FAILURES_TO_STOP = 3
AUTH_FAILURES_TO_STOP = 1
CONNECTION_ERRORS = {"APIConnectionError", "APITimeoutError", "CallDeadlineExceeded"}
AUTH_ERRORS = {"AuthenticationError", "PermissionDeniedError"}


class EndpointDown(RuntimeError):
    """An endpoint is unreachable or refuses the key; the run stops, every arc stays resumable."""


def failure_kind(exc: BaseException) -> str | None:
    """'connection', 'auth' or None (a failure that says nothing about the endpoint)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & AUTH_ERRORS:
        return "auth"
    if names & CONNECTION_ERRORS or isinstance(exc, ConnectionError):
        return "connection"
    return None


@dataclass
class CircuitBreaker:
    """Counts one endpoint's consecutive connection and authentication failures."""

    url: str
    failures: dict[str, int] = field(default_factory=dict)

    def succeeded(self) -> None:
        self.failures.clear()

    def failed(self, exc: BaseException) -> None:
        """Record a failed call; raise EndpointDown once the endpoint looks dead."""
        kind = failure_kind(exc)
        if kind is None:
            return
        self.failures[kind] = self.failures.get(kind, 0) + 1
        limit = AUTH_FAILURES_TO_STOP if kind == "auth" else CONNECTION_FAILURES_TO_STOP
        if self.failures[kind] >= limit:
            what = "refused the API key" if kind == "auth" else f"failed {self.failures[kind]} calls in a row"
            raise EndpointDown(f"{redact_url(self.url)}: {what} ({type(exc).__name__}: {exc}); the run stopped")


def models_request(base_url: str, api_key: str) -> urllib.request.Request:
    """GET <base>/models with the credentials the chat client would send: the key as a bearer
    token, or the URL's userinfo as basic auth (which the client then sends instead)."""
    parts = urlsplit(base_url)
    auth = f"Bearer {api_key}"
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode()
        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/models"))
    return urllib.request.Request(url, headers={"Authorization": auth})


def _get_status(request: urllib.request.Request, timeout: float) -> int:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def _status_within(request: urllib.request.Request, timeout: float) -> int:
    """The HTTP status of GET `url`, or TimeoutError after `timeout` seconds in all.

    A daemon thread, not the loop's executor: a server that trickles bytes would keep an
    executor thread, and the process's exit, waiting.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def work() -> None:
        try:
            result: int | BaseException = _get_status(request, timeout)
        except BaseException as exc:  # handed to the loop, raised there
            result = exc

        def deliver() -> None:
            if future.done():
                return
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        loop.call_soon_threadsafe(deliver)

    threading.Thread(target=work, name="muspsy-preflight", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


async def check_endpoint(base_url: str, api_key: str, timeout: float = PREFLIGHT_TIMEOUT_S) -> None:
    """One cheap request (GET <base>/models) before any arc starts: raise EndpointDown if the
    endpoint cannot be reached, does not answer in time or refuses the key. Any other answer,
    even 404 (not every server lists models), shows the endpoint is there."""
    where = redact_url(base_url)
    try:
        status = await _status_within(models_request(base_url, api_key), timeout)
    except TimeoutError:
        raise EndpointDown(f"{where}: no answer within {timeout:g} s; is the server overloaded or hung?") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EndpointDown(f"{where}: cannot connect ({reason}); is the server running?") from None
    if status in (401, 403):
        raise EndpointDown(f"{where}: refused the API key (HTTP {status}); check the key's environment variable")
