"""A fake OpenAI-compatible chat server on 127.0.0.1, for tests that go through the real
`ChatOpenAI` HTTP path with no network and no model.

It answers `/v1/chat/completions` requests that ask for a JSON schema with what a responder
(by default `default_responder`) returns for that schema name, and counts requests.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from muspsy.testing.scripted import Responder, default_responder


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

    def __init__(self, responder: Responder = default_responder, latency_s: float = 0.0) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self.requests = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def completion(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests += 1
            number = self.requests
        fmt = payload.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("name", "text")
        messages = _messages(payload)
        reply = self.responder(schema, messages)
        content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
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
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if not self.path.endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                if server.latency_s:
                    time.sleep(server.latency_s)
                self._send(200, server.completion(payload))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
