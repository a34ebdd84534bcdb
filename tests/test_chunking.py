import pytest

from conftest import EXAMPLES
from qa.articles import load_file
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
