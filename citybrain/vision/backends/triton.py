"""The `triton` inference backend: tritonclient over gRPC, tensors in shared memory if local.

A call that fails because the server is down, overloaded or late is retried with exponential
back-off; when the retries are spent it raises BackendUnavailable, so the caller keeps its
frames and stops consuming (back-pressure) instead of losing them. A request the server
refuses (unknown model, wrong shape) raises BackendError at once: retrying cannot fix it.

System shared memory skips serialising tensors into gRPC messages; it only works when client
and server share a host (`vision.triton.shared_memory`). Regions are made per model tensor,
grown when a bigger batch comes, and registered again after the server restarts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from citybrain.config.vision import TritonSettings
from citybrain.vision.backends.base import LABELS_PARAMETER
from citybrain.vision.errors import BackendError, BackendUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

# gRPC status codes after which the same request may well succeed later.
RETRYABLE = frozenset(
    {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.RESOURCE_EXHAUSTED"}
)


@dataclass(frozen=True)
class TensorMeta:
    name: str
    dtype: np.dtype[Any]
    shape: tuple[int, ...]  # -1 for the batch (and any variable) dimension


@dataclass(frozen=True)
class ModelMeta:
    inputs: dict[str, TensorMeta]
    outputs: dict[str, TensorMeta]


class _Region:
    """One system shared-memory region, known to the server under `name`."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.key = f"/{name}"
        self.size = size
        self.handle = shm.create_shared_memory_region(name, self.key, size)

    def destroy(self) -> None:
        shm.destroy_shared_memory_region(self.handle)


def is_retryable(e: InferenceServerException) -> bool:
    status = e.status() or ""
    return status in RETRYABLE or "failed to connect" in str(e).lower()


def on_this_host(target: str) -> bool:
    """A loopback gRPC address (host:port), the only kind that can share memory with us."""
    host = target.rsplit(":", 1)[0].strip("[]").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def for_target(settings: TritonSettings, target: str) -> TritonSettings:
    """A server elsewhere cannot map this host's shared memory (every call would fail):
    tensors to it go over gRPC."""
    if settings.shared_memory and not on_this_host(target):
        log.warning("Triton at %s is not on this host: tensors go over gRPC", target)
        return settings.model_copy(update={"shared_memory": False})
    return settings


class TritonBackend:
    name = "triton"

    def __init__(self, client: grpcclient.InferenceServerClient, settings: TritonSettings) -> None:
        self.client = client
        self.settings = settings
        self.use_shm = settings.shared_memory
        self._meta: dict[str, ModelMeta] = {}
        self._regions: dict[str, _Region] = {}
        self._retired: list[_Region] = []
        self._registered: set[str] = set()
        self._made = 0
        self._lock = threading.Lock()
        self._prefix = f"citybrain-{os.getpid()}-{id(self):x}"
        self.retried = 0  # calls repeated after a retryable failure (for the stats)
        self._deadline: float | None = None  # monotonic end of the current call's budget

    @classmethod
    def connect(cls, settings: TritonSettings, url: str | None = None) -> TritonBackend:
        target = url or settings.url
        if not target:
            raise BackendError("no Triton url: set vision.triton.url")
        return cls(grpcclient.InferenceServerClient(target), for_target(settings, target))

    # -- retries -------------------------------------------------------------------------

    def _timeout(self) -> float:
        """This attempt's deadline: the configured one, cut to what the call's budget leaves."""
        if self._deadline is None:
            return self.settings.timeout_s
        left = self._deadline - time.monotonic()
        return max(0.05, min(self.settings.timeout_s, left))

    def _with_retries(self, what: str, call: Callable[[], T]) -> T:
        """Retry what may pass, within `retry_budget_s` for the whole call (so a slow server
        never holds the worker past its poll interval), then BackendUnavailable."""
        nested = self._deadline is not None
        if not nested:
            self._deadline = time.monotonic() + self.settings.retry_budget_s
        try:
            return self._attempts(what, call)
        finally:
            if not nested:
                self._deadline = None

    def _attempts(self, what: str, call: Callable[[], T]) -> T:
        s = self.settings
        assert self._deadline is not None
        last: Exception | None = None
        tried = 0
        for attempt in range(s.retries + 1):
            if attempt:
                pause = min(s.backoff_max_s, s.backoff_s * 2 ** (attempt - 1))
                pause *= random.uniform(0.5, 1.0)  # jitter, not crypto
                if time.monotonic() + pause >= self._deadline:
                    break  # the budget is spent: back-pressure, not another try
                self.retried += 1
                time.sleep(pause)
            tried += 1
            try:
                return call()
            except InferenceServerException as e:
                if not is_retryable(e):
                    raise BackendError(f"{what}: {e}") from e
                last = e
                self._retire_regions()
                log.warning(
                    "%s failed (%s), attempt %d/%d", what, e.status(), attempt + 1, s.retries + 1
                )
        spent = "" if tried == s.retries + 1 else f", {s.retry_budget_s:g} s budget spent"
        raise BackendUnavailable(f"{what}: {last} (after {tried} attempts{spent})") from last

    # -- metadata ------------------------------------------------------------------------

    def metadata(self, model: str) -> ModelMeta:
        if model not in self._meta:
            raw = self._with_retries(
                f"metadata of {model}",
                lambda: self.client.get_model_metadata(
                    model, as_json=True, client_timeout=self._timeout()
                ),
            )

            def tensors(items: list[dict[str, Any]]) -> dict[str, TensorMeta]:
                return {
                    t["name"]: TensorMeta(
                        t["name"],
                        np.dtype(triton_to_np_dtype(t["datatype"])),
                        tuple(int(d) for d in t["shape"]),
                    )
                    for t in items
                }

            self._meta[model] = ModelMeta(tensors(raw["inputs"]), tensors(raw["outputs"]))
        return self._meta[model]

    def labels(self, model: str) -> tuple[str, ...]:
        """Class names the repository's config carries (`citybrain models export` writes them),
        so a worker beside Triton needs no copy of the weights; () when there are none."""
        raw = self._with_retries(
            f"config of {model}",
            lambda: self.client.get_model_config(
                model, as_json=True, client_timeout=self._timeout()
            ),
        )
        param = raw.get("config", {}).get("parameters", {}).get(LABELS_PARAMETER)
        return tuple(json.loads(param["string_value"])) if param else ()

    # -- inference -----------------------------------------------------------------------

    def infer(self, model: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        meta = self.metadata(model)
        arrays = self._check_inputs(model, meta, inputs)
        with self._lock:
            if self.use_shm:
                result = self._with_retries(
                    f"infer {model}", lambda: self._infer_shm(model, meta, arrays)
                )
                if self._retired:
                    self._reap()
                return result
            return self._with_retries(
                f"infer {model}", lambda: self._infer_grpc(model, meta, arrays)
            )

    @staticmethod
    def _check_inputs(
        model: str, meta: ModelMeta, inputs: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        if set(inputs) != set(meta.inputs):
            raise BackendError(f"{model} takes inputs {sorted(meta.inputs)}, got {sorted(inputs)}")
        out: dict[str, np.ndarray] = {}
        for name, arr in inputs.items():
            want = meta.inputs[name]
            a = np.ascontiguousarray(arr, dtype=want.dtype)
            ok = a.ndim == len(want.shape) and all(
                w in (-1, g) for w, g in zip(want.shape, a.shape, strict=True)
            )
            if not ok or a.shape[0] == 0:
                raise BackendError(f"{model}.{name}: shape {a.shape} does not fit {want.shape}")
            out[name] = a
        return out

    def _infer_grpc(
        self, model: str, meta: ModelMeta, arrays: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        ins = []
        for name, a in arrays.items():
            i = grpcclient.InferInput(name, list(a.shape), _triton_dtype(a.dtype))
            i.set_data_from_numpy(a)
            ins.append(i)
        outs = [grpcclient.InferRequestedOutput(n) for n in meta.outputs]
        res = self.client.infer(model, ins, outputs=outs, client_timeout=self._timeout())
        result = {}
        for n in meta.outputs:
            arr = res.as_numpy(n)
            if arr is None:
                raise BackendError(f"{model} answered without output {n}")
            result[n] = arr
        return self._check_outputs(model, meta, result, _batch(arrays))

    def _infer_shm(
        self, model: str, meta: ModelMeta, arrays: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        n = _batch(arrays)
        ins, outs, out_regions = [], [], {}
        for name, a in arrays.items():
            region = self._region(f"{model}-in-{name}", a.nbytes)
            shm.set_shared_memory_region(region.handle, [a])
            i = grpcclient.InferInput(name, list(a.shape), _triton_dtype(a.dtype))
            i.set_shared_memory(region.name, a.nbytes)
            ins.append(i)
        for name, t in meta.outputs.items():
            shape = (n, *t.shape[1:])
            if any(d < 0 for d in shape):
                raise BackendError(f"{model}.{name}: variable output shape {t.shape} needs gRPC")
            nbytes = int(np.prod(shape)) * t.dtype.itemsize
            region = self._region(f"{model}-out-{name}", nbytes)
            o = grpcclient.InferRequestedOutput(name)
            o.set_shared_memory(region.name, nbytes)
            outs.append(o)
            out_regions[name] = (region, shape, t.dtype)
        res = self.client.infer(model, ins, outputs=outs, client_timeout=self._timeout())
        result = {}
        for name, (region, shape, dtype) in out_regions.items():
            got = res.get_output(name)
            if got is None:
                raise BackendError(f"{model} answered without output {name}")
            if tuple(int(d) for d in got.shape) != shape:
                raise BackendError(f"{model}.{name}: answer shape {tuple(got.shape)} != {shape}")
            result[name] = shm.get_contents_as_numpy(region.handle, dtype, shape).copy()
        return self._check_outputs(model, meta, result, n)

    @staticmethod
    def _check_outputs(
        model: str, meta: ModelMeta, result: dict[str, np.ndarray], n: int
    ) -> dict[str, np.ndarray]:
        for name, arr in result.items():
            want = meta.outputs[name].shape
            if arr.shape[0] != n or any(
                w not in (-1, g) for w, g in zip(want[1:], arr.shape[1:], strict=False)
            ):
                raise BackendError(f"{model}.{name}: answer shape {arr.shape} for batch {n}")
        return result

    def _region(self, label: str, nbytes: int) -> _Region:
        """The region for one tensor, at least nbytes big and registered with the server."""
        region = self._regions.get(label)
        if region is None or region.size < nbytes:
            if region is not None:
                self._retired.append(region)
            self._made += 1
            region = _Region(f"{self._prefix}-{self._made}-{label}", max(nbytes, 1 << 16))
            self._regions[label] = region
        if region.name not in self._registered:
            self.client.register_system_shared_memory(
                region.name, region.key, region.size, client_timeout=self._timeout()
            )
            self._registered.add(region.name)
        return region

    def _retire_regions(self) -> None:
        """After a failed call, never reuse its regions: a late answer may still land there
        (a timed-out request keeps running on the server), and a restarted server has
        forgotten them. Fresh regions serve the retry; old ones are freed once possible."""
        self._retired.extend(self._regions.values())
        self._regions.clear()

    def _reap(self) -> None:
        """Free retired regions the server lets go of (it refuses while a request uses one)."""
        keep = []
        for region in self._retired:
            try:
                if region.name in self._registered:
                    self.client.unregister_system_shared_memory(
                        region.name, client_timeout=self._timeout()
                    )
                    self._registered.discard(region.name)
                region.destroy()
            except (InferenceServerException, shm.SharedMemoryException):
                keep.append(region)
        self._retired = keep

    def _unregister(self, region: _Region) -> None:
        # server down or never had it: nothing to undo there
        with contextlib.suppress(InferenceServerException):
            self.client.unregister_system_shared_memory(region.name, client_timeout=self._timeout())
        self._registered.discard(region.name)

    def close(self) -> None:
        with self._lock:
            for region in [*self._regions.values(), *self._retired]:
                if region.name in self._registered:
                    self._unregister(region)
                region.destroy()
            self._regions.clear()
            self._retired.clear()
            self.client.close()


def _batch(arrays: dict[str, np.ndarray]) -> int:
    return int(next(iter(arrays.values())).shape[0])


def _triton_dtype(dtype: np.dtype[Any]) -> str:
    from tritonclient.utils import np_to_triton_dtype

    return str(np_to_triton_dtype(dtype))
