from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from qa.config import Fusion
from qa.retrieval import Filters, HybridRetriever, document_to_passage


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
    from qa.lexical import tokenize

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
