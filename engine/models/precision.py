"""The one home of mixed-precision rules: which dtype runs where, and the autocast context that applies it.

- CUDA: bf16 where the GPU computes it natively (compute capability 8.0+), fp16 on older GPUs.
- MPS: fp16.
- CPU: fp32, except where the CPU has native bf16 instructions (AVX512-BF16 or AMX); there bf16 is faster for the
  image tower's convolutions (measured in bench/encode_throughput.py), elsewhere it is emulated and slower.
- Training follows the reference code instead (`training_autocast_dtype`): "amp" is fp16 with a GradScaler on
  GPUs, whatever they support, and fp32 on the CPU; "amp_bf16" and "amp_fp16" force a dtype.

Names are the strings settings and configs use ("bf16", "fp16"; None = full fp32).
"""

from __future__ import annotations

import contextlib
import functools

import torch

AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 convolutions are then faster than fp32. Elsewhere bf16 is emulated and slower."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:  # not Linux: no cheap, reliable way to ask; fp32 is the safe default
        pass
    return False


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
