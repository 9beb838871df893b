"""A fake OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks that go through
the real `ChatOpenAI` HTTP path with no network and no model.

It answers `/v1/chat/completions` with what a responder (by default `default_responder`)
returns for the JSON schema the request names, after a configurable latency, and injects
faults on demand: 429 with Retry-After, 500, a hang past the client's timeout, malformed JSON,
and a body cut off mid-way. It counts requests, so tests can check what was paid for.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from muspsy.testing.scripted import Responder, default_responder

Fault = Literal["rate_limit", "server_error", "hang", "malformed", "cutoff"]
FAULTS: tuple[Fault, ...] = ("rate_limit", "server_error", "hang", "malformed", "cutoff")


def _messages(payload: dict[str, Any]) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for message in payload.get("messages", []):
        content = message.get("content") or ""
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        out.append(SystemMessage(content) if message.get("role") in ("system", "developer") else HumanMessage(content))
    return out


class FakeOpenAIServer:
    """`with FakeOpenAIServer() as server:` then point a client at `server.base_url`."""

    def __init__(
        self,
        responder: Responder = default_responder,
        *,
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        faults: tuple[Fault, ...] = FAULTS,
        hang_s: float = 5.0,
        retry_after_ms: int = 100,
        seed: int = 0,
        port: int = 0,
        authorization: str | None = None,
    ) -> None:
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULTS)}")
        self.responder = responder
        self.latency_s = latency_s
        self.fault_rate = fault_rate
        self.faults = faults
        self.hang_s = hang_s
        self.retry_after_ms = retry_after_ms
        self.port = port
        # When set, the Authorization header every request must carry, else 401 (as a real
        # endpoint refuses a wrong key or URL password).
        self.authorization = authorization
        self.requests = 0
        # What a test of client-side limits looks at: the most requests in flight at once and
        # when each request arrived (time.monotonic()).
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []
        self.last_payload: dict[str, Any] | None = None  # the newest request body, for tests
        self.faults_injected: dict[str, int] = dict.fromkeys(FAULTS, 0)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def _arrived(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.arrivals.append(time.monotonic())

    def _left(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _next(self) -> tuple[int, Fault | None]:
        with self._lock:
            self.requests += 1
            fault = self._rng.choice(self.faults) if self.faults and self._rng.random() < self.fault_rate else None
            if fault:
                self.faults_injected[fault] += 1
            return self.requests, fault

    def completion(self, payload: dict[str, Any], number: int, malformed: bool = False) -> dict[str, Any]:
        self.last_payload = payload
        fmt = payload.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("name", "text")
        messages = _messages(payload)
        reply = self.responder(schema, messages)
        content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        if malformed:
            content = content[: len(content) // 2]  # valid HTTP, broken JSON content
        prompt_tokens = sum(len(str(m.content).split()) for m in messages)
        completion_tokens = len(content.split())
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def __enter__(self) -> FakeOpenAIServer:
        self._httpd = _QuietServer(("127.0.0.1", self.port), _handler_for(self))
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="fake-openai", daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


class _QuietServer(ThreadingHTTPServer):
    # The default listen backlog (5) refuses connections when hundreds of arcs connect at once.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or are killed drop their connections; that is the point here.
        return None


def _handler_for(server: FakeOpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
        # Headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs add ~40 ms to every response on a kept-alive connection.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            if self._authorized():
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b"{}"
            if not self._authorized():
                return
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            server._arrived()
            try:
                self._answer(body)
            finally:
                server._left()

        def _answer(self, body: bytes) -> None:
            number, fault = server._next()
            if server.latency_s:
                time.sleep(server.latency_s)
            if fault == "rate_limit":
                headers = {"retry-after-ms": str(server.retry_after_ms), "Retry-After": "1"}
                self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}}, headers)
            elif fault == "server_error":
                self._send(500, {"error": {"message": "injected server error", "type": "server_error"}})
            elif fault == "hang":
                time.sleep(server.hang_s)
                self.close_connection = True
            elif fault == "cutoff":
                data = json.dumps(server.completion(json.loads(body), number)).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self._send(200, server.completion(json.loads(body), number, malformed=fault == "malformed"))

        def _authorized(self) -> bool:
            if server.authorization is None or self.headers.get("Authorization") == server.authorization:
                return True
            self._send(401, {"error": {"message": "invalid credentials", "type": "invalid_request_error"}})
            return False

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # keep test output clean

    return Handler
