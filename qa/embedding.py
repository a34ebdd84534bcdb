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

    def encode_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
        """One unit vector per (start, end) character span of each text: the mean of the span's token
        embeddings, contextualised by the whole text ("late chunking"). Sentence vectors at the cost of
        encoding the chunks once.

        The texts are tokenized once, with offsets, and that one tokenization feeds the model (sorted by
        token length, so batches carry little padding) and locates each span's tokens."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        import torch

        encoded = self.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                 max_length=self.max_tokens)
        offsets = encoded.pop("offset_mapping")
        order = sorted(range(len(texts)), key=lambda i: -len(encoded["input_ids"][i]))
        # Where each text's vectors land in the output: its spans are contiguous, in input order.
        first_row = np.cumsum([0] + [len(s) for s in spans])
        out = np.zeros((first_row[-1], self.model.get_embedding_dimension()), dtype=np.float32)
        model = self.model
        model.eval()
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                batch = order[b : b + self.batch_size]
                features = self.tokenizer.pad(
                    {name: [encoded[name][i] for i in batch] for name in encoded}, return_tensors="pt"
                )
                tokens = model(dict(features))["token_embeddings"]
                rows, vectors = self._pool(tokens, [offsets[i] for i in batch], [spans[i] for i in batch])
                if rows:
                    out[[first_row[batch[t]] + k for t, k in rows]] = vectors
        return out

    @staticmethod
    def _pool(tokens, offsets: list, spans: list) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Mean of each span's tokens, from running sums: ((text in batch, span number), unit vector)."""
        import torch

        starts = np.array([[a for a, _ in o] + [0] * (tokens.shape[1] - len(o)) for o in offsets])
        ends = np.array([[b for _, b in o] + [0] * (tokens.shape[1] - len(o)) for o in offsets])
        real = torch.from_numpy(ends > starts)  # special and padding tokens have empty offsets
        sums = torch.nn.functional.pad(torch.cumsum(tokens * real.unsqueeze(-1), dim=1), (0, 0, 1, 0))
        counts = torch.nn.functional.pad(torch.cumsum(real, dim=1), (1, 0))
        rows, text_index, lo, hi = [], [], [], []
        for t, text_spans in enumerate(spans):
            positions = np.flatnonzero(real[t].numpy())
            for k, (start, end) in enumerate(text_spans):
                first = np.searchsorted(starts[t, positions], start, "left")
                last = np.searchsorted(ends[t, positions], end, "right")  # one past the span's last token
                rows.append((t, k))
                text_index.append(t)
                # A span that lost its tokens (cannot happen to a chunk that fits) gets the whole text's mean.
                lo.append(positions[first] if last > first else 0)
                hi.append(positions[last - 1] + 1 if last > first else tokens.shape[1])
        if not rows:
            return rows, np.zeros((0, tokens.shape[-1]), dtype=np.float32)
        text_index, lo, hi = torch.tensor(text_index), torch.tensor(lo), torch.tensor(hi)
        counts = (counts[text_index, hi] - counts[text_index, lo]).clamp(min=1).unsqueeze(-1)
        means = (sums[text_index, hi] - sums[text_index, lo]) / counts
        return rows, torch.nn.functional.normalize(means, dim=-1).float().numpy()


@lru_cache(maxsize=4)
def get_encoder(model_dir: str, batch_size: int = 32) -> Encoder:
    return Encoder(model_dir, batch_size)
