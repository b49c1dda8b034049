"""Load weight files that may come from anyone, without letting them run code.

`.pt/.pth/.bin` files are pickles: unpickling one freely can run any Python (a `__reduce__` that calls
`os.system`). We only ever unpickle with `torch.load(weights_only=True)`, whose unpickler accepts tensors and plain
containers, plus the handful of numpy types the official PMC-CLIP `checkpoint.pt` needs (it pickles numpy scalars
in its metadata). Before torch sees the file we also list the globals the pickle references, so a refusal can
name the offending one, and we check the zip container for entries that would expand far beyond their size.
`.safetensors` files hold no code at all and go through the safetensors library.
"""

from __future__ import annotations

import io
import logging
import pickle
import pickletools
import re
import struct
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import torch

from engine.errors import UnsafeFileError, WeightsError

logger = logging.getLogger(__name__)

SAFETENSORS_SUFFIXES = (".safetensors",)

# torch.save writes its zip entries uncompressed, so a real checkpoint's entries are as large on disk as in
# memory. An entry that expands much more than that is a decompression bomb, not a checkpoint.
_MAX_EXPANSION_RATIO = 20
_EXPANSION_SLACK_BYTES = 1 << 20

# The official checkpoint was pickled with numpy 1.x (`numpy.core...`); numpy 2 moved that module to
# `numpy._core`. Allow-listing the (object, "pickled name") pairs maps the old name onto today's object.
_NUMERIC_DTYPE_CLASS_NAMES = (
    "BoolDType",
    "Int8DType",
    "Int16DType",
    "Int32DType",
    "Int64DType",
    "UInt8DType",
    "UInt16DType",
    "UInt32DType",
    "UInt64DType",
    "Float16DType",
    "Float32DType",
    "Float64DType",
    "LongDType",
    "ULongDType",
    "LongLongDType",
    "ULongLongDType",
)


def _numpy_scalar_constructor():
    core = getattr(np, "_core", None) or np.core
    return core.multiarray.scalar


def _allowed_numpy_globals() -> list[tuple[object, str]]:
    scalar = _numpy_scalar_constructor()
    allowed: list[tuple[object, str]] = [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        (np.dtype, "numpy.dtype"),
    ]
    dtypes_module = getattr(np, "dtypes", None)  # numpy >= 1.25 pickles some dtypes by their class
    for class_name in _NUMERIC_DTYPE_CLASS_NAMES:
        dtype_class = getattr(dtypes_module, class_name, None)
        if dtype_class is not None:
            allowed.append((dtype_class, f"numpy.dtypes.{class_name}"))
    return allowed


# `safe_globals` edits a process-wide allow-list and restores it on exit; two threads loading at once could restore
# it under each other's feet, so loads take turns.
_ALLOW_LIST_LOCK = threading.Lock()

ALLOWED_EXTRA_GLOBALS: frozenset[str] = frozenset(name for _, name in _allowed_numpy_globals())

# Globals the torch weights-only unpickler accepts by itself (tensor rebuilding, storages, containers). Used only
# to decide which referenced globals to *name* in an error; the real gatekeeper is torch's unpickler.
_TORCH_SAFE_PREFIXES = ("torch.",)
# Protocol-2 pickles (torch.save's default) spell the builtins module `__builtin__`.
_TORCH_SAFE_NAMES = frozenset(
    {"collections.OrderedDict", "_codecs.encode"}
    | {
        f"{module}.{name}"
        for module in ("builtins", "__builtin__")
        for name in ("set", "frozenset", "bytearray", "slice", "complex")
    }
)


def load_weights_file(path) -> dict[str, torch.Tensor] | torch.Tensor:
    """Read a state dict (or a bare tensor) from `.pt/.pth/.bin` or `.safetensors`, refusing anything that runs code.

    Checkpoints that are dicts with non-tensor metadata (epoch, run name, optimizer state) come back as they are;
    the caller picks the part it needs. Raises `UnsafeFileError` for a hostile file (naming the file and the
    global it tried to use) and `WeightsError` for a missing, corrupt or truncated one.
    """
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{path} is a folder; expected a weights file (.pt, .pth, .bin or .safetensors)")
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix.lower() in SAFETENSORS_SUFFIXES or _looks_like_safetensors(path):
        return _load_safetensors(path)
    return _load_torch_pickle(path)


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from e


def _looks_like_safetensors(path: Path) -> bool:
    # safetensors: 8-byte little-endian header length, then a JSON header starting with '{'.
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= header_len <= path.stat().st_size - 8


def check_pickle_file(path: Path) -> None:
    """Refuse (UnsafeFileError) a pickle-based weights file that references code or is a zip bomb, without
    unpickling it: for loaders we do not control (open_clip), before they see the file."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        _check_zip_container(path)
    unsafe = _unsafe_globals(referenced_globals(path))
    if unsafe:
        raise UnsafeFileError(_unsafe_message(path, unsafe))


def _load_torch_pickle(path: Path) -> dict[str, torch.Tensor] | torch.Tensor:
    check_pickle_file(path)
    try:
        with _ALLOW_LIST_LOCK, torch.serialization.safe_globals(_allowed_numpy_globals()):
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # Our pre-scan saw nothing forbidden, so torch found something we could not name (or the pickle is
        # broken). Pull the global out of torch's message if it gives one.
        named = re.findall(r"GLOBAL ([\w.]+)", str(e))
        if named:
            raise UnsafeFileError(_unsafe_message(path, named)) from e
        raise WeightsError(
            f"{path} is not a readable PyTorch weights file (corrupt, truncated or unsupported): {_first_line(e)}"
        ) from e
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, IndexError, KeyError, TypeError,
            AttributeError, MemoryError, RecursionError, struct.error) as e:
        # A file that is not a checkpoint at all (a text file, random bytes) can trip the unpickler anywhere.
        raise WeightsError(
            f"{path} is not a readable PyTorch weights file (corrupt or truncated?): {_first_line(e)}"
        ) from e
    if not isinstance(loaded, (Mapping, torch.Tensor)):
        raise WeightsError(f"{path} holds a {type(loaded).__name__}, not a state dict or a tensor")
    return loaded


def _check_zip_container(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise WeightsError(f"{path} is a damaged zip container: {e}") from e
    for info in infos:
        allowed = info.compress_size * _MAX_EXPANSION_RATIO + _EXPANSION_SLACK_BYTES
        if info.file_size > allowed:
            raise UnsafeFileError(
                f"refusing {path}: entry {info.filename!r} expands from {info.compress_size} to {info.file_size} "
                "bytes (a decompression bomb; torch.save never compresses)"
            )


def referenced_globals(path: Path) -> set[str]:
    """Every `module.name` the pickle(s) in a weights file would import, found without unpickling anything."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            found: set[str] = set()
            for name in archive.namelist():
                if name.endswith(".pkl"):
                    with archive.open(name) as member:
                        found |= _globals_in_pickles(io.BytesIO(member.read()), max_pickles=1)
            return found
    # The legacy (pre-1.6) format is several pickles in a row (magic, protocol, sys info, the object, the storage
    # keys) followed by raw storage bytes; scanning stops at the first thing that is not a pickle.
    with open(path, "rb") as f:
        return _globals_in_pickles(f, max_pickles=5)


def _globals_in_pickles(stream, max_pickles: int) -> set[str]:
    found: set[str] = set()
    for _ in range(max_pickles):
        try:
            found |= set(_globals_in_one_pickle(pickletools.genops(stream)))
        except Exception:  # noqa: BLE001 - a malformed pickle ends the scan; torch.load reports the damage
            break
    return found


def _globals_in_one_pickle(ops: Iterable) -> Iterator[str]:
    recent_strings: list[str] = []
    for opcode, arg, _pos in ops:
        if opcode.name in ("GLOBAL", "INST"):
            module, _, name = str(arg).partition(" ")
            yield f"{module}.{name}"
        elif opcode.name == "STACK_GLOBAL" and len(recent_strings) >= 2:
            yield f"{recent_strings[-2]}.{recent_strings[-1]}"
        elif isinstance(arg, str) and ("UNICODE" in opcode.name or "STRING" in opcode.name):
            recent_strings.append(str(arg))
        if opcode.name == "STOP":
            return


def _unsafe_globals(referenced: set[str]) -> list[str]:
    return sorted(
        name
        for name in referenced
        if name not in ALLOWED_EXTRA_GLOBALS
        and name not in _TORCH_SAFE_NAMES
        and not name.startswith(_TORCH_SAFE_PREFIXES)
    )


def _unsafe_message(path: Path, offending: list[str]) -> str:
    return (
        f"refusing to load {path}: its pickle references {', '.join(offending)}, which a weights file has no "
        "reason to use (it could run code). Only tensors, plain containers and numpy scalars are accepted; "
        "if you trust the file, convert it to .safetensors on a machine where that is safe."
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
