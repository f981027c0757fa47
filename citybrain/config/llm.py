"""The language model behind summaries and model-assisted routing."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LLMSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, title="Use a model at all (off: templates and rules only)")
    embedded: bool = Field(
        True, title="Start the local llama.cpp server with the packaged small model (demo, tests)"
    )
    endpoint: str = Field(
        "http://127.0.0.1:18090/v1",
        title="OpenAI-compatible base URL (vLLM or any compatible server); embedded overrides it",
    )
    model: str = Field("qwen2.5-coder-0.5b-instruct", title="Model name sent with each request")
    model_path: str | None = Field(
        None,
        title="GGUF file for the embedded server (default: llm.model_file, as installed)",
    )
    embedded_port: int = Field(18090, ge=1, le=65535, title="Port of the embedded server")
    embedded_threads: int = Field(2, ge=1, title="CPU threads of the embedded server")
    structured_output: Literal["json_object", "json_schema"] = Field(
        "json_object",
        title=(
            "How the JSON schema is sent: json_object + schema (llama.cpp's server) or the "
            "OpenAI json_schema form (vLLM, OpenAI-compatible gateways)"
        ),
    )
    context_tokens: int = Field(
        4096, ge=512, title="Context window of the embedded server (prompts are truncated to fit)"
    )
    api_key: str | None = Field(None, title="Bearer token for the endpoint, if it needs one")
    language: Literal["zh", "en"] = Field(
        "en", title="Language of a summary with no ticket text to take it from (camera evidence)"
    )
    summary_language: Literal["tickets", "zh", "en"] = Field(
        "tickets",
        title=(
            "Language of summaries: the language most of an incident's tickets are in "
            "(Chinese tickets, Chinese summary), or always zh or en"
        ),
    )
    timeout_s: float = Field(20.0, gt=0, title="One request's timeout")
    summary_timeout_s: float | None = Field(
        90.0,
        gt=0,
        title=(
            "Timeout of one summary call (off the dispatch path, so generous: a call the "
            "client gives up on still runs to its end on llama.cpp and delays the next); "
            "unset: timeout_s"
        ),
    )
    retries: int = Field(1, ge=0, title="Retries of a failed request (timeouts, 5xx, transport)")
    backoff_s: float = Field(0.5, ge=0, title="First retry delay; doubles each retry")
    max_concurrency: int = Field(2, ge=1, title="Requests in flight at once")
    breaker_failures: int = Field(
        3, ge=1, title="Consecutive failures that open the circuit (calls then skip the model)"
    )
    breaker_reset_s: float = Field(30.0, gt=0, title="How long an open circuit stays open")
    max_tokens_summary: int = Field(96, ge=8, title="Token limit of one summary")
    max_tokens_routing: int = Field(64, ge=8, title="Token limit of one routing proposal")
    seed: int = Field(7, title="Sampling seed (with temperature 0, for reproducible output)")
    batch_budget_s: float = Field(
        6.0,
        gt=0,
        title=(
            "Routing deadline: model time one dispatch batch may spend on routing help; past "
            "it the rule or triage decides and the reason says so"
        ),
    )
    parallel: int | None = Field(
        None,
        ge=1,
        title=(
            "Calls the model server runs at once (llama.cpp slots, vLLM batch); the client "
            "keeps exactly that many in flight. Unset: read from the server's /props or "
            "/slots, else 1 for the embedded server, else max_concurrency"
        ),
    )
    model_file: str = Field(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        title=(
            "GGUF file name the embedded server loads, looked up in the installed model "
            "packages (llm.model_path, when set, wins)"
        ),
    )
    chat_format: str | None = Field(
        None,
        title=(
            "llama-cpp-python chat format for a GGUF without a chat template (e.g. gemma); "
            "unset: the file's own template"
        ),
    )
    guard_retries: int = Field(
        2,
        ge=0,
        title=(
            "Further queued tries of a summary the guards rejected twice: sampled at "
            "retry_temperature with seed + try, so a replay repeats them"
        ),
    )
    retry_temperature: float = Field(0.7, ge=0, le=2, title="Sampling of a guard retry")
    queue_attempts: int = Field(
        8, ge=1, title="Failed calls of one summary before it is left to the template"
    )
    queue_backoff_s: float = Field(2.0, gt=0, title="First back-off of a failed summary call")
    queue_backoff_max_s: float = Field(60.0, gt=0, title="Longest back-off of a summary call")
    queue_lease_s: float = Field(
        120.0, gt=0, title="A claimed summary whose worker died is taken again after this"
    )
    queue_poll_s: float = Field(0.5, gt=0, title="How often an idle summary worker looks")
    summaries: bool = Field(True, title="Ask the model for summaries (off: template summaries)")
    routing: bool = Field(
        True,
        title=(
            "Ask the model to route incidents the responsibility list leaves open (border, "
            "shared category, no category; off: the fallback)"
        ),
    )
    router_help: bool = Field(
        False,
        title=(
            "Ask the model to choose among the router's best 3 departments (and triage) when "
            "the router is unsure, below its auto-dispatch threshold (off: triage, with the "
            "router's advice shown). Off because the default 0.5B model chose worse than the "
            "router's own best on real letters (docs/QUALITY.md); needs llm.routing"
        ),
    )
    facts_retry: bool = Field(
        True,
        title=(
            "A summary the guards reject gets one more call asking for a shortened sentence "
            "of the reports themselves (extractive, which a small model does faithfully)"
        ),
    )
    route_unclassified: bool = Field(
        True,
        title="Let the model route ticket text with no clear category (off: it goes to triage)",
    )
    border_m: float = Field(
        25.0, ge=0, title="A place this close to another district's border is ambiguous"
    )
