"""Misspelt words of a question corrected to the word the articles write, before retrieval."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_settings
from qa import spelling
from qa.engine import Engine
from qa.store.lexical import LexicalIndex

TEXTS = {
    "a": "Jake Sullivan conveyed the President's support to Prime Minister Benjamin Netanyahu on Wednesday.",
    "b": "Sullivan also spoke with the Egyptian government about the ceasefire and the pockets of resistance.",
    "c": "The curve of the river at Newtown was mapped by the Henan survey; a microscopic survey found pockets "
         "of silt.",
    "d": "Marion Hollis and Marion Hollins were both named in the report.",
}


def texts_of(ids: list[str]) -> list[str]:
    return [TEXTS[i] for i in ids]


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex.build(list(TEXTS), list(TEXTS.values()))


def fixed(question: str, lexical: LexicalIndex) -> str:
    return spelling.corrected(question, spelling.corrections(question, lexical, texts_of))


@pytest.mark.parametrize("question, expected", [
    ("What did Sulivan convey?", "What did Sullivan convey?"),  # a letter dropped
    ("What did Sullivan convey?", "What did Sullivan convey?"),  # known: left alone
    ("What did Slulivan convey?", "What did Sullivan convey?"),  # two letters swapped: one edit
    ("What did Netanyahoo say?", "What did Netanyahu say?"),  # two edits in a long name
    ("What did Sullivan say about the ceasfire?", "What did Sullivan say about the ceasefire?"),
    ("Who spoke with the Egyptain govermnent?", "Who spoke with the Egyptian government?"),
])
def test_misspelt_words_are_corrected_to_the_articles_word(lexical, question, expected):
    assert fixed(question, lexical) == expected


@pytest.mark.parametrize("question", [
    "How is a packet routed?",  # a real word the corpus lacks is not turned into "pockets"
    "What did Newton find?",  # ... nor a real name into "Newtown"
    "What did the macroscopic survey find?",  # ... nor into its opposite ("microscopic")
    "What did the goverment say?",  # a misspelling common enough to be in use is left to the vectors
    "What did Pockett find?",  # a name never becomes a lower-case word ("pockets")
    "What did the Heian court do?",  # five letters: too short to guess ("Henan")
    "What did Mullivan say?",  # the first letter is kept: not Sullivan
    "What did Marion Hollin say?",  # Hollis and Hollins are equally close: no guess
    "What did Sulliwanov say?",  # too far from anything
    "What did the Jordanian minister say?",  # unknown, but close to nothing: the premise check's case
])
def test_words_that_are_real_short_far_or_ambiguous_are_left_alone(lexical, question):
    assert fixed(question, lexical) == question


def test_the_corrected_word_is_written_as_the_articles_write_it(lexical):
    found = spelling.corrections("Did Sullivan speak with the egyptain side?", lexical, texts_of)
    assert [(c.written, c.corrected, c.distance) for c in found] == [("egyptain", "Egyptian", 1)]
    # Of the forms the articles write, the one closest to the question's: "pockets", not "pocket".
    assert fixed("Where were the pocketts?", lexical) == "Where were the pockets?"


def test_a_misspelt_name_gets_the_answer_the_right_spelling_gets(sample_engine):
    right = sample_engine.ask("What did Sullivan convey?")
    typo = sample_engine.ask("What did Sulivan convey?")
    assert typo.to_dict()["query"] == "What did Sullivan convey?"
    assert not typo.abstained and typo.text == right.text
    assert "Sulivan" not in typo.text  # no "The articles don't mention Sulivan"
    assert [c.quote for c in typo.citations] == [c.quote for c in right.citations]
    from qa.faces.render import answer_markdown

    assert answer_markdown(typo).startswith("<sub>Searched for: What did Sullivan convey?</sub>\n\n")
    assert "Searched for" not in answer_markdown(right)
    hostile = sample_engine.ask("What did <img src=x onerror=alert(1)> Sulivan convey?")
    assert "<img" not in answer_markdown(hostile) and "&lt;img" in answer_markdown(hostile)
    who = sample_engine.ask("Who is Blinkin?")
    assert who.to_dict()["query"] == "Who is Blinken?" and "Antony Blinken" in who.text


def test_a_word_an_article_brings_is_no_longer_corrected(tmp_path: Path):
    """The vocabulary is the live index's: once an article writes "Sulivan", it is a word of its own."""
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text("Title: Talks\nDate: 2024-05-01\n\nJake Sullivan met the negotiators in Cairo "
                                  "on Monday. He said the talks would resume.\n")
    engine = Engine(make_settings(tmp_path / "index"))
    engine.ingest([folder], progress=False)
    assert engine.ask("What did Sulivan say?").to_dict()["query"] == "What did Sullivan say?"
    (folder / "b.txt").write_text("Title: Street fair\nDate: 2024-05-02\n\nThe fair on Sulivan Street drew a "
                                  "crowd of four thousand on Tuesday.\n")
    engine.ingest([folder], progress=False)
    asked = engine.ask("What happened on Sulivan Street?")
    assert asked.to_dict()["query"] == "What happened on Sulivan Street?"
    assert asked.passages[0].title == "Street fair"


def test_an_accent_left_out_is_no_typo_and_a_typo_becomes_the_accented_word():
    """People type "Celoron" for Céloron: the same word (diacritics are folded), left as typed; "Celeron"
    (one letter off, and no word in common use) is corrected to the word as the article writes it."""
    accented = {"e": "Pierre-Joseph Céloron buried lead plates along the Ohio River.",
                "f": "The expedition reached Bogotá in the spring."}
    index = LexicalIndex.build(list(accented), list(accented.values()))

    def accented_texts(ids: list[str]) -> list[str]:
        return [accented[i] for i in ids]

    assert spelling.corrections("What did Celoron bury near Bogota?", index, accented_texts) == []
    found = spelling.corrections("What did Celeron bury?", index, accented_texts)
    assert [(c.written, c.corrected) for c in found] == [("Celeron", "Céloron")]


def test_a_misspelt_function_word_is_corrected_though_the_index_holds_none():
    """"betwen" is one edit from "between", which BM25 never indexes: without this the premise check says
    "The articles don't mention “betwen”" (found on the squad bench)."""
    assert fixed("What is the difference betwen Sullivan and Netanyahu?", lexical_index()) == \
        "What is the difference between Sullivan and Netanyahu?"
    assert spelling.closest_stopword("Betwen") == "between" and spelling.closest_stopword("bottom") is None


def lexical_index() -> LexicalIndex:
    return LexicalIndex.build(list(TEXTS), list(TEXTS.values()))
