"""BM25 over the chunks: a segmented index updated in place of rebuilt, with exact global statistics.

Also the tokenizer every lexical feature shares (`tokenize`, `STOPWORDS`, `sentence_terms`, `QuestionTerms`)."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import chain, islice
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


# Letters that carry no diacritic to drop but are written plainly in English text ("Straße", "Ørsted", "Łódź").
_LATIN_PLAIN = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
                              "ı": "i", "ŀ": "l"})


def _latin(char: str) -> bool:
    return char < "\u0250" or "\u1e00" <= char <= "\u1eff"


def fold(word: str) -> str:
    """A lower-case word with the diacritics of its Latin letters dropped ("céloron" -> "celoron", "bogotá"
    -> "bogota", "straße" -> "strasse"), as people type names in chat and as MiniLM's uncased tokenizer reads
    them. Letters of other scripts are kept whole (Cyrillic "й", Japanese voiced kana, Devanagari vowel
    signs: their marks are part of the letter)."""
    if word.isascii():
        return word
    out = []
    for char in word:
        if char.isascii() or not _latin(char):
            out.append(char)
            continue
        out.append("".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
                   .translate(_LATIN_PLAIN))
    return "".join(out)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(fold(word))


# The tokenizer's version, in every saved BM25 manifest: an index whose words were split by another
# version is rebuilt (by the writer; in memory by a reader meanwhile), never queried with this one's terms.
TOKENIZER = "snowball-en+fold-latin+contractions+acronyms/4"
# /1 (no "tokenizer" key): diacritics kept; /2: contractions kept whole ("wouldn't", "they're" were terms);
# /3: a dotted acronym split into letters ("U.S." was "u" and the stopword "s", never the question's "US")

# A dotted acronym ("U.S.", "U.N.", "D.C."), read as the word its letters spell.
_ACRONYM = r"(?:[^\W\d_]\.){2,}(?![^\W_])"
_DOTTED = re.compile(rf"(?<![^\W_]){_ACRONYM}")

# A contraction's ending ("wouldn't" -> would, "they're" -> they), dropped before the stopword test.
_CONTRACTION = re.compile(r"(?:n't|'re|'ve|'ll|'d|'m)$")
_IRREGULAR_CONTRACTIONS = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "is"}


def _base_word(word: str) -> str:
    """A lower-cased word without its possessive or a contraction's ending."""
    if "'" not in word:
        return word
    word = word.removesuffix("'s")
    found = _CONTRACTION.search(word)
    if found is not None:
        word = _IRREGULAR_CONTRACTIONS.get(word) or word[: found.start()]
    return word


# tokenize's words: a dotted acronym, or a word as _WORD reads it (one pass over the text).
# (A match starts only where the last one ended or at a non-word character: no look-behind is needed.)
_TERM = re.compile(rf"{_ACRONYM}|{_WORD.pattern}")


def _undot(word: str) -> str:
    return word.replace(".", "") if "." in word else word


def undot_acronyms(text: str) -> str:
    """The text with each dotted acronym written as one word ("the U.S. and the U.N." -> "the US and the UN")."""
    return _DOTTED.sub(lambda m: _undot(m.group(0)), text) if "." in text else text


def tokenize(text: str) -> list[str]:
    """Lower-cased, stemmed content words, Latin diacritics dropped (`fold`); a contraction counts as its
    first word ("wouldn't" is "would", a stopword; "Sullivan'll" is "sullivan"); a dotted acronym as the
    word its letters spell ("U.S." is "us", as a question writes it)."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)  # a decomposed "é" (e + U+0301) is one letter, not a break
    words = (_base_word(_undot(m.group(0).lower().replace("’", "'"))) for m in _TERM.finditer(text))
    return [_stem(w) for w in words if w and w not in STOPWORDS]


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



# ---------------------------------------------------------------------------------------------- the BM25 index
#
# Lucene-like: immutable segments (postings of a set of chunks), a shared append-only vocabulary, and exact
# global statistics (live document count, total length, document frequency per term) kept per version, so
# every score equals the one a full rebuild (bm25s, "lucene" variant) would give. An update makes a new
# version: a new segment for the added chunks, tombstones for the removed ones (their df and length are
# subtracted), and, now and then, a merge of the smallest segments (which drops the tombstoned chunks).
#
# On disk every file is immutable and named by its content (sha256): segments ("seg-*.lxs"), the
# tombstones of a segment at some version ("del-*.lxd") and ranges of the vocabulary ("voc-*.lxv").
# `save` writes only the files not there yet (temp name, fsync, rename) and returns the manifest naming
# them with their sizes and checksums; the caller's commit record holds the manifest, so a crash in the
# middle of a save leaves the previous manifest's files untouched.

K1 = 1.5
B = 0.75
MAX_SEGMENTS = 8  # more than this after an update: the smallest ones are merged
EXPUNGE_SHARE = 0.5  # a segment whose tombstones exceed this share of its chunks is rewritten
FORMAT = "qa-lexical/1"
_MAGIC = b"QALEX1\n\x00"
_ALIGN = 64
_DTYPES = {"<i4", "<i8", "<u2", "<u4", "<f4", "|u1"}
_LEGACY_FILES = frozenset({
    "rows.json", "params.index.json", "vocab.index.json", "data.csc.index.npy", "indices.csc.index.npy",
    "indptr.csc.index.npy", "nonoccurrence_array.index.npy",
})  # the bm25s files of the previous format, removed by remove_unused
_PREFIXES = ("seg-", "del-", "voc-")
_TEMP = ".tmp-"


def tokenizer_of(manifest: dict) -> str:
    """The tokenizer version a saved manifest was built with (the first version wrote none)."""
    version = manifest.get("tokenizer") if isinstance(manifest, dict) else None
    return version if isinstance(version, str) else "snowball-en/1"


class LexicalIndexError(Exception):
    """The files of a saved index are missing, damaged or inconsistent with its manifest.

    `str(error)` names the file and what is wrong with it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Record:
    """A file of a saved index: content-derived name, byte size, sha256."""

    __slots__ = ("name", "size", "sha256")

    def __init__(self, name: str, size: int, sha256: str):
        self.name, self.size, self.sha256 = name, size, sha256

    def entry(self) -> dict:
        return {"file": self.name, "bytes": self.size, "sha256": self.sha256}


# ------------------------------------------------------------------------------------- the container format
# magic (8 bytes) | header length (uint64 LE) | header JSON | padding | arrays, each at a 64-byte boundary.
# The header: {"kind", "meta", "arrays": [[name, dtype, length, offset], ...]}.


def _encode(kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> list:
    """The file's content as a list of buffers (the arrays are not copied)."""
    specs, buffers, offset = [], [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        array = array.astype(array.dtype.newbyteorder("<"), copy=False) if array.dtype.byteorder == ">" else array
        specs.append([name, array.dtype.str, int(array.size), offset])
        buffers.append(array)
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    header = json.dumps({"kind": kind, "meta": meta, "arrays": specs}, separators=(",", ":")).encode()
    start = -(-(len(_MAGIC) + 8 + len(header)) // _ALIGN) * _ALIGN
    head = _MAGIC + len(header).to_bytes(8, "little") + header
    out = [head + b"\0" * (start - len(head))]
    for array in buffers:
        data = memoryview(array).cast("B") if array.size else b""
        out.append(data)
        pad = -len(data) % _ALIGN
        if pad:
            out.append(b"\0" * pad)
    return out


def _decode(data: bytes, kind: str, path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) of a file's content; the arrays are read-only views of `data`."""
    def bad(why: str) -> LexicalIndexError:
        return LexicalIndexError(f"{path}: unreadable ({why})")

    if len(data) < len(_MAGIC) + 8 or data[: len(_MAGIC)] != _MAGIC:
        raise bad("not a lexical index file")
    size = int.from_bytes(data[len(_MAGIC) : len(_MAGIC) + 8], "little")
    begin = len(_MAGIC) + 8
    if size > len(data) - begin:
        raise bad("header runs past the end")
    try:
        header = json.loads(data[begin : begin + size])
        if header.get("kind") != kind:
            raise bad(f"holds a {header.get('kind')!r}, expected a {kind!r}")
        meta = header["meta"]
        if not isinstance(meta, dict):
            raise bad("malformed header")
        base = -(-(begin + size) // _ALIGN) * _ALIGN
        arrays = {}
        for name, dtype, length, offset in header["arrays"]:
            if dtype not in _DTYPES or not isinstance(length, int) or not isinstance(offset, int):
                raise bad(f"array {name!r} has a bad type or length")
            dt = np.dtype(dtype)
            if length < 0 or offset < 0 or base + offset + length * dt.itemsize > len(data):
                raise bad(f"array {name!r} runs past the end")
            arrays[name] = np.frombuffer(data, dtype=dt, count=length, offset=base + offset)
    except LexicalIndexError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # json, unpacking, frombuffer
        raise bad(f"malformed header: {exc}") from None
    return meta, arrays


def _need(arrays: dict, names: tuple[str, ...], path: Path) -> None:
    missing = [n for n in names if n not in arrays]
    if missing:
        raise LexicalIndexError(f"{path}: unreadable (no {', '.join(missing)})")


def _check(condition: bool, path: Path, why: str) -> None:
    if not condition:
        raise LexicalIndexError(f"{path}: unreadable ({why})")


def _strings_blob(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\0".join(strings).encode(), dtype=np.uint8)


def _blob_strings(blob: np.ndarray, count: int, path: Path) -> list[str]:
    if count == 0:
        _check(blob.size == 0, path, "strings where none are expected")
        return []
    try:
        strings = blob.tobytes().decode().split("\0")
    except UnicodeDecodeError:
        raise LexicalIndexError(f"{path}: unreadable (strings are not UTF-8)") from None
    _check(len(strings) == count, path, f"{len(strings)} strings, expected {count}")
    return strings


# -------------------------------------------------------------------------------------------- the parts


class _Vocabulary:
    """Term -> global term id, append-only and shared by every version derived from one build or load
    (each version knows how many terms it uses, so terms appended later are invisible to it)."""

    def __init__(self, terms: Sequence[str] = (), tokenizer: str = TOKENIZER):
        self.tokenizer = tokenizer  # the `tokenize` version that split the words of every version's texts
        self.terms: list[str] = list(terms)
        self.index: dict[str, int] = _TermIds()
        self.index.update(zip(self.terms, range(len(self.terms))))
        self.lock = threading.Lock()
        self.pieces: dict[tuple[int, int], "_VocabularyPiece"] = {}

    def encode(self, tokens: Sequence[Sequence[str]]) -> np.ndarray:
        """The term ids of all tokens of all documents, one flat int32 array; new terms are appended."""
        count = sum(len(t) for t in tokens)
        with self.lock:
            before = len(self.index)
            ids = np.fromiter(map(self.index.__getitem__, chain.from_iterable(tokens)), dtype=np.int32, count=count)
            if len(self.index) > before:
                self.terms.extend(islice(self.index, before, None))
        return ids

    def tiling(self, n_terms: int) -> list["_VocabularyPiece"]:
        """Pieces covering term ids [0, n_terms): known pieces where they fit, a new one for the rest; the
        trailing pieces are merged while the one before is at most twice the size of the last, so a long
        run of small updates leaves O(log n) pieces."""
        with self.lock:
            tiling, at = [], 0
            while at < n_terms:
                ends = [end for (start, end) in self.pieces if start == at and end <= n_terms]
                end = max(ends, default=n_terms)
                tiling.append(self.pieces.get((at, end)) or _VocabularyPiece(self, at, end))
                at = end
            while len(tiling) >= 2 and tiling[-2].count <= 2 * tiling[-1].count:
                last = tiling.pop()
                tiling[-1] = _VocabularyPiece(self, tiling[-1].start, last.end)
            self.pieces = {(p.start, p.end): p for p in tiling}
            return tiling


class _TermIds(dict):
    """A dict that gives a missing term the next id (`__getitem__` only; `get` stays a plain lookup)."""

    def __missing__(self, term: str) -> int:
        tid = self[term] = len(self)
        return tid


class _VocabularyPiece:
    __slots__ = ("vocabulary", "start", "end", "record")

    def __init__(self, vocabulary: _Vocabulary, start: int, end: int, record: _Record | None = None):
        self.vocabulary, self.start, self.end, self.record = vocabulary, start, end, record

    @property
    def count(self) -> int:
        return self.end - self.start

    def encode(self) -> tuple[str, list]:
        terms = self.vocabulary.terms[self.start : self.end]
        return "voc", _encode("vocabulary", {"start": self.start, "end": self.end},
                              {"terms": _strings_blob(terms)})


class _Segment:
    """Immutable postings of some chunks: for each term in them (sorted global ids), the chunks holding it
    (local indices, ascending) and its frequency there; plus each chunk's id and length."""

    __slots__ = ("ids", "terms", "indptr", "docs", "tf", "lengths", "total_length", "record", "_forward",
                 "_lengths32")

    def __init__(self, ids: list[str], terms, indptr, docs, tf, lengths, record: _Record | None = None):
        self.ids = ids
        self.terms, self.indptr, self.docs, self.tf, self.lengths = terms, indptr, docs, tf, lengths
        self.total_length = int(lengths.sum(dtype=np.int64))
        self.record = record
        self._forward = None
        self._lengths32 = lengths.astype(np.float32)

    @property
    def n_docs(self) -> int:
        return len(self.ids)

    @classmethod
    def from_postings(cls, ids: list[str], term_ids: np.ndarray, doc_of: np.ndarray, tf: np.ndarray | None,
                      lengths: np.ndarray, n_terms: int) -> "_Segment":
        """From (term id, local doc) pairs in doc order (repeated pairs are summed when tf is None)."""
        from scipy.sparse import coo_matrix

        if len(term_ids) * 8 < n_terms:
            terms, local = np.unique(term_ids, return_inverse=True)
        else:
            present = np.zeros(n_terms, dtype=bool)
            present[term_ids] = True
            terms = np.flatnonzero(present)
            local = (np.cumsum(present, dtype=np.int64) - 1)[term_ids]
        data = np.ones(len(term_ids), dtype=np.int32) if tf is None else tf
        matrix = coo_matrix((data, (local, doc_of)), shape=(len(terms), len(ids))).tocsr()
        matrix.sum_duplicates()
        counts = matrix.data
        tf_dtype = np.uint16 if counts.size == 0 or counts.max() <= np.iinfo(np.uint16).max else np.uint32
        return cls(ids, terms.astype(np.int32), matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
                   counts.astype(tf_dtype), np.asarray(lengths, dtype=np.int32))

    def rows(self, term_ids: np.ndarray) -> np.ndarray:
        """The local row of each term id, -1 where the segment lacks it."""
        at = np.searchsorted(self.terms, term_ids)
        found = at < len(self.terms)
        found[found] = self.terms[at[found]] == term_ids[found]
        return np.where(found, at, -1)

    def doc_freq(self) -> np.ndarray:
        return np.diff(self.indptr)

    def forward(self) -> tuple[np.ndarray, np.ndarray]:
        """Doc-major view (indptr, global term ids) for taking removed chunks' terms out of the df: built
        once per segment (linear in its size) and cached; the segment itself stays immutable."""
        if self._forward is None:
            from scipy.sparse import csr_matrix

            matrix = csr_matrix((np.ones(len(self.docs), dtype=np.int8), self.docs, self.indptr),
                                shape=(len(self.terms), self.n_docs)).tocsc()
            self._forward = (matrix.indptr.astype(np.int64), self.terms[matrix.indices])
        return self._forward

    def terms_of(self, local_docs: np.ndarray) -> np.ndarray:
        """Global term ids of the given chunks, concatenated (each term once per chunk)."""
        indptr, terms = self.forward()
        starts, ends = indptr[local_docs], indptr[local_docs + 1]
        sizes = ends - starts
        total = int(sizes.sum())
        if not total:
            return np.zeros(0, dtype=np.int32)
        shift = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
        return terms[np.arange(total, dtype=np.int64) + shift]

    def encode(self) -> tuple[str, list]:
        return "seg", _encode("segment", {"docs": self.n_docs, "terms": len(self.terms)}, {
            "ids": _strings_blob(self.ids), "terms": self.terms, "indptr": self.indptr, "docs": self.docs,
            "tf": self.tf, "lengths": self.lengths,
        })

    @classmethod
    def decode(cls, data: bytes, path: Path, n_terms: int, record: _Record) -> "_Segment":
        meta, a = _decode(data, "segment", path)
        _need(a, ("ids", "terms", "indptr", "docs", "tf", "lengths"), path)
        n_docs = meta.get("docs")
        terms, indptr, docs, tf, lengths = a["terms"], a["indptr"], a["docs"], a["tf"], a["lengths"]
        _check(isinstance(n_docs, int) and n_docs == len(lengths), path, "chunk count")
        _check(terms.dtype == np.int32 and indptr.dtype == np.int64 and docs.dtype == np.int32
               and tf.dtype in (np.uint16, np.uint32) and lengths.dtype == np.int32, path, "array types")
        _check(len(indptr) == len(terms) + 1 and indptr[0] == 0 and indptr[-1] == len(docs) == len(tf)
               and bool(np.all(np.diff(indptr) >= 0)), path, "postings offsets")
        _check(len(terms) == 0 or (terms[0] >= 0 and terms[-1] < n_terms and bool(np.all(np.diff(terms) > 0))),
               path, "term ids")
        _check(len(docs) == 0 or (int(docs.min()) >= 0 and int(docs.max()) < n_docs and int(tf.min()) >= 1),
               path, "postings")
        _check(n_docs == 0 or int(lengths.min()) >= 0, path, "chunk lengths")
        ids = _blob_strings(a["ids"], n_docs, path)
        return cls(ids, terms, indptr, docs, tf, lengths, record)


class _Tombstones:
    """The removed chunks of one segment at some version (local indices, sorted), the df they took away
    (per global term id) and their total length. Immutable; a later removal makes a new one."""

    __slots__ = ("segment", "docs", "terms", "counts", "length", "record")

    def __init__(self, segment: _Segment, docs, terms, counts, length: int, record: _Record | None = None):
        self.segment, self.docs, self.terms, self.counts, self.length = segment, docs, terms, counts, length
        self.record = record

    @property
    def count(self) -> int:
        return len(self.docs)

    def plus(self, local_docs: np.ndarray, removed_terms: np.ndarray) -> "_Tombstones":
        docs = np.union1d(self.docs, local_docs).astype(np.int32)
        terms, inverse = np.unique(np.concatenate([self.terms, removed_terms]), return_inverse=True)
        weights = np.concatenate([self.counts, np.ones(len(removed_terms), dtype=np.int32)])
        counts = np.bincount(inverse, weights=weights, minlength=len(terms)).astype(np.int32)
        length = self.length + int(self.segment.lengths[local_docs].sum(dtype=np.int64))
        return _Tombstones(self.segment, docs, terms.astype(np.int32), counts, length)

    @classmethod
    def empty(cls, segment: _Segment) -> "_Tombstones":
        none = np.zeros(0, dtype=np.int32)
        return cls(segment, none, none, none, 0)

    def encode(self) -> tuple[str, list]:
        assert self.segment.record is not None
        return "del", _encode("tombstones", {"segment": self.segment.record.name, "docs": self.count,
                                             "length": self.length},
                              {"docs": self.docs, "terms": self.terms, "counts": self.counts})

    @classmethod
    def decode(cls, data: bytes, path: Path, segment: _Segment, n_terms: int, record: _Record) -> "_Tombstones":
        meta, a = _decode(data, "tombstones", path)
        _need(a, ("docs", "terms", "counts"), path)
        docs, terms, counts = a["docs"], a["terms"], a["counts"]
        _check(meta.get("segment") == segment.record.name, path, f"belongs to {meta.get('segment')!r}, "
               f"not {segment.record.name!r}")
        _check(docs.dtype == terms.dtype == counts.dtype == np.int32 and len(terms) == len(counts)
               and meta.get("docs") == len(docs), path, "array types or counts")
        _check(len(docs) == 0 or (docs[0] >= 0 and docs[-1] < segment.n_docs and bool(np.all(np.diff(docs) > 0))),
               path, "chunk indices")
        _check(len(terms) == 0 or (terms[0] >= 0 and terms[-1] < n_terms and bool(np.all(np.diff(terms) > 0))
                                   and int(counts.min()) >= 1), path, "term ids")
        length = int(segment.lengths[docs].sum(dtype=np.int64))
        _check(meta.get("length") == length, path, "removed length")
        return cls(segment, docs, terms, counts, length, record)


class _DocFreq(Mapping):
    """term -> number of live chunks holding it (read-only view of one version)."""

    __slots__ = ("_index", "_df", "_n_terms", "_terms")

    def __init__(self, index: dict, df: np.ndarray, terms: list[str]):
        self._index, self._df, self._n_terms, self._terms = index, df, len(df), terms

    def _id(self, term: str) -> int | None:
        tid = self._index.get(term)
        return tid if tid is not None and tid < self._n_terms and self._df[tid] > 0 else None

    def get(self, term: str, default=None):
        tid = self._id(term)
        return default if tid is None else int(self._df[tid])

    def __getitem__(self, term: str) -> int:
        tid = self._id(term)
        if tid is None:
            raise KeyError(term)
        return int(self._df[tid])

    def __contains__(self, term) -> bool:
        return self._id(term) is not None

    def __iter__(self):
        return (self._terms[i] for i in np.flatnonzero(self._df))

    def __len__(self) -> int:
        return int(np.count_nonzero(self._df))


# ------------------------------------------------------------------------------------------------ the index


class LexicalIndex:
    """One immutable version of the BM25 index over the chunks.

    Column i of `term_scores` is chunk `chunk_ids[i]` (None for a removed chunk, which always scores 0);
    `row_of` maps each live chunk id to its column. `updated` returns a new version and leaves this one
    as it is, so readers in other threads may keep using it."""

    def __init__(self, vocabulary: _Vocabulary, n_terms: int, parts: Sequence[tuple[_Segment, _Tombstones]],
                 df: np.ndarray, chunk_ids: list[str | None] | None = None, row_of: dict[str, int] | None = None):
        self._vocabulary = vocabulary
        self._n_terms = n_terms
        self._parts = tuple(parts)
        df.flags.writeable = False
        self._df = df
        self._n_live = sum(seg.n_docs - dead.count for seg, dead in self._parts)
        self._total_length = sum(seg.total_length - dead.length for seg, dead in self._parts)
        offsets = np.cumsum([0] + [seg.n_docs for seg, _ in self._parts], dtype=np.int64)
        self._offsets = offsets
        self._dead_columns = np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [off + dead.docs for (_, dead), off in zip(self._parts, offsets) if dead.count]
        )
        if chunk_ids is None:
            chunk_ids = []
            for seg, dead in self._parts:
                if dead.count:
                    ids: list[str | None] = list(seg.ids)
                    for d in dead.docs.tolist():
                        ids[d] = None
                    chunk_ids.extend(ids)
                else:
                    chunk_ids.extend(seg.ids)
        self.chunk_ids: list[str | None] = chunk_ids
        if row_of is None:
            row_of = dict(zip(chunk_ids, range(len(chunk_ids))))
            row_of.pop(None, None)  # the removed chunks' columns
        self.row_of: dict[str, int] = row_of
        self.doc_freq: Mapping[str, int] = _DocFreq(vocabulary.index, df, vocabulary.terms)

    # ------------------------------------------------------------------------------------------ building
    @classmethod
    def build(cls, chunk_ids: Sequence[str], texts: Sequence[str]) -> "LexicalIndex":
        """A one-segment index of the chunks (texts are tokenized with `tokenize`); an id given twice keeps
        its last text."""
        ids, texts = _unique(chunk_ids, texts)
        return cls.from_tokens(ids, [tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, chunk_ids: Sequence[str], tokens: Sequence[Sequence[str]]) -> "LexicalIndex":
        """Like `build`, from already tokenized texts (unique ids)."""
        vocabulary = _Vocabulary()
        segment = _new_segment(vocabulary, list(chunk_ids), tokens)
        n_terms = len(vocabulary.terms)
        df = np.zeros(n_terms, dtype=np.int64)
        parts = []
        if segment is not None:
            df[segment.terms] = segment.doc_freq()
            parts.append((segment, _Tombstones.empty(segment)))
        return cls(vocabulary, n_terms, parts, df)

    def updated(self, add_ids: Sequence[str], add_texts: Sequence[str],
                remove_ids: Iterable[str] = ()) -> "LexicalIndex":
        """A new version with `remove_ids` removed and the chunks `add_ids` (re)added: an id already in
        the index is replaced; ids not in it are ignored in `remove_ids`; an id in both is (re)added.
        Costs about the size of the change (plus, now and then, a merge of small segments)."""
        add_ids, add_texts = _unique(add_ids, add_texts)
        return self.updated_tokens(add_ids, [tokenize(t) for t in add_texts], remove_ids)

    def updated_tokens(self, add_ids: Sequence[str], add_tokens: Sequence[Sequence[str]],
                       remove_ids: Iterable[str] = ()) -> "LexicalIndex":
        """Like `updated`, from already tokenized texts (unique ids)."""
        add_ids = list(add_ids)
        if len(add_ids) != len(add_tokens):
            raise ValueError("add_ids and the texts differ in length")
        removed = {cid for cid in chain(remove_ids, add_ids) if cid in self.row_of}
        if not removed and not add_ids:
            return self
        vocabulary = self._vocabulary
        segment = _new_segment(vocabulary, add_ids, add_tokens)
        # The vocabulary only grows (other versions may have added terms: they have df 0 here).
        n_terms = len(vocabulary.terms) if segment is not None else self._n_terms
        df = np.zeros(n_terms, dtype=np.int64)
        df[: self._n_terms] = self._df

        # Tombstones, per segment.
        parts = list(self._parts)
        columns = np.sort(np.fromiter((self.row_of[cid] for cid in removed), dtype=np.int64, count=len(removed)))
        which = np.searchsorted(self._offsets, columns, side="right") - 1
        for k in np.unique(which).tolist():
            seg, dead = parts[k]
            local = (columns[which == k] - self._offsets[k]).astype(np.int32)
            gone = seg.terms_of(local)
            np.subtract.at(df, gone, 1)
            parts[k] = (seg, dead.plus(local, gone))
        if segment is not None:
            df[segment.terms] += segment.doc_freq()

        # The incremental case keeps the columns; dropping or merging segments renumbers them.
        emptied = [k for k, (seg, dead) in enumerate(parts) if dead.count == seg.n_docs]
        kept = [p for k, p in enumerate(parts) if k not in set(emptied)]
        if segment is not None:
            kept.append((segment, _Tombstones.empty(segment)))
        merged = _merge_policy(kept, n_terms)
        if merged is None and not emptied:
            chunk_ids = list(self.chunk_ids)
            row_of = dict(self.row_of)
            for cid in removed:
                chunk_ids[row_of.pop(cid)] = None
            if segment is not None:
                row_of.update(zip(segment.ids, range(len(chunk_ids), len(chunk_ids) + segment.n_docs)))
                chunk_ids.extend(segment.ids)
            return LexicalIndex(vocabulary, n_terms, kept, df, chunk_ids, row_of)
        return LexicalIndex(vocabulary, n_terms, merged if merged is not None else kept, df)

    def compacted(self) -> "LexicalIndex":
        """The same content in one segment without tombstones (linear in the size of the index)."""
        if len(self._parts) <= 1 and not len(self._dead_columns):
            return self
        parts = [_merge(self._parts, self._n_terms)] if self._n_live else []
        parts = [(s, _Tombstones.empty(s)) for s in parts]
        return LexicalIndex(self._vocabulary, self._n_terms, parts, self._df.copy())

    # ---------------------------------------------------------------------------------------- querying
    @property
    def tokenizer(self) -> str:
        """The `tokenize` version its texts were split with (`TOKENIZER`, or an older one's, once loaded)."""
        return self._vocabulary.tokenizer

    @property
    def size(self) -> int:
        """Number of columns of `term_scores` (live and removed chunks)."""
        return len(self.chunk_ids)

    def __len__(self) -> int:
        """Number of live chunks."""
        return self._n_live

    def ids(self) -> set[str]:
        """The live chunk ids."""
        return set(self.row_of)

    def segments(self) -> list[tuple[int, int]]:
        """(chunks, removed chunks) of each segment, for diagnostics."""
        return [(seg.n_docs, dead.count) for seg, dead in self._parts]

    def idf(self, term: str) -> float:
        """Smoothed IDF; a term absent from the corpus gets the highest value (it is the most telling)."""
        n = max(self._n_live, 1)
        return math.log(1 + (n + 1) / (self.doc_freq.get(term, 0) + 0.5))

    def term_scores(self, terms: list[str]) -> np.ndarray:
        """BM25 score of each term in each chunk (terms × columns); BM25 of the query is the column sum.
        The "lucene" variant with exact global statistics: the scores bm25s gives a rebuilt index."""
        out = np.zeros((len(terms), self.size), dtype=np.float32)
        if not terms or not self._n_live or not self._total_length:
            return out
        index, df_all, n = self._vocabulary.index, self._df, self._n_live
        tids = np.array([index.get(t, -1) for t in terms], dtype=np.int64)
        tids[tids >= self._n_terms] = -1
        df = np.where(tids >= 0, df_all[np.maximum(tids, 0)], 0)
        wanted = np.flatnonzero(df > 0)
        if not len(wanted):
            return out
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        avgdl = self._total_length / n
        base, slope = np.float32(K1 * (1 - B)), np.float32(K1 * B / avgdl)
        for (seg, _), offset in zip(self._parts, self._offsets.tolist()):
            rows = seg.rows(tids[wanted])
            for i, row in zip(wanted.tolist(), rows.tolist()):
                if row < 0:
                    continue
                start, end = seg.indptr[row], seg.indptr[row + 1]
                docs = seg.docs[start:end]
                tf = seg.tf[start:end].astype(np.float32)
                out[i, offset + docs] = idf[i] * tf / (tf + (base + slope * seg._lengths32[docs]))
        if len(self._dead_columns):
            out[:, self._dead_columns] = 0.0
        return out

    # ------------------------------------------------------------------------------------- persistence
    def save(self, directory: Path) -> dict:
        """Write the files of this version that `directory` lacks (each to a temporary name, fsynced,
        renamed; then the directory is fsynced) and return its manifest (JSON-able), which the caller
        stores in its own commit record. Existing files are never modified, so the files of any earlier
        manifest stay intact whatever happens during the save."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        vocabulary = []
        for piece in self._vocabulary.tiling(self._n_terms):
            _store(directory, piece)
            vocabulary.append({**piece.record.entry(), "start": piece.start, "end": piece.end})
        segments = []
        for seg, dead in self._parts:
            _store(directory, seg)
            entry = {**seg.record.entry(), "docs": seg.n_docs, "tombstones": None}
            if dead.count:
                _store(directory, dead)
                entry["tombstones"] = {**dead.record.entry(), "docs": dead.count}
            segments.append(entry)
        _fsync_directory(directory)  # the renames (this save's, or an interrupted one's) are durable
        return {"format": FORMAT, "tokenizer": self.tokenizer, "chunks": self._n_live, "columns": self.size, "terms": self._n_terms,
                "total_length": self._total_length, "vocabulary": vocabulary, "segments": segments}

    @classmethod
    def load(cls, directory: Path, manifest: dict) -> "LexicalIndex":
        """The version a manifest describes. Every file's size and sha256 are checked first; any damage
        raises LexicalIndexError naming the file and the problem."""
        directory = Path(directory)
        try:
            return cls._load(directory, manifest)
        except LexicalIndexError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LexicalIndexError(
                f"the BM25 manifest for {directory} is malformed ({type(exc).__name__}: {exc})") from None

    @classmethod
    def _load(cls, directory: Path, manifest: dict) -> "LexicalIndex":
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
            raise LexicalIndexError(f"the BM25 manifest for {directory} has format {got!r}, expected {FORMAT!r}")
        n_terms = int(manifest["terms"])
        terms: list[str] = []
        pieces = []
        for entry in manifest["vocabulary"]:
            record, path = _record(entry), directory / entry["file"]
            meta, arrays = _decode(_read_verified(path, record), "vocabulary", path)
            _need(arrays, ("terms",), path)
            start, end = meta.get("start"), meta.get("end")
            _check(start == entry["start"] == len(terms) and isinstance(end, int) and end == entry["end"] >= start,
                   path, f"covers terms {start}..{end}, expected from {len(terms)}")
            terms.extend(_blob_strings(arrays["terms"], end - start, path))
            pieces.append((start, end, record))
        if len(terms) != n_terms:
            raise LexicalIndexError(f"the BM25 vocabulary in {directory} holds {len(terms)} terms, "
                                    f"the manifest says {n_terms}")
        vocabulary = _Vocabulary(terms, tokenizer_of(manifest))
        if len(vocabulary.index) != len(terms):
            raise LexicalIndexError(f"the BM25 vocabulary in {directory} repeats terms")
        vocabulary.pieces = {(s, e): _VocabularyPiece(vocabulary, s, e, r) for s, e, r in pieces}

        df = np.zeros(n_terms, dtype=np.int64)
        parts = []
        for entry in manifest["segments"]:
            record, path = _record(entry), directory / entry["file"]
            seg = _Segment.decode(_read_verified(path, record), path, n_terms, record)
            _check(seg.n_docs == entry["docs"], path, f"{seg.n_docs} chunks, the manifest says {entry['docs']}")
            df[seg.terms] += seg.doc_freq()
            dead = _Tombstones.empty(seg)
            if entry.get("tombstones"):
                t_entry = entry["tombstones"]
                t_record, t_path = _record(t_entry), directory / t_entry["file"]
                dead = _Tombstones.decode(_read_verified(t_path, t_record), t_path, seg, n_terms, t_record)
                _check(dead.count == t_entry["docs"], t_path, "removed chunk count")
                df[dead.terms] -= dead.counts
            parts.append((seg, dead))
        if len(df) and int(df.min()) < 0:
            raise LexicalIndexError(f"the BM25 files in {directory} are inconsistent (negative document frequency)")
        index = cls(vocabulary, n_terms, parts, df)
        if len(index.row_of) != len(index):
            raise LexicalIndexError(f"the BM25 files in {directory} are inconsistent (a chunk id is live twice)")
        expected = (manifest["chunks"], manifest["columns"], manifest["total_length"])
        found = (len(index), index.size, index._total_length)
        if found != tuple(expected):
            raise LexicalIndexError(f"the BM25 files in {directory} do not match the manifest "
                                    f"(chunks, columns, length: {found}, expected {tuple(expected)})")
        return index

    @staticmethod
    def remove_unused(directory: Path, keep: Sequence[dict]) -> list[str]:
        """Delete the index files in `directory` that no manifest in `keep` names, leftover temporary
        files and the files of the previous (bm25s) format; returns the names removed. Only for the
        writer (under its lock), after its commit record names the new manifest."""
        directory = Path(directory)
        referenced = set()
        for manifest in keep:
            try:
                for entry in manifest["vocabulary"]:
                    referenced.add(entry["file"])
                for entry in manifest["segments"]:
                    referenced.add(entry["file"])
                    if entry.get("tombstones"):
                        referenced.add(entry["tombstones"]["file"])
            except (KeyError, TypeError, AttributeError) as exc:
                raise LexicalIndexError(f"a BM25 manifest to keep is malformed ({exc}); nothing removed") from None
        if not directory.is_dir():
            return []
        removed = []
        for path in directory.iterdir():
            name = path.name
            ours = name.startswith(_PREFIXES) or name.startswith(_TEMP) or name in _LEGACY_FILES
            if ours and name not in referenced and path.is_file():
                try:
                    path.unlink()
                    removed.append(name)
                except FileNotFoundError:
                    pass
        return removed

    def __repr__(self) -> str:
        return f"LexicalIndex({self._n_live} chunks, {self.size} columns, {len(self._parts)} segments)"


# ------------------------------------------------------------------------------------------------ helpers


def _unique(chunk_ids: Sequence[str], texts: Sequence[str]) -> tuple[list[str], list[str]]:
    if len(chunk_ids) != len(texts):
        raise ValueError("chunk_ids and texts differ in length")
    last = dict(zip(chunk_ids, texts))
    if len(last) == len(chunk_ids):
        return list(chunk_ids), list(texts)
    return list(last), list(last.values())


def _new_segment(vocabulary: _Vocabulary, ids: list[str], tokens: Sequence[Sequence[str]]) -> _Segment | None:
    if not ids:
        return None
    for cid in ids:
        if not isinstance(cid, str) or "\0" in cid:
            raise ValueError(f"a chunk id must be a string without NUL characters: {cid!r}")
    if len(set(ids)) != len(ids):
        raise ValueError("the chunk ids to add repeat an id")
    term_ids = vocabulary.encode(tokens)
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    doc_of = np.repeat(np.arange(len(ids), dtype=np.int32), lengths)
    return _Segment.from_postings(ids, term_ids, doc_of, None, lengths, len(vocabulary.terms))


def _merge(parts: Sequence[tuple[_Segment, _Tombstones]], n_terms: int) -> _Segment:
    """One segment of the live chunks of `parts`, in their order."""
    ids: list[str] = []
    term_ids, doc_of, tfs, lengths = [], [], [], []
    for seg, dead in parts:
        live = np.ones(seg.n_docs, dtype=bool)
        live[dead.docs] = False
        new_index = np.cumsum(live, dtype=np.int64) - 1 + len(ids)
        rows = np.repeat(seg.terms, seg.doc_freq())
        keep = live[seg.docs] if dead.count else slice(None)
        term_ids.append(rows[keep])
        doc_of.append(new_index[seg.docs[keep]])
        tfs.append(seg.tf[keep].astype(np.uint32))
        lengths.append(seg.lengths[live])
        if dead.count:
            ids.extend(seg.ids[i] for i in np.flatnonzero(live).tolist())
        else:
            ids.extend(seg.ids)
    return _Segment.from_postings(ids, np.concatenate(term_ids), np.concatenate(doc_of), np.concatenate(tfs),
                                  np.concatenate(lengths), n_terms)


def _merge_policy(parts: list[tuple[_Segment, _Tombstones]], n_terms: int) -> list | None:
    """The parts after merging, or None when nothing is merged. With more than MAX_SEGMENTS segments the
    smallest (by live chunks) are merged: the two smallest, plus each next one no larger than their sum
    so far, which merges segments of similar size (a tiered policy: each chunk is rewritten O(log n)
    times). A segment more than EXPUNGE_SHARE removed is rewritten too."""
    live = [seg.n_docs - dead.count for seg, dead in parts]
    group: set[int] = set()
    if len(parts) > MAX_SEGMENTS:
        order = sorted(range(len(parts)), key=lambda k: live[k])
        group, total = set(order[:2]), live[order[0]] + live[order[1]]
        for k in order[2:]:
            if live[k] > total:
                break
            group.add(k)
            total += live[k]
    group |= {k for k, (seg, dead) in enumerate(parts) if dead.count > EXPUNGE_SHARE * seg.n_docs}
    if not group:
        return None
    members = [parts[k] for k in sorted(group)]
    merged = _merge(members, n_terms)
    first = min(group)
    out = []
    for k, part in enumerate(parts):
        if k == first:
            out.append((merged, _Tombstones.empty(merged)))
        elif k not in group:
            out.append(part)
    return out


def _record(entry: dict) -> _Record:
    name, size, sha = entry["file"], entry["bytes"], entry["sha256"]
    if not (isinstance(name, str) and name.startswith(_PREFIXES) and "/" not in name and "\\" not in name
            and isinstance(size, int) and isinstance(sha, str)):
        raise LexicalIndexError(f"the BM25 manifest has a malformed file entry: {entry!r}")
    return _Record(name, size, sha)


def _read_verified(path: Path, record: _Record) -> bytes:
    """The file's bytes, after checking its size and then its sha256 against the manifest."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise LexicalIndexError(f"{path}: missing") from None
    except OSError as exc:
        raise LexicalIndexError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if size != record.size:
        what = "truncated" if size < record.size else "wrong size"
        raise LexicalIndexError(f"{path}: {what} ({size} bytes, expected {record.size})")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise LexicalIndexError(f"{path}: unreadable ({exc.strerror or exc})") from None
    if len(data) != record.size:
        raise LexicalIndexError(f"{path}: truncated ({len(data)} bytes read, expected {record.size})")
    digest = hashlib.sha256(data).hexdigest()
    if digest != record.sha256:
        raise LexicalIndexError(
            f"{path}: checksum mismatch (sha256 {digest[:16]}…, expected {record.sha256[:16]}…)")
    return data


def _store(directory: Path, part) -> bool:
    """Make sure `directory` holds the part's file; returns whether it wrote one. Content-named files are
    never rewritten in place: a missing or wrong-sized one is written to a temporary name and renamed."""
    record = part.record
    if record is not None:
        try:
            if os.stat(directory / record.name).st_size == record.size:
                return False
        except FileNotFoundError:
            pass
    prefix, buffers = part.encode()
    digest = hashlib.sha256()
    for buffer in buffers:
        digest.update(buffer)
    sha = digest.hexdigest()
    size = sum(len(b) if isinstance(b, bytes) else b.nbytes for b in buffers)
    ext = {"seg": "lxs", "del": "lxd", "voc": "lxv"}[prefix]
    name = f"{prefix}-{sha[:32]}.{ext}"
    if record is not None and (record.sha256 != sha or record.name != name):
        raise LexicalIndexError(f"{directory / record.name}: the part in memory no longer matches its record")
    part.record = _Record(name, size, sha)
    target = directory / name
    try:  # a file of that name from an earlier save: keep it only if it is intact (repair rewrites damage)
        if os.stat(target).st_size == size and _file_sha256(target) == sha:
            return False
    except FileNotFoundError:
        pass
    temp = directory / f"{_TEMP}{uuid.uuid4().hex}-{name}"
    try:
        with open(temp, "wb") as f:
            for buffer in buffers:
                f.write(buffer)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return True


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Irregular verbs: a question's "speak" is the article's "spoke" (the stemmer cannot see it). Base, past,
# participle; a question term matches a text holding any form of its verb.
_IRREGULAR_VERBS = """
arise arose arisen; be was were been; bear bore born borne; beat beat beaten; become became; begin began begun;
bend bent; bet bet; bid bid; bind bound; bite bit bitten; bleed bled; blow blew blown; break broke broken;
breed bred; bring brought; build built; burn burnt; buy bought; catch caught; choose chose chosen; come came;
cost cost; creep crept; cut cut; deal dealt; dig dug; do did done; draw drew drawn; dream dreamt; drink drank
drunk; drive drove driven; eat ate eaten; fall fell fallen; feed fed; feel felt; fight fought; find found;
flee fled; fly flew flown; forbid forbade forbidden; forget forgot forgotten; forgive forgave forgiven; freeze
froze frozen; get got gotten; give gave given; go went gone; grow grew grown; hang hung; have had; hear heard;
hide hid hidden; hit hit; hold held; hurt hurt; keep kept; know knew known; lay laid; lead led; leave left;
lend lent; let let; lie lay lain; lose lost; make made; mean meant; meet met; pay paid; put put; quit quit;
read read; ride rode ridden; ring rang rung; rise rose risen; run ran; say said; see saw seen; seek sought;
sell sold; send sent; set set; shake shook shaken; shoot shot; show showed shown; shut shut; sing sang sung;
sink sank sunk; sit sat; sleep slept; slide slid; speak spoke spoken; spend spent; spread spread; stand stood;
steal stole stolen; stick stuck; strike struck; swear swore sworn; sweep swept; swim swam swum; take took
taken; teach taught; tear tore torn; tell told; think thought; throw threw thrown; understand understood;
wake woke woken; wear wore worn; win won; withdraw withdrew withdrawn; write wrote written
"""


def _verb_forms() -> dict[str, frozenset[str]]:
    forms: dict[str, frozenset[str]] = {}
    for entry in _IRREGULAR_VERBS.replace("\n", " ").split(";"):
        words = entry.split()
        stems = frozenset(_stem(w) for w in words if w not in STOPWORDS)
        for stem in stems:
            forms[stem] = forms.get(stem, frozenset()) | stems
    return forms


_VERB_FORMS: dict[str, frozenset[str]] | None = None


def term_forms(term: str) -> frozenset[str]:
    """The stems a question term matches in a text: itself, and every form of an irregular verb."""
    global _VERB_FORMS
    if _VERB_FORMS is None:
        _VERB_FORMS = _verb_forms()
    return _VERB_FORMS.get(term, frozenset((term,)))


class QuestionTerms:
    """A question's content terms with IDF weights, to measure how much of it a text covers. A term is
    found in a text holding any of its forms (an irregular verb's past: "speak" / "spoke")."""

    def __init__(self, question: str, lexical: "LexicalIndex"):
        self.terms = list(dict.fromkeys(tokenize(question)))
        self.forms = {t: term_forms(t) for t in self.terms}
        self.weights = {t: self._weight(t, lexical) for t in self.terms}
        self.total = sum(self.weights.values()) or 1.0

    def _weight(self, term: str, lexical: "LexicalIndex") -> float:
        """Its IDF; for a verb, that of its most common form in the corpus (the one a text will hold)."""
        known = [f for f in self.forms[term] if lexical.doc_freq.get(f)] if len(self.forms[term]) > 1 else ()
        return min(lexical.idf(f) for f in known) if known else lexical.idf(term)

    def _in(self, term: str, terms: set[str]) -> bool:
        forms = self.forms[term]
        return term in terms if len(forms) == 1 else not forms.isdisjoint(terms)

    def held(self, own: set[str]) -> frozenset[str]:
        """The question's terms that `own` holds (in any of their forms)."""
        return frozenset(t for t in self.terms if self._in(t, own))

    def coverage(self, own: set[str], context: set[str] = frozenset(), context_discount: float = 0.5) -> float:
        """IDF-weighted share of the terms in `own`; terms found only in `context` count at a discount."""
        covered = sum(w if self._in(t, own) else context_discount * w if self._in(t, context) else 0.0
                      for t, w in self.weights.items())
        return covered / self.total

    def known_share(self, lexical: "LexicalIndex") -> float:
        """IDF-weighted share of the terms that occur anywhere in the corpus (in any of their forms)."""
        return sum(w for t, w in self.weights.items() if any(lexical.doc_freq.get(f) for f in self.forms[t])) / self.total
