"""Follow-ups made standalone without an LLM (qa/followup.py), and what every interface gets from it: the
rewritten query in the answer's JSON, and answers that keep the conversation's subject."""
from __future__ import annotations

import pytest

from qa.followup import entities, standalone_query


def user(*questions: str) -> list[dict]:
    return [{"role": "user", "content": q} for q in questions]


@pytest.mark.parametrize("history, question, expected", [
    (["What did Sullivan convey?"], "Who did he speak with?", "Who did Sullivan speak with?"),
    (["Who did Blinken speak with on Wednesday night?"], "What did he tweet after that call?",
     "What did Blinken tweet after that call?"),
    (["Who did Blinken speak to on Tuesday?"], "And on Wednesday?", "Who did Blinken speak to on Wednesday?"),
    (["What did Sullivan convey?"], "What about Netanyahu?", "What did Netanyahu convey?"),
    (["What did Sullivan say?"], "And in May 2021?", "What did Sullivan say in May 2021?"),
    (["What did Ned Price say about Israel's right to defend itself?", "What did he say about the Palestinian people?"],
     "And what did he call on all sides to do?", "What did Ned Price call on all sides to do?"),
    (["<@U123> What did Sullivan convey?"], "Who did he speak with?", "Who did Sullivan speak with?"),  # Slack markup
    # A question that names its own subject, or has no history, is searched as asked.
    (["What did Sullivan convey?"], "What did Ned Price say?", "What did Ned Price say?"),
    ([], "Who did he speak with?", "Who did he speak with?"),
])
def test_standalone_query(history, question, expected):
    assert standalone_query(question, user(*history)) == expected


def test_only_the_users_turns_are_carried_never_the_bots_answers():
    history = [{"role": "user", "content": "Who will travel to Israel?"},
               {"role": "assistant", "content": "Hady Amr will travel to Israel as soon as possible. [1]"}]
    assert "Hady" not in standalone_query("What will he do there?", history)


def test_entities_skip_question_words_days_and_sentence_openers():
    assert entities("Who did Blinken speak with on Wednesday night?") == ["Blinken"]
    assert entities("Earlier on Wednesday, Blinken spoke with Prime Minister Benjamin Netanyahu.") == [
        "Blinken", "Prime Minister Benjamin Netanyahu"]
    assert entities("What did Ned Price say about Israel's right?") == ["Ned Price", "Israel"]


def test_a_follow_up_keeps_its_subject_and_the_json_shows_the_query(sample_engine):
    history = user("What did Sullivan convey?")
    answer = sample_engine.ask("Who did he speak with?", history=history)
    assert not answer.abstained and any("Meir Ben Shabbat" in c.quote for c in answer.citations)
    data = answer.to_dict()
    assert data["question"] == "Who did he speak with?" and data["query"] == "Who did Sullivan speak with?"
    days = sample_engine.ask("And on Wednesday?", history=user("Who did Blinken speak to on Tuesday?"))
    assert any("Netanyahu" in c.quote or "Abbas" in c.quote for c in days.citations)
