"""A ready model client for a command's lifetime, starting the embedded server if configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx

from citybrain.config.llm import LLMSettings
from citybrain.llm.client import LLMClient
from citybrain.llm.server import EmbeddedLLMServer


def answers(endpoint: str) -> bool:
    """An OpenAI-compatible server is already listening there."""
    try:
        return httpx.get(f"{endpoint.rstrip('/')}/models", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_model(settings: LLMSettings) -> tuple[str, EmbeddedLLMServer | None]:
    """The endpoint to use, and the embedded server started for it (None: not ours)."""
    if not settings.embedded:
        return settings.endpoint, None
    server = EmbeddedLLMServer(settings)
    if answers(server.endpoint):
        return server.endpoint, None
    return server.endpoint, server.start()


@contextmanager
def model_client(settings: LLMSettings) -> Iterator[LLMClient | None]:
    """None when the model is switched off; otherwise a client, closed (and any embedded server
    this started stopped) on the way out."""
    if not settings.enabled:
        yield None
        return
    with ExitStack() as stack:
        endpoint, server = start_model(settings)
        if server is not None:
            stack.callback(server.stop)
        client = LLMClient(settings, endpoint)
        stack.callback(client.close)
        yield client


def server_parallelism(settings: LLMSettings, endpoint: str) -> int:
    """How many calls the server runs at once: `llm.parallel` when configured, else what the
    server says (llama.cpp's `/props` total_slots or its `/slots` list; vLLM has no such
    endpoint: configure it), else 1 for the embedded server (llama-cpp-python serves one
    request at a time) and `llm.max_concurrency` for any other."""
    if settings.parallel:
        return settings.parallel
    root = endpoint.rstrip("/").removesuffix("/v1")
    try:
        props = httpx.get(f"{root}/props", timeout=2.0)
        if props.status_code == 200:
            slots = props.json().get("total_slots")
            if isinstance(slots, int) and slots > 0:
                return slots
        listed = httpx.get(f"{root}/slots", timeout=2.0)
        if listed.status_code == 200 and isinstance(listed.json(), list) and listed.json():
            return len(listed.json())
    except (httpx.HTTPError, ValueError, AttributeError):
        pass
    return 1 if settings.embedded else settings.max_concurrency
