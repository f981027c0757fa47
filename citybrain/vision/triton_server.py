"""Launch the `tritonserver` binary that the nvidia-pytriton wheel carries (tests, demo).

PyTriton's own Python API does not run here, but its bundled server does, set up by hand:
its shared libraries on LD_LIBRARY_PATH, the Python backend with the stub for this Python
version (copied into a private backend folder, so the installed wheel is never modified),
and this environment's bin/ first on PATH so the stub runs model.py with our packages.
Production runs NVIDIA's Triton image instead and points `vision.triton.url` at it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from citybrain.procs import ChildServer, die_with_parent
from citybrain.vision.errors import BackendUnavailable

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pytriton_root() -> Path:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(
            "nvidia-pytriton is not installed; it carries the tritonserver binary "
            "(pip install --no-deps nvidia-pytriton==0.7.0)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def prepare_backends(work_dir: Path) -> Path:
    """A backend folder with the Python backend and this Python's stub; returns its path."""
    src = pytriton_root() / "tritonserver"
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = src / "python_backend_stubs" / ver / "triton_python_backend_stub"
    if not stub.exists():
        raise BackendUnavailable(f"no Triton Python-backend stub for Python {ver} at {stub}")
    dest = work_dir / "backends" / "python"
    if not (dest / "triton_python_backend_stub").exists():
        tmp = work_dir / "backends" / f".python-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src / "backends" / "python", tmp, symlinks=True)
        shutil.copy2(stub, tmp / "triton_python_backend_stub")
        if dest.exists():  # another process got there first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, dest)
    return dest.parent


class TritonServer(ChildServer):
    """A local tritonserver process serving one model repository; a context manager."""

    stop_timeout_s = 15.0

    def __init__(
        self,
        model_repository: Path,
        work_dir: Path,
        host: str = "127.0.0.1",
        grpc_port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.model_repository = model_repository.resolve()
        self.work_dir = work_dir.resolve()
        self.host = host
        self.grpc_port = grpc_port or free_port(host)
        self.log_path = log_path or self.work_dir / "tritonserver.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def command(self) -> list[str]:
        root = pytriton_root()
        return [
            str(root / "tritonserver" / "bin" / "tritonserver"),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={prepare_backends(self.work_dir)}",
            f"--grpc-address={self.host}",
            f"--grpc-port={self.grpc_port}",
            "--allow-http=false",
            "--allow-metrics=false",
            "--exit-on-error=true",
            "--log-verbose=0",
            "--exit-timeout-secs=5",
        ]

    def environment(self) -> dict[str, str]:
        root = pytriton_root()
        libs = [
            str(root.parent / "nvidia_pytriton.libs"),
            str(root / "tritonserver" / "backends" / "python"),
        ]
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join([*libs, env.get("LD_LIBRARY_PATH", "")]).rstrip(
            os.pathsep
        )
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def start(self, timeout_s: float = 60.0) -> TritonServer:
        """Start the server and wait until it reports every model ready."""
        import tritonclient.grpc as grpcclient

        if self.proc is not None and self.proc.poll() is None:
            return self  # already running
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout_s
        client = grpcclient.InferenceServerClient(self.url)
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise BackendUnavailable(
                        f"tritonserver exited with {self.proc.returncode} at start; "
                        f"see {self.log_path}:\n{self._log_tail()}"
                    )
                try:
                    if client.is_server_ready(client_timeout=1.0):
                        log.info("tritonserver ready on %s", self.url)
                        return self
                except Exception:  # not listening yet
                    pass
                time.sleep(0.2)
        finally:
            client.close()
        self.stop()
        raise BackendUnavailable(f"tritonserver not ready within {timeout_s}s; see {self.log_path}")

    def _log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""
