"""The store: catalog (SQLite) + vectors (Chroma, on disk or a server) + BM25, kept in step."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Sequence
from urllib.parse import urlparse

import numpy as np

from qa.catalog import Catalog
from qa.chunking import embedding_input, embedding_prefix
from qa.config import Settings
from qa.embedding import Encoder, get_encoder
from qa.lexical import LexicalIndex
from qa.schema import Chunk



@lru_cache(maxsize=1)
def _chroma_embedding_function_class():
    """Defined on first use: importing chromadb costs ~0.3 s that a no-op `qa ingest` need not pay."""
    from chromadb.api.types import Documents, EmbeddingFunction

    class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
        """Given to every Chroma collection so Chroma never falls back to its own (downloading) default."""

        def __init__(self, encoder: Encoder):
            self.encoder = encoder

        def __call__(self, input: Documents) -> list[np.ndarray]:
            return list(self.encoder.encode(list(input)))

        @staticmethod
        def name() -> str:
            return "article-qa-local-sentence-transformer"

        def get_config(self) -> dict:
            return {"model_dir": self.encoder.model_dir}

        @staticmethod
        def build_from_config(config: dict) -> "ChromaEmbeddingFunction":
            return ChromaEmbeddingFunction(get_encoder(config["model_dir"]))

        def default_space(self) -> str:
            return "cosine"

    return ChromaEmbeddingFunction


class VectorIndex:
    """One Chroma collection of sentence vectors (cosine space), ids = `{chunk id}:{sentence number}`."""

    def __init__(self, settings: Settings, encoder: Encoder):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            self.client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        self.collection = self.client.get_or_create_collection(
            settings.collection,
            embedding_function=_chroma_embedding_function_class()(encoder),
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._count: int | None = None

    def count(self) -> int:
        # Asked on every query; it changes only through this object's writes (or another ingesting process,
        # which only makes it an upper bound: Chroma then returns fewer results).
        if self._count is None:
            self._count = self.collection.count()
        return self._count

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for i in range(0, len(ids), 1000):
            found.update(self.collection.get(ids=list(ids[i : i + 1000]), include=[])["ids"])
        return found

    def all_ids(self) -> set[str]:
        return set(self.collection.get(include=[])["ids"])

    def upsert(self, ids: list[str], embeddings: np.ndarray, metadatas: list[dict | None]) -> None:
        """Vectors and filter metadata only: the text lives in the catalog, and giving Chroma documents
        would make it build a full-text index nobody queries (a third of the insert time)."""
        self._count = None
        step = 1000  # well under Chroma's max batch size
        for i in range(0, len(ids), step):
            self.collection.upsert(
                ids=ids[i : i + step],
                embeddings=embeddings[i : i + step],
                metadatas=metadatas[i : i + step],
            )

    def delete(self, ids: Sequence[str]) -> None:
        self._count = None
        for i in range(0, len(ids), 1000):
            self.collection.delete(ids=list(ids[i : i + 1000]))

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        vectors: dict[str, np.ndarray] = {}
        for i in range(0, len(ids), 1000):
            got = self.collection.get(ids=list(ids[i : i + 1000]), include=["embeddings"])
            vectors.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
        return vectors

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(sentence id, cosine similarity), best first."""
        total = self.count()
        if not total:
            return []
        result = self.collection.query(
            query_embeddings=[vector], n_results=min(n, total), where=where or None, include=["distances"]
        )
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0])]


class Store:
    def __init__(self, settings: Settings, encoder: Encoder | None = None):
        self.settings = settings
        self.encoder = encoder or get_encoder(settings.embedding_model, settings.embed_batch_size)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.catalog_path)
        self._vectors: VectorIndex | None = None
        self._lexical: LexicalIndex | None = None
        self._lexical_lock = threading.Lock()

    @property
    def vectors(self) -> VectorIndex:
        with self._lexical_lock:
            if self._vectors is None:
                self._vectors = VectorIndex(self.settings, self.encoder)
            return self._vectors

    def is_empty(self) -> bool:
        return self.catalog.count_articles() == 0

    # ---------------------------------------------------------------- writing
    def add_vectors(self, chunks: Sequence[Chunk]) -> int:
        """Encode and store the sentence vectors Chroma does not hold yet; returns how many chunks needed it.

        One vector per sentence: a question usually matches one sentence. Each chunk is encoded once, with
        its article's title and date in front, and each sentence's vector pools its own tokens, so the
        sentence is read in its context (a "he" knows who he is) at the cost of encoding chunks."""
        all_ids = [sid for c in chunks for sid in c.sentence_ids]
        present = self.vectors.existing_ids(all_ids)
        todo = [c for c in chunks if any(sid not in present for sid in c.sentence_ids)]
        if not todo:
            return 0
        rows = self.catalog.chunks([c.id for c in todo])
        ids, texts, spans, metadatas = [], [], [], []
        for chunk in todo:
            stored = rows[chunk.id]
            text, sentence_spans = embedding_input(chunk, stored.title, stored.published)
            texts.append(text)
            spans.append(sentence_spans)
            ids.extend(chunk.sentence_ids)
            metadatas.extend([self._metadata(stored)] * len(chunk.sentences))
        self.vectors.upsert(ids, self.encoder.encode_spans(texts, spans), metadatas)
        return len(todo)

    @staticmethod
    def _metadata(stored) -> dict | None:
        """Only what retrieval filters on (see Filters.chroma_where): the catalog holds everything else, and
        every metadata key is a row Chroma writes per vector (nine keys made inserts 1.8x slower)."""
        meta: dict = {}
        if stored.source is not None:  # Chroma metadata cannot hold None
            meta["source"] = stored.source
        if stored.published:
            meta["published_day"] = int(stored.published.replace("-", ""))  # for date-range filters
        return meta or None  # Chroma refuses an empty dict

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        """Vectors first, rows second: an interruption leaves rows that the next clean-up removes."""
        if not article_ids:
            return
        self.vectors.delete(self.catalog.sentence_ids_of(article_ids))
        self.catalog.delete_articles(article_ids)

    def collect_garbage(self) -> int:
        """Remove articles no source references any more (replaced, pruned, or left by an interruption)."""
        orphans = self.catalog.unreferenced_articles()
        self.delete_articles(orphans)
        return len(orphans)

    # ---------------------------------------------------------------- BM25
    def lexical(self) -> LexicalIndex:
        """The BM25 index matching the catalog's current generation (loaded or rebuilt as needed)."""
        generation = self.catalog.generation()
        with self._lexical_lock:
            if self._lexical is not None and self._lexical.generation == generation:
                return self._lexical
            loaded = LexicalIndex.load(self.settings.bm25_dir)
            if loaded is None or loaded.generation != generation:
                loaded = self.rebuild_lexical(generation)
            self._lexical = loaded
            return loaded

    def rebuild_lexical(self, generation: int | None = None) -> LexicalIndex:
        generation = self.catalog.generation() if generation is None else generation
        ids, texts = [], []
        for stored in self.catalog.iter_chunks():
            ids.append(stored.chunk.id)
            texts.append(embedding_prefix(stored.title, stored.published) + stored.chunk.text)
        index = LexicalIndex.build(ids, texts, generation)
        index.save(self.settings.bm25_dir)
        self._lexical = index
        return index

