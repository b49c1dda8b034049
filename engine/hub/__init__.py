"""Downloads from the Hugging Face hub (or a mirror) and from plain URLs: resumable, verified, cached, cancellable,
offline-aware.

No torch and no transformers here, so CLIs can list, fetch and check files without loading a model stack.
"""

from engine.hub.cache import fetch, local_path
from engine.hub.known_files import MODEL_FILES, PMC_CLIP_EXTRACTED, PMC_CLIP_FULL_CHECKPOINT, PUBMEDBERT_TOKENIZER
from engine.hub.remote import DownloadProgress, RemoteFile, UrlFile, cached_file_path, hub_endpoint

__all__ = [
    "MODEL_FILES",
    "PMC_CLIP_EXTRACTED",
    "PMC_CLIP_FULL_CHECKPOINT",
    "PUBMEDBERT_TOKENIZER",
    "DownloadProgress",
    "RemoteFile",
    "UrlFile",
    "cached_file_path",
    "fetch",
    "hub_endpoint",
    "local_path",
]
