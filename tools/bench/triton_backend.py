"""Cost of serving through Triton: local torch vs Triton over gRPC vs Triton with shared memory.

    python tools/bench/triton_backend.py --batches 1,8 --calls 20

Exports the configured detector (YAML: built with the fixed seed) and the demo CLIP tower,
starts the bundled tritonserver, and times the same batches three ways in one run. The
baseline is local torch (the same TorchScript on the same CPU); the table reports each
way's time per batch and its ratio to the baseline. CPU-only here: the server's one model
instance and the client share the machine's cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from citybrain.config import load_settings
from citybrain.vision.backends.triton import TritonBackend
from citybrain.vision.export import export_repository, standard_models
from citybrain.vision.triton_server import TritonServer


def timed(fn, calls: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch threads, local and server")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = load_settings()
    models = standard_models(settings.vision)
    with tempfile.TemporaryDirectory(dir="var") as tmp:
        repo = Path(tmp) / "repo"
        export_repository(repo, models)
        server = TritonServer(repo, Path(tmp) / "work").start(timeout_s=300)
        try:
            grpc = TritonBackend.connect(
                settings.vision.triton.model_copy(update={"shared_memory": False}), server.url
            )
            shm = TritonBackend.connect(
                settings.vision.triton.model_copy(update={"shared_memory": True}), server.url
            )
            rows = []
            for name, (_module, spec, _) in models.items():
                scripted = torch.jit.load(str(repo / name / "1" / "model.pt"))
                for n in [int(b) for b in args.batches.split(",")]:
                    x = np.random.default_rng(0).random((n, *spec.input_dims), dtype=np.float32)

                    def local(x: np.ndarray = x, m: torch.nn.Module = scripted) -> None:
                        with torch.inference_mode():
                            m(torch.from_numpy(x))

                    base = timed(local, args.calls)
                    t_grpc = timed(
                        lambda x=x, name=name: grpc.infer(name, {"images": x}), args.calls
                    )
                    t_shm = timed(lambda x=x, name=name: shm.infer(name, {"images": x}), args.calls)
                    mb = x.nbytes / 1e6
                    rows.append((name, n, mb, base, t_grpc, t_shm))
            grpc.close()
            shm.close()
        finally:
            server.stop()
    print("| model | batch | input MB | local torch ms | Triton gRPC ms (×) | Triton shm ms (×) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, n, mb, base, tg, ts in rows:
        print(
            f"| {name} | {n} | {mb:.1f} | {base * 1e3:.1f} | {tg * 1e3:.1f} ({tg / base:.2f}) "
            f"| {ts * 1e3:.1f} ({ts / base:.2f}) |"
        )


if __name__ == "__main__":
    main()
