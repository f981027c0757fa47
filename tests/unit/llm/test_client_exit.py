"""A job that stops while a model call is in flight exits, it does not wait for the answer.

The server here is a real socket that accepts and never answers (a model stuck on a loaded
CPU); the job is a real child process whose summary thread is mid-call when its main thread
ends. Before the fix the call ran on an executor thread, which Python joins at exit, so the
child outlived its supervisor's patience and was killed."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading

CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from citybrain.config.llm import LLMSettings
    from citybrain.llm.client import ChatRequest, LLMClient

    client = LLMClient(LLMSettings(timeout_s=120.0, retries=0), endpoint=sys.argv[1])
    req = ChatRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8)
    threading.Thread(target=client.many, args=([req, req],), daemon=True).start()
    time.sleep(1.0)  # the calls are in flight; the job now stops
    print("main done", flush=True)
    """
)


def test_a_stopping_job_does_not_wait_for_a_model_call_in_flight() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # takes connections and never answers
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    port = server.getsockname()[1]
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, f"http://127.0.0.1:{port}/v1"],
            capture_output=True,
            text=True,
            timeout=60,  # far below the call's own 120 s timeout: a hang fails here
        )
        assert child.returncode == 0, child.stderr
        assert "main done" in child.stdout
        assert held  # the calls did reach the server and were in flight
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        server.close()
