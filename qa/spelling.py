"""A misspelt word of the question corrected to the word the articles write ("Sulivan" → "Sullivan").

People type names as they hear them: "What did Sulivan convey?", "Netanyahoo". The corpus does not know
the misspelt word, so BM25 cannot match it, the sentence vectors match it poorly, and the premise check
would say "The articles don't mention Sulivan". Before retrieval, each content word of the question that
the corpus does not know (none of its forms is indexed) is replaced by the indexed word closest to it
(optimal string alignment distance: a swap of two letters counts once), when one is close enough:

- one edit for a word of 6 to 9 letters, two from 10; shorter words are never corrected (too many near
  neighbours: "Heian" / "Henan");
- a name is corrected to a name ("Curie" is not "curve"); a word typed in lower case may be one
  ("egyptain" → "Egyptian"), as people type in chat;
- a function word the index does not hold is found too ("betwen" -> "between": otherwise the premise check
  says the articles don't mention "betwen");
- the first letter is kept (people rarely mistype it, and it keeps "Huguenots" from becoming anything);
- of several at the same distance, the one most chunks hold; none when two tie on both;
- the word as written must not be a real word, one in common use in English (wordfreq's lists: "packet",
  "Newton", "macroscopic", "cryptography", which the corpus may lack while holding "pocket", "Newtown",
  "microscopic", "cryptographic"; not "Sulivan", "Netanyahoo", "charecterized"); and the word an article
  writes must be as close to it as the stems are ("seperated" is not "several").

The word put in the query is the indexed word as an article writes it (its surface form, found in a chunk
that holds the stem), so the rewritten query reads naturally and is shown as the answer's `query`. Words are
compared as the BM25 index stores them (lower-cased Snowball stems, Latin diacritics dropped: "Celoron" is
the article's "Céloron", and "Celeron" is one edit from it), against the live index's vocabulary,
so an article ingested a moment ago counts at once."""
from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Container
from dataclasses import dataclass

import numpy as np

from qa.store.lexical import STOPWORDS, LexicalIndex, _stem, fold

_SHORTEST = 6  # letters: shorter words are left alone
_TWO_EDITS = 10  # letters from which two edits are allowed
_REAL_ZIPF = 2.5  # wordfreq's Zipf frequency from which a word is real (2.5: about once in 3 million words)
_MOST_WORDS = 8  # unknown words looked at per question: a real one has a typo or two, a hostile one hundreds
_SURFACE_CHUNKS = 3  # chunks read for the way the articles write a word
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)

# Per index version (each commit makes a new LexicalIndex): its live terms, grouped by first letter.
_VOCABULARY: "weakref.WeakKeyDictionary[LexicalIndex, dict[str, list[str]]]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Correction:
    written: str  # the word as the question has it
    corrected: str  # the word as an article writes it
    distance: int


def _by_letter(lexical: LexicalIndex) -> dict[str, list[str]]:
    groups = _VOCABULARY.get(lexical)
    if groups is None:
        groups = {}
        for term in lexical.doc_freq:
            if term[:1].isalpha():
                groups.setdefault(term[0], []).append(term)
        _VOCABULARY[lexical] = groups
    return groups


def _allowed(word: str) -> int:
    return 2 if len(word) >= _TWO_EDITS else 1


def closest_term(stem: str, lexical: LexicalIndex) -> tuple[str, int] | None:
    """The indexed stem closest to `stem` (an unknown one) and its distance, under the rules above."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    if len(stem) < _SHORTEST - 1 or not stem[:1].isalpha():
        return None
    most = _allowed(stem)
    found = process.extract(stem, _by_letter(lexical).get(stem[0], []), scorer=OSA.distance, score_cutoff=most,
                            limit=None)
    if not found:
        return None
    nearest = min(d for _, d, _ in found)
    ranked = sorted(((lexical.doc_freq.get(t, 0), t) for t, d, _ in found if d == nearest), reverse=True)
    if len(ranked) > 1 and ranked[0][0] == ranked[1][0]:
        return None  # two equally likely words: guessing would change the question
    return ranked[0][1], int(nearest)


_LONG_STOPWORDS = sorted(w for w in STOPWORDS if len(w) >= _SHORTEST - 1)


def closest_stopword(word: str) -> str | None:
    """The function word a misspelt word stands for ("betwen" -> "between", "becuase" -> "because"): the
    index holds no function words, so `closest_term` cannot find them; one alone at the nearest distance."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    lower = word.lower()
    found = process.extract(lower, [w for w in _LONG_STOPWORDS if w[0] == lower[:1]], scorer=OSA.distance,
                            score_cutoff=_allowed(word), limit=None)
    if not found:
        return None
    nearest = min(d for _, d, _ in found)
    best = [w for w, d, _ in found if d == nearest]
    return best[0] if len(best) == 1 else None


def surface_form(stem: str, written: str, lexical: LexicalIndex,
                 texts_of: Callable[[list[str]], list[str]]) -> str | None:
    """The word closest to `written` whose stem is `stem`, as the chunks that hold the stem most write it
    ("broadcast" for "braodcast", not "broadcasting" written before it)."""
    from rapidfuzz.distance import OSA

    scores = lexical.term_scores([stem])[0]
    top = np.argpartition(-scores, _SURFACE_CHUNKS - 1)[:_SURFACE_CHUNKS] if len(scores) > _SURFACE_CHUNKS \
        else np.arange(len(scores))
    ids = [lexical.chunk_ids[c] for c in top.tolist() if scores[c] > 0 and lexical.chunk_ids[c]]
    forms = {word for text in (texts_of(ids) if ids else [])
             for word in (m.group(0).removesuffix("'s").removesuffix("’s") for m in _WORD.finditer(text))
             if _stem(word.lower()) == stem}
    if not forms:
        return None
    return min(forms, key=lambda form: (OSA.distance(fold(form.lower()), fold(written.lower())),
                                        form[:1].isupper() != written[:1].isupper(), form))


class RealWords:
    """English words and names in common use: those whose frequency in wordfreq's English lists (web, news,
    books, subtitles; Zipf scale, 3 = once per million words) is at least `zipf`."""

    def __init__(self, zipf: float = _REAL_ZIPF):
        self.zipf = zipf

    def __contains__(self, word: object) -> bool:
        from wordfreq import zipf_frequency

        return zipf_frequency(str(word), "en") >= self.zipf


REAL_WORDS = RealWords()


def corrections(question: str, lexical: LexicalIndex, texts_of: Callable[[list[str]], list[str]],
                words: Container[str] = REAL_WORDS) -> list[Correction]:
    """The misspelt words of `question` and their corrections, in question order; `texts_of` gives the
    texts of chunks (by id), `words` holds the real words, never corrected."""
    from rapidfuzz.distance import OSA

    from qa.answer.premise import _held, _Known, question_words

    known = _Known(lexical.doc_freq)
    out = []
    unknown = [w for w in question_words(question)
               if len(w.text) >= _SHORTEST and w.text.isalpha() and w.text not in words and not _held(w, known)]
    for word in unknown[:_MOST_WORDS]:
        stopword = None if word.name else closest_stopword(word.text)  # a name stays a name
        if stopword is not None:
            surface = stopword[0].upper() + stopword[1:] if word.text[:1].isupper() else stopword
            out.append(Correction(word.text, surface, int(OSA.distance(stopword, word.text.lower()))))
            continue
        nearest = closest_term(word.stem, lexical)
        if nearest is None:
            continue
        surface = surface_form(nearest[0], word.text, lexical, texts_of)
        if surface is None or fold(surface.lower()) == fold(word.text.lower()):
            continue
        if OSA.distance(fold(surface.lower()), fold(word.text.lower())) > _allowed(word.text):
            continue
        if word.name and surface[:1].islower():
            continue  # a name is corrected to a name ("Curie" is not "curve")
        if word.text[:1].isupper() and surface[:1].islower():
            surface = surface[0].upper() + surface[1:]
        out.append(Correction(word.text, surface, nearest[1]))
    return out


def corrected(question: str, found: list[Correction]) -> str:
    """`question` with each corrected word replaced (whole words only)."""
    for correction in found:
        question = re.sub(rf"(?<![^\W_]){re.escape(correction.written)}(?![^\W_])",
                          lambda _: correction.corrected, question)
    return question
