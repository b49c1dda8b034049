"""The machine a benchmark ran on, printed at the top of every benchmark's output."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def simd_flags() -> str:
    """The CPU flags that decide the fast paths (engine.models.precision), and oneDNN's ISA cap if one is set."""
    from engine.models.precision import cpu_flags

    flags = cpu_flags()
    text = " ".join(f for f in SIMD_FLAGS if f in flags) or "none of " + "/".join(SIMD_FLAGS)
    for variable in ("ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY"):
        if os.environ.get(variable):
            text += f" [{variable}={os.environ[variable]}]"
    return text


def describe() -> str:
    cpu = cpu_model()
    parts = [f"{os.cpu_count()} CPUs ({cpu})", f"flags {simd_flags()}", f"python {platform.python_version()}"]
    if hasattr(os, "getloadavg"):  # other work on a shared machine skews every figure: say how busy it was
        parts.append("load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    try:
        import numpy

        parts.append(f"numpy {numpy.__version__}")
    except ImportError:
        pass
    try:
        import torch

        parts.append(f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        pass
    return "machine: " + ", ".join(parts)
