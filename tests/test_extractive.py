"""The extractive answerer's sentence choice (qa/answer/extractive.py): a sentence that holds what the question
asks for beats one that only restates the question, and a question in the article is not its own answer."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from conftest import make_settings
from qa.answer import extractive
from qa.answer.short_answer import brings_answer, names_places, profile
from qa.engine import Engine
from qa.store.lexical import QuestionTerms, sentence_terms

EXPLAINER = {
    "id": "thanksgiving-numbers",
    "title": "Thanksgiving by the numbers",
    "published": "2025-11-25",
    "text": (
        "Turkey is typically the centerpiece of Thanksgiving dinner, and most families eat it.\n\n"
        "Minnesota raises the most turkeys of any US state, about 40 million birds a year, ahead of North "
        "Carolina and Arkansas.\n\n"
        "Stores report that cranberry sauce sales triple in the week before the holiday."
    ),
}
CRASH = {
    "id": "ups-crash-explainer",
    "title": "What we know about the UPS cargo plane crash",
    "published": "2025-11-05",
    "text": (
        "A UPS cargo plane burst into flames shortly after takeoff on Tuesday, killing at least seven people.\n\n"
        "Where did the UPS plane crash occur?\n\n"
        "The jet came down beside Louisville Muhammad Ali International Airport in Kentucky, a hub that "
        "handles about 300 flights a day.\n\n"
        "How many people were on board?\n\n"
        "Three crew members were aboard the MD-11, according to the company."
    ),
}
SUSPENSION = {
    "id": "court-suspends-premier",
    "title": "Court suspends the prime minister",
    "published": "2022-08-24",
    "text": (
        "Five of the nine constitutional court judges agreed on Wednesday that Prayut should be suspended as "
        "prime minister while the court considers his case.\n\n"
        "The ruling came from the constitutional court of Thailand, where the deputy leader now runs the "
        "government."
    ),
}


@pytest.fixture(scope="module")
def explainer_engine(tmp_path_factory) -> Engine:
    base = tmp_path_factory.mktemp("explainers")
    corpus = base / "explainers.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in (EXPLAINER, CRASH, SUSPENSION)))
    engine = Engine(make_settings(base / "index"))
    report = engine.ingest([corpus], progress=False)
    assert not report.errors and report.articles_ingested == 3
    return engine


@pytest.mark.parametrize("question, holds, restates", [
    ("Which US state raises the most turkeys?", "Minnesota raises the most turkeys.",
     "Turkey is raised in almost every US state."),
    ("How many turkeys does Minnesota raise?", "Minnesota raises about 40 million turkeys.",
     "Minnesota raises turkeys."),
    ("When did the plane crash?", "The plane crashed on 4 November 2025.", "The plane crashed."),
    ("Who founded the company?", "The company was founded by Ada Lovelace.", "The company was founded."),
    ("Where did the UPS plane crash?", "The UPS plane crashed in Kentucky.", "Where did the UPS plane crash?"),
])
def test_brings_answer_needs_a_span_of_the_asked_kind_beyond_the_questions_words(question, holds, restates):
    asked = profile(question)
    assert brings_answer(asked, holds)
    assert not brings_answer(asked, restates)


@pytest.mark.parametrize("question, place, elsewhere", [
    # RealTimeQA 2025: the sentence about the judges names a person and a day, not the country
    ("The prime minister of which country has been suspended by the court?",
     "The court in Thailand suspended the prime minister on Wednesday.",
     "Five out of nine judges agreed on Wednesday that Prayut should be suspended."),
    ("In which city did the driver ram a truck into a crowd?",
     "The driver rammed a truck into a crowd in New Orleans.",
     "Police say Shamsud-Din Jabbar rammed a truck into a crowd on Wednesday."),
    ("Where did the UPS plane crash?", "The UPS plane crashed at Louisville Muhammad Ali International Airport.",
     "The UPS plane crashed, Jennifer Homendy said."),
])
def test_a_place_question_is_brought_a_place_not_a_person_or_a_day(question, place, elsewhere):
    asked = profile(question)
    assert brings_answer(asked, place) and brings_answer(asked, elsewhere)  # both hold a name
    assert names_places(asked, [place, elsewhere]) == [True, False]  # only one of them a place


def test_questions_that_ask_for_no_typed_answer_favour_no_sentence():
    for question in ("Why did the plane crash?", "What did Sullivan convey?", "What is congestion pricing?"):
        assert not brings_answer(profile(question), "Ada Lovelace said on 4 November 2025 that 40 planes crashed.")


def _draft(engine: Engine, question: str):
    """The answerer's draft of the Engine's own answer to the question."""
    drafts = []
    real = engine.answerer.draft

    def spy(*args, **kwargs):
        drafts.append(real(*args, **kwargs))
        return drafts[-1]

    engine.answerer.draft = spy
    try:
        answer = engine.ask(question)
    finally:
        engine.answerer.draft = real
    return answer, drafts[0]


TURKEYS = "Turkey is typically the centerpiece of Thanksgiving dinner. Which US state raises the most turkeys?"


def test_a_sentence_with_the_answer_beats_one_that_restates_the_question(explainer_engine, monkeypatch):
    # A news-quiz question opens with a sentence the article also has; the answer is in another sentence.
    answer, draft = _draft(explainer_engine, TURKEYS)
    assert not answer.abstained
    assert "Minnesota raises the most turkeys" in answer.text
    assert draft.candidates[0].text.startswith("Minnesota raises the most turkeys")
    # Scored on words and cosine alone, the restatement comes first.
    monkeypatch.setattr(extractive, "ANSWER_WEIGHT", 0.0)
    _, plain = _draft(explainer_engine, TURKEYS)
    assert plain.candidates[0].text.startswith("Turkey is typically the centerpiece")


def test_for_a_place_question_the_sentence_naming_a_place_comes_first(explainer_engine, monkeypatch):
    question = "The prime minister of which country has been suspended by the constitutional court?"
    answer, draft = _draft(explainer_engine, question)
    assert "Thailand" in draft.candidates[0].text
    assert "constitutional court of Thailand" in answer.text
    person = next(s for s in draft.candidates if "Prayut" in s.text)
    assert person.score == person.base  # a person and a day: no answer to "which country"
    # Unchecked, the sentence about the judges comes first: it holds more of the question's words.
    monkeypatch.setattr(extractive, "PLACES_CHECKED", 0)
    _, plain = _draft(explainer_engine, question)
    assert "Prayut" in plain.candidates[0].text


def test_a_question_in_the_article_is_not_its_answer_the_sentence_after_it_is(explainer_engine):
    answer = explainer_engine.ask("Where did the UPS plane crash occur?")
    assert not answer.abstained
    quotes = [c.quote for c in answer.citations]
    assert any(q.startswith("The jet came down beside Louisville") for q in quotes)
    assert not any(q.endswith("?") for q in quotes)  # the heading "Where did the UPS plane crash occur?"


def test_the_adjustments_leave_abstention_its_calibrated_features(explainer_engine, monkeypatch):
    """The preference changes which sentences are quoted, not the probability that the articles answer:
    abstention's features are those of the best sentence by the unadjusted score it was calibrated on."""
    answer, draft = _draft(explainer_engine, TURKEYS)
    best_base = max(draft.candidates, key=lambda s: s.base)
    assert best_base is not draft.candidates[0]
    assert draft.features.sentence_coverage == best_base.coverage
    monkeypatch.setattr(extractive, "ANSWER_WEIGHT", 0.0)
    plain, _ = _draft(explainer_engine, TURKEYS)
    assert plain.confidence == answer.confidence


GOVERNOR_RACES = [  # three stories, a sentence each: two about California's race, one about Iowa's
    {"id": "harris", "title": "Governor's race", "published": "2025-03-07",
     "text": "Kamala Harris has decided against running for governor of California."},
    {"id": "becerra", "title": "Governor's race", "published": "2025-07-07",
     "text": "Xavier Becerra has decided against running for governor of California."},
    {"id": "nunn", "title": "Governor's race", "published": "2025-07-20",
     "text": "Zach Nunn has decided against running for governor of Iowa in 2026."},
]


def test_a_later_report_supersedes_an_earlier_one_that_it_answers_alike(tmp_path):
    """_newest_first: of the sentences that answer alike, the story a month or more newer goes first and
    the older one is not quoted; a newer sentence that lacks a word of the question the best one holds
    ("California") answers about another race, however much of the rest of the question it covers ("2026")."""
    corpus = tmp_path / "races.jsonl"
    corpus.write_text("".join(json.dumps(a) + "\n" for a in GOVERNOR_RACES))
    engine = Engine(make_settings(tmp_path / "index"))
    engine.ingest([corpus], progress=False)
    question = "Who has decided against running for governor of California in 2026?"
    passages = {p.external_id: p for p in engine.retriever.retrieve(question, k=5)}
    terms = QuestionTerms(question, engine.store.lexical())

    def sentence(story: str, score: float) -> extractive.ScoredSentence:
        passage = passages[story]
        own = sentence_terms(passage.chunk)[0]
        start, end = passage.chunk.sentences[0]
        return extractive.ScoredSentence(passage, start, end, passage.chunk.sentence_text(0), 0.5,
                                         terms.coverage(own), score, own, score)

    harris, becerra, nunn = sentence("harris", 1.0), sentence("becerra", 0.95), sentence("nunn", 0.95)
    assert nunn.coverage > harris.coverage == becerra.coverage  # "2026" is the rarer word
    scored = [harris, becerra, nunn]
    assert extractive._newest_first(scored, terms) == {id(harris)}
    assert scored[0] is becerra
    scored = [sentence("harris", 1.0), sentence("nunn", 0.95)]  # Iowa's race does not supersede
    assert extractive._newest_first(scored, terms) == set() and scored[0].passage.external_id == "harris"
    scored = [sentence("harris", 1.0), sentence("becerra", 0.85)]  # nor does a sentence that answers less well
    assert extractive._newest_first(scored, terms) == set() and scored[0].passage.external_id == "harris"
    becerra_then = sentence("becerra", 0.95)
    becerra_then.passage = replace(becerra_then.passage, published="2025-03-20")  # a report of the same weeks
    scored = [sentence("harris", 1.0), becerra_then]
    assert extractive._newest_first(scored, terms) == set() and scored[0].passage.external_id == "harris"
