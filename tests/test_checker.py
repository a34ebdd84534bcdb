"""The answer checker (qa/answer/checker.py): lenient markers, strict support, on real article sentences
with the real encoder and spaCy; and its labelled set built from the sample articles."""
from __future__ import annotations

import pytest

from conftest import EXAMPLES
from qa.answer.checker import Checker, parse
from qa.answer.checker_set import build, measure
from qa.chunking import split_sentences
from qa.config import Settings
from qa.embedding import get_encoder

SULLIVAN = ("He conveyed the President’s unwavering support for Israel’s security and for its legitimate right to "
            "defend itself and its people, while protecting civilians.")
TUESDAY = ("US Secretary of State Antony Blinken spoke on Tuesday to Foreign Minister Gabi Ashkenazi amid the "
           "ongoing rocket attacks from Gaza against Israel.")
SOURCES = {1: TUESDAY, 2: SULLIVAN}


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker(get_encoder(Settings().embedding_model).encode)


def test_markers_are_parsed_leniently():
    parsed = parse("Blinken spoke to Ashkenazi on Tuesday [1]. Sullivan conveyed support (2). "
                   "Both spoke of Gaza 【1, 2】. Price spoke too [3-5] Nothing cited here.")
    assert parsed == [("Blinken spoke to Ashkenazi on Tuesday.", (1,)), ("Sullivan conveyed support.", (2,)),
                      ("Both spoke of Gaza.", (1, 2)), ("Price spoke too", (3, 4, 5)), ("Nothing cited here.", ())]
    assert parse("Blinken spoke on Tuesday. [1][2]") == [("Blinken spoke on Tuesday.", (1, 2))]


def test_supported_sentences_pass(checker: Checker):
    for sentence, cited in (("Blinken spoke to Foreign Minister Gabi Ashkenazi on Tuesday.", (1,)),
                            ("He conveyed the President's unwavering support for Israel's security.", (2,)),
                            ("On Tuesday Blinken spoke with Ashkenazi, and support for Israel's security was "
                             "conveyed.", (1, 2))):
        verdict = checker.verdict(sentence, cited, SOURCES)
        assert verdict.supported, (sentence, verdict.reason)


@pytest.mark.parametrize("sentence, cited, reason", [
    ("Blinken spoke to Foreign Minister Gabi Ashkenazi on Wednesday.", (1,), "'Wednesday' not in [1]"),
    ("Blinken spoke to the Jordanian foreign minister on Tuesday.", (1,), "'Jordanian' not in [1]"),
    ("Blinken spoke to Mahmoud Abbas on Tuesday.", (1,), "'Mahmoud Abbas' not in [1]"),
    ("Blinken did not speak to Ashkenazi on Tuesday.", (1,), "negation differs from [1]"),
    ("Blinken spoke to Ashkenazi on Tuesday and pledged 500 missiles.", (1,), "'500' not in [1]"),
    ("He conveyed unwavering support for its security.", (1,), "adds what [1] does not say: conveyed, unwavering"),
    ("Blinken spoke to Ashkenazi, a single-celled organism, on Tuesday.", (1,),
     "adds what [1] does not say: single-celled, organism"),  # an addition in plausible words
    ("Sullivan conveyed unwavering support for Israel's security.", (2,), "'Sullivan' not in [2]"),  # not named there
    ("Blinken spoke to Ashkenazi on Tuesday.", (7,), "cites [7], which is not a given sentence"),
    ("Blinken spoke to Ashkenazi on Tuesday.", (), "cites nothing"),
])
def test_corrupted_sentences_are_refused_with_a_reason(checker: Checker, sentence, cited, reason):
    verdict = checker.verdict(sentence, cited, SOURCES)
    assert not verdict.supported and verdict.reason.startswith(reason), verdict.reason


def test_a_sentence_without_a_marker_gets_its_best_support(checker: Checker):
    assert checker.best_support("Blinken spoke to Ashkenazi on Tuesday.", SOURCES).cited == (1,)
    assert not checker.best_support("The talks in Cairo collapsed on Friday.", SOURCES).supported


def test_the_labelled_set_of_the_sample_articles(checker: Checker):
    passages = []
    for path in sorted(EXAMPLES.glob("*.txt")):
        for paragraph in path.read_text().split("\n\n"):
            sentences = [paragraph[s.start : s.end] for s in split_sentences(paragraph)]
            if sentences:
                passages.append(sentences)
    cases = build(passages)
    kinds = {c.kind for c in cases}
    assert {"verbatim", "name", "negation", "date", "other-claim", "invented"} <= kinds
    assert sum(c.supported for c in cases) >= 30 and sum(not c.supported for c in cases) >= 100
    measured = measure(checker, cases)  # what `qa eval --checker` reports
    assert measured["cases"] == len(cases)
    assert measured["supported_passed"] >= 0.95 and measured["corrupted_rejected"] >= 0.95
    assert set(measured["correct_by_kind"]) == kinds


def test_checker_measure_counts_each_mistake():
    """measure() on a checker that passes everything: every corrupted case counts against it."""
    from qa.answer.checker_set import Case

    class PassAll:
        def verdict(self, sentence, cited, sources):
            from qa.answer.checker import Verdict

            return Verdict(sentence, tuple(cited), True)

    cases = [Case("a b c", "a b c", True, "verbatim"), Case("a b d", "a b c", False, "name"),
             Case("not a b c", "a b c", False, "negation")]
    measured = measure(PassAll(), cases)
    assert measured == {"cases": 3, "supported_passed": 1.0, "corrupted_rejected": 0.0,
                        "correct_by_kind": {"name": 0.0, "negation": 0.0, "verbatim": 1.0}}
