"""The files on the Hugging Face hub that our registry's models are made of.

Kept apart from the model code so that `pmc-search download` can list and fetch them without importing torch.
"""

from __future__ import annotations

from engine.hub.remote import RemoteFile

_PMC_OA = "axiong/pmc_oa"
# The three extracted encoders (~590 MB) the app uses; the full training checkpoint (2.4 GB) adds the fusion
# module and MLM head, needed only to continue pretraining.
PMC_CLIP_EXTRACTED: tuple[RemoteFile, RemoteFile, RemoteFile] = (
    RemoteFile(_PMC_OA, "image_encoder(resnet50).pth", repo_type="dataset"),
    RemoteFile(_PMC_OA, "text_encoder.pth", repo_type="dataset"),
    RemoteFile(_PMC_OA, "text_projection_layer.pth", repo_type="dataset"),
)
PMC_CLIP_FULL_CHECKPOINT = RemoteFile(_PMC_OA, "checkpoint.pt", repo_type="dataset")
_PUBMEDBERT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext"
PUBMEDBERT_TOKENIZER: tuple[RemoteFile, ...] = (
    RemoteFile(_PUBMEDBERT, "vocab.txt"),
    RemoteFile(_PUBMEDBERT, "tokenizer_config.json"),
)

# What `pmc-search download` and the app's "Get PMC-CLIP" fetch per model name. Both PMC-CLIP variants read the
# same released weights; they differ only in how they are wired.
MODEL_FILES: dict[str, tuple[RemoteFile, ...]] = {
    "pmc-clip": (*PMC_CLIP_EXTRACTED, *PUBMEDBERT_TOKENIZER),
    "pmc-clip-notebook": (*PMC_CLIP_EXTRACTED, *PUBMEDBERT_TOKENIZER),
}
