import pytest

from qa.answer.short_answer import AnswerType, answer_type, extract

NORMANS = "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France."


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Who did Blinken speak with?", AnswerType.PERSON),
        ("When were the Normans in Normandy?", AnswerType.DATE),
        ("In what year did the war end?", AnswerType.DATE),
        ("How many men did the army have?", AnswerType.NUMBER),
        ("In what country is Normandy located?", AnswerType.PLACE),
        ("Why did the talks fail?", AnswerType.EXPLANATION),
        ("What did Sullivan convey?", AnswerType.EXPLANATION),  # wants what was said, not a factoid
        ("What did Tesla develop?", AnswerType.THING),
    ],
)
def test_answer_types(question, expected):
    assert answer_type(question) is expected


@pytest.mark.parametrize(
    "question, sentence, expected",
    [
        ("In what country is Normandy located?", NORMANS, "France"),
        ("When were the Normans in Normandy?", NORMANS, "the 10th and 11th centuries"),
        ("How many men did the army have?", "The army had about 4,000 men when it crossed the river in 1066.", "4,000 men"),
        ("Who is Israel's National Security Advisor?",
         "Earlier on Tuesday, US National Security Advisor Jake Sullivan spoke with Israeli National Security Advisor "
         "Meir Ben Shabbat.", "Meir Ben Shabbat"),
        ("Who did Blinken speak with on Wednesday night?",
         "US Secretary of State Antony Blinken spoke on Wednesday night with Palestinian Authority chairman Mahmoud "
         "Abbas and condemned the rocket fire from Gaza towards Israel.", "Mahmoud Abbas"),
    ],
)
def test_extracts_the_minimal_span_verbatim(question, sentence, expected):
    short = extract(question, [sentence])
    assert short == expected and short in sentence


def test_explanations_and_missing_quotes_get_none():
    assert extract("Why did the Normans adopt French?", [NORMANS]) is None
    assert extract("Who won?", []) is None
