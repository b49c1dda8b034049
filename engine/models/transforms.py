"""Image preprocessing configs and the eval transform (pmc-clip.md §2).

Each weights entry carries its own `PreprocessConfig`, so inference never hard-codes size, mean or std.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from PIL import Image
from torchvision.transforms import v2 as T
from torchvision.transforms.functional import InterpolationMode

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

_INTERPOLATION = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}


@dataclass(frozen=True)
class PreprocessConfig:
    image_size: int = 224
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"  # resize the shorter side, then centre-crop (the reference's eval transform)

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        d = dict(d)
        for key in ("mean", "std"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        return out


def build_eval_transform(cfg: PreprocessConfig):
    """PIL image -> float tensor [3, S, S]: Resize shorter side (bicubic) → CenterCrop → RGB → normalise."""
    interpolation = _INTERPOLATION[cfg.interpolation]
    steps = T.Compose(
        [
            T.Resize(cfg.image_size, interpolation=interpolation, antialias=True),
            T.CenterCrop(cfg.image_size),
            T.ToImage(),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean=list(cfg.mean), std=list(cfg.std)),
        ]
    )

    def transform(image: Image.Image) -> torch.Tensor:
        if image.mode != "RGB":
            image = image.convert("RGB")
        return steps(image)

    return transform
