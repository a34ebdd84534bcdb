"""The record of what was ingested (SQLite): sources and their content hashes, articles, chunks.

It is the source of truth the vector store follows. Rows are written *before* vectors are added and
deleted *after* vectors are removed, so Chroma never holds a chunk the catalog does not know; a source
stays `pending` until its vectors are stored, so an interrupted ingest is finished by the next one."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from qa.schema import Article, Chunk, Copy, Section
from qa.store import sqlite_wal

if TYPE_CHECKING:
    from qa.news.facts import ArticleFacts

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY, file_hash TEXT NOT NULL, state TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS source_articles (
    path TEXT NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (path, article_id));
CREATE INDEX IF NOT EXISTS source_articles_by_article ON source_articles(article_id);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT, published TEXT, source TEXT, url TEXT, author TEXT, caption TEXT,
    external_id TEXT, text TEXT NOT NULL, added REAL NOT NULL, site TEXT);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, article_id TEXT NOT NULL, idx INTEGER NOT NULL, section TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, sentences TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- MinHash signatures of article bodies, to find syndicated copies at ingest (qa.sources.syndication).
CREATE TABLE IF NOT EXISTS signatures (article_id TEXT PRIMARY KEY, minhash BLOB NOT NULL);
-- A source's syndicated copy of a stored article: the source references the article (source_articles)
-- and its own metadata is kept here, for "also published by".
CREATE TABLE IF NOT EXISTS copies (
    path TEXT NOT NULL, article_id TEXT NOT NULL, copy_id TEXT NOT NULL, title TEXT, url TEXT, site TEXT,
    published TEXT, similarity REAL NOT NULL, PRIMARY KEY (path, copy_id));
CREATE INDEX IF NOT EXISTS copies_by_article ON copies(article_id);
-- URLs polled by `qa watch` / fetched by `qa ingest URL`: the validators of their last response.
CREATE TABLE IF NOT EXISTS remote (
    url TEXT PRIMARY KEY, kind TEXT NOT NULL, etag TEXT, last_modified TEXT, checked REAL NOT NULL,
    status TEXT NOT NULL);
-- The items of each feed as last seen: a new or changed fingerprint means its page is fetched again.
CREATE TABLE IF NOT EXISTS feed_items (
    feed TEXT NOT NULL, key TEXT NOT NULL, link TEXT, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
    seen REAL NOT NULL, PRIMARY KEY (feed, key));
-- Who said what, and when (qa.news): read out of each article at ingest; `facts` says which articles
-- were read, by which version of the extraction, and holds their resolved dates.
CREATE TABLE IF NOT EXISTS facts (article_id TEXT PRIMARY KEY, version INTEGER NOT NULL, dates TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quotes (
    article_id TEXT NOT NULL, idx INTEGER NOT NULL, speaker TEXT NOT NULL, speaker_key TEXT NOT NULL, role TEXT,
    mention TEXT NOT NULL, cue TEXT NOT NULL, kind TEXT NOT NULL, via TEXT, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (article_id, idx));
CREATE INDEX IF NOT EXISTS quotes_by_speaker ON quotes(speaker_key);
CREATE TABLE IF NOT EXISTS people (
    article_id TEXT NOT NULL, name TEXT NOT NULL, name_key TEXT NOT NULL, title TEXT, titles TEXT NOT NULL,
    orgs TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, PRIMARY KEY (article_id, name));
CREATE INDEX IF NOT EXISTS people_by_name ON people(name_key);
"""

_ARTICLE_COLUMNS = "id, title, published, source, url, author, caption, external_id, text, site"
_CHUNK_COLUMNS = 'c.article_id, c.idx, c.section, c.start, c."end", c.text, c.sentences'
SCHEMA_VERSION = "3"  # 2: one vector per sentence; 3: sentence vectors pooled from their chunk


class IndexVersionError(RuntimeError):
    pass


def _chunk(article_id, idx, section, start, end, text, sentences) -> Chunk:
    spans = tuple(tuple(span) for span in json.loads(sentences))
    return Chunk(article_id, idx, text, start, end, Section(section), spans)


class SourceState(str, Enum):
    PENDING = "pending"  # rows written, vectors maybe not yet
    DONE = "done"


@dataclass(frozen=True)
class RemoteState:
    """A URL as last fetched: its validators (for a conditional GET) and how the fetch went."""

    url: str
    kind: str  # "feed" or "page"
    etag: str | None
    last_modified: str | None
    checked: float
    status: str  # "ok", "not-modified", or the error


class ItemState(str, Enum):
    DONE = "done"  # its page was fetched and ingested (or was unchanged)
    FAILED = "failed"  # its page could not be fetched or read: tried again at the next poll


@dataclass(frozen=True)
class FeedItemState:
    key: str
    link: str | None
    fingerprint: str
    state: ItemState
    seen: float


@dataclass(frozen=True)
class ArticleSummary:
    id: str
    title: str | None
    published: str | None
    source: str | None
    external_id: str | None
    chunks: int


@dataclass(frozen=True)
class StoredChunk:
    """A chunk with the article metadata retrieval needs."""

    chunk: Chunk
    title: str | None
    published: str | None
    source: str | None
    external_id: str | None


def name_key(name: str) -> str:
    """How a name is looked up: its last word, lower case ("Antony Blinken", "Blinken’s" → "blinken")."""
    words = name.replace("’s", "").replace("'s", "").split()
    return words[-1].lower() if words else ""


def _name_filter(alias: str, key_column: str, name_column: str, name: str | None,
                 article_ids: Sequence[str] | None) -> tuple[str, list]:
    """The WHERE clause (and its arguments) for rows of a name (its key: the surname, or the whole name)
    and of some articles (at most a few hundred: the articles of one answer's passages)."""
    where, args = [], []
    if name is not None:
        where.append(f"({alias}.{key_column} = ? OR lower({alias}.{name_column}) = ?)")
        args += [name_key(name), " ".join(name.lower().split())]
    if article_ids is not None:
        where.append(f"{alias}.article_id IN ({','.join('?' * len(article_ids))})")
        args += list(article_ids)
    return (" WHERE " + " AND ".join(where) if where else ""), args


@dataclass(frozen=True)
class QuoteRow:
    article_id: str
    idx: int
    speaker: str
    role: str | None
    mention: str
    cue: str
    kind: str
    via: str | None
    start: int
    end: int
    text: str
    title: str | None
    published: str | None
    url: str | None


@dataclass(frozen=True)
class PersonRow:
    article_id: str
    name: str
    title: str | None
    titles: tuple[str, ...]
    orgs: tuple[str, ...]
    start: int
    end: int
    article_title: str | None
    published: str | None


class Catalog:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite_wal.connect(path, self._set_up)

    def _set_up(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(articles)")}
        if "site" not in columns:  # added with feeds and URLs; older indexes gain it empty
            try:
                conn.execute("ALTER TABLE articles ADD COLUMN site TEXT")
            except sqlite3.OperationalError as error:  # another process opening it added it first
                if "duplicate column" not in str(error):
                    raise
        self._check_version(conn)

    def _check_version(self, conn: sqlite3.Connection) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            if conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]:
                row = ("1",)
            else:
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
                return
        if row[0] != SCHEMA_VERSION:
            raise IndexVersionError(
                f"{self.path}: index written by an older version (schema {row[0]}, need {SCHEMA_VERSION}); "
                f"delete {self.path.parent} and ingest again"
            )

    def close(self) -> None:
        self._conn.close()

    def _transaction(self):
        return _Transaction(self._conn, self._lock)

    # ---------------------------------------------------------------- sources
    def source_state(self, path: str) -> tuple[str, SourceState] | None:
        row = self._conn.execute("SELECT file_hash, state FROM sources WHERE path = ?", (path,)).fetchone()
        return (row[0], SourceState(row[1])) if row else None

    def source_paths(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT path FROM sources ORDER BY path")]

    def begin_source(self, path: str, file_hash: str, articles: Sequence[Article], chunks: Sequence[Chunk],
                     copies: Sequence[tuple[str, Article, float]] = (), signatures: dict[str, bytes] | None = None,
                     ) -> None:
        """Mark the source pending (its file changed) and record its first articles and chunks; `copies`
        are (stored article id, the copy, similarity) for its syndicated copies of stored articles."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO sources(path, file_hash, state, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET file_hash=excluded.file_hash, state=excluded.state, "
                "updated=excluded.updated",
                (path, file_hash, SourceState.PENDING.value, now),
            )
            # The file's new content replaces what it held: its old articles lose this reference now and
            # are collected at the end of the ingest unless the new content still holds them.
            db.execute("DELETE FROM source_articles WHERE path = ?", (path,))
            db.execute("DELETE FROM copies WHERE path = ?", (path,))
            self._add_rows(db, path, articles, chunks, now, copies, signatures)
            self._bump(db)

    def add_rows(self, path: str, articles: Sequence[Article], chunks: Sequence[Chunk],
                 copies: Sequence[tuple[str, Article, float]] = (), signatures: dict[str, bytes] | None = None,
                 ) -> None:
        """More articles of a pending source (a long JSONL file is recorded in groups)."""
        with self._transaction() as db:
            self._add_rows(db, path, articles, chunks, time.time(), copies, signatures)
            self._bump(db)

    @staticmethod
    def _add_rows(db, path: str, articles: Sequence[Article], chunks: Sequence[Chunk], now: float,
                  copies: Sequence[tuple[str, Article, float]] = (), signatures: dict[str, bytes] | None = None,
                  ) -> None:
        # OR IGNORE: an article met twice (two identical files, a repeated JSONL line) is stored once and
        # referenced by every source that holds it.
        db.executemany(
            f"INSERT OR IGNORE INTO articles({_ARTICLE_COLUMNS}, added) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(a.id, a.title, a.published, a.source, a.url, a.author, a.caption, a.external_id, a.text, a.site,
              now) for a in articles],
        )
        if signatures:
            db.executemany("INSERT OR IGNORE INTO signatures(article_id, minhash) VALUES (?, ?)",
                           list(signatures.items()))
        # A syndicated copy: the source references the stored article, and the copy's own metadata is kept.
        db.executemany(
            "INSERT OR REPLACE INTO copies(path, article_id, copy_id, title, url, site, published, similarity) "
            "VALUES (?,?,?,?,?,?,?,?)",
            [(path, stored, c.id, c.title, c.url, c.site, c.published, similarity) for stored, c, similarity in copies],
        )
        db.executemany(
            "INSERT OR IGNORE INTO source_articles(path, article_id) VALUES (?, ?)",
            [(path, stored) for stored, _, _ in copies],
        )
        db.executemany(
            'INSERT OR IGNORE INTO chunks(id, article_id, idx, section, start, "end", text, sentences) '
            "VALUES (?,?,?,?,?,?,?,?)",
            [(c.id, c.article_id, c.index, c.section.value, c.start, c.end, c.text, json.dumps(c.sentences))
             for c in chunks],
        )
        db.executemany(
            "INSERT OR IGNORE INTO source_articles(path, article_id) VALUES (?, ?)",
            [(path, a.id) for a in articles],
        )

    def finish_source(self, path: str) -> None:
        """All the source's articles are recorded and their vectors stored."""
        with self._transaction() as db:
            db.execute("UPDATE sources SET state = ? WHERE path = ?", (SourceState.DONE.value, path))

    def remove_source(self, path: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM source_articles WHERE path = ?", (path,))
            db.execute("DELETE FROM copies WHERE path = ?", (path,))
            db.execute("DELETE FROM sources WHERE path = ?", (path,))
            self._bump(db)

    def detach_article(self, article_id: str) -> list[str]:
        """Forget every source's reference to the article (it is then garbage); returns those sources.
        A source file re-ingested unchanged stays skipped, so the article does not come back."""
        with self._transaction() as db:
            paths = [r[0] for r in db.execute("SELECT path FROM source_articles WHERE article_id = ?", (article_id,))]
            db.execute("DELETE FROM source_articles WHERE article_id = ?", (article_id,))
            db.execute("DELETE FROM copies WHERE article_id = ?", (article_id,))
            self._bump(db)
        return paths

    def articles_of_source(self, path: str) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT article_id FROM source_articles WHERE path = ?", (path,))]

    def unreferenced_articles(self) -> list[str]:
        rows = self._conn.execute(
            "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM source_articles)"
        ).fetchall()
        return [r[0] for r in rows]

    def delete_articles(self, article_ids: Sequence[str]) -> None:
        with self._transaction() as db:
            for aid in article_ids:
                db.execute("DELETE FROM chunks WHERE article_id = ?", (aid,))
                db.execute("DELETE FROM articles WHERE id = ?", (aid,))
                db.execute("DELETE FROM source_articles WHERE article_id = ?", (aid,))
                db.execute("DELETE FROM copies WHERE article_id = ?", (aid,))
                db.execute("DELETE FROM signatures WHERE article_id = ?", (aid,))
                for table in ("facts", "quotes", "people"):
                    db.execute(f"DELETE FROM {table} WHERE article_id = ?", (aid,))
            self._bump(db)

    # ---------------------------------------------------------------- who said what, and when (qa.news)
    def articles_without_facts(self, version: int) -> list[tuple[str, str, str | None]]:
        """(id, text, published) of the articles not yet read by this version of the extraction."""
        return self._conn.execute(
            "SELECT a.id, a.text, a.published FROM articles a LEFT JOIN facts f ON f.article_id = a.id "
            "WHERE f.version IS NULL OR f.version != ? ORDER BY a.added", (version,)).fetchall()

    def set_facts(self, version: int, items: Sequence[tuple[str, "ArticleFacts"]]) -> None:
        with self._transaction() as db:
            for article_id, facts in items:
                if db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is None:
                    continue  # removed meanwhile
                for table in ("facts", "quotes", "people"):
                    db.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
                db.executemany(
                    'INSERT INTO quotes(article_id, idx, speaker, speaker_key, role, mention, cue, kind, via, start, '
                    '"end", text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)',
                    [(article_id, i, q.speaker, name_key(q.speaker), q.role, q.mention, q.cue, q.kind.value, q.via,
                      q.start, q.end, q.text) for i, q in enumerate(facts.quotes)])
                db.executemany(
                    'INSERT OR IGNORE INTO people(article_id, name, name_key, title, titles, orgs, start, "end") '
                    "VALUES (?,?,?,?,?,?,?,?)",
                    [(article_id, p.name, name_key(p.name), p.title, json.dumps(p.titles), json.dumps(p.orgs),
                      p.start, p.end) for p in facts.people])
                db.execute("INSERT INTO facts(article_id, version, dates) VALUES (?, ?, ?)",
                           (article_id, version, json.dumps([d.__dict__ for d in facts.dates])))

    def quotes(self, speaker: str | None = None, article_ids: Sequence[str] | None = None,
               limit: int = 200) -> list["QuoteRow"]:
        """Quotes, newest article first then in reading order; `speaker` matches a full name or a surname
        ("Blinken", "Antony Blinken", "blinken"), and a body ("State Department")."""
        sql = ('SELECT q.article_id, q.idx, q.speaker, q.role, q.mention, q.cue, q.kind, q.via, q.start, q."end", '
               "q.text, a.title, a.published, a.url FROM quotes q JOIN articles a ON a.id = q.article_id")
        where, args = _name_filter("q", "speaker_key", "speaker", speaker, article_ids)
        sql += where + " ORDER BY a.published DESC, q.article_id, q.start LIMIT ?"
        return [QuoteRow(*row) for row in self._conn.execute(sql, (*args, limit))]

    def people(self, name: str | None = None, article_ids: Sequence[str] | None = None) -> list["PersonRow"]:
        sql = ('SELECT p.article_id, p.name, p.title, p.titles, p.orgs, p.start, p."end", a.title, a.published '
               "FROM people p JOIN articles a ON a.id = p.article_id")
        where, args = _name_filter("p", "name_key", "name", name, article_ids)
        sql += where + " ORDER BY a.published DESC, p.start"
        return [PersonRow(r[0], r[1], r[2], tuple(json.loads(r[3])), tuple(json.loads(r[4])), r[5], r[6], r[7], r[8])
                for r in self._conn.execute(sql, args)]

    def date_mentions(self, article_ids: Sequence[str]) -> dict[str, list[dict]]:
        """Each article's resolved dates ({start, end, text, date, until}), as stored at ingest."""
        return {r[0]: json.loads(r[1]) for r in self._rows_for("SELECT article_id, dates FROM facts WHERE article_id IN ({marks})",
                                                               article_ids)}

    # ---------------------------------------------------------------- generation (for the BM25 index)
    def _bump(self, db) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    def generation(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    # ---------------------------------------------------------------- reading
    def article(self, article_id: str) -> Article | None:
        row = self._conn.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
        if not row:
            return None
        _, title, published, source, url, author, caption, external_id, text, site = row
        return Article(text, title, published, source, url, author, caption, external_id, site)

    def articles(self) -> list[ArticleSummary]:
        rows = self._conn.execute(
            "SELECT a.id, a.title, a.published, a.source, a.external_id, COUNT(c.id) FROM articles a "
            "LEFT JOIN chunks c ON c.article_id = a.id GROUP BY a.id ORDER BY a.published DESC, a.title"
        ).fetchall()
        return [ArticleSummary(*row) for row in rows]

    def count_articles(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def count_chunks(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def count_sentences(self) -> int:
        """How many sentence vectors the vector store should hold."""
        return self._conn.execute("SELECT COALESCE(SUM(json_array_length(sentences)), 0) FROM chunks").fetchone()[0]

    def chunk_id_set(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT id FROM chunks")}

    def sources_of(self, article_id: str) -> list[str]:
        """Every source that holds the article (identical files, a repeated JSONL line, syndicated copies)."""
        rows = self._conn.execute("SELECT path FROM source_articles WHERE article_id = ? ORDER BY path", (article_id,))
        return [r[0] for r in rows]

    def _rows_for(self, sql: str, ids: Sequence[str]) -> Iterator[tuple]:
        """Rows of `sql` (whose `{marks}` stands for the id placeholders) for every id, in batches that
        stay under SQLite's bound-parameter limit."""
        ids = list(dict.fromkeys(ids))
        for i in range(0, len(ids), 900):
            batch = ids[i : i + 900]
            yield from self._conn.execute(sql.format(marks=",".join("?" * len(batch))), batch).fetchall()

    def copies_of(self, article_ids: Sequence[str]) -> dict[str, list[Copy]]:
        """The syndicated copies recorded for each article (most similar first)."""
        result: dict[str, list[Copy]] = {}
        rows = self._rows_for("SELECT article_id, path, title, url, site, published, similarity FROM copies "
                              "WHERE article_id IN ({marks}) ORDER BY similarity DESC, path", article_ids)
        for article_id, path, title, url, site, published, similarity in rows:
            result.setdefault(article_id, []).append(Copy(path, title, url, site, published, similarity))
        return result

    def links(self, article_ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """(url, site) of each article."""
        rows = self._rows_for("SELECT id, url, site FROM articles WHERE id IN ({marks})", article_ids)
        return {aid: (url, site) for aid, url, site in rows}

    def signature_ids(self) -> set[str]:
        """Articles that have a signature (a signature whose article is gone does not count)."""
        return {r[0] for r in self._conn.execute(
            "SELECT s.article_id FROM signatures s JOIN articles a ON a.id = s.article_id")}

    def drop_orphan_signatures(self) -> int:
        """Forget the signatures of articles no longer stored (a damaged or hand-edited catalog)."""
        with self._transaction() as db:
            return db.execute("DELETE FROM signatures WHERE article_id NOT IN (SELECT id FROM articles)").rowcount

    def signatures(self, article_ids: Sequence[str] | None = None) -> Iterator[tuple[str, bytes]]:
        """(article id, MinHash signature) of the given articles (all when None) that have one."""
        if article_ids is None:
            yield from self._conn.execute("SELECT article_id, minhash FROM signatures")
            return
        yield from self._rows_for("SELECT article_id, minhash FROM signatures WHERE article_id IN ({marks})",
                                  article_ids)

    def has_article(self, article_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    # ---------------------------------------------------------------- polled URLs and feed items
    def remote(self, url: str) -> RemoteState | None:
        row = self._conn.execute(
            "SELECT url, kind, etag, last_modified, checked, status FROM remote WHERE url = ?", (url,)).fetchone()
        return RemoteState(*row) if row else None

    def set_remote(self, state: "RemoteState") -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO remote(url, kind, etag, last_modified, checked, status) VALUES (?,?,?,?,?,?)",
                (state.url, state.kind, state.etag, state.last_modified, state.checked, state.status))

    def feed_items(self, feed: str) -> dict[str, FeedItemState]:
        rows = self._conn.execute(
            "SELECT key, link, fingerprint, state, seen FROM feed_items WHERE feed = ?", (feed,))
        return {key: FeedItemState(key, link, fingerprint, ItemState(state), seen)
                for key, link, fingerprint, state, seen in rows}

    def set_feed_items(self, feed: str, items: Sequence["FeedItemState"], gone: Sequence[str] = ()) -> None:
        """Record the items as seen now (replacing what was known of them); forget the `gone` keys."""
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO feed_items(feed, key, link, fingerprint, state, seen) VALUES (?,?,?,?,?,?)",
                [(feed, i.key, i.link, i.fingerprint, i.state.value, i.seen) for i in items])
            db.executemany("DELETE FROM feed_items WHERE feed = ? AND key = ?", [(feed, key) for key in gone])

    def pending_sources(self) -> list[str]:
        rows = self._conn.execute("SELECT path FROM sources WHERE state = ? ORDER BY path", (SourceState.PENDING.value,))
        return [r[0] for r in rows]

    def sentence_id_set(self) -> set[str]:
        """Ids of every sentence vector the store should hold."""
        return {cid + f":{k}" for cid, spans in self._conn.execute("SELECT id, sentences FROM chunks")
                for k in range(len(json.loads(spans)))}

    def sentence_ids_of(self, article_ids: Sequence[str]) -> list[str]:
        marks = ",".join("?" * len(article_ids))
        rows = self._conn.execute(f"SELECT id, sentences FROM chunks WHERE article_id IN ({marks})", list(article_ids))
        return [cid + f":{k}" for cid, spans in rows for k in range(len(json.loads(spans)))]

    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, StoredChunk]:
        if not chunk_ids:
            return {}
        result: dict[str, StoredChunk] = {}
        ids = list(chunk_ids)
        for i in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            batch = ids[i : i + 900]
            marks = ",".join("?" * len(batch))
            rows = self._conn.execute(
                f"SELECT c.id, {_CHUNK_COLUMNS}, a.title, a.published, a.source, a.external_id "
                f"FROM chunks c JOIN articles a ON a.id = c.article_id WHERE c.id IN ({marks})",
                batch,
            ).fetchall()
            for cid, *chunk_fields, title, published, source, external_id in rows:
                result[cid] = StoredChunk(_chunk(*chunk_fields), title, published, source, external_id)
        return result

    def article_chunks(self, article_id: str) -> list[StoredChunk]:
        rows = self._conn.execute(
            f"SELECT {_CHUNK_COLUMNS}, a.title, a.published, a.source, a.external_id FROM chunks c "
            "JOIN articles a ON a.id = c.article_id WHERE c.article_id = ? ORDER BY c.idx", (article_id,)).fetchall()
        return [StoredChunk(_chunk(*row[:7]), *row[7:]) for row in rows]

    def iter_chunks(self) -> Iterator[StoredChunk]:
        rows = self._conn.execute(
            f"SELECT {_CHUNK_COLUMNS}, a.title, a.published, a.source, a.external_id "
            "FROM chunks c JOIN articles a ON a.id = c.article_id ORDER BY c.article_id, c.idx"
        )
        for *chunk_fields, title, published, source, external_id in rows:
            yield StoredChunk(_chunk(*chunk_fields), title, published, source, external_id)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock):
        self.conn, self.lock = conn, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
