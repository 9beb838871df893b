"""One structured LLM call, with bounded retries, usage accounting, an event per call and,
when recording, the exact messages of every call (`muspsy.promptlog`).

Transport errors, timeouts, 429 and 5xx are retried by the HTTP client itself; this module
retries what LangGraph and the client do not: malformed or schema-invalid output. A call,
client retries included, ends at the role's total deadline (`deadline_s`): the client's own
timeout is per read, and a server trickling bytes never trips it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ValidationError

from muspsy.config import StructuredMethod
from muspsy.events import EventLog
from muspsy.preflight import CircuitBreaker
from muspsy.promptlog import PromptLog
from muspsy.ratelimit import EndpointLimiter
from muspsy.records import Role
from muspsy.redact import scrub_exception

T = TypeVar("T", bound=BaseModel)


class StructuredOutputError(RuntimeError):
    """The model kept returning output that does not fit the schema."""


class CallDeadlineExceeded(TimeoutError):
    """One LLM call, retries included, took longer than its total deadline."""


@dataclass(frozen=True)
class RoleModel:
    """A chat model bound to a role, with how to ask it for structured output."""

    chat: BaseChatModel
    name: str
    structured_method: StructuredMethod = "json_schema"
    params: dict[str, Any] = field(default_factory=dict)
    limiter: EndpointLimiter | None = None
    # The endpoint's own extra request-body fields (e.g. llama.cpp's repeat_penalty).
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    # Below 1, the string bounds sent in the schema shrink (the compact tier's shorter answers).
    length_scale: float = 1.0
    # Total seconds per call, client retries included; None: no deadline (a local server).
    deadline_s: float | None = None
    # Shared by the roles on one endpoint: stops the run when the endpoint is down.
    breaker: CircuitBreaker | None = None


def describe_models(models: Mapping[Role, RoleModel]) -> dict[str, dict[str, Any]]:
    """What manifests and records say about the models: name and parameters, never a key."""
    return {role: {"name": m.name, **m.params} for role, m in models.items()}


@dataclass(frozen=True)
class CallResult(Generic[T]):
    output: T
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    retries: int


def _is_output_failure(exc: BaseException) -> bool:
    # A grammar-constrained local model that hits max_tokens raises openai's
    # LengthFinishReasonError; it is a bad answer, not a transport failure.
    return isinstance(exc, ValidationError | OutputParserException | json.JSONDecodeError) or (
        type(exc).__name__ in {"LengthFinishReasonError", "ContentFilterFinishReasonError"}
    )


def _usage(raw: object) -> tuple[int, int, int]:
    """Prompt, completion and cached prompt tokens (the prefix the server reused)."""
    if isinstance(raw, AIMessage) and raw.usage_metadata:
        u = raw.usage_metadata
        return (
            u.get("input_tokens", 0),
            u.get("output_tokens", 0),
            u.get("input_token_details", {}).get("cache_read", 0),
        )
    return 0, 0, 0


@functools.cache
def format_hint(schema: type[BaseModel]) -> str:
    """A JSON skeleton, then one line per field: weak models copy a skeleton better than they
    follow a schema, and strong models need the field meanings."""
    properties = schema.model_json_schema()["properties"]
    skeleton = ", ".join(f'"{name}": {_placeholder(name, properties[name])}' for name in schema.model_fields)
    lines = [f"Answer with one JSON object like {{{skeleton}}}"]
    for name, info in schema.model_fields.items():
        note = f": {info.description}" if info.description else ""
        lines.append(f"- {name} ({_describe_type(properties[name])}){note}")
    return "\n".join(lines)


def _placeholder(name: str, prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if kind == "boolean":
        return "false"
    if kind == "integer":
        return str(prop.get("minimum", 0))
    if kind == "array":
        items = prop.get("items", {})
        if items.get("type") == "integer":
            # Questionnaire answers: no sample numbers, a weak model would copy them.
            return f"[<{prop.get('maxItems', 'n')} whole numbers>]"
        return f'["<{name} item>"]' if items.get("type") == "string" else "[{...}]"
    return f'"<{name}>"'  # also for enums: showing one value would nudge weak models towards it


def _describe_type(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "one of " + ", ".join(str(v) for v in prop["enum"])
    if "anyOf" in prop:
        values = [v for option in prop["anyOf"] for v in option.get("enum", [option.get("const")])]
        return "one of " + ", ".join(str(v) for v in values if v is not None)
    kind = prop.get("type")
    if kind == "string":
        return f"text, at most {prop.get('maxLength', 'a few hundred')} characters"
    if kind == "boolean":
        return "true or false"
    if kind == "integer":
        return f"whole number {prop.get('minimum', '')}-{prop.get('maximum', '')}"
    if kind == "array":
        items = prop.get("items", {})
        if items.get("type") == "integer" and prop.get("minItems") == prop.get("maxItems"):
            count, low, high = prop.get("maxItems"), items.get("minimum"), items.get("maximum")
            return f"list of exactly {count} whole numbers, each {low}-{high}"
        return f"list of at most {prop.get('maxItems', 'a few')} items"
    return str(kind or "object")


@functools.cache
def request_options(schema: type[BaseModel], method: StructuredMethod, length_scale: float = 1.0) -> dict[str, Any]:
    """The request-body fields that make the model answer with `schema`; computed once per
    schema, method and length scale."""
    if method == "function_calling":
        tool = convert_to_openai_tool(schema)
        return {"tools": [tool], "tool_choice": {"type": "function", "function": {"name": tool["function"]["name"]}}}
    if method == "json_mode":
        return {"response_format": {"type": "json_object"}}
    sent = closed(scaled_bounds(schema.model_json_schema(), length_scale))
    if method == "llguidance":
        # Compact JSON: with whitespace allowed a small model spends tokens on indentation and
        # blank lines between keys (llama.cpp's `response_format` path allows them).
        compact = {"x-guidance": {"whitespace_flexible": False}, **sent}
        return {"grammar": "%llguidance {}\nstart: %json " + json.dumps(compact)}
    return {"response_format": {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": sent}}}


def closed(node: Any) -> Any:
    """A JSON schema whose objects allow no properties beyond their own: the replies are parsed
    ignoring extras, but a grammar that allows them lets a small model write on past the last
    field (nested made-up keys until max_tokens)."""
    if isinstance(node, list):
        return [closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: closed(value) for key, value in node.items()}
    if "properties" in out and out.get("type") == "object":
        out.setdefault("additionalProperties", False)
    return out


def scaled_bounds(node: Any, scale: float) -> Any:
    """A JSON schema with every string's maxLength and every list's maxItems times `scale`
    (lists rounded up), never below their minimum (a questionnaire's fixed length stays).

    Shorter bounds in the grammar give shorter answers that still validate against the full
    schema."""
    if scale == 1.0:
        return node
    if isinstance(node, list):
        return [scaled_bounds(item, scale) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: scaled_bounds(value, scale) for key, value in node.items()}
    if isinstance(out.get("maxLength"), int):
        out["maxLength"] = max(out.get("minLength", 1), int(out["maxLength"] * scale))
    if isinstance(out.get("maxItems"), int):
        out["maxItems"] = max(out.get("minItems", 1), math.ceil(out["maxItems"] * scale))
    return out


def parse_reply(message: AIMessage, schema: type[T], method: StructuredMethod) -> T:
    """The reply as `schema`; raises ValidationError or OutputParserException when it is not one."""
    if method == "function_calling":
        if not message.tool_calls:
            raise OutputParserException(f"expected a {schema.__name__} tool call, got none")
        return schema.model_validate(message.tool_calls[0]["args"])
    text = message.content if isinstance(message.content, str) else json.dumps(message.content)
    return schema.model_validate_json(_strip_fences(text))


def _strip_fences(text: str) -> str:
    # Some servers wrap JSON in Markdown fences even when asked for a JSON object.
    text = text.strip()
    if text.startswith("```"):
        text = text.split("\n", 1)[-1].rsplit("```", 1)[0]
    return text


async def call_structured(
    model: RoleModel,
    schema: type[T],
    messages: Sequence[BaseMessage],
    *,
    retries: int,
    events: EventLog,
    context: dict[str, Any],
    prompts: PromptLog | None = None,
) -> CallResult[T]:
    """Ask for `schema`, retrying bad output up to `retries` times, then raise.

    Request options are bound directly and the reply parsed here (not `with_structured_output`):
    one code path for every method, the same error for every kind of bad output, and no schema
    conversion per call.
    """
    # Sent as raw body fields: the OpenAI SDK walks typed request parameters recursively on
    # every call, and a JSON schema in `response_format` made that a quarter of the client's
    # CPU per call (benchmarks/throughput.py). The JSON on the wire is the same.
    body = {**model.extra_body, **request_options(schema, model.structured_method, model.length_scale)}
    prompt_tokens = completion_tokens = 0
    started = time.perf_counter()
    last_error = ""
    for attempt in range(retries + 1):
        call_started = time.perf_counter()
        parsed: T | None = None
        p = c = cached = 0
        if prompts is not None:
            prompts.record(context, messages, attempt=attempt + 1, schema=schema.__name__, model=model.name)
        try:
            async with model.limiter or nullcontext():
                reply = await _within_deadline(model, messages, body)
            if model.breaker:
                model.breaker.succeeded()
            p, c, cached = _usage(reply)
            parsed = parse_reply(reply, schema, model.structured_method)
        except Exception as exc:
            if not _is_output_failure(exc):
                scrub_exception(exc)
                if model.breaker:
                    model.breaker.failed(exc)  # raises EndpointDown when the endpoint looks dead
                raise
            last_error = _short_error(exc)
        prompt_tokens += p
        completion_tokens += c
        events.emit(
            "llm_call",
            **context,
            schema=schema.__name__,
            model=model.name,
            attempt=attempt + 1,
            ok=parsed is not None,
            latency_s=round(time.perf_counter() - call_started, 4),
            prompt_tokens=p,
            completion_tokens=c,
            cached_tokens=cached,
        )
        if parsed is not None:
            return CallResult(
                output=parsed,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                seconds=time.perf_counter() - started,
                retries=attempt,
            )
    raise StructuredOutputError(
        f"{context.get('role', 'model')} gave no valid {schema.__name__} after {retries + 1} attempts: {last_error}"
    )


async def _within_deadline(model: RoleModel, messages: Sequence[BaseMessage], body: dict[str, Any]) -> Any:
    try:
        async with asyncio.timeout(model.deadline_s):
            return await model.chat.ainvoke(list(messages), extra_body=body)
    except TimeoutError:
        if model.deadline_s is None:
            raise
        where = f" at {model.breaker.url}" if model.breaker else ""
        raise CallDeadlineExceeded(
            f"{model.name}{where}: no complete reply within {model.deadline_s:g} s (deadline_s)"
        ) from None


def _short_error(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
