"""PMC-CLIP's training loss: w_clip · symmetric InfoNCE + w_mlm · masked-language NLL (pmc-clip.md §3.2–3.4).

Across processes the contrastive loss sees the global batch: features are all-gathered so every rank scores its
images against every caption. Two ways to gather (the reference's default first):
- without gradient: the other ranks' features are constants and the own rank's tensors are put back in their
  slot so local gradients still flow. Each rank then back-propagates only its share, and after DDP's averaging
  the contrastive gradient is 1/world_size of the single-process one.
- `gather_with_grad`: gradients flow back to the rank that produced each feature (all_gather's backward sums
  them), so after DDP's averaging the gradient equals the single-process gradient of the global-batch loss.
The MLM loss is a mean over the local labelled tokens by default (a mean of per-rank means after averaging);
`global_norm` divides the local sum by the global count instead, which is what one process would compute.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F

from trainer.distributed import all_gather_with_grad

MLM_IGNORE_ID = 0  # [PAD]: the reference ignores only this label id, so [CLS]/[SEP] labels are scored


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Softmax statistics in fp32 under autocast, but keep float64 (the exactness tests run in float64)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def gather_features(
    image_features: torch.Tensor, text_features: torch.Tensor, *, with_grad: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate features of all ranks in rank order; a no-op in a single process."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return image_features, text_features
    if with_grad:
        return all_gather_with_grad(image_features), all_gather_with_grad(text_features)
    rank = dist.get_rank()
    gathered = []
    for local in (image_features, text_features):
        parts = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, local.detach().contiguous())
        parts[rank] = local  # re-insert our own tensor so its gradient reaches the local graph
        gathered.append(torch.cat(parts, dim=0))
    return gathered[0], gathered[1]


def clip_loss(image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor) -> torch.Tensor:
    """Mean of CE(scale·I·Tᵀ, diagonal) and CE(scale·T·Iᵀ, diagonal) over already-gathered, normalised features."""
    logits_per_image = logit_scale * image_features @ text_features.t()
    targets = torch.arange(logits_per_image.shape[0], device=logits_per_image.device)
    return 0.5 * (F.cross_entropy(logits_per_image, targets) + F.cross_entropy(logits_per_image.t(), targets))


def mlm_loss(mlm_logits: torch.Tensor, labels: torch.Tensor, *, global_norm: bool = False) -> torch.Tensor:
    """NLL of log-softmax(mlm_logits) at label ids, ignoring id 0 only.

    `global_norm`: sum over local labelled tokens / global count × world size, so that DDP's gradient average
    gives the single-process mean over the whole global batch.
    """
    logits = _at_least_fp32(mlm_logits).reshape(-1, mlm_logits.shape[-1])
    flat_labels = labels.reshape(-1)
    if not global_norm or not (dist.is_available() and dist.is_initialized()):
        return F.cross_entropy(logits, flat_labels, ignore_index=MLM_IGNORE_ID)
    total = F.cross_entropy(logits, flat_labels, ignore_index=MLM_IGNORE_ID, reduction="sum")
    count = (flat_labels != MLM_IGNORE_ID).sum().to(total.dtype)
    dist.all_reduce(count)
    return total * dist.get_world_size() / count.clamp_min(1)


def pmc_clip_loss(
    outputs: dict[str, torch.Tensor],
    mlm_labels: torch.Tensor | None,
    *,
    w_clip: float = 0.5,
    w_mlm: float = 0.5,
    gather_with_grad: bool = False,
    mlm_global_norm: bool = False,
) -> dict[str, torch.Tensor]:
    """{'loss', 'clip', 'mlm'} from the model's forward dict. A zero weight skips that term's computation."""
    image, text = outputs["image_features"], outputs["text_features"]
    zero = _at_least_fp32(image.new_zeros(()))
    clip = zero
    if w_clip:
        all_image, all_text = gather_features(image, text, with_grad=gather_with_grad)
        clip = clip_loss(_at_least_fp32(all_image), _at_least_fp32(all_text), _at_least_fp32(outputs["logit_scale"]))
    mlm = zero
    if w_mlm:
        if mlm_labels is None or "mlm_logits" not in outputs:
            raise ValueError("w_mlm > 0 needs an MLM model and mlm_labels")
        mlm = mlm_loss(outputs["mlm_logits"], mlm_labels, global_norm=mlm_global_norm)
    return {"loss": w_clip * clip + w_mlm * mlm, "clip": clip, "mlm": mlm}
