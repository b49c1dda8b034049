"""Which device runs the model, and why — said in words, never a silent fallback.

`choose_device("auto")` prefers the CUDA GPU with the most free memory that fits the model, then Apple MPS, then the
CPU, and its `reason` says what it found on the way ("CUDA not available: this torch build has no CUDA", "GPU 0
(NVIDIA H100) has 2.1 GB free, model needs 3.0 GB", …). An explicit device that does not exist is an error, not a
quiet switch to the CPU. Each choice carries its autocast dtype, by the rules of `engine.models.precision`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

import torch

from engine.errors import DeviceError
from engine.models.precision import cuda_autocast_dtype, device_autocast_dtype

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cpu", "cuda:0", "mps"
    label: str  # what a person reads: "NVIDIA H100 80GB HBM3"
    total_bytes: int | None
    free_bytes: int | None


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    reason: str
    autocast_dtype: str | None  # "bf16", "fp16" or None (full fp32)


def _gb(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.1f} GB"


def _cuda_unavailable_reason() -> str:
    if torch.version.cuda is None:
        return "CUDA not available: this torch build has no CUDA"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return f"no CUDA device found (CUDA_VISIBLE_DEVICES={visible!r} hides all GPUs)"
    return f"no CUDA device found (torch is built for CUDA {torch.version.cuda}, but no driver or GPU is visible)"


def _cuda_available() -> bool:
    try:
        return torch.cuda.is_available() and torch.cuda.device_count() > 0
    except (RuntimeError, AssertionError):  # a broken driver install raises instead of returning False
        return False


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cuda_info(index: int) -> DeviceInfo:
    label = torch.cuda.get_device_name(index)
    try:
        free, total = torch.cuda.mem_get_info(index)
    except (RuntimeError, AssertionError) as e:  # e.g. the GPU is in exclusive mode and taken
        logger.warning("cannot read memory of cuda:%d (%s): %s", index, label, e)
        free = total = None
    return DeviceInfo(name=f"cuda:{index}", label=label, total_bytes=total, free_bytes=free)


def list_devices() -> list[DeviceInfo]:
    """The CPU, every visible CUDA GPU (with name and memory), and MPS when this Mac has it."""
    devices = [DeviceInfo(name="cpu", label="CPU", total_bytes=None, free_bytes=None)]
    if _cuda_available():
        devices.extend(_cuda_info(i) for i in range(torch.cuda.device_count()))
    if _mps_available():
        devices.append(DeviceInfo(name="mps", label="Apple Metal (MPS)", total_bytes=None, free_bytes=None))
    return devices


def _describe_gpu(info: DeviceInfo) -> str:
    return f"GPU {info.name.split(':')[1]} ({info.label})"


def choose_device(requested: str = "auto", model_bytes: int | None = None) -> DeviceChoice:
    """Pick the device to run on. `model_bytes` is what the model needs on the device (weights + activations).

    `requested` is "auto", "cpu", "cuda" (= cuda:0), "cuda:N" or "mps"; an explicit device that is not there raises
    `DeviceError`. An explicit GPU with too little free memory is still used (the user asked), with a warning.
    """
    requested = (requested or "auto").strip().lower()
    if requested == "auto":
        return _choose_automatically(model_bytes)
    if requested == "cpu":
        return DeviceChoice("cpu", "CPU requested", None)
    if requested == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' requested, but Apple MPS is not available on this machine")
        return DeviceChoice("mps", "Apple MPS requested", device_autocast_dtype("mps"))
    match = re.fullmatch(r"cuda(?::(\d+))?", requested)
    if match is None:
        raise DeviceError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps")
    return _explicit_cuda(int(match.group(1) or 0), model_bytes)


def _explicit_cuda(index: int, model_bytes: int | None) -> DeviceChoice:
    name = f"cuda:{index}"
    if not _cuda_available():
        raise DeviceError(f"device {name!r} requested, but {_cuda_unavailable_reason()}")
    count = torch.cuda.device_count()
    if index >= count:
        present = ", ".join(f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count))
        raise DeviceError(f"device {name!r} requested, but this machine has {count} CUDA device(s): {present}")
    info = _cuda_info(index)
    reason = f"{_describe_gpu(info)} requested"
    if model_bytes is not None and info.free_bytes is not None and info.free_bytes < model_bytes:
        reason += f"; it has only {_gb(info.free_bytes)} free and the model needs {_gb(model_bytes)}"
        logger.warning("using %s as requested although it may run out of memory: %s", name, reason)
    return DeviceChoice(name, reason, cuda_autocast_dtype(index))


def _choose_automatically(model_bytes: int | None) -> DeviceChoice:
    notes: list[str] = []
    if _cuda_available():
        gpus = [_cuda_info(i) for i in range(torch.cuda.device_count())]
        # Most free memory first; a GPU whose memory cannot be read goes last but is still usable.
        gpus.sort(key=lambda g: -1 if g.free_bytes is None else g.free_bytes, reverse=True)
        for gpu in gpus:
            if model_bytes is not None and gpu.free_bytes is not None and gpu.free_bytes < model_bytes:
                notes.append(f"{_describe_gpu(gpu)} has {_gb(gpu.free_bytes)} free, model needs {_gb(model_bytes)}")
                continue
            free = f", {_gb(gpu.free_bytes)} free" if gpu.free_bytes is not None else ""
            reason = f"using {_describe_gpu(gpu)}{free}"
            if notes:
                reason += f" ({'; '.join(notes)})"
            choice = DeviceChoice(gpu.name, reason, device_autocast_dtype(gpu.name))
            logger.info("device: %s — %s", choice.device, choice.reason)
            return choice
    else:
        notes.append(_cuda_unavailable_reason())
    if _mps_available():
        choice = DeviceChoice("mps", "; ".join([*notes, "using Apple MPS"]), device_autocast_dtype("mps"))
    else:
        choice = DeviceChoice("cpu", "; ".join([*notes, "using the CPU"]), None)
    logger.info("device: %s — %s", choice.device, choice.reason)
    return choice
