"""Device choice: real behaviour on this GPU-less machine, GPU branches through a faked torch.cuda."""

from __future__ import annotations

import pytest
import torch

from engine.errors import DeviceError
from engine.models import device as device_module
from engine.models.device import choose_device, list_devices
from engine.models.precision import autocast

GB = 10**9


@pytest.fixture
def fake_gpus(monkeypatch):
    """Pretend this machine has the given GPUs: list of (name, free_bytes, total_bytes, capability)."""

    def install(gpus, mps=False):
        monkeypatch.setattr(torch.version, "cuda", "12.4")
        monkeypatch.setattr(torch.cuda, "is_available", lambda: bool(gpus))
        monkeypatch.setattr(torch.cuda, "device_count", lambda: len(gpus))
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: gpus[i][0])
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i=0: (gpus[i][1], gpus[i][2]))
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: gpus[i][3])
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return install


def test_this_machine_falls_back_to_cpu_and_says_why(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if torch.cuda.is_available():
        pytest.skip("this test describes a machine without a GPU")
    choice = choose_device("auto", model_bytes=GB)
    assert choice.device == "cpu"
    assert choice.autocast_dtype is None
    assert "CUDA" in choice.reason and "using the CPU" in choice.reason
    if torch.version.cuda is None:
        assert "this torch build has no CUDA" in choice.reason
    else:
        assert "no CUDA device found" in choice.reason and torch.version.cuda in choice.reason


def test_cpu_only_build_reason(fake_gpus, monkeypatch):
    fake_gpus([])
    monkeypatch.setattr(torch.version, "cuda", None)
    choice = choose_device()
    assert choice == device_module.DeviceChoice(
        "cpu", "CUDA not available: this torch build has no CUDA; using the CPU", None
    )


def test_hidden_gpus_are_named_in_the_reason(fake_gpus, monkeypatch):
    fake_gpus([])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert "CUDA_VISIBLE_DEVICES" in choose_device().reason


def test_list_devices_on_this_machine_starts_with_cpu():
    devices = list_devices()
    assert devices[0].name == "cpu"
    assert len(devices) == 1 + torch.cuda.device_count() * torch.cuda.is_available() + int(
        torch.backends.mps.is_available()
    )


def test_list_devices_reports_gpus_with_memory(fake_gpus):
    fake_gpus([("NVIDIA H100", 70 * GB, 80 * GB, (9, 0)), ("Tesla T4", 15 * GB, 16 * GB, (7, 5))], mps=False)
    devices = list_devices()
    assert [d.name for d in devices] == ["cpu", "cuda:0", "cuda:1"]
    assert devices[1].label == "NVIDIA H100" and devices[1].free_bytes == 70 * GB and devices[1].total_bytes == 80 * GB


def test_auto_uses_a_gpu_with_room_and_bf16_on_ampere_or_newer(fake_gpus):
    fake_gpus([("NVIDIA H100", int(70.2 * GB), 80 * GB, (9, 0))])
    choice = choose_device("auto", model_bytes=int(1.6 * GB))
    assert choice.device == "cuda:0"
    assert choice.reason == "using GPU 0 (NVIDIA H100), 70.2 GB free"
    assert choice.autocast_dtype == "bf16"


def test_auto_uses_fp16_on_older_gpus(fake_gpus):
    fake_gpus([("Tesla T4", 15 * GB, 16 * GB, (7, 5))])
    assert choose_device().autocast_dtype == "fp16"


def test_gpu_too_small_falls_back_to_cpu_with_numbers(fake_gpus):
    fake_gpus([("NVIDIA GeForce GTX 1050", int(2.1 * GB), 4 * GB, (6, 1))])
    choice = choose_device("auto", model_bytes=3 * GB)
    assert choice.device == "cpu" and choice.autocast_dtype is None
    assert choice.reason == "GPU 0 (NVIDIA GeForce GTX 1050) has 2.1 GB free, model needs 3.0 GB; using the CPU"


def test_two_gpus_picks_the_one_with_most_free_memory(fake_gpus):
    fake_gpus([("busy A100", 1 * GB, 40 * GB, (8, 0)), ("idle A100", 39 * GB, 40 * GB, (8, 0))])
    choice = choose_device("auto", model_bytes=2 * GB)
    assert choice.device == "cuda:1"
    assert "GPU 1 (idle A100)" in choice.reason


def test_two_gpus_reason_mentions_the_one_skipped(fake_gpus):
    fake_gpus([("small", 1 * GB, 2 * GB, (8, 6)), ("smaller", int(0.5 * GB), 2 * GB, (8, 6))])
    choice = choose_device("auto", model_bytes=int(1.5 * GB))
    assert choice.device == "cpu"
    assert "GPU 0 (small) has 1.0 GB free" in choice.reason and "GPU 1 (smaller) has 0.5 GB free" in choice.reason


def test_explicit_second_gpu(fake_gpus):
    fake_gpus([("A", 10 * GB, 16 * GB, (7, 0)), ("B", 30 * GB, 40 * GB, (8, 0))])
    choice = choose_device("cuda:1")
    assert choice.device == "cuda:1" and choice.autocast_dtype == "bf16" and "GPU 1 (B) requested" in choice.reason
    assert choose_device("cuda").device == "cuda:0"


def test_explicit_gpu_that_does_not_exist_is_an_error(fake_gpus):
    fake_gpus([("only one", 10 * GB, 16 * GB, (8, 0))])
    with pytest.raises(DeviceError, match=r"cuda:1.*1 CUDA device.*cuda:0 \(only one\)"):
        choose_device("cuda:1")


def test_explicit_cuda_without_cuda_is_an_error(fake_gpus):
    fake_gpus([])
    with pytest.raises(DeviceError, match="no CUDA device found"):
        choose_device("cuda")


def test_explicit_small_gpu_is_used_but_flagged(fake_gpus):
    fake_gpus([("tiny", 1 * GB, 2 * GB, (8, 0))])
    choice = choose_device("cuda:0", model_bytes=3 * GB)
    assert choice.device == "cuda:0"
    assert "only 1.0 GB free and the model needs 3.0 GB" in choice.reason


def test_mps_when_no_cuda(fake_gpus):
    fake_gpus([], mps=True)
    auto = choose_device()
    assert auto.device == "mps" and auto.autocast_dtype == "fp16" and "using Apple MPS" in auto.reason
    assert choose_device("mps").device == "mps"
    assert [d.name for d in list_devices()] == ["cpu", "mps"]


def test_explicit_mps_without_mps_is_an_error(fake_gpus):
    fake_gpus([], mps=False)
    with pytest.raises(DeviceError, match="MPS"):
        choose_device("mps")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu:0", "cuda:-1"])
def test_unknown_device_names_are_errors(bad):
    with pytest.raises(DeviceError, match="unknown device"):
        choose_device(bad)


def test_explicit_cpu_is_always_available():
    assert choose_device("CPU") == device_module.DeviceChoice("cpu", "CPU requested", None)


def test_the_cpu_choice_runs_in_full_precision():
    layer = torch.nn.Linear(4, 4)
    with autocast("cpu", choose_device("cpu").autocast_dtype):
        assert layer(torch.randn(2, 4)).dtype == torch.float32


def test_a_bf16_autocast_runs_in_bf16_and_ends_with_its_block():
    layer = torch.nn.Linear(4, 4)
    with autocast("cpu", "bf16"):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    assert layer(torch.randn(2, 4)).dtype == torch.float32


@pytest.mark.gpu
def test_real_gpu_is_chosen_with_its_name_and_mixed_precision():
    # Runs only on a CUDA machine (`pytest -m gpu`); the rest of this file covers the GPU branches with fakes.
    choice = choose_device("auto", model_bytes=10**9)
    assert choice.device.startswith("cuda:")
    index = int(choice.device.split(":")[1])
    assert torch.cuda.get_device_name(index) in choice.reason and "GB free" in choice.reason
    major, _ = torch.cuda.get_device_capability(index)
    assert choice.autocast_dtype == ("bf16" if major >= 8 else "fp16")
    layer = torch.nn.Linear(8, 8).to(choice.device)
    with autocast(choice.device, choice.autocast_dtype):
        out = layer(torch.randn(2, 8, device=choice.device))
    assert out.dtype == (torch.bfloat16 if major >= 8 else torch.float16)
