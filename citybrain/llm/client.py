"""OpenAI-compatible chat completions (vLLM, llama.cpp's server, most others) over httpx.

Every call is bounded: a timeout per request, a few retries with exponential back-off on
transport errors, timeouts and 5xx, a circuit breaker that skips a failing server, and a
semaphore that caps requests in flight at the server's parallelism (`llm.parallel`, or what
the server reports), so a call never waits in the server's own queue while its timeout runs.
A call with a deadline waits for a slot only until its deadline. `many()` submits a batch
concurrently up to that cap, which is what servers with continuous batching turn into
throughput.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from citybrain.config.llm import LLMSettings
from citybrain.llm.breaker import CircuitBreaker
from citybrain.llm.errors import LLMError, LLMInvalid, LLMTimeout, LLMUnavailable

log = logging.getLogger(__name__)
MIN_FAIR_TIMEOUT_S = 1.0  # a budget-cut call given at least this long counts for the breaker


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    schema: dict[str, Any] | None = None
    max_tokens: int = 64
    deadline: float | None = None  # time.monotonic() by which the answer must be back
    timeout_s: float | None = None  # this request's timeout (default: llm.timeout_s)
    temperature: float = 0.0
    seed: int | None = None  # default: llm.seed


@dataclass
class ChatResult:
    """What happened, for the audit log: the parsed JSON when outcome is ok."""

    outcome: str  # ok | invalid | timeout | error
    content: str = ""
    data: dict[str, Any] | None = None
    error: str = ""
    latency_ms: float = 0.0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class LLMClient:
    def __init__(self, settings: LLMSettings, endpoint: str | None = None) -> None:
        self.settings = settings
        self.endpoint = (endpoint or settings.endpoint).rstrip("/")
        self.model = settings.model
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self.http = httpx.Client(
            base_url=self.endpoint,
            timeout=httpx.Timeout(settings.timeout_s, connect=min(2.0, settings.timeout_s)),
            headers=headers,
            limits=httpx.Limits(max_connections=settings.max_concurrency),
        )
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_s)
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)

    def chat(self, req: ChatRequest) -> ChatResult:
        """One constrained chat completion; never raises, the outcome says what happened."""
        started = time.perf_counter()
        try:
            result = self._chat(req)
        except LLMError as e:
            result = ChatResult(outcome=e.outcome, error=str(e))
        result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        return result

    def many(self, reqs: list[ChatRequest]) -> list[ChatResult]:
        """A batch, in flight concurrently up to max_concurrency (the slots), results in order.

        Daemon threads, not an executor: Python joins an executor's threads at exit, so a
        model call still in flight (a minute on a loaded CPU) held a stopping job past its
        supervisor's patience and got it killed. A job that stops abandons the call; the
        summary's lease hands the incident to the next start."""
        results: list[ChatResult | None] = [None] * len(reqs)

        def one(i: int, req: ChatRequest) -> None:
            results[i] = self.chat(req)

        threads = [
            threading.Thread(target=one, args=(i, r), name="llm", daemon=True)
            for i, r in enumerate(reqs)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [
            r if r is not None else ChatResult(outcome="error", error="no answer") for r in results
        ]

    def close(self) -> None:
        self.http.close()

    def _chat(self, req: ChatRequest) -> ChatResult:
        if not self.breaker.allow():
            raise LLMUnavailable("circuit open: the model server failed repeatedly")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": req.messages,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "seed": self.settings.seed if req.seed is None else req.seed,
        }
        if req.schema is not None:
            body["response_format"] = response_format(self.settings, req.schema)
        attempts = 0
        delay = self.settings.backoff_s
        while True:
            attempts += 1
            budget_cut = False
            try:
                wait = None if req.deadline is None else req.deadline - time.monotonic()
                if not self._slots.acquire(timeout=max(wait, 0.0) if wait is not None else None):
                    self.breaker.release()
                    raise LLMUnavailable(
                        "not sent: the batch's model time budget is spent (server slots busy)"
                    )
                try:
                    timeout = req.timeout_s or self.settings.timeout_s
                    if req.deadline is not None:
                        left = req.deadline - time.monotonic()
                        if left < 0.05:
                            self.breaker.release()
                            raise LLMUnavailable("not sent: the batch's model time budget is spent")
                        budget_cut = left < timeout
                        timeout = min(timeout, left)
                    resp = self.http.post("/chat/completions", json=body, timeout=timeout)
                finally:
                    self._slots.release()
                if resp.status_code >= 500:
                    raise LLMError(f"HTTP {resp.status_code}: {resp.text[:200]}")
                if resp.status_code >= 400:
                    # The request itself is wrong (too long, a schema the server refuses):
                    # retrying won't help, and it says nothing about the server's health.
                    self.breaker.release()
                    raise LLMInvalid(f"HTTP {resp.status_code}: {resp.text[:200]}")
                self.breaker.success()
                result = _parse(resp, req.schema is not None)
                result.attempts = attempts
                return result
            except (httpx.TimeoutException, httpx.TransportError, LLMError) as e:
                if isinstance(e, LLMInvalid | LLMUnavailable):
                    raise
                if isinstance(e, httpx.TimeoutException) and budget_cut:
                    # A server that had a fair chance and stayed silent counts as failing;
                    # a call cut to a sliver of time by the budget says nothing about it.
                    if timeout >= MIN_FAIR_TIMEOUT_S:
                        self.breaker.failure()
                    else:
                        self.breaker.release()
                    raise LLMTimeout("timed out: the batch's model time budget ran out") from e
                self.breaker.failure()
                if attempts > self.settings.retries or not self.breaker.allow():
                    if isinstance(e, httpx.TimeoutException):
                        raise LLMTimeout(f"timed out after {attempts} attempt(s)") from e
                    raise LLMError(f"{type(e).__name__}: {e}"[:300]) from e
                log.debug("model call failed (%s); retry in %.1fs", e, delay)
                time.sleep(delay)
                delay *= 2


def response_format(settings: LLMSettings, schema: dict[str, Any]) -> dict[str, Any]:
    """The constrained-output request in the dialect the server speaks."""
    if settings.structured_output == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        }
    return {"type": "json_object", "schema": schema}


def _parse(resp: httpx.Response, want_json: bool) -> ChatResult:
    """A 200 can still carry anything: every shape that is not a chat completion with text
    content is `LLMInvalid`, never an exception that would stop the stream."""
    try:
        payload = resp.json()
        content = payload["choices"][0]["message"]["content"] or ""
        if not isinstance(content, str):
            raise TypeError(f"content is {type(content).__name__}, not text")
        usage = payload.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        result = ChatResult(
            outcome="ok",
            content=content,
            completion_tokens=int(usage.get("completion_tokens") or 0),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise LLMInvalid(f"not a chat completion: {resp.text[:200]}") from e
    if want_json:
        try:
            # strict=False: llama.cpp's grammar lets raw newlines into strings
            data = json.loads(content, strict=False)
        except ValueError:
            return ChatResult(outcome="invalid", content=content, error="response is not JSON")
        if not isinstance(data, dict):
            return ChatResult(outcome="invalid", content=content, error="JSON is not an object")
        result.data = data
    return result
