"""Process-group setup for torchrun (one node or several) and the bits of DDP the loop needs.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; we initialise with `env://`, gloo on
CPU and nccl on CUDA. Without those variables everything runs as a single process and no group is created.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from engine.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def pick_device(requested: str, local_rank: int) -> str:
    if requested == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("train.device is cuda but no CUDA device is available")
        return requested if ":" in requested else f"cuda:{local_rank}"
    if requested != "cpu":
        raise ConfigError(f"train.device must be auto, cpu or cuda, not {requested!r}")
    return "cpu"


def init_distributed(device: str = "auto", timeout_minutes: float = 30.0) -> DistInfo:
    """Join the torchrun process group if there is one; otherwise describe a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = pick_device(device, local_rank)
    if chosen.startswith("cuda"):
        torch.cuda.set_device(torch.device(chosen))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if chosen.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend, init_method="env://", timeout=timedelta(minutes=timeout_minutes))
        logger.info("joined process group: rank %d of %d (%s, %s)", rank, world_size, backend, chosen)
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=chosen)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_gather_object(obj):
    """[obj of rank 0, obj of rank 1, …]; [obj] in a single process."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a scalar over ranks (for logging only)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / dist.get_world_size()


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the gradient of a sum that every rank used is the sum of every rank's gradient."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad


class _AllGatherCat(torch.autograd.Function):
    """Concatenate equal-sized tensors of all ranks along dim 0; backward returns this rank's slice of the
    gradient summed over ranks (a reduce-scatter, written as all-reduce + slice because gloo lacks it)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.contiguous()
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor)
        ctx.rows = tensor.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def all_reduce_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    return _AllReduceSum.apply(tensor)


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    return _AllGatherCat.apply(tensor)


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm whose training statistics span all ranks, on any device (torch's SyncBatchNorm is GPU-only).

    Sums and squared sums are all-reduced with a differentiable collective, so the gradient also flows through
    the global statistics, exactly as one process holding the whole batch would compute it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = (0, 2, 3)
        count = x.new_tensor([x.numel() / x.shape[1]])
        stats = all_reduce_with_grad(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        channels = x.shape[1]
        n = stats[-1]
        mean = stats[:channels] / n
        var = (stats[channels : 2 * channels] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.detach() * momentum)
        shape = (1, channels, 1, 1)
        out = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def convert_sync_batchnorm(module: nn.Module, device: str) -> nn.Module:
    """SyncBatchNorm on CUDA (fast kernels), GlobalBatchNorm2d elsewhere; parameters and buffers are kept."""
    if device.startswith("cuda"):
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _swap_batchnorm(module)


def _swap_batchnorm(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, GlobalBatchNorm2d):
        replacement = GlobalBatchNorm2d(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
        )
        reference = module.running_mean if module.running_mean is not None else module.weight
        replacement.to(device=reference.device, dtype=reference.dtype)
        replacement.load_state_dict(module.state_dict())
        replacement.train(module.training)
        return replacement
    for name, child in module.named_children():
        new_child = _swap_batchnorm(child)
        if new_child is not child:
            setattr(module, name, new_child)
    return module
