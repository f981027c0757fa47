"""An S3-compatible object store (moto's server) for the embedded broker's durable storage, so
the fault suite can kill the broker and start it again with its topics, records and committed
offsets intact (Tansu's `s3://` storage engine)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx

from citybrain.errors import CityBrainError
from citybrain.procs import ChildServer


class ObjectStoreError(CityBrainError):
    pass


class ObjectStore(ChildServer):
    """`moto_server` on a port of its own, with one bucket; `broker_env` points Tansu at it."""

    stop_timeout_s = 5.0

    def __init__(self, port: int, bucket: str, log_path: Path | None = None) -> None:
        self.port = port
        self.bucket = bucket
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def storage(self) -> str:
        """The broker's `--storage-engine`."""
        return f"s3://{self.bucket}/"

    def broker_env(self) -> dict[str, str]:
        """What Tansu's S3 client reads (moto takes any credentials)."""
        return {
            "AWS_ENDPOINT": self.url,
            "AWS_ACCESS_KEY_ID": "citybrain",
            "AWS_SECRET_ACCESS_KEY": "citybrain",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def start(self, timeout_s: float = 30.0) -> ObjectStore:
        binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        if not Path(binary).exists():
            raise ObjectStoreError("moto_server is missing: install the dev extras (moto[server])")
        self._spawn([binary, "-H", "127.0.0.1", "-p", str(self.port)], self.log_path)
        self._wait_ready(self._answers, timeout_s, lambda why: ObjectStoreError(f"moto {why}"))
        resp = httpx.put(f"{self.url}/{self.bucket}", timeout=10)  # CreateBucket
        if resp.status_code != 200:
            self.stop()
            raise ObjectStoreError(f"bucket {self.bucket}: HTTP {resp.status_code} {resp.text}")
        return self

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False
