"""The one home of mixed-precision rules: which dtype runs where, and the autocast context that applies it.

- CUDA: bf16 where the GPU computes it natively (compute capability 8.0+), fp16 on older GPUs.
- MPS: fp16.
- CPU, image tower: fp32, except where the CPU has native bf16 instructions (AVX512-BF16 or AMX); there bf16 is
  faster for the convolutions (measured in bench/encode_throughput.py), elsewhere it is emulated and slower.
- CPU, text tower (a search query: one 77-token BERT-base pass): `text_tower_plan` below. Every plan computes the
  [CLS] row only in the last layer (exact) and keeps embeddings, LayerNorm, softmax and the residual stream in fp32;
  what differs is the precision of the matrix products and who runs them:
    * native bf16 (AVX512-BF16/AMX): bf16 weights in torch (oneDNN) — 2.3x fp32 here, feature cosine >= 0.9998 to
      fp32 on realistic weights (bench/text_encode.py);
    * otherwise (AVX2-only CPUs): fp32 in ONNX Runtime when it is installed (extra `fast-cpu`) — its MLAS GEMMs
      are ~2x torch's fp32 at 77 rows on this class of machine, and the result is fp32 (cosine 1.0); else fp32 in
      torch.
  int8 dynamic quantisation is measured but never chosen: on realistic weights its features fall to cosine ~0.996
  of fp32, below the 0.999 the search needs. `PMC_SEARCH_TEXT_PATH` (fp32, bf16, int8, onnx) overrides the choice.
- Training follows the reference code instead (`training_autocast_dtype`): "amp" is fp16 with a GradScaler on
  GPUs, whatever they support, and fp32 on the CPU; "amp_bf16" and "amp_fp16" force a dtype.

Names are the strings settings and configs use ("bf16", "fp16"; None = full fp32).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from dataclasses import dataclass

import torch

AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
TEXT_PATH_ENV = "PMC_SEARCH_TEXT_PATH"
TEXT_PATHS = ("fp32", "bf16", "int8", "onnx")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where that file does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:  # not Linux: no cheap, reliable way to ask; the fp32 paths are the safe default
        pass
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """AVX512-BF16 or AMX: bf16 matrix products are then faster than fp32. Elsewhere bf16 is emulated and slower."""
    return bool((cpu_flags() if flags is None else flags) & NATIVE_BF16_FLAGS)


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


@dataclass(frozen=True)
class TextTowerPlan:
    """How the CPU runs the text tower: `backend` "torch" or "onnxruntime", `linear` "fp32", "bf16" or "int8"."""

    backend: str
    linear: str
    reason: str

    @property
    def label(self) -> str:
        return f"{self.linear} ({self.backend})"


def text_tower_plan(
    flags: frozenset[str] | None = None, *, has_onnxruntime: bool | None = None, override: str | None = None
) -> TextTowerPlan:
    """The text-tower path for this CPU (see the module docstring). Arguments default to this machine's facts."""
    flags = cpu_flags() if flags is None else flags
    has_onnxruntime = onnxruntime_available() if has_onnxruntime is None else has_onnxruntime
    override = os.environ.get(TEXT_PATH_ENV, "") if override is None else override
    override = override.strip().lower()
    if override:
        if override not in TEXT_PATHS:
            raise ValueError(f"{TEXT_PATH_ENV}={override!r}: use one of {', '.join(TEXT_PATHS)}")
        if override == "onnx":
            if not has_onnxruntime:
                raise ValueError(f"{TEXT_PATH_ENV}=onnx needs onnxruntime (pip install 'pmc-figure-search[fast-cpu]')")
            return TextTowerPlan("onnxruntime", "fp32", f"{TEXT_PATH_ENV}=onnx")
        return TextTowerPlan("torch", override, f"{TEXT_PATH_ENV}={override}")
    if cpu_has_native_bf16(flags):
        return TextTowerPlan("torch", "bf16", "the CPU has native bf16 (AVX512-BF16/AMX)")
    if has_onnxruntime:
        return TextTowerPlan("onnxruntime", "fp32", "no native bf16; ONNX Runtime's fp32 is faster than torch's")
    return TextTowerPlan("torch", "fp32", "no native bf16 and no onnxruntime (install the fast-cpu extra)")


def cuda_autocast_dtype(index: int) -> str:
    major, _minor = torch.cuda.get_device_capability(index)
    return "bf16" if major >= 8 else "fp16"


def device_autocast_dtype(device: str) -> str | None:
    """The mixed precision a device runs models in: see the module docstring (the CPU: None)."""
    kind, _, index = device.partition(":")
    if kind == "cuda":
        return cuda_autocast_dtype(int(index or 0))
    if kind == "mps":
        return "fp16"
    return None


TRAINING_PRECISIONS = ("fp32", "amp", "amp_fp16", "amp_bf16")


def training_autocast_dtype(precision: str, device: str) -> str | None:
    """The autocast dtype of a training precision setting on `device` (None = fp32). See the module docstring."""
    if precision not in TRAINING_PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(TRAINING_PRECISIONS)}")
    if precision == "amp_fp16":
        return "fp16"
    if precision == "amp_bf16":
        return "bf16"
    if precision == "amp" and device.split(":")[0] == "cuda":
        return "fp16"  # the reference's torch.cuda.amp.autocast; CPU autocast is bf16-only, so "amp" is fp32 there
    return None


def needs_grad_scaler(dtype: str | None) -> bool:
    """fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none."""
    return dtype == "fp16"


def autocast(device: str, dtype: str | None) -> contextlib.AbstractContextManager:
    """`with autocast("cuda:0", "bf16"): model(x)`; a null context for dtype None (full fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=AUTOCAST_DTYPES[dtype])
