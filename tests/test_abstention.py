"""The premise check (qa/answer/premise.py) and the abstention model that uses it."""
import hashlib
import json

import pytest

from qa.answer import premise
from qa.answer.abstention import MODEL_PATH, AbstentionFeatures, AbstentionModel
from qa.schema import Chunk, Passage
from qa.store.lexical import LexicalIndex

ISRAELI_MINISTER = "Foreign Minister Gabi Ashkenazi"


def passage(text: str, title: str | None = None) -> Passage:
    # a chunk id names fixed content (sentence terms are cached by it): one id per text
    article_id = "t" + hashlib.sha256(text.encode()).hexdigest()[:12]
    chunk = Chunk(article_id, 0, text, 0, len(text), sentences=((0, len(text)),))
    return Passage(chunk, title, None, None, 1.0, 0)


CORPUS = {
    "a:0": "Blinken spoke with Israeli Foreign Minister Gabi Ashkenazi about the rocket attacks on Israel.",
    "b:0": "The talks in Jordan covered water and trade.",
    "c:0": "Chinese exports grew in May.",
}
LEXICAL = LexicalIndex.build(list(CORPUS), list(CORPUS.values()))
TOP = [passage(CORPUS["a:0"])]


# ------------------------------------------------------------------------------------------- missing_terms

def test_a_word_the_corpus_never_holds_is_missing_first():
    missing = premise.missing_terms("What did the Peruvian foreign minister tell Blinken?", TOP, LEXICAL)
    assert missing == ["Peruvian"]


def test_known_words_are_not_flagged():
    assert premise.missing_terms("Who spoke with the Israeli foreign minister about rockets?", TOP, LEXICAL) == []
    # stems, plurals and possessives count as the word
    assert premise.missing_terms("Who spoke about Israel's rocket attack?", TOP, LEXICAL) == []


def test_demonyms_and_their_countries_are_the_same_word():
    # Israeli ~ Israel, both ways
    assert premise.missing_terms("What did Israel's foreign minister say?", TOP, LEXICAL) == []
    assert premise.missing_terms("Who spoke with the Israelis?", [passage("Blinken spoke with Israel.")], LEXICAL) == []
    # Jordanian ~ Jordan: known to the corpus, but absent from the passage, so still missing there
    check = premise.check("What did the Jordanian foreign minister say?", TOP, LEXICAL)
    assert check.missing == ["Jordanian"] and check.unknown == []
    assert premise.missing_terms("What did the Jordanian delegation say?", [passage(CORPUS["b:0"])], LEXICAL) == ["delegation"]
    assert premise.missing_terms("What did China export?", [passage(CORPUS["c:0"])], LEXICAL) == []
    # lower-case words keep their own stem: "part" is not held by "party"
    assert premise.missing_terms("Which part won?", [passage("The party won.")], LEXICAL) == ["part"]


def test_contractions_months_and_decades_are_not_missing_words():
    """Found on the squad bench: "The articles don't mention “wouldn't”", "... don't mention Feb" (the
    article writes February), "... don't mention 1990" (it writes the 1990s)."""
    temple = [passage("The Jewish people gathered in the streets so the pagan statues were not put in the temple "
                      "in February 1990, and again in the 1980s.")]
    assert premise.missing_terms("What did they do so pagan items wouldn't be in the temple?", temple, LEXICAL) == \
        ["items"]
    assert premise.missing_terms("What happened in the temple in Feb 1990?", temple, LEXICAL) == []
    assert premise.missing_terms("What happened in the temple in 1980?", temple, LEXICAL) == []
    assert premise.missing_terms("What happened in the temple in the 1990s?", temple, LEXICAL) == []
    # only a month's own abbreviations: "Feb" is not held by "March"
    assert premise.missing_terms("What happened in Feb?", [passage("It happened in March.")], LEXICAL) == ["Feb"]
    assert premise.missing_terms("What happened in 1970?", temple, LEXICAL) == ["1970"]


def test_a_country_abbreviation_is_held_by_its_name_and_its_people():
    """RealTimeQA: "In 1803, the US purchased the Louisiana Territory from which country?" was told "The
    closest passages don't mention US" over a passage on the United States' purchase from France."""
    question = "In 1803, the US purchased the Louisiana Territory from which country?"
    for text in ["The United States bought the Louisiana Territory from France in 1803.",
                 "The U.S. bought the Louisiana Territory from France in 1803.",
                 "American envoys bought the Louisiana Territory from France in 1803."]:
        assert "US" not in premise.missing_terms(question, [passage(text)], LEXICAL), text
    # spelled out means every word of the name: "the states" is not the US
    assert "US" in premise.missing_terms(question, [passage("The states bought the Louisiana Territory in 1803.")],
                                         LEXICAL)
    assert premise.missing_terms("What did the U.K. say?", [passage("Britain said no.")], LEXICAL) == []
    assert premise.missing_terms("What did the UK say?", [passage("France said no.")], LEXICAL) == ["UK"]


def test_missing_words_are_ranked_unknown_first_then_names():
    missing = premise.missing_terms("Did Macron speak with the Jordanian minister about sourdough?", TOP, LEXICAL)
    assert missing[:2] == ["Macron", "sourdough"]  # both unknown to the corpus; the name first
    assert missing[2] == "Jordanian"  # known to the corpus (Jordan), only absent from the passage
    assert "minister" not in missing


def test_premise_features():
    check = premise.check("What did the Peruvian foreign minister say?", TOP, LEXICAL)
    assert check.unknown_name == 1.0 and check.missing_name == 1.0
    assert 0.0 < check.missing_share < 1.0
    clean = premise.check("What did the Israeli foreign minister say?", TOP, LEXICAL)
    assert (clean.missing_share, clean.unknown_name, clean.missing_name) == (0.0, 0.0, 0.0)
    assert premise.check("?", TOP, LEXICAL).missing == []


# -------------------------------------------------------------------------------------------- premise_note

def test_premise_note_names_the_missing_thing_as_written():
    note = premise.premise_note
    assert note("What did the Jordanian foreign minister say?", ["Jordanian"]) == \
        "The articles don't mention a Jordanian foreign minister"
    assert note("What did the Iraqi minister say?", ["Iraqi"]) == "The articles don't mention an Iraqi minister"
    assert note("What did Jordanian officials say?", ["Jordanian"]) == "The articles don't mention Jordanian officials"
    assert note("Is it Jordanian?", ["Jordanian"]) == "The articles don't mention Jordanian"
    assert note("What did Emmanuel Macron tell Blinken?", ["Macron", "Emmanuel"]) == \
        "The articles don't mention Emmanuel Macron"
    assert note("What did Macron tell the Jordanian king?", ["Macron", "Jordanian"]) == \
        "The articles don't mention Macron or a Jordanian king"
    assert note("How long should sourdough bread be baked?", ["sourdough", "baked"]) == \
        "The articles don't mention “sourdough”"
    assert note("What did Sullivan convey?", []) is None


def test_a_long_question_is_read_as_sentences_and_names_as_written():
    """Seen on RealTimeQA's quiz questions: "don't mention Blanche President Trump" (a name read across a
    comma), "don't mention Rachel Reeves or Chancellor Rachel Reeves" (one name twice), "don't mention
    Around" (a second sentence's opening word read as a name)."""
    note = premise.premise_note
    assert note("Todd Blanche, President Trump’s personal attorney, was appointed acting librarian of Congress. "
                "Whom did he replace?", ["Blanche"]) == "The articles don't mention Todd Blanche"
    assert note("Chancellor Rachel Reeves faced criticism after accepting free tickets to which pop star's concert?",
                ["Rachel", "Chancellor"]) == "The articles don't mention Chancellor Rachel Reeves"
    words = premise.question_words("President Trump said the US will sell a gold card. Around how much will it cost?")
    assert [w.text for w in words if w.name] == ["Trump", "US"]  # not "Around", and never reported
    assert "Around" not in [w.text for w in words]
    assert [w.text for w in premise.question_words("Speaking of fairs, which one is the largest?") if w.name] == []


def test_premise_note_for_a_word_only_the_passages_lack():
    assert premise.premise_note("What did the Jordanian minister say?", ["Jordanian"], unknown=[]) == \
        "The closest passages don't mention a Jordanian minister"
    assert premise.premise_note("What did the Jordanian minister say?", ["Jordanian"], unknown=["Jordanian"]) == \
        "The articles don't mention a Jordanian minister"


def test_contradiction_cues():
    sentence = "Blinken spoke with the foreign minister on Tuesday."
    assert premise.contradiction("Who did Blinken speak with on Tuesday?", sentence) == 0.0
    assert premise.contradiction("Who did Blinken not speak with on Tuesday?", sentence) == 1.0
    assert premise.contradiction("Who did Blinken never call?", "Blinken never called Abbas.") == 0.0
    assert premise.contradiction("Who spoke first?", "Sullivan spoke last.") == 1.0
    assert premise.contradiction("Who spoke first?", "Sullivan spoke first, Blinken last.") == 0.0
    assert premise.contradiction("What happened in 1999?", sentence, passage="In 2021 ...") == 1.0
    assert premise.contradiction("What happened in 2021?", sentence, passage="In 2021 ...") == 0.0


# ---------------------------------------------------------------------------------------------- the model

def test_the_model_file_matches_the_code():
    data = json.loads(MODEL_PATH.read_text())
    assert data["features"] == AbstentionFeatures.names()
    assert len(data["weights"]) == len(AbstentionFeatures.names())
    model = AbstentionModel.load()
    assert 0.0 < model.threshold < 1.0
    # a missing word never makes an answer more likely (the calibration bounds these weights)
    for name in ("missing_share", "unknown_name", "missing_name", "contradiction"):
        assert model.weights[AbstentionFeatures.names().index(name)] <= 0.0, name


def test_a_model_fitted_on_other_features_is_refused(tmp_path):
    data = json.loads(MODEL_PATH.read_text())
    data["features"] = data["features"][:5]
    path = tmp_path / "abstention.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="fitted on features"):
        AbstentionModel.load(path)


# ------------------------------------------------------------------------------- end to end, sample articles

def draft(engine, question: str):
    vector = engine.store.encoder.encode([question])[0]
    passages = engine.retriever.retrieve(question, k=engine.settings.answer_passages, query_vector=vector)
    return engine.answerer.draft(question, passages, engine.store.lexical())


@pytest.mark.parametrize("question", [
    "What did the Jordanian foreign minister say?",
    "Who is the Jordanian foreign minister?",
    "What did Blinken discuss with the Jordanian foreign minister?",
])
def test_a_question_about_an_absent_official_never_gets_the_other_one_confidently(sample_engine, question):
    result = draft(sample_engine, question)
    assert result.missing[0] == "Jordanian"
    if not result.abstained:
        # answered only with the note that says what is absent: never as if it were the Israeli minister
        assert result.note == "The articles don't mention a Jordanian foreign minister"
        held = sample_engine.answerer.abstention.probability(result.features.premise_held())
        assert result.probability < held  # the premise check lowered it
    elif result.note is not None:
        assert "Jordanian" in result.note


def test_a_question_in_known_words_is_not_flagged(sample_engine):
    for question in ["What did Blinken discuss with the Israeli foreign minister?",
                     "Who did Blinken speak with on Wednesday night?"]:
        result = draft(sample_engine, question)
        assert result.note is None, question
        assert not result.abstained, question
        assert result.features.unknown_name == 0.0 and result.features.missing_name == 0.0, question
    israeli = draft(sample_engine, "What did Blinken discuss with the Israeli foreign minister?")
    assert israeli.missing == []
    assert any(ISRAELI_MINISTER in s.text for s in israeli.sentences)


def test_an_absent_name_is_noted_or_abstained(sample_engine):
    result = draft(sample_engine, "What did Macron tell Blinken?")
    assert result.missing[0] == "Macron"
    assert result.abstained or result.note == "The articles don't mention Macron"


# ------------------------------------------------------------------------- the engine's answer, and its faces

@pytest.mark.parametrize("question", [
    "What did the Jordanian foreign minister say?",
    "What did the Egyptian foreign minister say?",
    "What did Macron tell Blinken?",
])
def test_the_answer_says_what_the_articles_dont_mention(sample_engine, question):
    answer = sample_engine.ask(question)
    data = answer.to_dict()
    assert answer.note and answer.note.startswith("The articles don't mention ")
    assert data["note"] == answer.note
    assert answer.text.startswith(answer.note)  # every face shows the text: the note comes first
    assert answer.short_answer is None  # no bold answer that would read as the answer to this question
    if answer.abstained:
        assert not answer.citations
    else:
        assert "; they report: " in answer.text and answer.citations
        # the quotes follow the note, verbatim and cited
        assert all(f"[{c.n}]" in answer.text for c in answer.citations)
    if "Jordanian" in question:
        assert "Jordanian foreign minister" in answer.note
    if not answer.abstained:
        assert answer.confidence < 0.9  # never a confident plain answer


def test_an_ordinary_question_gets_no_note(sample_engine):
    for question in ["What did Blinken discuss with the Israeli foreign minister?",
                     "Who did Blinken speak with on Wednesday?", "What did Sullivan convey?"]:
        answer = sample_engine.ask(question)
        assert answer.note is None and answer.to_dict()["note"] is None, question
        assert not answer.abstained and not answer.text.startswith("The articles"), question


def test_the_faces_show_the_note_escaped(sample_engine):
    from qa.faces.render import answer_markdown
    from qa.faces.slack_bot import answer_blocks, fallback_text

    answer = sample_engine.ask("What did the Jordanian foreign minister say?")
    assert answer.note
    shown = answer_markdown(answer)
    assert "Jordanian foreign minister" in shown and "don't mention" in shown
    slack = answer_blocks(answer, None)[0]["text"]["text"]
    assert "don't mention a Jordanian foreign minister" in slack
    assert "Jordanian foreign minister" in fallback_text(answer)
    # the page's JSON API keeps the field (its response model would drop an undeclared one)
    from qa.faces.web import AnswerOut

    assert AnswerOut.model_validate(answer.to_dict()).note == answer.note
