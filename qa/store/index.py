"""The store: catalog (SQLite) + vectors (Chroma, on disk or a server) + BM25, kept in step."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator, Sequence
from urllib.parse import urlparse

import numpy as np

from qa.store.catalog import Catalog
from qa.chunking import embedding_input, embedding_prefix
from qa.config import Settings
from qa.embedding import Encoder, get_encoder
from qa.errors import IndexDamagedError, QAError, VectorStoreUnavailable
from qa.store.lexical import TOKENIZER, LexicalIndex, LexicalIndexError, tokenizer_of
from qa.store.lock import current_holder, writer_lock
from qa.schema import Chunk
from qa.store.stamp import Stamp, StampError, read_stamp, stat_key, write_stamp

log = logging.getLogger(__name__)



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
    """One Chroma collection of sentence vectors (cosine space), ids = `{chunk id}:{sentence number}`.

    Every Chroma call goes through `_guard`, which turns Chroma's and the network's exceptions into the
    errors the interfaces explain (a server that is down, an unreadable store)."""

    def __init__(self, settings: Settings, encoder: Encoder, fresh: bool = True):
        self.settings = settings
        self.encoder = encoder
        self.url = settings.chroma_url
        self.where = settings.chroma_url or str(settings.chroma_dir)
        self._open(fresh)
        self._count: int | None = None

    def _open(self, fresh: bool) -> None:
        settings = self.settings
        with self._guard():
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
                if fresh:
                    # Chroma caches one client per folder and process, whose in-memory vector index never
                    # sees what another process wrote: each of our clients gets a view of its own.
                    from chromadb.api.shared_system_client import SharedSystemClient

                    SharedSystemClient._identifier_to_system.pop(str(settings.chroma_dir), None)
                self.client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
            self.collection = self.client.get_or_create_collection(
                settings.collection,
                embedding_function=_chroma_embedding_function_class()(self.encoder),
                configuration={"hnsw": {"space": "cosine"}},
            )

    def _read(self, call: Callable):
        """A read; in embedded mode a read that fails is retried once on a freshly opened view of the
        files (an in-memory index that missed another process's commit), then reported as damage."""
        try:
            with self._guard():
                return call()
        except IndexDamagedError:
            if self.url:
                raise
            log.info("re-opening the vector store at %s after a failed read", self.where)
            self._open(fresh=True)
            self._count = None
            with self._guard():
                return call()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except QAError:
            raise
        except Exception as exc:  # chromadb raises many types (its own, httpx, ValueError, Rust errors)
            name = type(exc).__name__
            if self.url and _is_connection_error(exc):
                raise VectorStoreUnavailable(self.url, f"not reachable ({name})") from exc
            raise IndexDamagedError(f"the vector store at {self.where} cannot be read ({name}: {exc})") from exc

    def close(self) -> None:
        """Stop the Chroma system behind this client (embedded mode), freeing its memory."""
        if self.url:
            return
        try:
            self.client._system.stop()
        except Exception:  # best effort: it is being replaced
            log.debug("stopping an old Chroma client failed", exc_info=True)

    def invalidate(self) -> None:
        self._count = None

    def warm_up(self) -> None:
        """Make Chroma load its vector index now (a one-result query), so the first question does not."""
        if self.count():
            dimension = len(self.collection.get(limit=1, include=["embeddings"])["embeddings"][0])
            self.query(np.zeros(dimension, dtype=np.float32) + 1.0 / np.sqrt(dimension), 1)

    def count(self) -> int:
        # Asked on every query; reset whenever this process writes or sees another process's commit.
        if self._count is None:
            self._count = self._read(lambda: self.collection.count())
        return self._count

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        def read() -> set[str]:
            found: set[str] = set()
            for i in range(0, len(ids), 1000):
                found.update(self.collection.get(ids=list(ids[i : i + 1000]), include=[])["ids"])
            return found

        return self._read(read)

    def all_ids(self) -> set[str]:
        def read() -> set[str]:
            ids: set[str] = set()
            offset, step = 0, 10_000
            while True:
                got = self.collection.get(include=[], limit=step, offset=offset)["ids"]
                ids.update(got)
                if len(got) < step:
                    return ids
                offset += step

        return self._read(read)

    def sources_of(self, ids: Sequence[str]) -> set[str]:
        """The `source` metadata of some vectors (to name files an emptied catalog lost)."""
        sources: set[str] = set()
        with self._guard():
            for i in range(0, len(ids), 1000):
                for meta in self.collection.get(ids=list(ids[i : i + 1000]), include=["metadatas"])["metadatas"]:
                    if meta and meta.get("source"):
                        sources.add(str(meta["source"]))
        return sources

    def upsert(self, ids: list[str], embeddings: np.ndarray, metadatas: list[dict | None]) -> None:
        """Vectors and filter metadata only: the text lives in the catalog, and giving Chroma documents
        would make it build a full-text index nobody queries (a third of the insert time)."""
        self._count = None
        step = 1000  # well under Chroma's max batch size
        with self._guard():
            for i in range(0, len(ids), step):
                self.collection.upsert(
                    ids=ids[i : i + step],
                    embeddings=embeddings[i : i + step],
                    metadatas=metadatas[i : i + step],
                )

    def delete(self, ids: Sequence[str]) -> None:
        self._count = None
        with self._guard():
            for i in range(0, len(ids), 1000):
                self.collection.delete(ids=list(ids[i : i + 1000]))

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        def read() -> dict[str, np.ndarray]:
            vectors: dict[str, np.ndarray] = {}
            for i in range(0, len(ids), 1000):
                got = self.collection.get(ids=list(ids[i : i + 1000]), include=["embeddings"])
                vectors.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
            return vectors

        return self._read(read)

    def unreadable(self, ids: Sequence[str], progress: Callable[[int], None] | None = None) -> list[str]:
        """The ids among `ids` whose vectors Chroma cannot return (or returns malformed): batches that fail
        are split until the bad ids are found."""
        bad: list[str] = []

        def probe(batch: list[str]) -> None:
            try:
                got = self.collection.get(ids=batch, include=["embeddings"])
                vectors = np.asarray(got["embeddings"], dtype=np.float32)
                ok = len(got["ids"]) == len(batch) and vectors.ndim == 2 and bool(np.isfinite(vectors).all())
            except Exception:
                ok = False
            if ok:
                return
            if len(batch) == 1:
                bad.append(batch[0])
                return
            half = len(batch) // 2
            probe(batch[:half])
            probe(batch[half:])

        for i in range(0, len(ids), 500):
            probe(list(ids[i : i + 500]))
            if progress:
                progress(min(500, len(ids) - i))
        return bad

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(sentence id, cosine similarity), best first."""
        total = self.count()
        if not total:
            return []
        result = self._read(lambda: self.collection.query(
            query_embeddings=[vector], n_results=min(n, total), where=where or None, include=["distances"]))
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(result["ids"][0], result["distances"][0])]


def _is_connection_error(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 8:
        name = type(exc).__name__
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or name in {
            "ConnectError", "ConnectTimeout", "ReadTimeout", "RemoteProtocolError", "ReadError", "WriteError",
            "PoolTimeout", "NetworkError", "TransportError",
        }:
            return True
        if "Could not connect" in str(exc) or "Connection refused" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


@dataclass
class View:
    """What readers answer from: the last commit's BM25 and a vector-store client that has seen it."""

    key: tuple | None  # stat key of the commit record this view was built from
    stamp: Stamp | None
    lexical: LexicalIndex
    checked: float  # time.monotonic() of the last health check


class Store:
    HEALTH_INTERVAL = 2.0  # seconds between the cheap consistency checks a reader makes

    def __init__(self, settings: Settings, encoder: Encoder | None = None):
        self.settings = settings
        self.encoder = encoder or get_encoder(settings.embedding_model, settings.embed_batch_size)
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(settings.catalog_path)
        self._vectors: VectorIndex | None = None
        self._vectors_version: int | None = None  # the commit our Chroma client is known to have seen
        self._view: View | None = None
        self._view_lock = threading.Lock()
        self._init_lock = threading.Lock()
        self.token = f"{os.getpid()}@{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    @property
    def vectors(self) -> VectorIndex:
        with self._init_lock:
            if self._vectors is None:
                self._vectors = VectorIndex(self.settings, self.encoder)
            return self._vectors

    def is_empty(self) -> bool:
        return self.catalog.count_articles() == 0

    # ---------------------------------------------------------------- the writer side
    @contextmanager
    def writing(self, wait: bool = True, on_wait: Callable[[str], None] | None = None,
                purpose: str | None = None) -> Iterator[None]:
        """The index's writer lock (see qa.store.lock): every change happens inside it, then `commit()`."""
        with writer_lock(self.settings.index_dir, wait=wait, purpose=purpose, on_wait=on_wait):
            yield

    def add_vectors(self, chunks: Sequence[Chunk]) -> int:
        """Encode and store the sentence vectors Chroma does not hold yet; returns how many chunks needed it.

        One vector per sentence: a question usually matches one sentence. Each chunk is encoded once, with
        its article's title and date in front, and each sentence's vector pools its own tokens, so the
        sentence is read in its context (a "he" knows who he is) at the cost of encoding chunks."""
        chunks = list({c.id: c for c in chunks}.values())  # the same chunk twice in a batch is stored once
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

    def reconcile_vectors(self, progress: bool = False) -> tuple[int, int]:
        """Make Chroma hold exactly the catalog's sentence vectors: embed the missing, delete the extra.
        Cheap when they agree (two counts); returns (chunks re-embedded, vectors deleted)."""
        expected = self.catalog.count_sentences()
        if self.vectors.count() == expected:
            return 0, 0
        wanted = self.catalog.sentence_id_set()
        present = self.vectors.all_ids()
        extra = sorted(present - wanted)
        if extra:
            self.vectors.delete(extra)
        missing_chunks = sorted({sid.rsplit(":", 1)[0] for sid in wanted - present})
        embedded = 0
        step = self.settings.ingest_group_chunks
        from tqdm import tqdm

        with tqdm(total=len(missing_chunks), desc="re-embedding", unit="chunk",
                  disable=not progress or not missing_chunks) as bar:
            for i in range(0, len(missing_chunks), step):
                rows = self.catalog.chunks(missing_chunks[i : i + step])
                embedded += self.add_vectors([r.chunk for r in rows.values()])
                bar.update(len(rows))
        return embedded, len(extra)

    def commit(self, rebuild_lexical: bool = False) -> Stamp:
        """Bring BM25 in line with the catalog and publish the new state (under the writer lock).

        BM25 is updated from the last committed index with what changed (cost ~ the change), or rebuilt
        from the catalog when asked or when the last one cannot be read. The commit record is written
        last: a crash before it leaves the previous commit, complete, for readers and the next writer."""
        old = self._read_stamp_or_none()
        lexical = None if rebuild_lexical else self._committed_lexical(old)
        lexical = self._lexical_in_line(lexical)
        manifest = lexical.save(self.settings.bm25_dir)
        stamp = Stamp(
            version=(old.version + 1) if old else 1,
            generation=self.catalog.generation(),
            articles=self.catalog.count_articles(),
            chunks=self.catalog.count_chunks(),
            vectors=self.catalog.count_sentences(),
            bm25=manifest,
            writer=self.token,
        )
        write_stamp(self.settings.index_dir, stamp)
        keep = [manifest] + ([old.bm25] if old and old.bm25 else [])  # a reader may still be loading the old one
        try:
            LexicalIndex.remove_unused(self.settings.bm25_dir, keep)
        except OSError:
            log.warning("could not remove old BM25 files", exc_info=True)
        if self._vectors is not None:
            self._vectors.invalidate()
        self._vectors_version = stamp.version  # our client made (or saw) every write of this commit
        self._view = View(stat_key(self.settings.index_dir), stamp, lexical, time.monotonic())
        return stamp

    def _read_stamp_or_none(self) -> Stamp | None:
        try:
            return read_stamp(self.settings.index_dir)
        except StampError:
            return None  # the writer replaces a damaged record

    @staticmethod
    def bm25_outdated(stamp: Stamp | None) -> bool:
        """Whether the committed BM25 index was split into words by an older tokenizer: readers rebuild it
        in memory, and the next writer stores it rebuilt."""
        return stamp is not None and bool(stamp.bm25) and tokenizer_of(stamp.bm25) != TOKENIZER

    def _committed_lexical(self, stamp: Stamp | None) -> LexicalIndex | None:
        if stamp is None or not stamp.bm25:
            return None
        if self.bm25_outdated(stamp):
            log.info("rebuilding BM25: its words were split by an older tokenizer (%s)", tokenizer_of(stamp.bm25))
            return None
        view = self._view
        if view is not None and view.stamp is not None and view.stamp.bm25 == stamp.bm25:
            return view.lexical
        try:
            return LexicalIndex.load(self.settings.bm25_dir, stamp.bm25)
        except LexicalIndexError as exc:
            log.warning("rebuilding BM25: %s", exc)
            return None

    def _lexical_from_catalog(self) -> LexicalIndex:
        ids, texts = [], []
        for stored in self.catalog.iter_chunks():
            ids.append(stored.chunk.id)
            texts.append(embedding_prefix(stored.title, stored.published) + stored.chunk.text)
        return LexicalIndex.build(ids, texts)

    def _lexical_in_line(self, base: LexicalIndex | None) -> LexicalIndex:
        if base is None:
            return self._lexical_from_catalog()
        wanted = self.catalog.chunk_id_set()
        have = base.ids()
        add = sorted(wanted - have)
        remove = sorted(have - wanted)
        if not add and not remove:
            return base
        rows = self.catalog.chunks(add)
        texts = [embedding_prefix(rows[c].title, rows[c].published) + rows[c].chunk.text for c in add]
        return base.updated(add, texts, remove)

    # ---------------------------------------------------------------- the reader side
    def view(self) -> View:
        """The committed state to answer from, reloaded when another process committed (one stat per call)
        and checked for damage every few seconds. Raises IndexDamagedError / VectorStoreUnavailable rather
        than answer from a damaged index. While one thread reloads, the others keep the previous view."""
        key = stat_key(self.settings.index_dir)
        view = self._view
        if view is not None and view.key == key and time.monotonic() - view.checked < self.HEALTH_INTERVAL:
            return view
        if not self._view_lock.acquire(blocking=view is None):
            return view  # another thread is reloading: answer from the previous commit meanwhile
        try:
            view = self._view
            key = stat_key(self.settings.index_dir)
            if view is None or view.key != key:
                view = self._load_view(key, view)
            self._check_health(view)
            view.checked = time.monotonic()
            self._view = view
            return view
        finally:
            self._view_lock.release()

    def lexical(self) -> LexicalIndex:
        """The BM25 index of the last commit (for readers)."""
        return self.view().lexical

    def _load_view(self, key: tuple | None, previous: View | None) -> View:
        try:
            stamp = read_stamp(self.settings.index_dir)
        except StampError as exc:
            raise IndexDamagedError(str(exc)) from exc
        if stamp is None:
            chunks = self.catalog.count_chunks()
            if chunks:
                raise IndexDamagedError(f"the catalog holds {chunks} chunks but there is no commit record "
                                        f"({self.settings.index_dir / 'commit.json'})")
            return View(key, None, LexicalIndex.build([], []), time.monotonic())
        if previous is not None and previous.stamp is not None and previous.stamp.bm25 == stamp.bm25:
            lexical = previous.lexical
        else:
            try:
                lexical = LexicalIndex.load(self.settings.bm25_dir, stamp.bm25)
            except LexicalIndexError as exc:
                raise IndexDamagedError(f"the BM25 index cannot be used ({exc})") from exc
            if lexical.tokenizer != TOKENIZER:
                lexical = self._lexical_current(stamp, lexical)
        self._refresh_vectors(stamp)
        return View(key, stamp, lexical, time.monotonic())

    def _lexical_current(self, stamp: Stamp, saved: LexicalIndex) -> LexicalIndex:
        """A committed BM25 index whose words an older tokenizer split (an index made before an upgrade),
        rebuilt here in memory from the catalog, the same as the next writer's commit will store it, so
        questions are matched with this version's terms meanwhile. Only while the catalog is at that commit
        (no writer at work, same generation before and after the rebuild); otherwise the saved index answers
        as it is until the writer at work commits its rebuild."""
        def settled() -> bool:
            return current_holder(self.settings.index_dir) is None and self.catalog.generation() == stamp.generation

        if not settled():
            return saved
        log.warning("the BM25 index in %s was built by an older tokenizer (%s): rebuilding it in memory; "
                    "the next ingest or `qa check --repair` stores the rebuilt one", self.settings.bm25_dir,
                    saved.tokenizer)
        rebuilt = self._lexical_from_catalog()
        if not settled() or len(rebuilt) != stamp.chunks:
            return saved
        return rebuilt

    def _refresh_vectors(self, stamp: Stamp) -> None:
        """An embedded Chroma client keeps its own copy of the vector index in memory and never sees what
        another process added: open a fresh one when someone else committed since ours last looked."""
        if self._vectors is None or self.settings.chroma_url:
            if self._vectors is not None:
                self._vectors.invalidate()
            self._vectors_version = stamp.version
            return
        if stamp.writer == self.token or self._vectors_version == stamp.version:
            self._vectors.invalidate()
            return
        old = self._vectors
        fresh = VectorIndex(self.settings, self.encoder)
        fresh.warm_up()  # load its vector index here, not in the next question's thread
        with self._init_lock:
            self._vectors = fresh
        self._vectors_version = stamp.version
        timer = threading.Timer(60.0, old.close)  # queries still running on the old client finish first
        timer.daemon = True
        timer.start()

    def _check_health(self, view: View) -> None:
        """Cheap checks (a few counts) that tell damage from a commit in progress."""
        stamp = view.stamp
        if stamp is None:
            return
        chunks = self.catalog.count_chunks()
        if stamp.chunks and not chunks:
            raise IndexDamagedError(f"the catalog ({self.settings.catalog_path}) is empty but the last commit "
                                    f"recorded {stamp.chunks} chunks")
        if not self.settings.chroma_url and stamp.vectors and not (self.settings.chroma_dir / "chroma.sqlite3").exists():
            raise IndexDamagedError(f"the vector store ({self.settings.chroma_dir}) is missing")
        vectors = self.vectors
        if self._vectors_version is None:
            self._vectors_version = stamp.version
        vectors.invalidate()
        count = vectors.count()
        if stamp.vectors and not count:
            raise IndexDamagedError(f"the vector store ({vectors.where}) is empty but the last commit recorded "
                                    f"{stamp.vectors} sentence vectors")
        if len(view.lexical) != stamp.chunks:
            raise IndexDamagedError(f"the BM25 index holds {len(view.lexical)} chunks, the commit {stamp.chunks}")
        writing = current_holder(self.settings.index_dir) is not None
        if writing or self.catalog.generation() != stamp.generation:
            return  # a writer is at work, or was interrupted: the last commit still answers
        if chunks != stamp.chunks:
            raise IndexDamagedError(f"the catalog holds {chunks} chunks, the last commit recorded {stamp.chunks}")
        if count != stamp.vectors:
            raise IndexDamagedError(f"the vector store holds {count} sentence vectors, the last commit recorded "
                                    f"{stamp.vectors}")
