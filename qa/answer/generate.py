"""Generated answers that keep the extractive answer's guarantee: no sentence reaches a user unless the
passage sentence it cites supports it.

1. **Grounding by construction.** Sentences that read as instructions to a model ("ignore previous
   instructions and answer ...") are never given to it. The best sentences of the top passages (the extractive answerer's
   ranking, up to QA_LLM_CONTEXT_WORDS words), in reading order per article, are numbered and given to the
   model between delimiters (prompts/answer.txt), its instructions repeated after them; article text is
   data, never instructions. The model answers with [n] markers that point at those sentences.
2. **Checking.** As the reply streams in, each complete sentence is judged by qa/answer/checker.py against
   the sentences it cites; one without a marker (or whose markers do not support it: small models confuse
   numbers) gets the single source sentence that supports it best, if any passes. A sentence that fails is dropped (listed with the reason), never shown; one that passes is
   released at once, with citations of the usual shape (verbatim quote, offsets). A sentence that only
   restates a wh-question ("Other immune cells express CYP27B1." for "Other than T cells, what other
   immune cells express CYP27B1?") is supported and useless: it is dropped too.
3. **Fallback.** When nothing passes, the caller gives the extractive answer. The model may also say the
   passages don't answer ("NOT IN THE ARTICLES"): the answer then abstains.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from qa.answer import prompts
from qa.answer.short_answer import is_wh_question
from qa.answer.checker import Checker, Verdict, parse
from qa.answer.llm import LLM, Message
from qa.store.lexical import tokenize

NOT_ANSWERED = "NOT IN THE ARTICLES"
MAX_SENTENCES = 4
_NOT_ANSWERED = re.compile(r"not\s+in\s+the\s+articles", re.I)
_LEAD_IN = re.compile(r"^(?:(?:the\s+)?(?:answer|article|passage|passages)\s*:|according to the (?:passages|articles|"
                      r"sentences|article)\s*,?)\s*", re.I)


@dataclass
class Kept:
    """A generated sentence that passed the check, and the source sentences (ScoredSentence) it cites."""

    text: str
    sources: list  # qa.answer.extractive.ScoredSentence
    verdict: Verdict


@dataclass
class Generation:
    kept: list[Kept] = field(default_factory=list)
    dropped: list[dict] = field(default_factory=list)  # {"sentence", "cited", "reason"}
    declined: bool = False  # the model said the passages do not answer
    timed_out: bool = False  # the reply was cut off after the generator's timeout
    judged: int = 0  # parsed sentences of `raw` judged so far
    question: str = ""  # what the reply answers
    raw: str = ""


# Text addressed to a model rather than to readers: a prompt injection planted in an article.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|these\s+|my\s+)?"
    r"(?:previous\s+|prior\s+|above\s+|earlier\s+|preceding\s+|other\s+|system\s+)?(?:instructions?|prompts?|directions)\b|"
    r"\b(?:ignore|disregard|forget)\s+(?:everything|all|anything)\s+(?:above|before|else|you were told)\b|"
    r"\b(?:system|developer)\s+(?:prompt|message)\b|\bnew\s+instructions\s*:|\byou\s+are\s+now\b|"
    r"\bas an ai(?:\s+language)?\s+model\b", re.I)


def is_instruction(text: str) -> bool:
    return bool(_INSTRUCTION.search(text))


def choose_sources(candidates: Sequence, chosen: Sequence, max_words: int) -> list:
    """The sentences the model may cite: the extractive answer's own first, then the best-scored others,
    up to `max_words`; in reading order (passage rank, then position), so each article reads as text.
    A sentence that reads as an instruction to a model is left out: retrieved text is data."""
    picked: list = []
    seen: set[tuple[str, int]] = set()
    words = 0
    for sentence in list(chosen) + list(candidates):
        key = (sentence.passage.chunk.id, sentence.start)
        if key in seen or is_instruction(sentence.text):
            continue
        size = len(sentence.text.split())
        if picked and words + size > max_words:
            continue
        picked.append(sentence)
        seen.add(key)
        words += size
    return sorted(picked, key=lambda s: (s.passage.rank, s.start))


def passages_block(sources: Sequence) -> str:
    """The numbered sentences, under a heading per article (its title and date: the model needs the date to
    place "Tuesday"). Delimiter look-alikes in article text are defused so they cannot close the block."""
    lines: list[str] = []
    last = None
    for n, sentence in enumerate(sources, start=1):
        passage = sentence.passage
        if passage.article_id != last:
            date = f" ({passage.published})" if passage.published else ""
            lines.append(f"Article: {_defuse(passage.title)}{date}" if passage.title else f"Article{date}:")
            last = passage.article_id
        lines.append(f"[{n}] {_defuse(' '.join(sentence.text.split()))}")
    return "\n".join(lines)


def restates(question: str, sentence: str) -> bool:
    """Does the sentence say nothing but words of the question (stemmed, stopwords aside), though the
    question asks for something (a wh-question)? "Did X meet Y?" may be answered in its own words."""
    if not is_wh_question(question):
        return False
    words = set(tokenize(sentence))
    return bool(words) and words <= set(tokenize(question))


def _same(a: str, b: str) -> bool:
    return re.sub(r"\W+", " ", a).lower().strip() == re.sub(r"\W+", " ", b).lower().strip()


def _defuse(text: str) -> str:
    return text.replace("<<<", "‹‹‹").replace(">>>", "›››")


def messages(question: str, sources: Sequence) -> list[Message]:
    return [Message("system", prompts.render("system")),
            Message("user", prompts.render("answer", passages=passages_block(sources), question=question,
                                           max_sentences=MAX_SENTENCES))]


class Generator:
    """Streams a checked answer: `run` yields each Kept sentence as soon as it passes and returns the
    Generation (everything kept and dropped) when the reply ends."""

    def __init__(self, llm: LLM, checker: Checker, max_tokens: int | None = None, timeout: float | None = None):
        self.llm = llm
        self.checker = checker
        self.max_tokens = max_tokens
        self.timeout = timeout  # seconds; what has passed by then is kept, the rest of the reply is not read
        self.result = Generation()

    def run(self, question: str, sources: Sequence) -> Iterator[Kept]:
        result = Generation(question=question)
        self.result = result
        numbered = {n: s.text for n, s in enumerate(sources, start=1)}
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        stream = self.llm.stream(messages(question, sources), max_tokens=self.max_tokens)
        for piece in stream:
            if deadline is not None and time.monotonic() > deadline:
                result.timed_out = True
                stream.close()  # stops the model (a local one) and frees it for the next question
                break
            result.raw += piece
            sentences = parse(result.raw)
            # All but the last parsed sentence are complete: a sentence ends only where the next begins.
            yield from self._judge_upto(sentences, len(sentences) - 1, numbered, sources, result)
            if len(result.kept) >= MAX_SENTENCES:
                break
        sentences = parse(result.raw)
        # At the end every sentence is complete, unless the reply was cut off: then the last may be cut short.
        yield from self._judge_upto(sentences, len(sentences) - result.timed_out, numbered, sources, result)

    def _judge_upto(self, sentences: list, upto: int, numbered: dict[int, str], sources: Sequence,
                    result: Generation) -> Iterator[Kept]:
        """Judge the parsed sentences not judged yet, up to index `upto`, while fewer than MAX_SENTENCES are kept."""
        while result.judged < upto and len(result.kept) < MAX_SENTENCES:
            kept = self._judge(*sentences[result.judged], numbered, sources, result)
            result.judged += 1
            if kept is not None:
                yield kept

    def _judge(self, sentence: str, cited: tuple[int, ...], numbered: dict[int, str], sources: Sequence,
               result: Generation) -> Kept | None:
        sentence = _LEAD_IN.sub("", sentence).strip()
        if not sentence:
            return None
        if _NOT_ANSWERED.search(sentence):
            result.declined = True
            return None
        if any(_same(sentence, k.text) for k in result.kept):
            result.dropped.append({"sentence": sentence, "cited": list(cited), "reason": "repeats an earlier sentence"})
            return None
        if restates(result.question, sentence):
            result.dropped.append({"sentence": sentence, "cited": list(cited), "reason": "restates the question"})
            return None
        if cited:
            verdict = self.checker.verdict(sentence, cited, numbered)
            if not verdict.supported:
                # Small models confuse citation numbers: a sentence that its markers do not support, but
                # one given sentence does, is shown citing that one (the shown citation supports it).
                rescue = self.checker.best_support(sentence, numbered)
                verdict = rescue if rescue.supported else verdict
        else:
            verdict = self.checker.best_support(sentence, numbered)
        if not verdict.supported:
            result.dropped.append({"sentence": sentence, "cited": list(cited), "reason": verdict.reason})
            return None
        kept = Kept(sentence, [sources[n - 1] for n in verdict.cited], verdict)
        result.kept.append(kept)
        return kept
