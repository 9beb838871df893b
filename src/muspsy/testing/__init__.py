"""Test seam, public for users' own tests: deterministic scripted models and a fake
OpenAI-compatible server on 127.0.0.1."""

from muspsy.testing.fake_openai import FakeOpenAIServer
from muspsy.testing.scripted import (
    Responder,
    ScriptedChatModel,
    ScriptExhausted,
    default_responder,
    scripted_models,
)

__all__ = [
    "FakeOpenAIServer",
    "Responder",
    "ScriptExhausted",
    "ScriptedChatModel",
    "default_responder",
    "scripted_models",
]
