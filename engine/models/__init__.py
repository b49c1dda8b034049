"""Models: PMC-CLIP (faithful to the released weights), open_clip models such as BiomedCLIP, and our own
exported model folders, behind one small surface.

    encoder = create_encoder("pmc-clip", weights="checkpoint.pt", tokenizer="pubmedbert/")
    vectors = encoder.encode_texts(["chest x-ray"])  # float32 [1, 768], L2-normalised

Names: `list_models()`, plus `open_clip:ARCH/TAG`, `hf-hub:ORG/REPO` and `local-dir:PATH`.
"""

from engine.models.checkpoint import LoadReport, load_pmc_clip_weights, split_full_state_dict
from engine.models.encoder import BatchedEncoder, OpenClipEncoder, PMCClipEncoder
from engine.models.factory import LoadedModel, create_encoder, create_model
from engine.models.model_dir import load_model_dir, save_model_dir
from engine.models.pmc_clip import PMCClip, PMCClipConfig, TextConfig, VisionConfig
from engine.models.registry import ModelEntry, describe_models, list_models, resolve
from engine.models.transforms import PreprocessConfig, build_eval_transform

__all__ = [
    "BatchedEncoder",
    "LoadReport",
    "LoadedModel",
    "ModelEntry",
    "OpenClipEncoder",
    "PMCClip",
    "PMCClipConfig",
    "PMCClipEncoder",
    "PreprocessConfig",
    "TextConfig",
    "VisionConfig",
    "build_eval_transform",
    "create_encoder",
    "create_model",
    "describe_models",
    "list_models",
    "load_model_dir",
    "load_pmc_clip_weights",
    "resolve",
    "save_model_dir",
    "split_full_state_dict",
]
