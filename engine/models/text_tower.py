"""A compact, inference-only copy of PMC-CLIP's text tower: same arithmetic, less work per query.

The faithful call (pmc-clip.md §1.3) is BERT over 77 token ids with no attention mask, the last hidden state at
[CLS] (position 0) right-multiplied by `text_projection`. `CompactTextTower` computes exactly that from the same
weights, and saves work a search query does not need:

- Q, K and V are one fused matrix product per layer instead of three;
- in the last layer only the [CLS] row is computed after K and V: its attention, output projection and
  feed-forward block run on 1 row instead of 77 (the other 76 rows of the last layer are never read);
- the linear layers run in the precision the machine's rules choose (`engine.models.precision.text_tower_plan`):
  fp32, bf16 weights (CPUs with native bf16) or int8 dynamic quantisation. Embeddings, LayerNorm, softmax and
  the residual stream stay fp32 in every mode, so rounding enters only through the matrix products.

With `linear="fp32"` and `cls_only=False` it reproduces `PMCClip.encode_text` to float rounding (a test checks).
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

LINEAR_MODES = ("fp32", "bf16", "int8")


class _Linear(nn.Module):
    """y = x W^T + b with W held in the chosen precision; input and output are fp32."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, mode: str):
        super().__init__()
        if mode not in LINEAR_MODES:
            raise ValueError(f"linear mode must be one of {LINEAR_MODES}, not {mode!r}")
        self.mode = mode
        weight = weight.detach().float().contiguous()  # fp32 shares the model's storage (no second copy)
        self.bias = None if bias is None else nn.Parameter(bias.detach().float(), requires_grad=False)
        self._packed = None
        if mode == "int8":
            self._packed = _pack_int8(weight, self.bias)
            self.weight = None
        else:
            dtype = torch.bfloat16 if mode == "bf16" else torch.float32
            self.weight = nn.Parameter(weight.to(dtype), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "fp32":
            return F.linear(x, self.weight, self.bias)
        if self.mode == "bf16":
            out = F.linear(x.to(torch.bfloat16), self.weight).float()
            return out if self.bias is None else out + self.bias
        return torch.ops.quantized.linear_dynamic(x, self._packed, True)


def _pack_int8(weight: torch.Tensor, bias: torch.Tensor | None):
    """Per-output-channel symmetric int8 weights, prepacked for the quantized engine (fbgemm/onednn);
    activations are quantised per call (dynamic). torch marks these ops deprecated; they still ship."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        scales = weight.abs().amax(dim=1).clamp_min(1e-8) / 127.0
        zero_points = torch.zeros(weight.shape[0], dtype=torch.long)
        qweight = torch.quantize_per_channel(weight, scales.double(), zero_points, 0, torch.qint8)
        return torch.ops.quantized.linear_prepack(qweight, bias)


class _Layer(nn.Module):
    def __init__(self, bert_layer, heads: int, mode: str):
        super().__init__()
        attention = bert_layer.attention
        q, k, v = attention.self.query, attention.self.key, attention.self.value
        self.heads = heads
        self.qkv = _Linear(torch.cat([q.weight, k.weight, v.weight]), torch.cat([q.bias, k.bias, v.bias]), mode)
        self.attn_out = _Linear(attention.output.dense.weight, attention.output.dense.bias, mode)
        self.ln1 = _copy_layernorm(attention.output.LayerNorm)
        self.ffn_in = _Linear(bert_layer.intermediate.dense.weight, bert_layer.intermediate.dense.bias, mode)
        self.ffn_out = _Linear(bert_layer.output.dense.weight, bert_layer.output.dense.bias, mode)
        self.ln2 = _copy_layernorm(bert_layer.output.LayerNorm)

    def forward(self, x: torch.Tensor, cls_only: bool = False) -> torch.Tensor:
        batch, length, width = x.shape
        head_dim = width // self.heads
        qkv = self.qkv(x).view(batch, length, 3, self.heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if cls_only:  # only position 0 is read after the last layer
            q, x = q[:, :, :1], x[:, :1]
        context = F.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(head_dim))  # no mask, as trained
        context = context.transpose(1, 2).reshape(batch, q.shape[2], width)
        x = self.ln1(self.attn_out(context) + x)
        return self.ln2(self.ffn_out(F.gelu(self.ffn_in(x))) + x)


def _copy_layernorm(source: nn.LayerNorm) -> nn.LayerNorm:
    norm = nn.LayerNorm(source.normalized_shape, eps=source.eps)
    norm.load_state_dict(source.state_dict())
    return norm.requires_grad_(False)


class CompactTextTower(nn.Module):
    """input ids [N, L] -> text features [N, embed_dim] (not normalised), as `PMCClip.encode_text` with no mask."""

    def __init__(self, bert, text_projection: torch.Tensor, *, linear: str = "fp32", cls_only: bool = True):
        super().__init__()
        config = bert.config
        if getattr(config, "hidden_act", "gelu") != "gelu":
            raise ValueError(f"CompactTextTower supports exact GELU only, not {config.hidden_act!r}")
        embeddings = bert.embeddings
        self.linear_mode = linear
        self.cls_only = cls_only
        self.word = nn.Parameter(embeddings.word_embeddings.weight.detach().float(), requires_grad=False)
        self.position = nn.Parameter(embeddings.position_embeddings.weight.detach().float(), requires_grad=False)
        # BERT adds token type 0 when none is passed (the reference passes none).
        self.token_type0 = nn.Parameter(
            embeddings.token_type_embeddings.weight[0].detach().float().clone(), requires_grad=False
        )
        self.ln_embed = _copy_layernorm(embeddings.LayerNorm)
        heads = config.num_attention_heads
        self.layers = nn.ModuleList(_Layer(layer, heads, linear) for layer in bert.encoder.layer)
        self.projection = nn.Parameter(text_projection.detach().float(), requires_grad=False)
        self.eval()

    @classmethod
    def from_pmc_clip(cls, model, *, linear: str = "fp32", cls_only: bool = True) -> CompactTextTower:
        text = model.config.text
        if text.use_attention_mask or text.pooling != "cls":
            raise ValueError("CompactTextTower reproduces the trained call only ([CLS] pooling, no attention mask)")
        return cls(model.text_encoder, model.text_projection, linear=linear, cls_only=cls_only)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        x = F.embedding(input_ids, self.word) + self.position[:length] + self.token_type0
        x = self.ln_embed(x)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x, cls_only=self.cls_only and i == last)
        return x[:, 0] @ self.projection
