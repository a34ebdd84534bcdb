import asyncio

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ValidationError

from qa.config import Fusion
from qa.errors import InputError
from qa.retrieval import Filters, HybridRetriever, document_to_passage, passage_to_document


def test_hybrid_finds_exact_terms_and_paraphrases(sample_engine, engine, tmp_path):
    retriever = sample_engine.retriever
    lexical = retriever.retrieve("Hady Amr travel")  # a rare name: BM25's strength
    assert "Hady Amr" in lexical[0].chunk.text
    for p in lexical:
        assert set(p.scores) == {"dense", "bm25", "coverage"}
        assert len(p.sentence_cosines) == len(p.chunk.sentences) > 0
    assert [p.rank for p in lexical] == list(range(len(lexical)))
    assert lexical[0].score >= lexical[-1].score


def test_paraphrase_with_no_shared_word_is_found_by_the_dense_side(engine, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    stories = {
        "recall.txt": "Carmaker recalls 50,000 sedans with faulty brakes after dozens of crashes.",
        "bakery.txt": "A bakery on Main Street sold its ten thousandth sourdough loaf this week.",
        "vote.txt": "The city council election drew the highest turnout in two decades.",
        "match.txt": "The home team won the football final with a late penalty kick.",
    }
    for name, text in stories.items():
        (folder / name).write_text(text)
    engine.ingest([folder], progress=False)
    query = "automobile manufacturer withdraws vehicles over safety defect"
    from qa.store.lexical import tokenize

    assert not set(tokenize(query)) & set(tokenize(stories["recall.txt"]))  # BM25 alone has nothing to go on
    assert "faulty brakes" in engine.retriever.retrieve(query)[0].chunk.text


def test_rrf_fusion_is_available(sample_engine):
    rrf = HybridRetriever.from_store(sample_engine.store, fusion=Fusion.RRF)
    passages = rrf.retrieve("What did Sullivan convey?")
    assert "Sullivan" in passages[0].chunk.text


def test_is_a_langchain_retriever(sample_engine):
    retriever = sample_engine.retriever
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Blinken tweet")
    assert docs and all(isinstance(d, Document) for d in docs)
    passage = document_to_passage(docs[0])
    assert passage.chunk.text == docs[0].page_content and passage.article_id == docs[0].metadata["article_id"]
    # composes with other runnables
    chain = retriever | (lambda documents: len(documents))
    assert chain.invoke("Netanyahu") == len(docs)


def test_date_filter(sample_engine):
    dated = sample_engine.retriever.retrieve("Blinken", filters=Filters(date_from="2021-05-01", date_to="2021-05-31"))
    assert dated and {p.published for p in dated} == {"2021-05-12"}
    assert sample_engine.retriever.retrieve("Blinken", filters=Filters(date_from="2022-01-01")) == []


def test_invoke_takes_k_and_json_filters(sample_engine):
    retriever = sample_engine.retriever
    assert len(retriever.invoke("Blinken", k=2)) == 2
    assert len(retriever.invoke("Blinken", k=1)) == 1
    dated = retriever.invoke("Blinken", filters={"date_from": "2021-05-01", "date_to": "2021-05-31"})
    assert dated and {d.metadata["published"] for d in dated} == {"2021-05-12"}
    assert retriever.invoke("Blinken", filters={"date_from": "2022-01-01"}) == []
    assert retriever.invoke("Blinken", filters=Filters(date_from="2021-05-01"), k=2) == \
        retriever.invoke("Blinken", filters={"date_from": "2021-05-01"}, k=2)
    assert len(retriever.invoke("Blinken", k=10**5000)) > 0  # any positive count; no crash on a huge one
    # the async path passes the same keyword arguments on
    assert len(asyncio.run(retriever.ainvoke("Blinken", k=2))) == 2
    assert asyncio.run(retriever.ainvoke("Blinken", filters={"date_from": "2022-01-01"})) == []


@pytest.mark.parametrize("kwargs, field", [
    ({"k": 0}, "k"), ({"k": True}, "k"), ({"k": "2"}, "k"), ({"k": 2.0}, "k"),
    pytest.param({"k": -(10**5000)}, "k", id="k-huge-negative"),  # pytest can't str() it into an id
    ({"filters": {"date_from": "yesterday"}}, "date_from"), ({"filters": {"when": "2021"}}, "filters"),
    ({"filters": "2021-05-01"}, "filters"),
])
def test_invoke_rejects_bad_k_and_filters(sample_engine, kwargs, field):
    with pytest.raises(InputError) as caught:
        sample_engine.retriever.invoke("Blinken", **kwargs)
    assert caught.value.field == field
    with pytest.raises(InputError):
        asyncio.run(sample_engine.retriever.ainvoke("Blinken", **kwargs))


def test_constructor_takes_the_store_settings_and_checks_its_fields(sample_engine):
    store = sample_engine.store
    plain = HybridRetriever(store=store)
    assert plain.k == store.settings.top_k and plain.fusion == store.settings.fusion
    assert plain.invoke("Sullivan") == sample_engine.retriever.invoke("Sullivan")
    assert len(HybridRetriever(store=store, k=3).invoke("Blinken")) == 3
    dated = HybridRetriever(store=store, filters={"date_from": "2022-01-01"})
    assert dated.filters == Filters(date_from="2022-01-01") and dated.invoke("Blinken") == []
    for bad in ({"k": 0}, {"k": True}, {"filters": {"date_from": "soon"}}):
        with pytest.raises(ValidationError):
            HybridRetriever(store=store, **bad)


def test_documents_carry_the_passage_exactly(sample_engine):
    """The chain gets its passages back from the retriever's documents: nothing may be lost on the way."""
    passages = sample_engine.retriever.retrieve("What did Sullivan convey?", k=8)
    assert passages
    for passage in passages:
        assert document_to_passage(passage_to_document(passage)) == passage


def test_the_chain_retrieves_what_retrieve_returns(sample_engine):
    from qa.news.when import POOL, frame, reweigh

    settings = sample_engine.settings
    for question in ["What did Sullivan convey?", "Who will travel to Israel?"]:
        answer = sample_engine.ask(question, k=2, filters={"date_from": "2021-05-01"})
        # The chain asks the retriever for POOL times the passages, then ranks them by the question's
        # time frame as of today (qa/news/when.py): nothing else happens to them on the way.
        direct = sample_engine.retriever.retrieve(question, k=POOL * max(2, settings.answer_passages),
                                                  filters=Filters(date_from="2021-05-01"))
        expected = reweigh(direct, frame(question), sample_engine.store.catalog.date_mentions)
        assert answer.passages == expected[:2]
