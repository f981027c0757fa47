"""Small real HTTP servers the tests start on free ports.

`MisbehavingLLM` stands in for a model server that answers badly (invalid JSON, a department
that does not exist, an empty summary, slowly, or with errors): the embedded model cannot be
made to do these on purpose. `WebhookReceiver` is a department's endpoint.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mode: str
    answer: dict[str, Any]
    delay_s: float
    requests: list[dict[str, Any]]
    status: int


def _completion(content: str) -> bytes:
    return json.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        }
    ).encode()


class _LLMHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv = self.server
        srv.requests.append(body)
        if srv.delay_s:
            time.sleep(srv.delay_s)
        fmt = body.get("response_format") or {}
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema", {})
        wants_route = "department" in schema.get("properties", {})
        mode = srv.mode
        if mode == "error500":
            return self._send(500, b'{"error": "overloaded"}')
        if mode == "not_chat":
            return self._send(200, b'{"hello": "world"}')
        if mode == "content_object":  # a 200 whose message content is not text
            bad = {"choices": [{"message": {"content": {"department": "x"}}}], "usage": "many"}
            return self._send(200, json.dumps(bad).encode())
        if mode == "invalid_json":
            content = "Sure! The department is {department: roads"
        elif mode == "unknown_department":
            content = json.dumps({"department": "ministry_of_magic", "reason": "magic"})
        elif mode == "empty_summary":
            content = json.dumps({"summary": ""} if not wants_route else {"department": ""})
        elif mode == "answer":
            content = json.dumps(srv.answer["route" if wants_route else "summary"])
        else:
            raise AssertionError(mode)
        self._send(200, _completion(content))

    def do_GET(self) -> None:
        self._send(200, b'{"data": [{"id": "fake"}]}')

    def _send(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _HookHandler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(
            {
                "key": self.headers["Idempotency-Key"],
                "body": json.loads(body),
                "at": time.time(),
                "raw": body,
                "headers": dict(self.headers.items()),
            }
        )
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextmanager
def _serve(handler: type[BaseHTTPRequestHandler], **attrs: Any) -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), handler)
    srv.requests = []
    for k, v in attrs.items():
        setattr(srv, k, v)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def misbehaving_llm(mode: str, answer: dict[str, Any] | None = None, delay_s: float = 0.0):  # type: ignore[no-untyped-def]
    return _serve(_LLMHandler, mode=mode, answer=answer or {}, delay_s=delay_s)


def webhook_receiver(status: int = 200):  # type: ignore[no-untyped-def]
    return _serve(_HookHandler, status=status)


def endpoint(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"
