"""The text tower in ONNX Runtime (optional extra `fast-cpu`): fp32 throughout, faster than torch's fp32 on CPUs
without native bf16 (see `engine.models.precision.text_tower_plan`).

The graph is exported once from `CompactTextTower` (fp32, [CLS]-only last layer) into the cache folder, named by
a SHA-256 of the tower's weights, so another model or changed weights never reuse a stale file. The file is written
atomically. Its outputs equal the torch tower's to float rounding (cosine 1.0 in bench/text_encode.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.fileio import atomic_output
from engine.models.text_tower import CompactTextTower

logger = logging.getLogger(__name__)

ONNX_OPSET = 17


def weights_digest(tower: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(tower.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def export_onnx(tower: CompactTextTower, path: Path, context_length: int) -> Path:
    """Write the tower as an ONNX graph with a dynamic batch dimension."""
    if tower.linear_mode != "fp32":
        raise ValueError("only the fp32 tower is exported to ONNX")
    example = torch.zeros((1, context_length), dtype=torch.long)
    with atomic_output(path) as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            tower, (example,), str(tmp), input_names=["input_ids"], output_names=["features"],
            dynamic_axes={"input_ids": {0: "batch"}, "features": {0: "batch"}}, opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return path


class OnnxTextTower:
    """Callable like the torch tower: int64 ids [N, L] (tensor) -> float32 features [N, dim] (tensor)."""

    linear_mode = "fp32"

    def __init__(self, tower: CompactTextTower, cache_folder: Path, *, context_length: int, threads: int | None = None):
        import onnxruntime as ort

        cache_folder = Path(cache_folder)
        path = cache_folder / f"text-tower-{weights_digest(tower)[:24]}.onnx"
        if not path.is_file():
            logger.info("exporting the text tower to %s (once per model)", path)
            export_onnx(tower, path, context_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        ids = np.ascontiguousarray(input_ids.cpu().numpy().astype(np.int64, copy=False))
        return torch.from_numpy(self._session.run(None, {"input_ids": ids})[0])
