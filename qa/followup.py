"""Follow-up questions made standalone without an LLM, from the entities of the user's own earlier turns.

"What did Sullivan convey?" then "Who did he speak with?" is searched as "Who did Sullivan speak with?";
"What about Netanyahu?" takes the previous question with its subject swapped; "And on Wednesday?" takes
it with its day swapped (or added). Only the user's turns are read, never the bot's answers: carrying the
answers into the query pulls retrieval towards what was already said (published measurements of
conversational search agree). A question that names its own subject, or shows no sign of leaning on the
conversation, is searched as asked."""
from __future__ import annotations

import re
from typing import Mapping, Sequence

from qa.store.lexical import STOPWORDS

# Words that open a sentence with a capital but name nothing.
_COMMON = {"earlier", "later", "also", "however", "meanwhile", "before", "after", "tweeting", "according",
           "it", "we", "they", "he", "she", "i", "you", "this", "that", "there",
           "yes", "no", "while", "when", "if", "although", "because", "since", "following", "during", "despite"}
_QUESTION_START = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how", "did", "does", "do",
                   "is", "are", "was", "were", "will", "would", "can", "could", "should", "has", "have", "had"}
# Capitalised words that open a question but name nothing.
_WH = _QUESTION_START | {"and", "but", "so", "then", "also", "in", "on", "at", "according", "the", "a", "an", "i",
                         "tell", "please", "now"}
_CALENDAR = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february",
             "march", "april", "may", "june", "july", "august", "september", "october", "november", "december",
             "today", "yesterday", "tonight"}
_CONNECTORS = {"of", "al", "bin", "ibn", "de", "del", "van", "von", "der", "la", "le", "du", "da"}
_TOKEN = re.compile(r"[A-Za-z][\w'’.-]*|\S")
_MARKUP = re.compile(r"<[^>]*>")  # Slack mentions and links
_PERSON_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their)\b", re.I)
_OTHER_PRONOUN = re.compile(r"\b(it|its)\b", re.I)
_ASIDE = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(.+?)\s*\??\s*$", re.I)
_AND = re.compile(r"^\s*and\s+(.+?)\s*\??\s*$", re.I)
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_TIME_PHRASE = re.compile(
    rf"\b(?:(?:on|last|this|next|since|until|by|before|after)\s+)?(?:{_WEEKDAY}(?:\s+(?:night|morning|evening|"
    rf"afternoon))?|{_MONTH}(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?|(?:in\s+)?\d{{4}}|today|yesterday|last week|"
    rf"this week|overnight)\b", re.I)


def entities(text: str) -> list[str]:
    """Names in a question, in order: runs of capitalised words ("Mahmoud Abbas", "State Department"),
    without question words, weekdays or months; a trailing possessive dropped."""
    words = _TOKEN.findall(_MARKUP.sub(" ", text))
    found: list[str] = []
    run: list[str] = []

    def close() -> None:
        while run and run[-1].lower() in _CONNECTORS:
            run.pop()
        if run:
            found.append(re.sub(r"['’]s$", "", " ".join(run)))
        run.clear()

    for i, word in enumerate(words):
        bare = re.sub(r"['’]s$", "", word).strip(".")
        lower = re.split(r"['’]", bare.lower())[0]
        if (bare[:1].isupper() and lower not in _WH and lower not in _CALENDAR and lower not in _COMMON
                and lower not in STOPWORDS):
            run.append(bare)
            if bare != word.strip("."):  # "Israel's": the name ends here
                close()
        elif run and word.lower() in _CONNECTORS:
            run.append(word)
        else:
            close()
    close()
    return found


def user_turns(history: Sequence[Mapping] | None) -> list[str]:
    return [str(turn.get("content") or "") for turn in history or ()
            if isinstance(turn, Mapping) and turn.get("role") == "user" and str(turn.get("content") or "").strip()]


def _rewrite(question: str, previous: str) -> str:
    """`question` made standalone given the previous (already standalone) user question."""
    own = entities(question)
    before = entities(previous)
    stem = previous.strip().rstrip("?").strip()
    if match := _ASIDE.match(question):  # "What about Netanyahu?": the previous question, another subject
        subject = match.group(1)
        if _TIME_PHRASE.fullmatch(subject.strip()):
            return _with_time(stem, subject)
        if before and (named := entities(subject)):
            return re.sub(re.escape(before[0]), named[0], stem, count=1) + "?"
        return f"{stem} {subject}?"
    if (match := _AND.match(question)) and not own:
        rest = match.group(1)
        if rest.split()[0].lower() in _QUESTION_START:  # "And what did he say next?": a question of its own
            return _rewrite(rest[0].upper() + rest[1:] + "?", previous)
        if _TIME_PHRASE.search(rest):  # "And on Wednesday?"
            return _with_time(stem, rest)
        if before and (pronoun := _PERSON_PRONOUN.search(rest)):  # "And his spokesman?"
            rest = rest[: pronoun.start()] + _replacement(pronoun.group(1), before[0]) + rest[pronoun.end():]
        return f"{stem} {rest}?"
    if own and not _PERSON_PRONOUN.search(question):
        return question  # it names what it is about
    if before and (pronoun := _PERSON_PRONOUN.search(question) or _OTHER_PRONOUN.search(question)):
        return question[: pronoun.start()] + _replacement(pronoun.group(1), before[0]) + question[pronoun.end():]
    if before and len(question.split()) <= 4:  # "Why?", "When exactly?"
        return f"{question.strip()} {' '.join(before)}"
    return question


def _replacement(pronoun: str, name: str) -> str:
    return f"{name}'s" if pronoun.lower() in ("his", "hers", "their", "its") else name


def _with_time(stem: str, phrase: str) -> str:
    """The question with its time phrase replaced by `phrase` (or `phrase` added)."""
    phrase = phrase.strip().rstrip("?").strip()
    if _TIME_PHRASE.search(stem):
        return _TIME_PHRASE.sub(lambda _: phrase, stem, count=1) + "?"
    return f"{stem} {phrase}?"


def standalone_query(question: str, history: Sequence[Mapping] | None) -> str:
    """The query to search for `question` in a conversation: the user's earlier turns are made standalone
    one after the other, so a chain of follow-ups keeps its subject."""
    turns = user_turns(history)
    if not turns:
        return question
    previous = _MARKUP.sub(" ", turns[0]).strip()
    for turn in turns[1:]:
        previous = _rewrite(_MARKUP.sub(" ", turn).strip(), previous)
    return _rewrite(question, previous)
