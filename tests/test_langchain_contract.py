"""The LangChain surfaces keep LangChain's contracts: the standard retriever suite, plain-JSON chain
input with clear errors, and the retriever as a retriever step that callbacks and tracers see."""
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from qa.errors import InputError
from qa.retrieval import HybridRetriever, document_to_passage
from qa.schema import Answer, Filters

MAY_2021 = {"date_from": "2021-05-01", "date_to": "2021-05-31"}


# The suite has one async test; strict-mode pytest-asyncio runs it only when marked, and the mark on the
# class also lands on the sync tests, which pytest-asyncio then warns about.
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test .* is marked with '@pytest.mark.asyncio':pytest.PytestWarning")
class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's standard retriever tests on a real index of the two sample articles."""

    @pytest.fixture(autouse=True)
    def _sample_index(self, sample_engine):
        self.store = sample_engine.store

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"store": self.store}

    @property
    def retriever_query_example(self) -> str:
        return "What did Blinken say to Abbas?"


# ---------------------------------------------------------------- the chain takes plain JSON
def test_chain_takes_json_filters_and_k(sample_engine):
    chain = sample_engine.chain
    dated = chain.invoke({"question": "What did Blinken tweet?", "filters": {"date_from": "2021-05-01"}})
    assert isinstance(dated, Answer) and dated.passages
    assert {p.published for p in dated.passages} == {"2021-05-12"}
    none = chain.invoke({"question": "What did Blinken tweet?", "filters": {"date_from": "2022-01-01"}})
    assert none.abstained and none.passages == [] and none.citations == []
    assert len(chain.invoke({"question": "What did Sullivan convey?", "k": 2}).passages) == 2
    # a Filters still works, and so does ask() with a dict
    assert chain.invoke({"question": "Blinken", "filters": Filters(**MAY_2021)}).passages == \
        sample_engine.ask("Blinken", filters=MAY_2021).passages


def test_json_filters_answer_like_filters(sample_engine):
    with_dict = sample_engine.ask("What did Sullivan convey?", k=3, filters=MAY_2021)
    with_filters = sample_engine.ask("What did Sullivan convey?", k=3, filters=Filters(**MAY_2021))
    assert (with_dict.text, with_dict.citations, with_dict.passages) == \
        (with_filters.text, with_filters.citations, with_filters.passages)


HUGE = 10**5000  # a 5,000-digit int: Python refuses str() of it, so an error message must not echo it


@pytest.mark.parametrize("k", [0, -1, 51, True, False, 2.0, "3", [3], HUGE, -HUGE],
                         ids=["0", "-1", "51", "True", "False", "2.0", "'3'", "[3]", "huge", "-huge"])
def test_chain_rejects_bad_k(sample_engine, k):
    with pytest.raises(InputError) as caught:
        sample_engine.chain.invoke({"question": "What did Sullivan convey?", "k": k})
    assert caught.value.field == "k"
    assert str(caught.value).startswith("k: ")  # the message is printable, even for a 5,000-digit k


@pytest.mark.parametrize("filters, field", [
    ({"date_from": "May 1st"}, "date_from"),
    ({"date_from": "2021-13-01"}, "date_from"),
    ({"date_to": 20210501}, "date_to"),
    ({"date_from": "2021-06-01", "date_to": "2021-05-01"}, "date_to"),
    ({"sources": [1, 2]}, "sources"),
    ({"colour": "red"}, "filters"),
    ("2021-05-01", "filters"),
    (["2021-05-01"], "filters"),
])
def test_chain_rejects_bad_filters(sample_engine, filters, field):
    with pytest.raises(InputError) as caught:
        sample_engine.chain.invoke({"question": "What did Sullivan convey?", "filters": filters})
    assert caught.value.field == field
    with pytest.raises(InputError):  # ask() is the same chain
        sample_engine.ask("What did Sullivan convey?", filters=filters)


@pytest.mark.parametrize("question", ["", "   ", None, 42, "a\x00b", "x" * 2001])
def test_chain_rejects_bad_questions(sample_engine, question):
    with pytest.raises(InputError) as caught:
        sample_engine.chain.invoke({"question": question})
    assert caught.value.field == "question"


def test_chain_rejects_a_request_that_is_not_an_object(sample_engine):
    with pytest.raises(InputError) as caught:
        sample_engine.chain.invoke(["What did Sullivan convey?"])
    assert caught.value.field == "request"


def test_bad_input_is_rejected_before_the_query_is_encoded(sample_engine, monkeypatch):
    calls = []
    monkeypatch.setattr(sample_engine.store.encoder, "encode", lambda *a, **kw: calls.append(a))
    with pytest.raises(InputError):
        sample_engine.chain.invoke({"question": "What did Sullivan convey?", "filters": {"date_from": "soon"}})
    assert calls == []


# ---------------------------------------------------------------- the retriever is a traced retriever step
class RetrieverRecorder(BaseCallbackHandler):
    def __init__(self):
        self.starts: list[dict] = []
        self.ends: list[dict] = []

    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, **kwargs):
        self.starts.append({"query": query, "run_id": run_id, "parent_run_id": parent_run_id,
                            "name": kwargs.get("name")})

    def on_retriever_end(self, documents, *, run_id, parent_run_id=None, **kwargs):
        self.ends.append({"documents": documents, "run_id": run_id})


def test_callbacks_see_the_retriever_run(sample_engine, monkeypatch):
    encoder = sample_engine.store.encoder
    encode, encoded = encoder.encode, []
    monkeypatch.setattr(encoder, "encode", lambda texts, *a, **kw: encoded.append(list(texts)) or encode(texts, *a, **kw))
    recorder = RetrieverRecorder()
    answer = sample_engine.chain.invoke({"question": "What did Sullivan convey?", "k": 2},
                                        config={"callbacks": [recorder]})
    assert len(recorder.starts) == len(recorder.ends) == 1
    start, end = recorder.starts[0], recorder.ends[0]
    assert start["query"] == "What did Sullivan convey?" and start["name"] == "HybridRetriever"
    assert start["parent_run_id"] is not None  # nested inside the chain's run, not a stray root run
    assert end["run_id"] == start["run_id"]
    documents = end["documents"]
    assert documents and all(isinstance(d, Document) for d in documents)
    # the answer's passages are the documents the trace shows
    from qa.news.when import frame, reweigh

    # ... ranked by the question's time frame (as of today) and cut to k
    ranked = reweigh([document_to_passage(d) for d in documents], frame("What did Sullivan convey?"),
                     sample_engine.store.catalog.date_mentions)
    assert ranked[: len(answer.passages)] == answer.passages
    assert len(answer.passages) == 2
    assert encoded == [["What did Sullivan convey?"]]  # the query is encoded once, not again by the retriever


def test_callbacks_see_each_retriever_run_of_a_batch(sample_engine):
    recorder = RetrieverRecorder()
    sample_engine.chain.batch(["What did Sullivan convey?", "Who will travel to Israel?"],
                              config={"callbacks": [recorder]})
    assert sorted(s["query"] for s in recorder.starts) == ["What did Sullivan convey?", "Who will travel to Israel?"]
    assert len(recorder.ends) == 2
