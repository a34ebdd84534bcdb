"""Who said what, and when (qa/news): quotes and their resolved speakers, people and titles, dates resolved
against the publication date; stored at ingest; answered by the Engine, `qa quotes` and GET /api/quotes."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from conftest import EXAMPLES, ROOT, make_settings
from helpers import llm_sources
from qa.engine import Engine
from qa.news.dates import resolve
from qa.news.nlp import parse
from qa.news.people import People, find_people
from qa.news.quotes import QuoteKind, extract_quotes
from qa.news.when import frame

SAMPLE_0 = (EXAMPLES / "000_8e03b75251222fb2.txt").read_text()
SAMPLE_1 = (EXAMPLES / "001_0029e68a5cbbc7e8.txt").read_text()
LABELLED = [json.loads(line) for line in (ROOT / "tests" / "data" / "quotes.jsonl").open(encoding="utf-8")]


def _by(quotes, snippet):
    found = [q for q in quotes if snippet in q.text]
    assert found, f"no quote holds {snippet!r}"
    return found[0]


# ---------------------------------------------------------------- quotes and speakers
def test_sample_quotes_resolve_surnames_pronouns_and_statements():
    quotes = extract_quotes(SAMPLE_0)
    sullivan = [q for q in quotes if q.speaker == "Jake Sullivan"]
    # Both things Sullivan conveyed, each a quoted predicate reported by the White House's statement.
    assert {q.kind for q in sullivan} == {QuoteKind.PARTIAL}
    assert any("He conveyed the President’s unwavering support" in q.text for q in sullivan)
    assert any(q.text.startswith("also conveyed the United States’ encouragement") for q in sullivan)
    assert all(q.via == "White House" and q.role == "US National Security Advisor" for q in sullivan)
    # '"...," he said' after a paragraph whose subject is Ned Price: he is Price, with his title.
    price = _by(quotes, "Israel has the right to defend itself")
    assert (price.speaker, price.mention, price.role) == ("Ned Price", "he", "US State Department spokesman")
    # '"...," the statement continued': the State Department's statement ("In a statement, the State Department said").
    statement = _by(quotes, "The Secretary and the Foreign Minister also discussed")
    assert (statement.speaker, statement.kind) == ("State Department", QuoteKind.STATEMENT)
    # A surname is the full name introduced earlier; a tweet is one unit over two sentences.
    tweet = _by(quotes, "Spoke with Gabi Ashkenazi today")
    assert (tweet.speaker, tweet.cue) == ("Antony Blinken", "wrote")
    assert "Israelis and Palestinians need to be able to live in safety" in tweet.text
    for quote in quotes:  # offsets are verbatim
        assert SAMPLE_0[quote.start : quote.end] == quote.text


def test_sample_two_inverted_attribution_and_reported_speech():
    quotes = extract_quotes(SAMPLE_1)
    tweet = _by(quotes, "I spoke with President Abbas")
    assert (tweet.speaker, tweet.cue) == ("Antony Blinken", "tweeted")  # '..., tweeted Blinken.'
    assert "I emphasized the need to end rocket attacks" in tweet.text
    assert _by(quotes, "Israelis and Palestinians deserve").speaker == "Antony Blinken"  # "he added"
    announced = _by(quotes, "announced at a press briefing")
    assert (announced.kind, announced.speaker) == (QuoteKind.REPORTED, "Antony Blinken")


def test_several_speakers_pronouns_and_titles_in_a_written_article():
    case = next(c for c in LABELLED if c["name"] == "minister")
    quotes = extract_quotes(case["text"])
    assert _by(quotes, "This budget asks the poorest").speaker == "Mark Ruiter"  # "he said" after Ruiter
    # "the minister said": the person the article called minister, not the last person named (Ruiter).
    minister = _by(quotes, "Nothing changes for pensioners")
    assert (minister.mention, minister.speaker, minister.role) == ("the minister", "Clara Vos", "Finance Minister")


def test_speaker_attribution_precision_and_recall_on_the_labelled_quotes():
    correct = wrong = missed = 0
    for case in LABELLED:
        text = (ROOT / case["file"]).read_text() if "file" in case else case["text"]
        quotes = [q for q in extract_quotes(text) if q.kind is not QuoteKind.REPORTED]
        for snippet, speaker in case["expected"]:
            found = [q for q in quotes if snippet in q.text]
            if not found:
                missed += 1
            elif found[0].speaker == speaker:
                correct += 1
            else:
                wrong += 1
    precision, recall = correct / (correct + wrong), correct / (correct + wrong + missed)
    assert correct + wrong + missed >= 30
    assert precision >= 0.95, (correct, wrong, missed)
    assert recall >= 0.85, (correct, wrong, missed)


def test_unbalanced_marks_and_scare_quotes_do_not_break_extraction():
    text = ('The so-called "peace plan" was rejected.\n\n"It is dead," Minister Ana Ruiz said.\n\n'
            '"This quote runs on\n\n"and on," she added.\n\nA stray ” mark.')
    quotes = extract_quotes(text)
    assert not any(q.text == "peace plan" for q in quotes)  # two words, no attribution: not a quote
    assert _by(quotes, "It is dead").speaker == "Ana Ruiz"
    for quote in quotes:
        assert text[quote.start : quote.end] == quote.text


# ---------------------------------------------------------------- people and titles
def test_people_titles_before_the_name_and_in_an_apposition():
    people = {p.name: p for p in find_people(parse(SAMPLE_0))}
    assert people["Antony Blinken"].title == "US Secretary of State"
    assert people["Mahmoud Abbas"].title == "Palestinian Authority chairman"
    assert people["Mahmoud Abbas"].orgs == ["Palestinian Authority"]
    assert people["Ned Price"].title == "US State Department spokesman"
    assert "Jarrah" not in people  # "in Sheikh Jarrah" is a place
    shirley = find_people(parse("William Shirley, the expansionist governor of the Province of Massachusetts Bay, "
                                "was forceful. Shirley wrote to London."))
    assert shirley[0].name == "William Shirley"
    assert shirley[0].title == "the expansionist governor of the Province of Massachusetts Bay"
    second = People(find_people(parse(SAMPLE_1)))
    assert second.by_title("the Secretary").name == "Antony Blinken"  # not the Deputy Assistant Secretary
    assert second.by_name("President Abbas").name == "Mahmoud Abbas"


# ---------------------------------------------------------------- dates
def test_dates_resolve_against_a_wednesday_publication():
    text = ("Blinken spoke on Tuesday. Images came out overnight. Last week he met her. He will travel on Friday. "
            "Earlier this month it began. On Wednesday night he spoke. It happened on 3 May 2021.")
    found = {m.text: (m.date, m.until) for m in resolve(text, "2021-05-12")}  # a Wednesday
    assert found["on Tuesday"] == ("2021-05-11", None)  # the day before
    assert found["overnight"] == ("2021-05-11", "2021-05-12")
    assert found["Last week"] == ("2021-05-03", "2021-05-09")
    assert found["on Friday"] == ("2021-05-14", None)  # future tense: the next Friday
    assert found["Earlier this month"] == ("2021-05-01", "2021-05-12")
    assert found["On Wednesday night"] == ("2021-05-12", None)  # the publication day itself
    assert found["3 May 2021"] == ("2021-05-03", None)
    # Without a publication date only dates written in full are resolved: a bare weekday is never guessed.
    assert {m.text for m in resolve(text, None)} == {"3 May 2021"}


def test_a_date_without_its_year_is_the_nearest_one_a_day_ahead_counting_double():
    def day(text, published):
        return [m.date for m in resolve(text, published)]

    assert day("Feb. 16: BAFTA Film Awards", "2024-12-29") == ["2025-02-16"]  # a listing of coming awards
    assert day("It happened on December 30.", "2025-01-05") == ["2024-12-30"]
    assert day("The primary is on March 3.", "2025-01-10") == ["2025-03-03"]  # was last year's
    assert day("It began on March 5.", "2025-09-10") == ["2025-03-05"]
    assert day("The Nov. 5 election", "2025-01-03") == ["2024-11-05"]


def test_a_month_without_its_year_is_read_like_a_bare_weekday():
    def months(text, published):
        return [(m.text, m.date, m.until) for m in resolve(text, published)]

    # The latest such month up to publication; the next one when the sentence speaks of the future.
    assert months("Wildfires devastated Los Angeles in January.", "2025-12-18") == [
        ("in January", "2025-01-01", "2025-01-31")]
    assert months("The law will take effect in January.", "2025-12-18") == [("in January", "2026-01-01", "2026-01-31")]
    assert months("It has rained since December.", "2025-12-02") == [("since December", "2025-12-01", "2025-12-31")]
    assert months("He left last March; he returns next March, in mid-March.", "2025-03-10") == [
        ("last March", "2024-03-01", "2024-03-31"), ("next March", "2026-03-01", "2026-03-31"),
        ("in mid-March", "2025-03-01", "2025-03-31")]
    # A day or year written after it is the written date's; "may" the verb, a name, a rule, a narrated
    # month and an undated article name no month.
    assert months("In May 2021 it began; by May 5 it ended.", "2025-09-10") == [
        ("May 2021", "2021-05-01", "2021-05-31"), ("May 5", "2025-05-05", None)]
    assert months("Prices in may rise. Theresa May spoke. MLK Day is the third Monday in January. "
                  "The next May, he won.", "2025-09-10") == []
    assert months("It began in May.", None) == []
    # A question's month is read as of its date: "in January" asked in December 2025 is January 2025.
    january = frame("Wildfires devastated which section of the US in January?", "2025-12-18")
    assert (str(january.first), str(january.last)) == ("2025-01-01", "2025-01-31")


def test_a_weekday_that_names_no_one_day_is_not_resolved():
    # A rule or a named day is not "the latest such day before publication": RealTimeQA's page on February's
    # holidays read "on the third Monday (13 January 2025) in January".
    text = ("MLK Day is held on the third Monday in January. Memorial Day is the last Monday of May. "
            "Shops open early on Black Friday. Markets close every Friday. It was on a Sunday. "
            "Voters went to the polls on Super Tuesday. He spoke on Tuesday in Washington.")
    found = {m.text: m.date for m in resolve(text, "2025-02-20")}  # a Thursday
    assert found == {"on Tuesday": "2025-02-18"}
    # Nor a title, a name in capitals, a weekday its written date follows, a narrated "the next year".
    text = ('A sequel to "Freaky Friday." Follow USA TODAY for more. Cheney died Tuesday, Nov. 3, at 84. '
            "The next year, on his 40th birthday, he won. Since Tuesday it rained. Last week he met her.")
    found = {m.text: (m.date, m.until) for m in resolve(text, "2025-11-05")}  # a Wednesday
    assert found == {"Nov. 3": ("2025-11-03", None), "Tuesday": ("2025-11-04", None),
                     "Last week": ("2025-10-27", "2025-11-02")}
    # ... and a question about a rule names no time frame to rank by.
    assert frame("Which US holiday takes place on the third Monday of February every year?", "2025-02-20").first is None


# ---------------------------------------------------------------- stored, answered, listed
def test_engine_answers_who_said_what_from_stored_quotes(sample_engine: Engine):
    answer = sample_engine.ask("What did Sullivan convey?")
    assert answer.text.startswith("Jake Sullivan (US National Security Advisor): ")
    quotes = " ".join(c.quote for c in answer.citations)
    assert "He conveyed the President’s unwavering support" in quotes
    assert "also conveyed the United States’ encouragement" in quotes
    assert all(c.published == "2021-05-12" for c in answer.citations)

    who = sample_engine.ask("Who said that Israel has the right to defend itself?")
    assert who.short_answer == "Ned Price"
    assert who.text.startswith("Ned Price (US State Department spokesman): ")
    # Cited: the sentence that names him ("... spokesman Ned Price ...") and the one that says it ("..., he said").
    assert "spokesman Ned Price" in who.citations[0].quote
    assert "Israel has the right to defend itself" in who.citations[1].quote

    job = sample_engine.ask("What is Blinken's job?")
    assert job.short_answer == "US Secretary of State"
    assert "US Secretary of State Antony Blinken" in job.citations[0].quote


def test_answers_say_the_date_a_weekday_stands_for(sample_engine: Engine):
    answer = sample_engine.ask("Who did Sullivan speak with?")
    assert "Earlier on Tuesday (11 May 2021)" in answer.text
    assert "(11 May 2021)" not in answer.citations[0].quote  # the quote stays verbatim


def test_a_date_after_a_possessive_weekday_follows_the_possessive(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "globes.txt").write_text("Title: Globes host\nDate: 2025-01-03\n\nComedian Nikki Glaser will host "
                                       "this Sunday's Golden Globes ceremony in Beverly Hills.\n")  # a Friday
    engine = Engine(make_settings(tmp_path / "index"))
    assert not engine.ingest([folder], progress=False).errors
    answer = engine.ask("Who will host the Golden Globes ceremony?")
    assert "this Sunday's (5 January 2025) Golden Globes" in answer.text  # not "Sunday (5 January 2025)'s"


def test_quotes_listing_and_bad_input(sample_engine: Engine):
    from qa.errors import InputError

    price = sample_engine.quotes("Price")
    assert price and {q["speaker"] for q in price} == {"Ned Price"}
    assert sample_engine.quotes("ned price") == price  # full name, any case
    assert sample_engine.quotes("Nobody Atall") == []
    assert sample_engine.quotes("Sulivan") == sample_engine.quotes("Sullivan") != []  # a misspelt name, corrected
    for bad, field in ((("",), "speaker"), ((" " * 3,), "speaker"), (("x" * 201,), "speaker"), ((42,), "speaker")):
        with pytest.raises(InputError) as caught:
            sample_engine.quotes(*bad)
        assert caught.value.field == field
    for limit in (0, -1, 1001, "5", True, 2.5):
        with pytest.raises(InputError) as caught:
            sample_engine.quotes("Price", limit=limit)
        assert caught.value.field == "limit"


def test_api_quotes_endpoint(sample_engine: Engine):
    from qa.faces.web import build_api

    client = TestClient(build_api(sample_engine))
    body = client.get("/api/quotes", params={"speaker": "Sullivan"}).json()
    assert body["speaker"] == "Sullivan" and len(body["quotes"]) == 2
    first = body["quotes"][0]
    assert first["role"] == "US National Security Advisor" and first["published"] == "2021-05-12"
    everyone = client.get("/api/quotes").json()["quotes"]
    assert len(everyone) > len(body["quotes"])
    for params, field in (({"limit": "abc"}, "limit"), ({"limit": "0"}, "limit"), ({"speaker": ""}, "speaker"),
                          ({"speaker": "<script>" * 40}, "speaker")):
        response = client.get("/api/quotes", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["field"].split(".")[-1] == field  # "query.limit" when FastAPI checks it
    hostile = client.get("/api/quotes", params={"speaker": "'; DROP TABLE quotes; --"})
    assert hostile.status_code == 200 and hostile.json()["quotes"] == []
    assert client.get("/api/quotes", params={"speaker": "Price"}).json()["quotes"]  # the table is still there


def test_render_quotes_escapes_article_text():
    from qa.faces.web import render_quotes

    page = render_quotes([{"speaker": "<b>X</b>", "role": None, "cue": "said", "via": None, "quote": "<img src=x>",
                           "title": "t", "article_id": "a", "published": None, "start": 0, "end": 5}])
    assert "<img" not in page and "&lt;img src=x&gt;" in page and "&lt;b&gt;X" in page


def test_cli_quotes(sample_engine: Engine):
    env = {**sample_engine.settings.as_environment(), "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "qa.faces.cli", "quotes", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    listed = run("Blinken")
    assert listed.returncode == 0, listed.stderr
    assert "Antony Blinken (US Secretary of State), tweeted" in listed.stdout
    data = json.loads(run("Sullivan", "--json").stdout)
    assert {q["speaker"] for q in data} == {"Jake Sullivan"}
    assert run("Nobody").returncode == 1
    bad = run("Price", "--limit", "0")
    assert bad.returncode == 2 and "--limit" in bad.stderr


def test_an_index_without_quotes_is_read_at_the_next_ingest(tmp_path, sample_articles):
    engine = Engine(make_settings(tmp_path / "index"))
    engine.ingest([sample_articles], progress=False)
    assert engine.quotes("Sullivan")
    with sqlite3.connect(tmp_path / "index" / "catalog.sqlite") as db:  # as an index built before qa/news
        for table in ("facts", "quotes", "people"):
            db.execute(f"DELETE FROM {table}")
    assert engine.quotes("Sullivan") == []
    report = engine.ingest([sample_articles], progress=False)  # files unchanged: nothing re-embedded
    assert report.chunks_embedded == 0
    assert engine.quotes("Sullivan")


# ---------------------------------------------------------------- the question's time frame, as of a date
def test_time_frame_of_a_question_as_of_a_date():
    from qa.news.when import weight

    wednesday = frame("What happened on Wednesday?", "2021-05-13")
    assert (str(wednesday.first), str(wednesday.last), wednesday.explicit) == ("2021-05-12", "2021-05-12", True)
    week = frame("Which airline grounded its fleet this week?", "2025-09-04")
    assert week.recent and str(week.first) == "2025-09-01"
    plain = frame("Who is Ned Price?", "2021-05-13")
    assert plain.first is None and not plain.recent
    # Later articles are hidden from a reader of the archive; the story of the week beats older ones.
    assert weight(plain, "2021-05-20", []) is None
    assert weight(plain, "2021-05-12", []) > weight(plain, "2019-05-12", []) > 1.0
    assert weight(plain, None, []) == 1.0  # undated: neither favoured nor hidden
    assert weight(frame("Who is Ned Price?"), "2030-01-01", []) is not None  # as of today: nothing hidden
    # A question naming a day favours articles of that day, or mentioning it.
    assert weight(wednesday, "2021-05-12", []) > weight(wednesday, "2021-04-01", [])
    day = wednesday.first
    assert weight(wednesday, None, [(day, day)]) > weight(wednesday, None, [])


def test_as_of_hides_later_articles_and_reads_days_against_it(sample_engine: Engine):
    later = sample_engine.ask("Who did Blinken speak with?", as_of="2021-05-01")  # before the dated sample
    assert all(c.published != "2021-05-12" for c in later.citations)
    assert all(p.published != "2021-05-12" for p in later.passages)
    tuesday = sample_engine.ask("What happened on Tuesday?", as_of="2021-05-12")
    assert not tuesday.abstained and tuesday.text.startswith("On 11 May 2021: ")
    assert "Sullivan" in tuesday.text and "Ashkenazi" in tuesday.text
    assert sample_engine.ask("What happened on Tuesday?").abstained  # as of today: no story of last Tuesday
    from qa.errors import InputError

    for bad in ("2021-13-01", "yesterday", 20210512):
        with pytest.raises(InputError) as caught:
            sample_engine.ask("Who is Ned Price?", as_of=bad)
        assert caught.value.field == "as_of"


def test_api_and_cli_take_as_of(sample_engine: Engine):
    from qa.faces.web import build_api

    client = TestClient(build_api(sample_engine))
    ok = client.post("/api/ask", json={"question": "What happened on Tuesday?", "as_of": "2021-05-12"})
    assert ok.status_code == 200 and ok.json()["answer"].startswith("On 11 May 2021: ")
    for bad in ("2021-02-30", "soon", 5, ["2021-05-12"]):
        response = client.post("/api/ask", json={"question": "Who is Ned Price?", "as_of": bad})
        assert response.status_code == 422 and response.json()["field"].endswith("as_of"), response.text
    env = {**sample_engine.settings.as_environment(), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "qa.faces.cli", "ask", "--as-of", "2021-99-01", "Who is Ned Price?"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 2 and "--as-of" in done.stderr


# Every year's story of one recurring event, as a web search returns them: the older ones word the question
# more closely than this year's, whose headline leads with the new word.
_WORDS_OF_THE_YEAR = [(2013, "selfie"), (2014, "vape"), (2015, "emoji"), (2016, "post-truth"),
                      (2017, "youthquake"), (2018, "toxic"), (2019, "climate emergency"), (2021, "vax"),
                      (2022, "goblin mode"), (2023, "rizz"), (2024, "brain rot")]
_OTHER_DICTIONARIES = ["Merriam-Webster", "Collins Dictionary", "Cambridge Dictionary", "Dictionary.com"]


def _word_of_the_year_pages() -> list[dict]:
    pages = [{"id": f"woty-{year}", "title": f"Oxford Dictionary word of the year {year}: '{word}'",
              "published": f"{year}-11-18",
              "text": f"The Oxford Dictionary word of the year for {year} is '{word}'. Oxford Dictionary "
                      f"lexicographers chose '{word}' as the word of the year after tracking usage all year."}
             for year, word in _WORDS_OF_THE_YEAR]
    pages += [{"id": f"other-{year}-{k}", "title": f"{name} picks its word of the year for {year}",
               "published": f"{year}-11-25",
               "text": f"{name} has chosen its word of the year for {year}, a word that sums up the year. "
                       f"{name} explains its choice."}
              for year in (2019, 2021, 2023, 2024) for k, name in enumerate(_OTHER_DICTIONARIES)]
    pages.append({"id": "woty-2025", "title": "'Rage bait' is the Oxford word of the year. What does it mean?",
                  "published": "2025-12-01",
                  "text": "Oxford University Press, publisher of the Oxford English Dictionary, has named 'rage bait' "
                          "the 2025 word of the year. Rage bait is online content designed to make people angry "
                          "so that they click and share it."})
    return pages


def test_this_years_story_of_a_recurring_event_outranks_the_years_before(tmp_path):
    """'What is the Oxford Dictionary's word of the year?' as of December 2025 means 2025's: the story of
    the year ranks above those of earlier years, though they word the question more closely (it is 14th
    on its words alone, and the weight of the last month alone left it there), and the answer quotes it
    alone: the earlier years' sentences answer alike but are superseded, though they score higher on the
    question's words, and they are not among the sentences an LLM is given either. As of an earlier day,
    that year's story ranks first and answers, and later ones are hidden."""
    corpus = tmp_path / "woty.jsonl"
    corpus.write_text("".join(json.dumps(page) + "\n" for page in _word_of_the_year_pages()))
    engine = Engine(make_settings(tmp_path / "index"))
    engine.ingest([corpus])
    question = "What is the Oxford Dictionary's word of the year?"
    now = engine.ask(question, as_of="2025-12-18")
    assert now.passages[0].external_id == "woty-2025", [p.external_id for p in now.passages]
    assert not now.abstained and "rage bait" in now.citations[0].quote, now.text
    assert not [word for _, word in _WORDS_OF_THE_YEAR if word in now.text], now.text
    assert now.short_answer == "rage bait"
    offered = " ".join(s.text for s in llm_sources(engine, question, as_of="2025-12-18"))  # an LLM's too
    assert "rage bait" in offered and not [word for _, word in _WORDS_OF_THE_YEAR if word in offered], offered
    named = engine.ask("What was the Oxford Dictionary's word of the year in 2023?", as_of="2025-12-18")
    assert "rizz" in named.citations[0].quote and "rage bait" not in named.text, named.text  # its own time
    then = engine.ask(question, as_of="2023-12-01")
    assert then.passages[0].external_id == "woty-2023", [p.external_id for p in then.passages]
    assert all(p.published <= "2023-12-01" for p in then.passages)
    assert [word for _, word in _WORDS_OF_THE_YEAR if word in then.text] == ["rizz"], then.text
    assert then.short_answer == "rizz"
