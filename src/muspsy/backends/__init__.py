"""Model backends behind one config: `openai` (any OpenAI-compatible endpoint), `embedded`
(the pip-shipped SmolLM2 served on 127.0.0.1, reached through the same OpenAI path) and
`scripted` (deterministic, for tests)."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel

from muspsy.backends.embedded import EmbeddedServer, slot_of
from muspsy.backends.openai_chat import openai_chat_model
from muspsy.config import Backend, ConfigError, ModelSettings, RunConfig, role_settings
from muspsy.llm import RoleModel, describe_models
from muspsy.preflight import PREFLIGHT_TIMEOUT_S, CircuitBreaker, check_endpoint
from muspsy.ratelimit import EndpointLimiter
from muspsy.records import Role
from muspsy.redact import redact_url, register_secret, register_url
from muspsy.testing import ScriptedChatModel, default_responder

LOCAL_HOSTS = ("://127.0.0.1", "://localhost", "://[::1]")


@dataclass(frozen=True)
class ResolvedModels:
    backend: Backend
    models: dict[Role, RoleModel]

    def describe(self) -> dict[str, Any]:
        return describe_models(self.models)


def _api_key(settings: ModelSettings, role: Role) -> str:
    env_name = settings.api_key_env or "OPENAI_API_KEY"
    key = os.environ.get(env_name)
    if key:
        register_secret(key)  # scrubbed from everything written, e.g. an error body echoing it
        return key
    base_url = settings.base_url or os.environ.get("OPENAI_BASE_URL", "")
    if any(host in base_url for host in LOCAL_HOSTS):
        return "not-needed"  # local servers (vLLM, Ollama, llama.cpp) accept any key
    raise ConfigError(
        f"models.{role}: no API key: set the environment variable {env_name}, or point base_url at a local server"
    )


def _public_params(settings: ModelSettings) -> dict[str, Any]:
    """What records say about a role's model: its settings, credentials in the URL masked."""
    params = settings.model_dump(exclude_none=True, exclude={"model"})
    if "base_url" in params:
        params["base_url"] = redact_url(params["base_url"])
    return params


async def open_models(config: RunConfig, stack: AsyncExitStack, share: tuple[int, int] = (0, 1)) -> ResolvedModels:
    """Build one model per role; servers that must be stopped are registered on `stack`.

    `share` (index, count) is this process's part of each endpoint's limits when `count`
    worker processes run the arcs (see `limit_share`).
    """
    backend = config.backend or "embedded"
    settings = role_settings(config, backend)
    models: dict[Role, RoleModel] = {}
    if backend == "scripted":
        for role, s in settings.items():
            models[role] = RoleModel(
                ScriptedChatModel(responder=default_responder),
                s.model or "scripted",
                s.structured_method or "json_schema",
                _public_params(s),
            )
        return ResolvedModels(backend, models)
    if backend == "embedded":
        server = stack.enter_context(EmbeddedServer(config.embedded))
        settings = {role: s.model_copy(update={"base_url": server.base_url}) for role, s in settings.items()}
    limiters = _endpoint_limiters(settings, share)
    breakers: dict[str, CircuitBreaker] = {}
    # Roles with the same settings share one client (one connection pool, one TLS setup).
    clients: dict[tuple[str, str], BaseChatModel] = {}
    for role, s in settings.items():
        register_url(s.base_url)
        key = "not-needed" if backend == "embedded" else _api_key(s, role)
        signature = (s.model_dump_json(), key)
        if signature not in clients:
            clients[signature] = openai_chat_model(s, key)
        chat = clients[signature]
        params = _public_params(s)
        body = dict(s.extra_body or {})
        if backend == "embedded":
            params.pop("base_url")  # a random local port: not part of what the run is
            body.update(embedded_request_fields(role, config))
        models[role] = RoleModel(
            chat,
            s.model or "default",
            s.structured_method or "json_schema",
            params,
            limiters.get(_endpoint(s)),
            body,
            COMPACT_LENGTH_SCALE if backend == "embedded" and config.embedded.compact else 1.0,
            deadline_s=s.deadline_s,
            breaker=breakers.setdefault(_endpoint(s), CircuitBreaker(_endpoint(s))),
        )
    return ResolvedModels(backend, models)


# The compact tier's answers: string bounds at about a third, so a grammar-constrained small model
# writes (and the next prompts carry) fewer tokens: it fills its bounds, and generation and the
# prompt processing of earlier answers are most of the embedded arc's time (benchmarks/embedded.py).
COMPACT_LENGTH_SCALE = 0.35


def embedded_request_fields(role: Role, config: RunConfig) -> dict[str, Any]:
    """llama.cpp request fields: reuse the cached prompt prefix, in the role's own slot."""
    slot = slot_of(role, config.embedded)
    return {"cache_prompt": True, **({"id_slot": slot} if slot is not None else {})}


def _endpoint(settings: ModelSettings) -> str:
    return settings.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"


async def preflight(models: ResolvedModels) -> None:
    """Check each endpoint of an openai-backend run once before arcs start (see muspsy.preflight)."""
    if models.backend != "openai":
        return  # scripted: no endpoint; embedded: a server this process just started
    checked: set[tuple[str, str]] = set()
    for model in models.models.values():
        base_url = str(getattr(model.chat, "openai_api_base", None) or (model.breaker.url if model.breaker else ""))
        secret = getattr(model.chat, "openai_api_key", None)
        key = secret.get_secret_value() if secret is not None else ""
        if base_url and (base_url, key) not in checked:
            checked.add((base_url, key))
            timeout = min(model.deadline_s or PREFLIGHT_TIMEOUT_S, PREFLIGHT_TIMEOUT_S)
            await check_endpoint(base_url, key, timeout)


def endpoint_limits(settings: dict[Role, ModelSettings]) -> dict[str, tuple[int | None, float | None]]:
    """Endpoint -> (requests in flight, requests per minute); when roles on one endpoint
    disagree, the tightest limit wins."""
    limits: dict[str, tuple[list[int], list[float]]] = {}
    for s in settings.values():
        concurrent, rpm = limits.setdefault(_endpoint(s), ([], []))
        if s.max_concurrent_requests:
            concurrent.append(s.max_concurrent_requests)
        if s.requests_per_minute:
            rpm.append(s.requests_per_minute)
    return {
        endpoint: (min(concurrent, default=None), min(rpm, default=None))
        for endpoint, (concurrent, rpm) in limits.items()
        if concurrent or rpm
    }


def limit_share(limits: tuple[int | None, float | None], index: int, count: int) -> tuple[int | None, float | None]:
    """Worker `index` of `count`'s part of an endpoint's limits: the parts add up to the whole
    (slots spread as evenly as they go, the request rate divided by `count`)."""
    concurrent, rpm = limits
    if concurrent is not None:
        concurrent = concurrent // count + (1 if index < concurrent % count else 0)
    return concurrent, (rpm / count if rpm is not None else None)


def _endpoint_limiters(settings: dict[Role, ModelSettings], share: tuple[int, int]) -> dict[str, EndpointLimiter]:
    """One limiter per endpoint, shared by the roles that talk to it."""
    return {
        endpoint: EndpointLimiter(*limit_share(limits, *share))
        for endpoint, limits in endpoint_limits(settings).items()
    }
