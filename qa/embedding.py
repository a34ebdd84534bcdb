"""The sentence-transformers encoder, loaded lazily once per process from a local folder (no network)."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Sequence

import numpy as np
import qa.config  # noqa: F401  (sets the offline environment before transformers is imported)


class Encoder:
    def __init__(self, model_dir: str, batch_size: int = 32):
        if not model_dir:
            raise RuntimeError("no embedding model folder configured (QA_EMBEDDING_MODEL)")
        self.model_dir = model_dir
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()  # no "Loading weights" bar on every start
                    self._model = SentenceTransformer(self.model_dir, device="cpu", local_files_only=True)
        return self._model

    @property
    def tokenizer(self):
        # The tokenizer alone is enough to size chunks; it loads in milliseconds, the model in seconds.
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    from transformers import AutoTokenizer

                    self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        return self._tokenizer

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def encode(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, so a dot product is the cosine similarity."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        ).astype(np.float32)


@lru_cache(maxsize=4)
def get_encoder(model_dir: str, batch_size: int = 32) -> Encoder:
    return Encoder(model_dir, batch_size)
