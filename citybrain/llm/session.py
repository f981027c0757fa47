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
