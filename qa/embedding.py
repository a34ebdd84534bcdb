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


    def encode_tokens(self, texts: Sequence[str]) -> list:
        """Contextualised token embeddings of each text (the encoder's work; pool them with pool_spans)."""
        if not texts:
            return []
        return self.model.encode(list(texts), batch_size=self.batch_size, output_value="token_embeddings",
                                 convert_to_numpy=False, show_progress_bar=False)

    def pool_spans(self, texts: Sequence[str], tokens: list, spans: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
        """One unit vector per (start, end) character span of each text: the mean of the span's token
        embeddings, contextualised by the whole text ("late chunking"). Sentence vectors at the cost of
        encoding the chunks once."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        offsets = self.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                 max_length=self.max_tokens)["offset_mapping"]
        vectors = []
        for token_vectors, token_offsets, text_spans in zip(tokens, offsets, spans):
            token_vectors = token_vectors.float().cpu().numpy()
            starts = np.array([a for a, b in token_offsets])
            ends = np.array([b for a, b in token_offsets])
            real = ends > starts  # special tokens have empty offsets
            for start, end in text_spans:
                inside = real & (starts >= start) & (ends <= end)
                vector = token_vectors[inside].mean(axis=0) if inside.any() else token_vectors.mean(axis=0)
                vectors.append(vector / (np.linalg.norm(vector) or 1.0))
        return np.asarray(vectors, dtype=np.float32)

    def encode_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
        return self.pool_spans(texts, self.encode_tokens(texts), spans)


@lru_cache(maxsize=4)
def get_encoder(model_dir: str, batch_size: int = 32) -> Encoder:
    return Encoder(model_dir, batch_size)
