"""Evaluation encoding shards across ranks: 2 gloo processes return what 1 process returns."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.trainer.eval_helpers import tiny_model_dir
from trainer.distributed import DistInfo
from trainer.evaluate.encode import ModelSpec, create_eval_encoder, encode_pairs, shard_bounds


@pytest.mark.parametrize(("n", "world"), [(10, 2), (7, 3), (2, 4), (0, 2)])
def test_shards_cover_the_items_once_in_order(n, world):
    bounds = [shard_bounds(n, r, world) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def _items(tmp_path):
    from tests.trainer.data_fixtures import NAMES, caption, color_image

    images = [color_image(NAMES[i % 4], i) for i in range(11)]
    return images, [caption(NAMES[i % 4], i) for i in range(11)]


def _worker(rank, world, port, model_dir, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        info = DistInfo(rank=rank, world_size=world, local_rank=rank, device="cpu")
        encoder = create_eval_encoder(ModelSpec(f"local-dir:{model_dir}", device="cpu", batch_size=4), info)
        images, texts = _items(out_dir)
        img, txt = encode_pairs(encoder, images, texts, dist_info=info, chunk=3)
        np.save(out_dir / f"img{rank}.npy", img)
        np.save(out_dir / f"txt{rank}.npy", txt)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # ~9 s on 2 cores: two fresh interpreters import torch and transformers
def test_two_gloo_processes_equal_one(tmp_path):
    model_dir = tiny_model_dir(tmp_path / "model")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, port, model_dir, tmp_path), nprocs=2, join=True)
    encoder = create_eval_encoder(ModelSpec(f"local-dir:{model_dir}", device="cpu", batch_size=4))
    images, texts = _items(tmp_path)
    img, txt = encode_pairs(encoder, images, texts)
    for rank in (0, 1):  # every rank holds all rows, in order
        np.testing.assert_allclose(np.load(tmp_path / f"img{rank}.npy"), img, rtol=0, atol=1e-6)
        np.testing.assert_allclose(np.load(tmp_path / f"txt{rank}.npy"), txt, rtol=0, atol=1e-6)
    assert img.shape == (11, 32)
