import pytest

from conftest import EXAMPLES
from qa.sources.articles import load_file
from qa.chunking import Chunker, embedding_prefix, split_sentences
from qa.config import Settings
from qa.embedding import get_encoder
from qa.schema import Article, Section


@pytest.fixture(scope="module")
def encoder():
    return get_encoder(Settings().embedding_model)


def test_sentences_respect_abbreviations_initials_and_quotes():
    text = (
        "Mr. Smith met U.S. officials in Washington on Tuesday. J. R. Hartley, the author, agreed. "
        "“We will act,” she said. Prices rose 3.5 percent!\n\nA new paragraph starts here."
    )
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences == [
        "Mr. Smith met U.S. officials in Washington on Tuesday.",
        "J. R. Hartley, the author, agreed.",
        "“We will act,” she said.",
        "Prices rose 3.5 percent!",
        "A new paragraph starts here.",
    ]
    assert [s.paragraph for s in split_sentences(text)] == [0, 0, 0, 0, 1]


def test_hard_wrapped_lines_stay_one_sentence_but_line_breaks_split_headings():
    text = "The council met on Monday and\nvoted to fund the library.\nBudget notes\nThe vote was 5-2."
    sentences = [text[s.start : s.end] for s in split_sentences(text)]
    assert sentences[0] == "The council met on Monday and\nvoted to fund the library."
    assert sentences[1:] == ["Budget notes", "The vote was 5-2."]


def test_offsets_are_verbatim_and_nothing_is_truncated(encoder):
    long_sentence = " ".join(f"word{i} antidisestablishmentarianism" for i in range(300)) + "."
    body = "\n\n".join(
        [" ".join(f"Sentence {p}-{i} talks about harbor cranes and ferries." for i in range(12)) for p in range(5)]
        + [long_sentence, "Short closing line."]
    )
    article = Article(text=body, title="A very long title about harbours " * 3, published="2024-01-02",
                      caption="Photo by A. Person")
    chunker = Chunker(encoder.count_tokens, max_tokens=encoder.max_tokens)
    chunks = chunker.split(article)
    assert chunks[0].section is Section.CAPTION and chunks[0].text == "Photo by A. Person"
    prefix = embedding_prefix(article.title, article.published)
    tokenizer = encoder.tokenizer
    for chunk in chunks:
        assert article.section_text(chunk.section)[chunk.start : chunk.end] == chunk.text
        n_tokens = len(tokenizer(prefix + chunk.text)["input_ids"])  # with [CLS] and [SEP]
        assert n_tokens <= encoder.max_tokens, (chunk.index, n_tokens)
    body_chunks = [c for c in chunks if c.section is Section.BODY]
    # every word of the body is in exactly one chunk, in order
    assert " ".join(c.text for c in body_chunks).split() == body.split()
    assert len({c.id for c in chunks}) == len(chunks)


def test_small_paragraphs_are_packed_and_chunks_end_at_sentences(encoder):
    article = load_file(EXAMPLES / "000_8e03b75251222fb2.txt").articles[0]
    chunks = Chunker(encoder.count_tokens, max_tokens=encoder.max_tokens).split(article)
    assert 1 < len(chunks) < 8  # eleven short paragraphs, packed
    for chunk in chunks:
        assert chunk.text.rstrip()[-1] in ".”\"!?"
        assert article.text[chunk.start : chunk.end] == chunk.text


# ---------------------------------------------------------------- scale and hostile input

import random  # noqa: E402
import re  # noqa: E402
from unittest import mock  # noqa: E402

import qa.chunking as chunking  # noqa: E402

_WORDS = ("the council said on Tuesday that harbor cranes would resume after repairs officials expect record "
          "crowds while engineers inspect bridge residents voiced concerns about prices rising percent").split()
_PIECES = ["Mr. Smith", "U.S.", "J. R. Hartley", "3.5", "e.g.", "“We will act,” she said.", "(AP)", "…", "No. 5"]


def news_text(seed: int, paragraphs: int) -> str:
    """Deterministic news-like prose: abbreviations, initials, quotes, hard wraps, headings, long sentences."""
    rng = random.Random(seed)
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(1, 7)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 30 if rng.random() < 0.9 else 400))]
            if rng.random() < 0.4:
                words.insert(rng.randrange(len(words)), rng.choice(_PIECES))
            sentence = " ".join(words)
            sentences.append(sentence[0].upper() + sentence[1:] + rng.choice([".", ".", "!", "?", ".”", ""]))
        joiner = rng.choice([" ", " ", " ", "\n", "  "])
        out.append(joiner.join(sentences))
    return "".join(p + rng.choice(["\n\n", "\n\n", "\n \n", "\n\n\n", "\n"]) for p in out)


def test_chunk_boundaries_are_unchanged_by_the_linear_rewrite(encoder):
    """A digest of sentence spans and chunk boundaries, computed with the chunker as it was before it was
    made linear (regex paragraphs, whole-article token counting): the rewrite must not move any of them."""
    import hashlib
    import json

    digest = hashlib.sha256()
    for seed in range(6):
        article = Article(text=news_text(seed, 60), title="Harbor news" if seed % 2 else None,
                          published="2024-01-02" if seed % 3 else None,
                          caption="Photo by A. Person" if seed == 4 else None)
        for max_tokens, target in [(256, 256), (256, 160)]:
            for c in Chunker(encoder.count_tokens, max_tokens, target).split(article):
                digest.update(json.dumps([c.index, c.start, c.end, c.section.value, c.sentences]).encode())
        digest.update(json.dumps([(s.start, s.end, s.paragraph) for s in split_sentences(article.text)]).encode())
    assert digest.hexdigest()[:16] == "01c314ddfa17143b"


_OLD_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*\Z)", re.DOTALL)  # what _paragraphs replaces
_OLD_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")


def test_paragraphs_and_stops_match_the_patterns_they_replace():
    rng = random.Random(3)
    alphabet = list("ab A.!?…\"”’»)]\n\n\t\r") + ["\n \n", "\u00a0", "\u2028", "x\n\ny", "*"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert list(chunking._paragraphs(text)) == [m.span() for m in _OLD_PARAGRAPH.finditer(text)], repr(text)
        assert [m.span() for m in chunking._END.finditer(text)] == [m.span() for m in _OLD_END.finditer(text)]


def test_article_id_is_hashed_once_per_split(encoder):
    import hashlib

    article = Article(text=news_text(1, 80), title="T")
    with mock.patch("qa.schema.hashlib.sha256", wraps=hashlib.sha256) as sha256:
        chunks = Chunker(encoder.count_tokens, 256, 256).split(article)
        assert len(chunks) > 10 and {c.article_id for c in chunks} == {article.id}
    assert sha256.call_count == 1


def test_tokens_are_counted_in_bounded_batches():
    """Nothing is tokenized whole: each call to the counter gets a bounded batch, whatever the size."""
    calls: list[tuple[int, int]] = []

    def count(texts):
        calls.append((len(texts), sum(map(len, texts))))
        return [len(t.split()) + len(t) // 6 for t in texts]

    bound = chunking.COUNT_BATCH_CHARS + chunking.LONG_SENTENCE_CHARS
    text = news_text(2, 600) + "\n\n" + " ".join(["word"] * 60_000) + "\n\n" + "glued,words-" * 20_000
    Chunker(count, 256, 256).split(Article(text=text))
    assert len(text) > 500_000 and max(n for n, _ in calls) <= chunking.COUNT_BATCH
    assert max(chars for _, chars in calls) <= bound
    assert sum(chars for _, chars in calls) < 3 * len(text)  # each character counted about once


def _check_chunks(encoder, article, chunks):
    prefix = embedding_prefix(article.title, article.published)
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert len(encoder.tokenizer(prefix + chunk.text)["input_ids"]) <= 256  # all-MiniLM-L6-v2's limit
    return "".join(c.text for c in chunks)


@pytest.mark.parametrize("kind", ["no sentence end", "no whitespace", "letters only", "stops only", "spaces"])
def test_hostile_text_is_chunked_within_limits(encoder, kind):
    rng = random.Random(kind)
    if kind == "no sentence end":
        text = " ".join(rng.choice(_WORDS) for _ in range(40_000))
    elif kind == "no whitespace":
        text = "".join(rng.choice(_WORDS) + rng.choice(",-/.;:_") for _ in range(30_000))
    elif kind == "letters only":
        text = "".join(rng.choice("abcdefghij") for _ in range(200_000))
    elif kind == "stops only":
        text = "Start here. " + "!" * 100_000 + " " + ".)" * 50_000 + " End."
    else:
        text = "Before the gap." + " " * 200_000 + "\n" + " " * 100_000 + "After the gap."
    article = Article(text=text, title="Hostile", published="2024-01-02")
    chunks = Chunker(encoder.count_tokens, 256).split(article)
    joined = _check_chunks(encoder, article, chunks)
    assert re.sub(r"\s+", "", joined) == re.sub(r"\s+", "", text)  # nothing lost, nothing repeated
    # (a chunk may span a long run of spaces between two sentences: it is a verbatim slice)
    assert max(len(re.sub(r"\s+", " ", c.text)) for c in chunks) <= 5_000
    if kind in ("no whitespace", "letters only"):
        assert all(len(c.text) <= chunking.LONG_WORD_CHARS for c in chunks)
