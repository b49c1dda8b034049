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


class EvalTransform:
    """The reference's eval transform: Resize shorter side (bicubic) → CenterCrop → RGB → [0, 1] → normalise.

    Calling it gives the whole transform (float tensor [3, S, S]; the trainer's datasets). An encoder splits it in
    two: `pixels` per image, in the prefetch threads (uint8 [3, S, S]: a quarter of the memory in flight, and no
    float work competing with the model for the cores), and `normalise` per batch, on the model's device. The two
    halves run the same torchvision operations as the whole, so the result is the same to the bit.
    """

    def __init__(self, cfg: PreprocessConfig):
        self.config = cfg
        # Large JPEGs may be decoded at a reduced scale down to this side (engine.imaging.open_image), so the resize
        # below still shrinks them 2x or more with its antialiased filter (measured by bench.jpeg_scale).
        self.decode_side = 2 * cfg.image_size
        self._geometry = T.Compose(
            [
                T.Resize(cfg.image_size, interpolation=_INTERPOLATION[cfg.interpolation], antialias=True),
                T.CenterCrop(cfg.image_size),
                T.ToImage(),
            ]
        )
        self._scale = T.Compose(
            [T.ToDtype(torch.float32, scale=True), T.Normalize(mean=list(cfg.mean), std=list(cfg.std))]
        )

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self._scale(self.pixels(image))

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """PIL image -> uint8 tensor [3, S, S], resized and cropped, not yet normalised."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        return self._geometry(image).as_subclass(torch.Tensor)

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 3, S, S] (from `pixels`) -> the model's float input; float batches are taken as normalised."""
        return self._scale(batch) if batch.dtype == torch.uint8 else batch

    def __repr__(self) -> str:
        steps = [*self._geometry.transforms, *self._scale.transforms]
        return "Compose(" + ", ".join(repr(step) for step in steps) + ")"


def build_eval_transform(cfg: PreprocessConfig) -> EvalTransform:
    """PIL image -> float tensor [3, S, S] (see `EvalTransform`)."""
    return EvalTransform(cfg)


class OpaqueTransform:
    """Any other PIL -> tensor transform (open_clip's own), with `EvalTransform`'s interface: applied whole to each
    image, batches passed through. Its resizing is not known here, so JPEGs decode whole (`decode_side` None)."""

    decode_side = None

    def __init__(self, transform):
        self._transform = transform

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self._transform(image)

    def pixels(self, image: Image.Image) -> torch.Tensor:
        return self._transform(image)

    def normalise(self, batch: torch.Tensor) -> torch.Tensor:
        return batch

    def __repr__(self) -> str:
        return repr(self._transform)


def split_transform(transform) -> EvalTransform | OpaqueTransform:
    """The encoder's view of a transform: an `EvalTransform` as it is, anything else wrapped whole."""
    return transform if isinstance(transform, EvalTransform | OpaqueTransform) else OpaqueTransform(transform)
