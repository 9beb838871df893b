"""The one module that imports `langchain_openai`: a `ChatOpenAI` from resolved settings."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from muspsy.config import ModelSettings


def openai_chat_model(settings: ModelSettings, api_key: str) -> BaseChatModel:
    return ChatOpenAI(
        model=settings.model or "gpt-4o-mini",
        base_url=settings.base_url,
        api_key=SecretStr(api_key),
        temperature=settings.temperature,
        max_completion_tokens=settings.max_tokens,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries if settings.max_retries is not None else 6,
        extra_body=settings.extra_body,
        stream_usage=True,
    )
