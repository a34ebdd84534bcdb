"""Syndicated copies: find the stored article that a new article is a near-duplicate of.

The same wire story reaches us from several outlets with small edits: another headline, a dateline
("WASHINGTON (Reuters) -"), a few words changed, a sentence added or dropped, an "Additional reporting by"
line, other line breaks. Such a copy is stored once and shown as "also published by ...".

How it works: a text (the body; the headline is not part of it) is normalised (NFKC, casefold, curly quotes
and dashes unified, apostrophes dropped, numbers kept; Han/kana characters are one word each) and cut into
overlapping word shingles of SHINGLE_SIZE words. Its MinHash (datasketch, 128 permutations, scheme
"affine32") is the signature, kept as bytes (num_perm little-endian uint32, 512 bytes). A MinHashLSH over the
signatures gives candidates; each is then verified: by the exact Jaccard similarity of the two shingle sets
when the candidate's text is at hand (``text_of``), else by the MinHash estimate. The best candidate at or
above the threshold is the match.

Choices, measured with ``bench/neardup.py`` (seed 0): 423 indexed articles -- squad-v2-dev paragraph groups of
150-600 words (median 347) and the two sample articles; 340 edited copies (1-5% of words substituted, the
substitutes drawn by corpus frequency, or deleted, and at random a sentence dropped or added, a dateline, a
boilerplate line, re-wrapped paragraphs); 935 negatives -- every indexed article queried against all the
others (which include the other passages of its Wikipedia article, and for the two sample articles the other
one: two stories about the same diplomatic calls sharing a quoted sentence), 100 passages with a sentence of
a neighbour spliced in, each copy with its original excluded, and 72 template pairs: six news-like templates
of 150-250 words (town council, match, market, weather, election and jobless-claims reports) whose two
instances differ only in names and/or numbers, one instance indexed (72 more articles), the other queried:

- SHINGLE_SIZE = 3 words. Exact Jaccard, copies to their original / negatives to their nearest article
  (template pairs aside):
  k=2: copies >= 0.53 (median 0.86), negatives <= 0.27 (p95 0.16, median 0.042);
  k=3: copies >= 0.50 (median 0.81), negatives <= 0.24 (p95 0.095, median 0.013);
  k=4: copies >= 0.48 (median 0.76), negatives <= 0.23 (p95 0.07); k=5: copies >= 0.42, negatives <= 0.22.
  Every size separates this set, but a changed word breaks k shingles, so longer shingles push copies
  towards the negatives, while 2-word shingles are shared by chance (stock phrases): their negatives sit
  higher than with k=3 (3x at the median, 1.7x at p95), a worse tail for a large corpus and more LSH
  candidates. k=3 keeps copies high and the negatives' bulk near 0. (The hardest negative, 0.24, is two
  passages of a Wikipedia article that repeat a whole paragraph; the two sample articles are at 0.12.)
- DEFAULT_THRESHOLD = 0.5. Sweep without the guard below (recall; no false match but the template pairs):
  0.3: 1.0, 0.4: 1.0, 0.5: 1.0, 0.6: 0.991, 0.7: 0.932, 0.8: 0.544 (seeds 1-3: recall 1.0 at 0.5). A false
  match hides an article behind another one, a missed copy only stores it twice, so the threshold is set
  above the middle of the gap (0.37): 0.26 above the hardest negative, at the lowest of the 340 copies
  (0.502; with seeds 1-3 the lowest copy is 0.57-0.61). The template pairs (Jaccard 0.51-0.82) pass it,
  72 of 72, and 12 of them even pass 0.7: no threshold tells them apart, the guard does.
- MAX_NEW_KEY_SHARE = 0.2: the guard, applied when ``text_of`` gives the stored text: key_difference, the
  smaller of the two texts' shares of names and numbers missing from the other (a copy adds a dateline or a
  credit line, or loses a dropped sentence's names, rarely both; a template instance swaps them). Copies vs
  their original: min 0, median 0.03, p95 0.095, max 0.27; template pairs: min 0.30 (town council reports:
  the town and the week differ), median 0.54, p95 0.78. Sweep (precision / recall / template pairs
  merged): off: 0.825/1.0/72, 0.1: 1.0/0.956/0, 0.15: 1.0/0.988/0, 0.2: 1.0/0.997/0, 0.25: 0.997/0.997/1,
  0.3: 0.966/1.0/12. (A one-way share, the copy's new names only, reached recall 0.856 at 0.2: a dateline
  and a credit line are new names in a short copy.) Without ``text_of`` there is no guard: the MinHash
  estimate merges all 72 template pairs; ingest always passes the stored text.
- MIN_WORDS = 50: below that a few shared phrases (a byline, a stock sentence) make up most of the text;
  such a text gets no signature and never matches.
- MAX_WORDS = 5000: only the first 5000 words are shingled (speed on very long texts; two texts that share
  their first 5000 words are the same story for this purpose).
- LSH: the fewest bands (memory and load time grow with them) of >= 2 rows such that a pair exactly at the
  threshold becomes a candidate with probability >= 0.995; at 0.5 with 128 permutations 19 bands of 2 rows
  (candidate probability 0.83 at J=0.3, 0.17 at 0.1, 0.008 at 0.02). Candidates whose MinHash estimate is
  more than 0.2 below the threshold (4.5 standard errors at 128 permutations) are dropped before the exact
  check, so ``text_of`` is called only for plausible ones.

Cost (bench, one CPU core): a signature takes ~1.6-1.9 ms for a 1,000-word article (0.5-0.6 ms on average
for the bench's articles, median 347 words); match() with text_of ~0.8 ms mean, ~1.9 ms p95; add_many()
of 100k signatures ~3.5 s and ~580 MB of memory (datasketch's MinHashLSH keeps a Python set per bucket, 19
per article, plus the 512-byte signature). Not thread-safe: serialise add/remove/match.

Signatures depend on SIGNATURE_VERSION (normalisation, shingle size, hash, permutations): store it with them and
recompute stored signatures when it changes.
"""
from __future__ import annotations

import gc
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from collections.abc import Callable, Collection, Iterable

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

SHINGLE_SIZE = 3
DEFAULT_THRESHOLD = 0.5
MIN_WORDS = 50
MAX_WORDS = 5000
SEED = 1
SCHEME = "affine32"
SIGNATURE_VERSION = 1
# Candidates whose MinHash estimate is this far below the threshold are not verified.
_ESTIMATE_MARGIN = 0.2
# A pair exactly at the threshold must become an LSH candidate at least this often.
_CANDIDATE_RECALL = 0.995

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
})
_NO_SPACE_SCRIPTS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A word: a run of letters/digits, or a single character of a script written without spaces.
_WORD = re.compile(rf"[{_NO_SPACE_SCRIPTS}]|(?:(?![{_NO_SPACE_SCRIPTS}])[^\W_])+")
_SIMPLE_WORD = re.compile(r"[^\W_]+")
_NO_SPACE_CHAR = re.compile(rf"[{_NO_SPACE_SCRIPTS}]")


# Names and numbers ("Arlen", "40", "2021"): a copy of a story says the same ones. Two texts from one template
# (a weekly report per town, a results page per match) share most shingles but not these. A copy may *add*
# some (a dateline, a credit line, a sentence) or *lose* some (a dropped sentence), rarely both; a template
# instance swaps them, so both directions differ: when more than this share of each text's names and
# numbers is missing from the other (key_difference), it is another story.
MAX_NEW_KEY_SHARE = 0.2
_KEY_TOKEN = re.compile(r"(?<![\w])(?:\d[\d.,:/-]*\d|\d|[A-Z][\w'’-]*)")


def key_tokens(text: str, limit: int = MAX_WORDS) -> Counter:
    """The names (capitalised words) and numbers of `text`, counted (curly apostrophes made straight)."""
    return Counter(_KEY_TOKEN.findall(text[: limit * 32].replace("\u2019", "'")))


def new_key_share(copy: str, original: str) -> float:
    """The share of `copy`'s names and numbers (counted with repeats) that `original` does not hold."""
    mine, theirs = key_tokens(copy), key_tokens(original)
    total = sum(mine.values())
    if not total:
        return 0.0
    return sum(max(0, n - theirs[t]) for t, n in mine.items()) / total


def key_difference(a: str, b: str) -> float:
    """How far two texts differ in their names and numbers: the smaller of the two new_key_shares (a copy
    that only adds, or only loses, names is close; a template instance with other names is far both ways)."""
    return min(new_key_share(a, b), new_key_share(b, a))


@dataclass(frozen=True)
class Match:
    article_id: str
    similarity: float  # Jaccard similarity of the shingle sets: exact when verified on text, else estimated


def words(text: str, limit: int = MAX_WORDS) -> list[str]:
    """The normalised words of `text`, the first `limit` of them."""
    if not text:
        return []
    # A word and its separator take far fewer than 32 characters: the cap only bounds the work on huge texts.
    text = unicodedata.normalize("NFKC", text[: limit * 32]).casefold().translate(_QUOTES).replace("'", "")
    pattern = _WORD if _NO_SPACE_CHAR.search(text) else _SIMPLE_WORD
    return pattern.findall(text)[:limit]


def _shingles_of(tokens: list[str], size: int) -> set[str]:
    if len(tokens) < size:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1)}


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for the LSH: the fewest bands (memory and load time grow with them) of at least 2 rows
    (1 row makes any pair that shares one minimum a candidate) that make a pair at `threshold` a candidate
    with probability >= _CANDIDATE_RECALL."""
    for rows in range(2, num_perm // 2 + 1):
        miss = 1.0 - threshold ** rows
        bands = 2 if miss <= 0.0 else max(2, math.ceil(math.log(1.0 - _CANDIDATE_RECALL) / math.log(miss)))
        if bands * rows <= num_perm:
            return bands, rows
    return num_perm // 2, 2


def _id_set(ids: Collection[str] | str) -> Collection[str]:
    if isinstance(ids, str):
        return {ids}
    return ids if isinstance(ids, (set, frozenset, dict)) else set(ids)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - similarity ** rows) ** bands


class NearDuplicates:
    """An in-memory index of article signatures (id -> signature bytes) that finds syndicated copies."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, num_perm: int = 128, *,
                 shingle_size: int = SHINGLE_SIZE, min_words: int = MIN_WORDS):
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        if num_perm < 16:
            raise ValueError("num_perm must be at least 16")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle_size = shingle_size
        self.min_words = min_words
        self._template = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME)
        self.lsh_params = _lsh_params(threshold, num_perm)  # (bands, rows)
        self._lsh = MinHashLSH(num_perm=num_perm, params=self.lsh_params)
        self._signatures: dict[str, bytes] = {}

    # -- texts -> shingles -> signatures -------------------------------------------------------------

    @staticmethod
    def shingles(text: str, size: int = SHINGLE_SIZE) -> set[str]:
        """Normalised word shingles of `text` (`size` consecutive words joined by a space)."""
        return _shingles_of(words(text), size)

    def _shingles(self, text: str) -> set[str] | None:
        """The text's shingles, or None when it has fewer than min_words words."""
        tokens = words(text)
        if len(tokens) < self.min_words:
            return None
        return _shingles_of(tokens, self.shingle_size)

    def _minhash(self, shingles: Iterable[str]) -> np.ndarray:
        m = self._template.copy()
        m.update_batch([s.encode("utf-8") for s in shingles])
        return m.hashvalues

    def signature(self, text: str) -> bytes | None:
        """The serialised MinHash of `text` (num_perm little-endian uint32), None if it is too short."""
        shingles = self._shingles(text)
        if shingles is None:
            return None
        return self._minhash(shingles).astype("<u4").tobytes()

    def _values(self, signature: bytes) -> np.ndarray:
        if not isinstance(signature, (bytes, bytearray, memoryview)) or len(signature) != 4 * self.num_perm:
            raise ValueError(f"a signature is {4 * self.num_perm} bytes (num_perm={self.num_perm})")
        return np.frombuffer(signature, dtype="<u4")

    def _lean(self, values: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=SEED, hashvalues=values, scheme=SCHEME)

    # -- the index --------------------------------------------------------------------------------------

    def add(self, article_id: str, signature: bytes) -> None:
        """Index `article_id`. Re-adding it with the same signature is a no-op; with another, replaces it."""
        values = self._values(signature)
        signature = bytes(signature)
        known = self._signatures.get(article_id)
        if known == signature:
            return
        if known is not None:
            self._lsh.remove(article_id)
        self._lsh.insert(article_id, self._lean(values), check_duplication=False)
        self._signatures[article_id] = signature

    def add_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """add() for each (article_id, signature), e.g. all stored signatures at start-up (~3.5 s per 100k).

        The cyclic garbage collector is paused meanwhile: the LSH allocates a set per bucket, and the
        collector's passes over them would double the time.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            for article_id, signature in items:
                self.add(article_id, signature)
        finally:
            if enabled:
                gc.enable()

    def remove(self, article_id: str) -> None:
        if self._signatures.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def __contains__(self, article_id) -> bool:
        return article_id in self._signatures

    def __len__(self) -> int:
        return len(self._signatures)

    def ids(self) -> set[str]:
        return set(self._signatures)

    # -- matching ---------------------------------------------------------------------------------------

    def candidates(self, text: str, exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        """LSH candidates for `text` with their MinHash estimates, best first (no threshold applied)."""
        shingles = self._shingles(text)
        if shingles is None:
            return []
        return self._candidates(self._minhash(shingles), _id_set(exclude))

    def _candidates(self, values: np.ndarray, exclude: Collection[str]) -> list[tuple[str, float]]:
        query = self._lean(values)
        found = []
        for key in self._lsh.query(query):
            if key in exclude:
                continue
            other = np.frombuffer(self._signatures[key], dtype="<u4")
            found.append((key, float(np.count_nonzero(values == other)) / self.num_perm))
        found.sort(key=lambda kv: (-kv[1], kv[0]))
        return found

    def match(self, text: str, text_of: Callable[[str], str | None] | None = None,
              exclude: Collection[str] = ()) -> Match | None:
        """The indexed article `text` is a copy of (highest similarity >= threshold), or None.

        Candidates come from the LSH; each is verified with the exact Jaccard of the shingle sets when
        `text_of(candidate_id)` returns its text, else with the MinHash estimate. Ids in `exclude` (e.g. the
        article itself) are skipped.
        """
        shingles = self._shingles(text)
        if shingles is None or not self._signatures:
            return None
        exclude = _id_set(exclude)
        best: Match | None = None
        for key, estimate in self._candidates(self._minhash(shingles), exclude):
            if estimate < self.threshold - _ESTIMATE_MARGIN:
                break  # sorted: the rest are lower still
            other_text = text_of(key) if text_of is not None else None
            if other_text is not None:
                similarity = jaccard(shingles, _shingles_of(words(other_text), self.shingle_size))
                if similarity >= self.threshold and key_difference(text, other_text) > MAX_NEW_KEY_SHARE:
                    continue  # the same template, other names or numbers: another story
            else:
                similarity = estimate
            if similarity >= self.threshold and (best is None or similarity > best.similarity):
                best = Match(key, similarity)
        return best
