"""Text-prompt vectors kept with the library, so the modality classifier's prompts are encoded once per library.

A library's model never changes, so the vectors of a fixed prompt set never change either; with BERT-base on a
CPU the ~50 modality prompts take seconds, which every open and every ingest would otherwise pay again. The
vectors live in any small key/value store (the catalog's meta table for a library), under a key that hashes the
prompts, so a changed prompt set is simply encoded anew.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Protocol

import numpy as np


class KeyValueStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class CachedPromptEncoder:
    """`encode_texts` for prompt lists, remembered in `store`; a read-only store (`writable=False`) is only read."""

    def __init__(
        self,
        encode_texts: Callable[[list[str]], np.ndarray],
        store: KeyValueStore,
        dim: int,
        *,
        writable: bool = True,
    ):
        self._encode_texts = encode_texts
        self._store = store
        self._dim = dim
        self._writable = writable

    @staticmethod
    def key_for(texts: list[str]) -> str:
        return "prompt_vectors:" + hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:32]

    def __call__(self, texts: list[str]) -> np.ndarray:
        key = self.key_for(texts)
        stored = self._store.get(key)
        if stored:
            vectors = np.frombuffer(base64.b64decode(stored), dtype="<f4")
            if vectors.size == len(texts) * self._dim and np.isfinite(vectors).all():
                return vectors.reshape(len(texts), self._dim).astype(np.float32)
        vectors = np.asarray(self._encode_texts(texts), dtype=np.float32)
        if self._writable:
            self._store.set(key, base64.b64encode(vectors.astype("<f4").tobytes()).decode("ascii"))
        return vectors
