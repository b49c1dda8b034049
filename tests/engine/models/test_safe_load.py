"""Weight files are untrusted: tensors and numpy scalars load, anything that would run code is refused unrun."""

from __future__ import annotations

import io
import os
import pickle
import struct
import time
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from engine.errors import UnsafeFileError, WeightsError
from engine.models.safe_load import load_weights_file, referenced_globals


class _TouchMarker:
    """A pickle payload that would create a file if it were ever unpickled freely."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w').close()",))


def test_state_dict_round_trips(tmp_path):
    weights = {"conv1.weight": torch.randn(4, 3, 3, 3), "fc.bias": torch.arange(5, dtype=torch.float16)}
    path = tmp_path / "w.pth"
    torch.save(weights, path)
    loaded = load_weights_file(path)
    assert set(loaded) == set(weights)
    for key, tensor in weights.items():
        assert torch.equal(loaded[key], tensor)
        assert loaded[key].dtype == tensor.dtype


def test_bare_tensor_loads(tmp_path):
    projection = torch.randn(6, 6)
    path = tmp_path / "text_projection_layer.pth"
    torch.save(projection, path)
    assert torch.equal(load_weights_file(path), projection)


def test_full_checkpoint_with_metadata_and_numpy_scalars(tmp_path):
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    checkpoint = {
        "epoch": 100,
        "name": "pmc-clip-run",
        "state_dict": OrderedDict(("module." + k, v) for k, v in model.state_dict().items()),
        "optimizer": optimizer.state_dict(),
        "best_loss": np.float64(0.25),
        "seen": np.int64(1_646_592),
    }
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint, path)
    loaded = load_weights_file(path)
    assert loaded["epoch"] == 100 and loaded["name"] == "pmc-clip-run"
    assert loaded["best_loss"] == 0.25 and loaded["seen"] == 1_646_592
    assert torch.equal(loaded["state_dict"]["module.weight"], model.weight.detach())
    assert loaded["optimizer"]["state"][0]["step"].item() == 1


def _as_numpy1_pickle(pickle_bytes: bytes) -> bytes:
    # numpy 2 writes `numpy._core.multiarray`; numpy 1.x (which pickled the official checkpoint) wrote `numpy.core…`.
    return pickle_bytes.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_numpy1_scalar_name_from_the_official_checkpoint_is_accepted(tmp_path, container):
    checkpoint = {"epoch": 2, "lr": np.float64(1e-4), "steps": np.int64(12), "state_dict": {"w": torch.ones(2)}}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer, _use_new_zipfile_serialization=container == "zip")
    path = tmp_path / "old_numpy.pt"
    if container == "zip":
        with zipfile.ZipFile(buffer) as original, zipfile.ZipFile(path, "w") as rewritten:
            for name in original.namelist():
                data = original.read(name)
                rewritten.writestr(name, _as_numpy1_pickle(data) if name.endswith("data.pkl") else data)
    else:
        path.write_bytes(_as_numpy1_pickle(buffer.getvalue()))
    assert "numpy.core.multiarray.scalar" in referenced_globals(path)
    loaded = load_weights_file(path)
    assert loaded["lr"] == pytest.approx(1e-4) and loaded["steps"] == 12 and loaded["epoch"] == 2
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_safetensors_loads(tmp_path):
    weights = {"a": torch.randn(3, 2), "b": torch.zeros(4, dtype=torch.int64)}
    path = tmp_path / "model.safetensors"
    save_file(weights, str(path))
    loaded = load_weights_file(path)
    assert torch.equal(loaded["a"], weights["a"]) and torch.equal(loaded["b"], weights["b"])


@pytest.mark.parametrize("container", ["zip", "legacy", "plain-pickle"])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path, container):
    marker = tmp_path / "PWNED"
    payload = {"state_dict": {"w": torch.ones(1)}, "evil": _TouchMarker(marker)}
    path = tmp_path / "evil.pt"
    if container == "zip":
        torch.save(payload, path)
    elif container == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(UnsafeFileError) as caught:
        load_weights_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert "system" in message  # names the offending global (posix.system / nt.system)
    assert not marker.exists()


def test_builtins_eval_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    torch.save({"x": _EvalPayload(marker)}, path)
    with pytest.raises(UnsafeFileError, match=r"(__builtin__|builtins)\.eval"):
        load_weights_file(path)
    assert not marker.exists()


def test_torch_internal_global_outside_the_allow_list_is_refused(tmp_path):
    # A global inside torch that is not a tensor-rebuild function must not slip through because of its prefix:
    # torch's own unpickler refuses it, and the message still names it.
    path = tmp_path / "sneaky.pt"
    torch.save({"w": torch.ones(1)}, path, _use_new_zipfile_serialization=False)
    raw = path.read_bytes()
    # Swap the storage class global for torch.load itself (same length keeps pickle offsets valid).
    assert b"torch\nFloatStorage\n" in raw
    path.write_bytes(raw.replace(b"torch\nFloatStorage\n", b"torch\nsave\n", 1))
    with pytest.raises(UnsafeFileError, match=r"torch\.save"):
        load_weights_file(path)


def test_decompression_bomb_zip_is_refused(tmp_path):
    path = tmp_path / "bomb.pt"
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(1)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as original, zipfile.ZipFile(path, "w") as bomb:
        for info in original.infolist():
            bomb.writestr(info.filename, original.read(info.filename))
        root = original.infolist()[0].filename.split("/")[0]
        bomb.writestr(f"{root}/data/999", b"\0" * (64 << 20), compress_type=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(UnsafeFileError, match="decompression bomb"):
        load_weights_file(path)


@pytest.mark.parametrize("keep_bytes", [0, 10, 200])
def test_truncated_checkpoint_is_a_clear_weights_error(tmp_path, keep_bytes):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.randn(64, 64)}, good)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:keep_bytes] if keep_bytes else b"")
    with pytest.raises(WeightsError) as caught:
        load_weights_file(bad)
    assert not isinstance(caught.value, UnsafeFileError)
    assert str(bad) in str(caught.value)


def test_truncated_tail_of_a_large_checkpoint_is_a_weights_error(tmp_path):
    good = tmp_path / "good.pt"
    torch.save({"w": torch.randn(256, 256)}, good)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(good.read_bytes()[:-5000])
    with pytest.raises(WeightsError, match="bad.pt"):
        load_weights_file(bad)


def test_corrupt_safetensors_is_a_weights_error(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"a": torch.randn(100)}, str(path))
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(WeightsError, match="safetensors"):
        load_weights_file(path)


def test_missing_file_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_weights_file(tmp_path / "nope.pt")
    with pytest.raises(WeightsError, match="folder"):
        load_weights_file(tmp_path)


def test_top_level_list_is_not_weights(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.ones(1)], path)
    with pytest.raises(WeightsError, match="list"):
        load_weights_file(path)


def _with_lying_storage_size(pickle_bytes: bytes, numel: int) -> bytes:
    # The persistent id of a storage ends with (…, 'cpu', numel, …): claim far more elements than the file holds.
    anchor = b"X\x03\x00\x00\x00cpuq\x06K\x04"
    assert anchor in pickle_bytes
    return pickle_bytes.replace(anchor, b"X\x03\x00\x00\x00cpuq\x06J" + struct.pack("<i", numel), 1)


def test_zip_checkpoint_claiming_a_huge_storage_is_refused_without_allocating(tmp_path):
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(4)}, buffer)
    path = tmp_path / "huge.pt"
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as original, zipfile.ZipFile(path, "w") as lying:
        for name in original.namelist():
            data = original.read(name)
            lying.writestr(name, _with_lying_storage_size(data, 2_000_000_000) if name.endswith("data.pkl") else data)
    started = time.monotonic()
    with pytest.raises(WeightsError, match="huge.pt"):
        load_weights_file(path)
    assert time.monotonic() - started < 5


def test_legacy_checkpoint_claiming_a_huge_storage_is_refused(tmp_path):
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(4)}, buffer, _use_new_zipfile_serialization=False)
    path = tmp_path / "huge_legacy.pt"
    path.write_bytes(_with_lying_storage_size(buffer.getvalue(), 2_000_000_000))
    started = time.monotonic()
    with pytest.raises(WeightsError, match="huge_legacy.pt"):
        load_weights_file(path)
    assert time.monotonic() - started < 5


def test_concurrent_loads_all_see_the_numpy_allow_list(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "with_numpy.pt"
    torch.save({"lr": np.float64(0.5), "w": torch.ones(2)}, path)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: load_weights_file(path)["lr"], range(16)))
    assert results == [0.5] * 16


def test_numpy_arrays_are_not_on_the_allow_list(tmp_path):
    # Only the numpy *scalars* the official checkpoint needs are allowed; arrays rebuild through other globals.
    path = tmp_path / "array.pt"
    torch.save({"mean": np.zeros(3)}, path)
    with pytest.raises(UnsafeFileError, match="_reconstruct"):
        load_weights_file(path)
