"""Two gloo processes on CPU against one process with the same global batch.

With gather_with_grad + sync_bn + mlm_global_norm the parameters after N steps must agree within 1e-5 (float64,
dropout off, so only the arithmetic order differs). With the reference's defaults they must not: the
contrastive gradient is 1/world_size of the single-process one and BatchNorm sees only the local half-batch.
"""

from __future__ import annotations

import os
import socket
import types

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from engine.models.fusion import LayerNormKeepDtype
from engine.models.pmc_clip import PMCClip
from tests.trainer.tiny import RandomPairs, tiny_model_config, tiny_run_config
from trainer.distributed import DistInfo, GlobalBatchNorm2d, convert_sync_batchnorm
from trainer.train import Trainer

STEPS = 3
PER_RANK_BATCH = 4
EXACT = ("loss.gather_with_grad=true", "train.sync_bn=true", "loss.mlm_global_norm=true")
VARIANTS = {"exact": EXACT, "reference": ()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(tmp_path, overrides, batch_size: int, dist_info: DistInfo) -> dict[str, torch.Tensor]:
    cfg = tiny_run_config(
        tmp_path,
        *overrides,
        f"train.batch_size={batch_size}",
        "train.text_dropout=0",  # dropout would draw different masks in 1 and 2 processes
        f"train.max_steps_per_epoch={STEPS}",
        "optim.lr=3e-3",
        "optim.warmup_steps=1",
        "train.epochs=1",
    )
    torch.manual_seed(0)
    model = PMCClip(tiny_model_config()).double()
    for module in model.modules():
        if isinstance(module, LayerNormKeepDtype):  # it computes in float32 whatever the input; keep float64
            module.forward = types.MethodType(nn.LayerNorm.forward, module)
    trainer = Trainer(cfg, model, RandomPairs(48, dtype=torch.float64), dist_info=dist_info)
    trainer.train_epoch()
    return {k: v.detach().clone() for k, v in trainer.raw_model.state_dict().items()}


def _worker(rank: int, world_size: int, port: int, tmp_path, out_dir) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        info = DistInfo(rank=rank, world_size=world_size, local_rank=rank, device="cpu")
        for name, overrides in VARIANTS.items():
            state = _train(tmp_path, overrides, PER_RANK_BATCH, info)
            torch.save(state, out_dir / f"{name}_rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel())


@pytest.fixture(scope="module")
def two_process_states(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, _free_port(), tmp, tmp), nprocs=2, join=True)
    return {name: [torch.load(tmp / f"{name}_rank{r}.pt", weights_only=True) for r in range(2)] for name in VARIANTS}


def test_two_processes_match_one_process_with_the_exactness_options(tmp_path, two_process_states):
    torch.set_num_threads(1)
    single = _train(tmp_path, EXACT, 2 * PER_RANK_BATCH, DistInfo())
    rank0, rank1 = two_process_states["exact"]
    assert _max_diff(rank0, rank1) == 0.0  # DDP keeps replicas identical
    start = PMCClip(tiny_model_config()).double().state_dict()
    assert _max_diff(single, {k: v.to(single[k].dtype) for k, v in start.items()}) > 1e-3  # it did train
    assert _max_diff(rank0, single) < 1e-5


def test_reference_defaults_differ_from_one_process(tmp_path, two_process_states):
    torch.set_num_threads(1)
    single = _train(tmp_path, (), 2 * PER_RANK_BATCH, DistInfo())
    rank0, _ = two_process_states["reference"]
    assert _max_diff(rank0, single) > 1e-4


def test_convert_sync_batchnorm_keeps_state_and_single_process_behaviour():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm2d(4))).double()
    model[1].running_mean.fill_(0.5)
    reference = nn.Sequential(*[m for m in model]).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    expected = reference(x).detach().clone()
    converted = convert_sync_batchnorm(model, "cpu")
    assert isinstance(converted[1], GlobalBatchNorm2d) and isinstance(converted[2][0], GlobalBatchNorm2d)
    assert converted[1].weight.dtype == torch.float64
    assert torch.allclose(converted(x), expected)  # not distributed: plain BatchNorm arithmetic


@pytest.mark.slow
def test_torchrun_two_processes_train_save_and_resume(tmp_path):
    """The real entry point under torchrun (env:// rendezvous, gloo): rank 0 saves every rank's RNG state."""
    import subprocess
    import sys
    from pathlib import Path

    from trainer.checkpoint import load_training_checkpoint
    from trainer.cli import main

    data = tmp_path / "synth"
    assert main(["synth", str(data), "--n", "80", "--image-size", "64"]) == 0
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    base = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "trainer",
        "pretrain",
        "--config",
        "tiny",
        "--no-progress",
        f"output_dir={tmp_path / 'runs'}",
        "name=ddp",
        f"data.train={data / 'train.jsonl'}",
        f"data.valid={data / 'valid.jsonl'}",
        f"data.image_root={data / 'images'}",
        f"data.tokenizer={data / 'tokenizer'}",
        "data.num_workers=0",
        "train.batch_size=8",
        "train.max_steps_per_epoch=2",
    ]
    subprocess.run([*base, "train.epochs=1"], check=True, env=env, cwd=root, timeout=300)
    subprocess.run([*base, "train.epochs=2", "--resume", "latest"], check=True, env=env, cwd=root, timeout=300)
    payload = load_training_checkpoint(tmp_path / "runs" / "ddp" / "latest.pt")
    assert (payload["epoch"], payload["step"], payload["world_size"], len(payload["rng"])) == (2, 4, 2, 2)
    assert not torch.equal(payload["rng"][0]["torch"], payload["rng"][1]["torch"])  # seed + rank
    assert len((tmp_path / "runs" / "ddp" / "epochs.csv").read_text().splitlines()) == 3  # rank 0 wrote once each
