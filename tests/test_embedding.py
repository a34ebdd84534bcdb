"""The encoder's sentence vectors: one tokenization feeds the model and locates each sentence's tokens."""
from __future__ import annotations

import numpy as np
import pytest

from qa.config import Settings
from qa.embedding import Encoder

TEXTS = [
    "Sullivan spoke with Ben-Shabbat. He conveyed the President's support. Both agreed to keep in touch.",
    "A short one.",
    "Rain fell on Tuesday in the valley, and the river rose by two metres overnight. Farmers moved their "
    "cattle to higher ground. The mayor said the dikes would hold. Schools stayed open.",
]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for i, char in enumerate(text):
        if char == "." and (i + 1 == len(text) or text[i + 1] == " "):
            spans.append((start, i + 1))
            start = i + 2
    return spans


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder(Settings().embedding_model, batch_size=2)  # batches of 2: sorting and padding at work


def test_sentence_vectors_are_the_mean_of_their_own_tokens(encoder: Encoder):
    spans = [sentence_spans(t) for t in TEXTS]
    vectors = encoder.encode_spans(TEXTS, spans)
    assert vectors.shape == (sum(len(s) for s in spans), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    # Reference: sentence-transformers' own token embeddings, each text encoded alone (no padding),
    # pooled over the tokens whose offsets fall inside the sentence.
    row = 0
    for text, text_spans in zip(TEXTS, spans):
        tokens = encoder.model.encode([text], output_value="token_embeddings")[0].numpy()
        offsets = np.array(encoder.tokenizer(text, return_offsets_mapping=True)["offset_mapping"])
        for start, end in text_spans:
            inside = (offsets[:, 1] > offsets[:, 0]) & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
            assert inside.sum() >= 3
            expected = tokens[inside].mean(axis=0)
            expected /= np.linalg.norm(expected)
            assert float(vectors[row] @ expected) > 0.9999, (text[start:end], row)
            row += 1


def test_vectors_do_not_depend_on_the_batch(encoder: Encoder):
    spans = [sentence_spans(t) for t in TEXTS]
    together = encoder.encode_spans(TEXTS, spans)
    alone = np.vstack([encoder.encode_spans([t], [s]) for t, s in zip(TEXTS, spans)])
    assert np.allclose(together, alone, atol=1e-4)


def test_sentence_vectors_tell_sentences_apart(encoder: Encoder):
    text = TEXTS[2]
    vectors = encoder.encode_spans([text], [sentence_spans(text)])
    query = encoder.encode(["Where did the farmers take their cows?"])[0]
    assert int(np.argmax(vectors @ query)) == 1
