"""One structured LLM call, with bounded retries, usage accounting and an event per call.

Transport errors, timeouts, 429 and 5xx are retried by the HTTP client itself; this module
retries what LangGraph and the client do not: malformed or schema-invalid output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, cast

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel, ValidationError

from muspsy.events import EventLog
from muspsy.ratelimit import EndpointLimiter

T = TypeVar("T", bound=BaseModel)
StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]


class StructuredOutputError(RuntimeError):
    """The model kept returning output that does not fit the schema."""


@dataclass(frozen=True)
class RoleModel:
    """A chat model bound to a role, with how to ask it for structured output."""

    chat: BaseChatModel
    name: str
    structured_method: StructuredMethod = "json_schema"
    params: dict[str, Any] = field(default_factory=dict)
    limiter: EndpointLimiter | None = None


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


def _usage(raw: object) -> tuple[int, int]:
    if isinstance(raw, AIMessage) and raw.usage_metadata:
        return raw.usage_metadata.get("input_tokens", 0), raw.usage_metadata.get("output_tokens", 0)
    return 0, 0


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
        return f'["<{name} item>"]' if prop.get("items", {}).get("type") == "string" else "[{...}]"
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
        return f"list of at most {prop.get('maxItems', 'a few')} items"
    return str(kind or "object")


async def call_structured(
    model: RoleModel,
    schema: type[T],
    messages: Sequence[BaseMessage],
    *,
    retries: int,
    events: EventLog,
    context: dict[str, Any],
) -> CallResult[T]:
    """Ask for `schema`, retrying bad output up to `retries` times, then raise."""
    runnable = model.chat.with_structured_output(schema, method=model.structured_method, include_raw=True)
    prompt_tokens = completion_tokens = 0
    started = time.perf_counter()
    last_error = ""
    for attempt in range(retries + 1):
        call_started = time.perf_counter()
        try:
            async with model.limiter or nullcontext():
                result = cast(dict[str, Any], await runnable.ainvoke(list(messages)))
        except Exception as exc:
            if not _is_output_failure(exc):
                raise
            result = {"raw": None, "parsed": None, "parsing_error": exc}
        p, c = _usage(result.get("raw"))
        prompt_tokens += p
        completion_tokens += c
        parsed = result.get("parsed")
        error = result.get("parsing_error")
        events.emit(
            "llm_call",
            **context,
            schema=schema.__name__,
            model=model.name,
            attempt=attempt + 1,
            ok=parsed is not None and error is None,
            latency_s=round(time.perf_counter() - call_started, 4),
            prompt_tokens=p,
            completion_tokens=c,
        )
        if isinstance(parsed, schema) and error is None:
            return CallResult(
                output=parsed,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                seconds=time.perf_counter() - started,
                retries=attempt,
            )
        last_error = _short_error(error) if error else "the model returned no parsable object"
    raise StructuredOutputError(
        f"{context.get('role', 'model')} gave no valid {schema.__name__} after {retries + 1} attempts: {last_error}"
    )


def _short_error(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
