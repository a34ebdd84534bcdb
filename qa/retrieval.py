"""Hybrid retrieval: dense (Chroma) + BM25, fused, as a LangChain `BaseRetriever`."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, field_validator, model_validator

from qa.config import Fusion
from qa.embedding import Encoder
from qa.errors import InputError
from qa.store.lexical import QuestionTerms, sentence_terms, tokenize
from qa.schema import Chunk, Filters, Passage, Section, chunk_id_of_sentence
from qa.store import Store

MAX_K = 50  # the most passages a question may ask for (the chain, the HTTP API)

# Retriever fields whose default is the store's setting of the same meaning.
_FROM_SETTINGS = {"k": "top_k", "candidates": "candidates", "fusion": "fusion", "bm25_weight": "bm25_weight",
                  "dense_weight": "dense_weight", "coverage_weight": "coverage_weight",
                  "rerank_weight": "rerank_weight", "rerank_depth": "rerank_depth", "rrf_k": "rrf_k"}


def check_k(value: object, maximum: int | None = MAX_K, field_name: str = "k") -> int | None:
    """A number of passages: None (the default) or an int in 1..maximum; InputError otherwise.

    A bool is not a count here, nor is 3.0 or "3"; the value is never echoed, so a 5,000-digit int
    (which Python refuses to turn into text) gets the same clear error as any other."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(field_name, f"expected a whole number of passages, got {type(value).__name__}")
    if value < 1 or (maximum is not None and value > maximum):
        bounds = f"between 1 and {maximum}" if maximum is not None else "at least 1"
        raise InputError(field_name, f"must be {bounds}")
    return int(value)


def _min_max(values: np.ndarray) -> np.ndarray:
    span = float(values.max() - values.min()) if values.size else 0.0
    return (values - values.min()) / span if span > 1e-9 else np.zeros_like(values)


class HybridRetriever(BaseRetriever):
    """Dense and BM25 candidates, each candidate scored by both, fused into one ranking.

    Dense works on sentence vectors: a chunk's dense score is its best sentence's cosine."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Store
    k: int = Field(5, ge=1, strict=True)  # passages returned; `invoke(query, k=...)` overrides it per call
    candidates: int = 50
    fusion: Fusion = Fusion.WEIGHTED
    bm25_weight: float = 0.3
    dense_weight: float = 0.5
    coverage_weight: float = 0.4
    rerank_weight: float = 0.6
    rerank_depth: int = 30
    rrf_k: int = 60
    filters: Filters = Filters()

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_settings(cls, data: Any) -> Any:
        """`HybridRetriever(store=store, k=3)` is tuned like the engine's own: unset fields take the store's settings."""
        settings = getattr(data.get("store"), "settings", None) if isinstance(data, dict) else None
        if settings is None:
            return data
        return {**{name: getattr(settings, setting) for name, setting in _FROM_SETTINGS.items()}, **data}

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_from_json(cls, value: Any) -> Filters:
        return Filters.from_json(value)

    @classmethod
    def from_store(cls, store: Store, **overrides: Any) -> "HybridRetriever":
        return cls(store=store, **overrides)

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        k = check_k(k, maximum=None) or self.k
        filters = Filters.from_json(filters) if filters is not None else self.filters
        store = self.store
        if query_vector is None:
            query_vector = store.encoder.encode([query])[0]

        # Dense: the best sentences, grouped by chunk.
        sentence_cosine = dict(store.vectors.query(query_vector, self.candidates * 5, filters.chroma_where()))
        best_by_chunk: dict[str, float] = {}
        for sid, cosine in sentence_cosine.items():
            cid = chunk_id_of_sentence(sid)
            best_by_chunk[cid] = max(cosine, best_by_chunk.get(cid, -1.0))
        dense_ids = sorted(best_by_chunk, key=lambda c: -best_by_chunk[c])[: self.candidates]

        # Lexical: BM25 per query term, so the same pass also gives each chunk's term coverage.
        lexical = store.lexical()
        question = QuestionTerms(query, lexical)
        terms = question.terms
        per_term = lexical.term_scores(terms)
        bm25_all = per_term.sum(axis=0)
        idf = np.array([question.weights[t] for t in terms], dtype=np.float32)
        coverage_all = (idf @ (per_term > 0)) / idf.sum() if terms else np.zeros(lexical.size, dtype=np.float32)
        depth = self.candidates * (4 if filters else 1)
        bm25_ids = [lexical.chunk_ids[i] for i in np.argsort(-bm25_all)[:depth] if bm25_all[i] > 0]

        ids = list(dict.fromkeys(dense_ids + bm25_ids))
        rows = store.catalog.chunks(ids)
        ids = [cid for cid in ids if cid in rows and filters.accepts(rows[cid])]
        if not ids:
            return []

        # Every sentence of every candidate gets a cosine: the answerer needs them, BM25-only candidates too.
        missing = [sid for cid in ids for sid in rows[cid].chunk.sentence_ids if sid not in sentence_cosine]
        for sid, vector in store.vectors.get_vectors(missing).items():
            sentence_cosine[sid] = float(vector @ query_vector)
        cosines = {cid: [sentence_cosine.get(sid, 0.0) for sid in rows[cid].chunk.sentence_ids] for cid in ids}
        dense = np.array([max(cosines[cid], default=0.0) for cid in ids], dtype=np.float32)
        rows_of = [lexical.row_of.get(cid) for cid in ids]
        bm25 = np.array([bm25_all[r] if r is not None else 0.0 for r in rows_of], dtype=np.float32)
        coverage = np.array([coverage_all[r] if r is not None else 0.0 for r in rows_of], dtype=np.float32)

        if self.fusion is Fusion.RRF:
            dense_rank = np.argsort(np.argsort(-dense))
            bm25_rank = np.argsort(np.argsort(-bm25))
            fused = 1 / (self.rrf_k + dense_rank + 1) + np.where(bm25 > 0, 1 / (self.rrf_k + bm25_rank + 1), 0.0)
        else:
            fused = (self.bm25_weight * _min_max(bm25) + self.dense_weight * _min_max(dense)
                     + self.coverage_weight * coverage)
            if self.rerank_weight:
                fused = self._rerank_by_best_sentence(question, fused, [rows[cid] for cid in ids], cosines, ids)

        order = np.argsort(-fused, kind="stable")[:k]
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
                    scores={"dense": float(dense[i]), "bm25": float(bm25[i]), "coverage": float(coverage[i])},
                    sentence_cosines=cosines[ids[i]],
                )
            )
        return passages

    def _rerank_by_best_sentence(self, question: QuestionTerms, fused, stored, cosines, ids) -> np.ndarray:
        """A passage is as good as its best sentence: one sentence usually holds both the question's
        terms and its answer. Re-scores the top candidates by 0.3 cosine + 0.7 coverage of that sentence."""
        fused = fused.copy()
        for i in np.argsort(-fused, kind="stable")[: self.rerank_depth]:
            title_terms = set(tokenize(stored[i].title or ""))
            best = 0.0
            for cosine, terms in zip(cosines[ids[i]], sentence_terms(stored[i].chunk)):
                best = max(best, 0.3 * cosine + 0.7 * question.coverage(terms, title_terms))
            fused[i] += self.rerank_weight * best
        return fused

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: Filters | Mapping[str, Any] | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Document]:
        """`invoke(query, k=2, filters={"date_from": "2021-05-01"})`: LangChain passes invoke's keyword
        arguments here. `query_vector`, when the caller has already encoded the query, saves encoding it again."""
        passages = self.retrieve(query, k=k, filters=filters, query_vector=query_vector)
        return [passage_to_document(p) for p in passages]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # BaseRetriever's default drops the keyword arguments (k, filters) on the way to the thread.
        return await run_in_executor(
            None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(), **kwargs
        )


def passage_to_document(passage: Passage) -> Document:
    """A Document that carries everything `document_to_passage` needs to give the same Passage back
    (the exact score and every sentence's cosine: the answerer ranks sentences by them)."""
    chunk = passage.chunk
    metadata = passage.to_dict()
    metadata.pop("text")
    metadata.update(score=passage.score, chunk_index=chunk.index, rank=passage.rank, scores=passage.scores,
                    sentences=[list(span) for span in chunk.sentences], sentence_cosines=passage.sentence_cosines)
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.id)


def document_to_passage(document: Document) -> Passage:
    meta = document.metadata
    chunk = Chunk(
        meta["article_id"], meta["chunk_index"], document.page_content, meta["start"], meta["end"],
        Section(meta["section"]), tuple(tuple(span) for span in meta.get("sentences", ())),
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
        sentence_cosines=list(meta.get("sentence_cosines", [])),
    )


class LangChainEmbeddings(Embeddings):
    """The same encoder as a LangChain `Embeddings`, for use with the LangChain ecosystem."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode([text])[0].tolist()
