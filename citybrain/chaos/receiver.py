"""The webhook receiver the chaos suite delivers to: counts accepted deliveries by
Idempotency-Key and fails on demand."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """A department's webhook endpoint: counts accepted deliveries by Idempotency-Key and
    answers 503 while told to fail."""

    def __init__(self, port: int) -> None:
        self.accepted: Counter[str] = Counter()
        self.refused = 0
        self.fail_until = 0.0
        self.fail_next_s = 0.0  # armed: the next request starts a failure of this many seconds
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_next_s:
                    receiver.fail_until = time.monotonic() + receiver.fail_next_s
                    receiver.fail_next_s = 0.0
                if time.monotonic() < receiver.fail_until:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    receiver.accepted[self.headers.get("Idempotency-Key", "")] += 1
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
