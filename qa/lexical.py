"""BM25 over the chunks (bm25s), persisted beside the vector store and rebuilt when the catalog changes."""
from __future__ import annotations

import json
import math
import re
import shutil
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
# Question words and the commonest function words: they carry no topic.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves also s t
    many much whose""".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words."""
    words = (m.group(0).lower().replace("’", "'") for m in _WORD.finditer(text))
    return [_stem(w.removesuffix("'s")) for w in words if w not in STOPWORDS and w.removesuffix("'s") not in STOPWORDS]


_SENTENCE_TERMS: "OrderedDict[str, tuple[frozenset[str], ...]]" = OrderedDict()
_SENTENCE_TERMS_LOCK = threading.Lock()


def sentence_terms(chunk) -> tuple[frozenset[str], ...]:
    """The terms of each sentence of a chunk (a schema.Chunk), cached by chunk id: retrieval and answering
    both need them on every question, and a chunk id names fixed content (it embeds a content hash)."""
    with _SENTENCE_TERMS_LOCK:
        cached = _SENTENCE_TERMS.get(chunk.id)
        if cached is not None:
            _SENTENCE_TERMS.move_to_end(chunk.id)
            return cached
    terms = tuple(frozenset(tokenize(chunk.sentence_text(k))) for k in range(len(chunk.sentences)))
    with _SENTENCE_TERMS_LOCK:
        _SENTENCE_TERMS[chunk.id] = terms
        while len(_SENTENCE_TERMS) > 50_000:
            _SENTENCE_TERMS.popitem(last=False)
    return terms


class LexicalIndex:
    """bm25s index + the chunk id of each row + document frequencies (for IDF-weighted term coverage)."""

    def __init__(self, chunk_ids: list[str], bm25, doc_freq: dict[str, int], generation: int):
        self.chunk_ids = chunk_ids
        self.bm25 = bm25
        self.doc_freq = doc_freq
        self.generation = generation
        self.row_of = {cid: i for i, cid in enumerate(chunk_ids)}

    @property
    def size(self) -> int:
        return len(self.chunk_ids)

    @classmethod
    def build(cls, chunk_ids: Sequence[str], texts: Sequence[str], generation: int) -> "LexicalIndex":
        import bm25s

        tokens = [tokenize(t) for t in texts]
        bm25 = bm25s.BM25()
        if tokens:
            bm25.index(tokens, show_progress=False)
        doc_freq: dict[str, int] = {}
        for toks in tokens:
            for term in set(toks):
                doc_freq[term] = doc_freq.get(term, 0) + 1
        return cls(list(chunk_ids), bm25, doc_freq, generation)

    def idf(self, term: str) -> float:
        """Smoothed IDF; a term absent from the corpus gets the highest value (it is the most telling)."""
        n = max(self.size, 1)
        return math.log(1 + (n + 1) / (self.doc_freq.get(term, 0) + 0.5))

    def term_scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of each term in each chunk (terms × chunks); BM25 of the query is the column sum."""
        if not self.size or not terms:
            return np.zeros((len(terms), self.size), dtype=np.float32)
        return np.vstack([np.asarray(self.bm25.get_scores([t]), dtype=np.float32) for t in terms])


    def save(self, directory: Path) -> None:
        """Written to a fresh folder and swapped in, so a crash never leaves a half-written index."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.size:
            self.bm25.save(str(tmp), show_progress=False)
        (tmp / "rows.json").write_text(
            json.dumps({"generation": self.generation, "chunk_ids": self.chunk_ids, "doc_freq": self.doc_freq})
        )
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex | None":
        import bm25s

        rows_file = directory / "rows.json"
        if not rows_file.exists():
            return None
        rows = json.loads(rows_file.read_text())
        bm25 = bm25s.BM25.load(str(directory), show_progress=False) if rows["chunk_ids"] else bm25s.BM25()
        return cls(rows["chunk_ids"], bm25, rows["doc_freq"], rows["generation"])


class QuestionTerms:
    """A question's content terms with IDF weights, to measure how much of it a text covers."""

    def __init__(self, question: str, lexical: "LexicalIndex"):
        self.terms = list(dict.fromkeys(tokenize(question)))
        self.weights = {t: lexical.idf(t) for t in self.terms}
        self.total = sum(self.weights.values()) or 1.0

    def coverage(self, own: set[str], context: set[str] = frozenset(), context_discount: float = 0.5) -> float:
        """IDF-weighted share of the terms in `own`; terms found only in `context` count at a discount."""
        covered = sum(w if t in own else context_discount * w if t in context else 0.0 for t, w in self.weights.items())
        return covered / self.total

    def known_share(self, lexical: "LexicalIndex") -> float:
        """IDF-weighted share of the terms that occur anywhere in the corpus."""
        return sum(w for t, w in self.weights.items() if lexical.doc_freq.get(t)) / self.total
