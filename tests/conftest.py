"""Shared fixtures: bundled profiles, scripted models and small helpers for whole arcs."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from muspsy.config import Limits
from muspsy.profiles import load_profile
from muspsy.records import ArcRecord, ClientProfile
from muspsy.simulate import simulate_arc
from muspsy.testing import default_responder, scripted_models

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
# The peers' sample files live beside the checkout; MUSPSY_EXTERNAL_DATA points elsewhere (a worktree).
EXTERNAL = Path(os.environ.get("MUSPSY_EXTERNAL_DATA") or REPO.parent / "shared" / "data" / "external")


@pytest.fixture
def profile() -> Callable[[str], ClientProfile]:
    return lambda name: load_profile(PROFILES / f"{name}.yaml")


@pytest.fixture(autouse=True, scope="session")
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The embedded model's Q8_0 copy is built in the test session's own folder, not the user's cache."""
    os.environ.setdefault("MUSPSY_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def overriding(**replies: Callable[[Sequence[BaseMessage]], dict[str, Any] | str]) -> Any:
    """The default responder, except for the schemas given (schema name -> reply function)."""

    def respond(schema: str, messages: Sequence[BaseMessage]) -> dict[str, Any] | str:
        if schema in replies:
            return replies[schema](messages)
        return default_responder(schema, messages)

    return respond


def at_risk_level(profile: ClientProfile, level: str) -> ClientProfile:
    """The profile with another risk level (the scripted client answers the crisis screener by it)."""
    return profile.model_copy(update={"risk": profile.risk.model_copy(update={"level": level})})


async def arc_of(profile: ClientProfile, responder: Any = default_responder, **limits: int) -> ArcRecord:
    settings = {"sessions_min": 2, "sessions_max": 4, "turns_min": 5, "turns_max": 11, **limits}
    return await simulate_arc(profile, scripted_models(responder), limits=Limits(**settings))


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A throwaway HTTP server on 127.0.0.1 answering with `handler`; yields its /v1 base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
