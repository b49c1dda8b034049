"""PMC-CLIP as trained: ModifiedResNet image tower + PubMedBERT text tower + fusion/MLM branch.

Faithfulness choices (pmc-clip.md §1, §7) that a reader might otherwise "fix":
- BERT is called with input ids only: no attention mask, so padding tokens are attended to, as in training.
- The text feature is the last hidden state at [CLS] (position 0) right-multiplied by `text_projection`
  ([text width, embed dim]); the BERT pooler exists only so checkpoints load strictly ("pooler" pooling is the
  quick-start notebook's variant, kept as an option).
- `positional_embedding` and `ln_final` are never used in the forward pass but are part of the checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel

from engine.models.fusion import FusionTransformer, LayerNormKeepDtype
from engine.models.modified_resnet import ModifiedResNet


@dataclass(frozen=True)
class VisionConfig:
    layers: tuple[int, ...] = (3, 4, 6, 3)
    width: int = 64
    image_size: int = 224
    heads: int = 32  # width * 32 // head_width with head_width 64, as in the training code

    @classmethod
    def from_dict(cls, d: dict) -> VisionConfig:
        d = dict(d)
        if "layers" in d:
            d["layers"] = tuple(d["layers"])
        return cls(**d)


@dataclass(frozen=True)
class TextConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    pad_token_id: int = 0
    cls_token_id: int = 2
    context_length: int = 77
    pooling: str = "cls"  # "cls": last hidden state at [CLS] (trained); "pooler": BERT pooler (notebook)
    use_attention_mask: bool = False  # the reference never passes one
    # Where the tower's weights start: "" = random init; "hf:<owner>/<repo>[@rev]" = a Hugging Face BERT such as
    # PubMedBERT (the reference's start; engine.models.hf_bert). Only training reads it: loaded weights win.
    init: str = ""

    def bert_config(self) -> BertConfig:
        return BertConfig(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            pad_token_id=self.pad_token_id,
            hidden_act="gelu",
            layer_norm_eps=1e-12,
        )


@dataclass(frozen=True)
class PMCClipConfig:
    embed_dim: int = 768
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    fusion_layers: int = 4
    fusion_heads: int = 8
    mlm: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> PMCClipConfig:
        d = dict(d)
        vision = VisionConfig.from_dict(d.pop("vision", {}))
        text = TextConfig(**d.pop("text", {}))
        return cls(vision=vision, text=text, **d)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["vision"]["layers"] = list(self.vision.layers)
        return out


class PMCClip(nn.Module):
    def __init__(self, config: PMCClipConfig):
        super().__init__()
        self.config = config
        text_width = config.text.hidden_size
        self.visual = ModifiedResNet(
            layers=config.vision.layers,
            output_dim=config.embed_dim,
            heads=config.vision.heads,
            image_size=config.vision.image_size,
            width=config.vision.width,
        )
        self.text_encoder = BertModel(config.text.bert_config(), add_pooling_layer=True)
        # Unused by the forward pass, present in the released checkpoint (pmc-clip.md §1.6).
        self.positional_embedding = nn.Parameter(torch.empty(config.text.context_length, text_width))
        self.ln_final = LayerNormKeepDtype(text_width)
        self.text_projection = nn.Parameter(torch.empty(text_width, config.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.img_special_token = nn.Parameter(torch.zeros(1, 1, text_width))
        self.fusion_module = FusionTransformer(text_width, config.fusion_layers, config.fusion_heads)
        if config.mlm:
            self.mlm_projection = nn.Parameter(torch.empty(text_width, config.text.vocab_size))
        else:
            self.register_parameter("mlm_projection", None)
        self.init_parameters()

    def init_parameters(self) -> None:
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=self.config.text.hidden_size**-0.5)
        if self.mlm_projection is not None:
            nn.init.normal_(self.mlm_projection, std=self.config.text.hidden_size**-0.5)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual.set_grad_checkpointing(enable)
        self.fusion_module.grad_checkpointing = enable
        # transformers 5 renamed gradient_checkpointing_* to activation_checkpointing_*; support both.
        bert = self.text_encoder
        if enable:
            if hasattr(bert, "activation_checkpointing_enable"):
                bert.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                bert.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        elif hasattr(bert, "activation_checkpointing_disable"):
            bert.activation_checkpointing_disable()
        else:
            bert.gradient_checkpointing_disable()

    def encode_image(self, images: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        features = self.visual(images)
        return F.normalize(features, dim=-1) if normalize else features

    def text_hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        mask = attention_mask if self.config.text.use_attention_mask else None
        return self.text_encoder(input_ids=input_ids, attention_mask=mask, return_dict=True)

    def _pool_text(self, bert_out) -> torch.Tensor:
        if self.config.text.pooling == "pooler":
            pooled = bert_out.pooler_output
        else:
            pooled = bert_out.last_hidden_state[:, 0]  # [CLS] is always position 0 with our tokenizer
        return pooled @ self.text_projection  # right-multiplication: [N, width] @ [width, embed]

    def encode_text(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, normalize: bool = False
    ) -> torch.Tensor:
        features = self._pool_text(self.text_hidden_states(input_ids, attention_mask))
        return F.normalize(features, dim=-1) if normalize else features

    def forward(
        self, images: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Training forward. `mlm_logits` are pre-softmax; the reference's NLL of log-softmax equals CE of these."""
        image_features = F.normalize(self.visual(images), dim=-1)
        bert_out = self.text_hidden_states(input_ids, attention_mask)
        text_features = F.normalize(self._pool_text(bert_out), dim=-1)
        out = {"image_features": image_features, "text_features": text_features, "logit_scale": self.logit_scale.exp()}
        if self.mlm_projection is not None:
            out["mlm_logits"] = self.mlm_logits(bert_out.last_hidden_state, image_features)
        return out

    def mlm_logits(self, token_states: torch.Tensor, image_features: torch.Tensor) -> torch.Tensor:
        batch = token_states.shape[0]
        special = self.img_special_token.expand(batch, -1, -1).to(token_states.dtype)
        sequence = torch.cat([token_states, special, image_features[:, None, :].to(token_states.dtype)], dim=1)
        fused = self.fusion_module(sequence.permute(1, 0, 2)).permute(1, 0, 2)
        return fused[:, :-2] @ self.mlm_projection
