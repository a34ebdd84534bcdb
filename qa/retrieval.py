"""Hybrid retrieval: dense (Chroma) + BM25, fused, as a LangChain `BaseRetriever`."""
from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.config import Fusion
from qa.embedding import Encoder
from qa.lexical import tokenize
from qa.schema import Chunk, Filters, Passage, Section
from qa.store import Store


def _min_max(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min()) if values.size else 0.0
    return (values - values.min()) / span if span > 1e-9 else np.zeros_like(values)


class HybridRetriever(BaseRetriever):
    """Dense and BM25 candidates, each candidate scored by both, fused into one ranking."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Store
    k: int = 5
    candidates: int = 50
    fusion: Fusion = Fusion.WEIGHTED
    bm25_weight: float = 0.5
    rrf_k: int = 60
    filters: Filters = Filters()

    @classmethod
    def from_store(cls, store: Store, **overrides: Any) -> "HybridRetriever":
        s = store.settings
        params = dict(k=s.top_k, candidates=s.candidates, fusion=s.fusion, bm25_weight=s.bm25_weight, rrf_k=s.rrf_k)
        params.update(overrides)
        return cls(store=store, **params)

    def retrieve(
        self, query: str, k: int | None = None, filters: Filters | None = None, query_vector: np.ndarray | None = None
    ) -> list[Passage]:
        k = k or self.k
        filters = filters if filters is not None else self.filters
        store = self.store
        if query_vector is None:
            query_vector = store.encoder.encode([query])[0]

        dense_hits = store.vectors.query(query_vector, self.candidates, filters.chroma_where())
        lexical = store.lexical()
        bm25_all = lexical.scores(tokenize(query))
        bm25_order = np.argsort(-bm25_all)
        bm25_ids = [lexical.chunk_ids[i] for i in bm25_order[: self.candidates * (4 if filters else 1)] if bm25_all[i] > 0]

        ids = list(dict.fromkeys([cid for cid, _ in dense_hits] + bm25_ids))
        rows = store.catalog.chunks(ids)
        ids = [cid for cid in ids if cid in rows and filters.accepts(rows[cid])]
        if not ids:
            return []

        dense = dict(dense_hits)
        missing = [cid for cid in ids if cid not in dense]
        if missing:  # BM25-only candidates: score them densely too, from their stored vectors
            got = store.vectors.collection.get(ids=missing, include=["embeddings"])
            for cid, vector in zip(got["ids"], got["embeddings"]):
                dense[cid] = float(np.dot(np.asarray(vector, dtype=np.float32), query_vector))
        dense_scores = np.array([dense.get(cid, 0.0) for cid in ids], dtype=np.float32)
        bm25_scores = np.array([bm25_all[lexical.row_of[cid]] if cid in lexical.row_of else 0.0 for cid in ids])

        if self.fusion is Fusion.RRF:
            dense_rank = {cid: r for r, cid in enumerate(sorted(ids, key=lambda c: -dense[c]))}
            bm25_rank = {cid: r for r, cid in enumerate(bm25_ids)}
            fused = np.array(
                [
                    1 / (self.rrf_k + dense_rank[cid] + 1)
                    + (1 / (self.rrf_k + bm25_rank[cid] + 1) if cid in bm25_rank else 0.0)
                    for cid in ids
                ]
            )
        else:
            fused = self.bm25_weight * _min_max(bm25_scores) + (1 - self.bm25_weight) * _min_max(dense_scores)

        order = np.argsort(-fused)[:k]
        passages = []
        for rank, i in enumerate(order):
            stored = rows[ids[i]]
            passages.append(
                Passage(
                    chunk=stored.chunk,
                    title=stored.title,
                    published=stored.published,
                    source=stored.source,
                    external_id=stored.external_id,
                    score=float(fused[i]),
                    rank=rank,
                    scores={"dense": float(dense_scores[i]), "bm25": float(bm25_scores[i])},
                )
            )
        return passages

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [passage_to_document(p) for p in self.retrieve(query)]


def passage_to_document(passage: Passage) -> Document:
    chunk = passage.chunk
    metadata = passage.to_dict()
    metadata.pop("text")
    metadata.update(chunk_index=chunk.index, rank=passage.rank, scores=passage.scores)
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.id)


def document_to_passage(document: Document) -> Passage:
    meta = document.metadata
    chunk = Chunk(
        meta["article_id"], meta["chunk_index"], document.page_content, meta["start"], meta["end"], Section(meta["section"])
    )
    return Passage(
        chunk=chunk,
        title=meta.get("title"),
        published=meta.get("published"),
        source=meta.get("source"),
        external_id=meta.get("external_id"),
        score=meta["score"],
        rank=meta["rank"],
        scores=dict(meta.get("scores", {})),
    )


class LangChainEmbeddings(Embeddings):
    """The same encoder as a LangChain `Embeddings`, for use with the LangChain ecosystem."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode([text])[0].tolist()
