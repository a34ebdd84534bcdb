"""Answers end to end on the sample articles: the acceptance questions, abstention, the Runnable."""
import json

from langchain_core.runnables import Runnable

from qa.answer import citations
from qa.schema import Answer


def test_sullivan_acceptance(sample_engine):
    answer = sample_engine.ask("What did Sullivan convey?")
    assert not answer.abstained
    quotes = [c.quote for c in answer.citations]
    assert any("unwavering support for Israel’s security" in q and "right to defend itself" in q for q in quotes)
    assert any("encouragement of steps toward restoring a sustainable calm" in q for q in quotes)
    for c in answer.citations:
        assert c.published == "2021-05-12"
        assert f"[{c.n}]" in answer.text
    # every sentence of the answer ends with a marker
    assert answer.text.rstrip().endswith("]")
    assert citations.verify(answer.citations, sample_engine.store.catalog) == []


def test_population_of_gaza_abstains(sample_engine):
    answer = sample_engine.ask("What is the population of Gaza?")
    assert answer.abstained
    assert answer.text.startswith("The articles don't say")
    assert answer.citations == []
    assert answer.passages  # the nearest passages are still shown for the reader to judge


def test_answerable_questions_are_answered_with_the_right_quote(sample_engine):
    cases = {
        "Who did Blinken speak with on Wednesday night?": "Mahmoud Abbas",
        "Who will travel to Israel?": "Hady Amr",
        "Who is Israel's National Security Advisor?": "Meir Ben Shabbat",
        "What did Biden ask Abbas in his letter?": "end the current escalation",
    }
    for question, expected in cases.items():
        answer = sample_engine.ask(question)
        assert not answer.abstained, question
        assert any(expected in c.quote for c in answer.citations), (question, answer.text)


def test_off_topic_questions_abstain(sample_engine):
    for question in ["Who won the 2018 World Cup?", "How do I bake sourdough bread?", "What is the capital of Peru?"]:
        assert sample_engine.ask(question).abstained, question


def test_no_citation_ever_misquotes(sample_engine):
    """Ask a question about every sentence of every article; every quote must be verbatim at its offsets."""
    from qa.chunking import split_sentences

    catalog = sample_engine.store.catalog
    n_checked = 0
    for summary in catalog.articles():
        article = catalog.article(summary.id)
        for span in split_sentences(article.text):
            sentence = article.text[span.start : span.end]
            words = sentence.split()
            if len(words) < 6:
                continue
            answer = sample_engine.ask("What about " + " ".join(words[2:9]) + "?")
            assert citations.verify(answer.citations, catalog) == []
            n_checked += len(answer.citations)
    assert n_checked > 20


def test_verification_catches_a_wrong_quote(sample_engine):
    answer = sample_engine.ask("What did Sullivan convey?")
    good = answer.citations[0]
    from dataclasses import replace

    shifted = replace(good, start=good.start + 1, end=good.end + 1)
    assert citations.verify([shifted], sample_engine.store.catalog)
    altered = replace(good, quote=good.quote.replace("calm", "storm").replace("security", "safety"))
    assert citations.verify([altered], sample_engine.store.catalog)


def test_answer_json_shape(sample_engine):
    data = json.loads(json.dumps(sample_engine.ask("What did Blinken tweet?").to_dict()))
    assert set(data) >= {"question", "answer", "abstained", "citations", "passages", "timings_ms"}
    assert set(data["citations"][0]) >= {"n", "article_id", "title", "published", "quote", "start", "end"}
    assert set(data["passages"][0]) >= {"article_id", "title", "text", "score"}
    assert data["timings_ms"]["retrieve"] > 0 and data["timings_ms"]["answer"] > 0


def test_chain_is_a_runnable_that_takes_history(sample_engine):
    chain = sample_engine.chain
    assert isinstance(chain, Runnable)
    first = chain.invoke("Who did Blinken speak with on Wednesday night?")
    assert isinstance(first, Answer)
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.text}]
    follow_up = chain.invoke({"question": "What did he tweet after that call?", "history": history})
    assert any("tweeted Blinken" in c.quote for c in follow_up.citations), follow_up.text
    batch = chain.batch(["What did Sullivan convey?", "What is the population of Gaza?"])
    assert [a.abstained for a in batch] == [False, True]


def test_list_questions_cover_each_item_once_across_articles(sample_engine):
    from qa.answer.extractive import is_list_question

    assert is_list_question("Who all did Blinken speak with?") and is_list_question("Which places did he visit?")
    assert not is_list_question("What did Israelis and Palestinians deserve?")
    assert not is_list_question("How many ships waited?")
    answer = sample_engine.ask("Who all did Blinken speak with?")
    text = answer.text
    assert all(name in text for name in ("Abbas", "Netanyahu", "Ashkenazi"))
    assert len({c.article_id for c in answer.citations}) == 2  # both articles
    assert text.count("Ashkenazi") == 1  # each item once: no second sentence about the same call


def test_a_further_sentence_must_add_something(sample_engine):
    answer = sample_engine.ask("What did Sullivan convey?")
    assert len(answer.citations) == 2  # both things he conveyed, nothing restating them


def test_a_question_writing_us_finds_and_answers_an_article_writing_u_s(tmp_path):
    """News writes "U.S.", people type "US": the same word to BM25 and to the premise check."""
    from conftest import make_settings
    from qa.engine import Engine

    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "louisiana.txt").write_text(
        "Title: The Louisiana Purchase\nDate: 2025-07-01\n\nThe U.S. purchased the Louisiana Territory from "
        "France in 1803. The deal doubled the size of the young country.\n")
    (folder / "canals.txt").write_text(
        "Title: Canals\nDate: 2025-07-02\n\nThe Erie Canal opened in 1825 and linked the Hudson River to the "
        "Great Lakes.\n")
    engine = Engine(make_settings(tmp_path / "index"))
    assert not engine.ingest([folder], progress=False).errors
    assert engine.store.lexical().doc_freq.get("us") == 1
    answer = engine.ask("In 1803, the US purchased the Louisiana Territory from which country?")
    assert not answer.abstained and answer.note is None
    assert "don't mention" not in answer.text
    assert "from France in 1803" in answer.citations[0].quote
