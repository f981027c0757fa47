"""Triton Python-backend model: runs a TorchScript module with torch (copied as model.py).

`citybrain models export` copies this file into every model of the repository it writes.
Only Triton's Python backend is bundled where citybrain is built, so this is the form both
models are served in here; production images with the PyTorch backend can serve the same
`model.pt` with the `config.libtorch.pbtxt` written beside `config.pbtxt`.

Parameters (config.pbtxt `parameters`): `weights` (file in the version folder, default
model.pt), `threads` (torch intra-op threads), `delay_s` (sleep before each batch; only tests
set it, to play a slow server).

Tensors cross the backend boundary by DLPack, never through numpy: the bundled backend stub
was built against numpy 1.x, and with numpy 2 its `as_numpy()` reads zeros and a Tensor
made from a numpy array arrives empty (no error either way).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import torch
import triton_python_backend_utils as pb_utils
from torch.utils.dlpack import from_dlpack, to_dlpack


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        cfg = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in cfg.get("parameters", {}).items()}
        self.input = cfg["input"][0]["name"]
        self.output = cfg["output"][0]["name"]
        self.delay_s = float(params.get("delay_s", "0") or 0)
        if args.get("model_instance_kind") == "GPU":
            self.device = torch.device(f"cuda:{args['model_instance_device_id']}")
        else:
            self.device = torch.device("cpu")
            torch.set_num_threads(int(params.get("threads", "1") or 1))
        path = os.path.join(
            args["model_repository"], args["model_version"], params.get("weights", "model.pt")
        )
        self.model = torch.jit.load(path, map_location=self.device).eval()

    def execute(self, requests: list[Any]) -> list[Any]:
        """All queued requests run as one batch; each gets its own rows back."""
        parts = [
            from_dlpack(pb_utils.get_input_tensor_by_name(r, self.input).to_dlpack())
            for r in requests
        ]
        sizes = [int(p.shape[0]) for p in parts]
        if self.delay_s:
            time.sleep(self.delay_s)
        x = torch.cat(parts).to(self.device)
        with torch.inference_mode():
            y = self.model(x).float()
        out, start = [], 0
        for n in sizes:
            rows = y[start : start + n].contiguous()
            tensor = pb_utils.Tensor.from_dlpack(self.output, to_dlpack(rows))
            out.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start += n
        return out

    def finalize(self) -> None:
        self.model = None
