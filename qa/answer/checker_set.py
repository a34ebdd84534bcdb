"""A labelled set for the checker (qa/answer/checker.py): sentences supported by the source sentence they
cite, and corrupted ones, built from real article sentences.

Supported: the source sentence itself, and shortenings an answer writes (its main clause without a
trailing "including ..."/"which ..." clause, without a leading "Earlier on Tuesday, "/"According to
..., ", with the speech attribution dropped). Corrupted: a number changed, a day or month or year
changed, a name swapped for a name from another passage, a negation added, a claim from another passage
attached to the source's citation, and an invented clause with a number appended."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from qa.answer.checker import _DAYS, _NUMBER
from qa.store.lexical import tokenize

_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_MONTHS = "January February March April May June July August September October November December".split()
_AUX = re.compile(r"\b(is|was|are|were|will|has|have|had|can|could|would|should|must)\b")
_TRAILING = re.compile(r",\s+(?:including|which|who|while|amid|as well as|where|when|after|before|as)\b.*$")
_LEADING = re.compile(r"^(?:(?:Earlier|Later|Also)(?: on \w+)?|On \w+|In a statement|According to [^,]{3,80}|"
                      r"Before that|Meanwhile|However|In \d{4}),\s+")
_ATTRIBUTION = re.compile(r",[”\"]?\s+(?:he|she|they|[A-Z][\w’'-]+(?: [A-Z][\w’'-]+)?|the statement) "
                          r"(?:said|added|continued|concluded|tweeted|wrote)\.?$")
_INVENTED = ["and announced a $4.5 billion aid package", "after meeting 12 ministers in Geneva",
             "and said the talks would resume on Friday", "in a deal worth 300 million euros"]


@dataclass(frozen=True)
class Case:
    sentence: str
    source: str  # the cited source sentence
    supported: bool
    kind: str  # verbatim, clause, lead-dropped, attribution-dropped; number, date, name, negation, other-claim, invented

    def to_dict(self) -> dict:
        return {"sentence": self.sentence, "source": self.source, "supported": self.supported, "kind": self.kind}


def _clean(text: str) -> str:
    return " ".join(text.replace("“", "").replace("”", "").replace('"', "").split())


def supported(source: str) -> list[Case]:
    text = _clean(source)
    out = [Case(text, source, True, "verbatim")]
    clause = _TRAILING.sub(".", text)
    if clause != text and len(clause.split()) >= 6:
        out.append(Case(clause, source, True, "clause"))
    lead = _LEADING.sub("", text)
    if lead != text and len(lead.split()) >= 6:
        out.append(Case(lead[0].upper() + lead[1:], source, True, "lead-dropped"))
    attribution = _ATTRIBUTION.sub(".", text)
    if attribution != text and len(attribution.split()) >= 5:
        out.append(Case(attribution, source, True, "attribution-dropped"))
    return out


def corrupted(source: str, other_names: list[str], other_sentences: list[str], rng: random.Random) -> list[Case]:
    from qa.news.nlp import parse

    text = _clean(source)
    out: list[Case] = []
    numbers = [m for m in _NUMBER.finditer(text) if re.search(r"\d", m.group(0))]
    if numbers:
        m = rng.choice(numbers)
        digits = re.sub(r"\D", "", m.group(0).split()[0])
        value = int(digits[:9]) if digits else 1
        replacement = str(value * 3 + 7) if not re.fullmatch(r"1[5-9]\d\d|20\d\d", digits) else str(value - 3)
        out.append(Case(text[: m.start()] + m.group(0).replace(digits[:9], replacement, 1) + text[m.end() :], source,
                        False, "number"))
    days = list(_DAYS.finditer(text))
    if days:
        m = rng.choice(days)
        word = m.group(0).capitalize()
        pool = _WEEKDAYS if word in _WEEKDAYS else _MONTHS if word in _MONTHS else _WEEKDAYS
        other = rng.choice([d for d in pool if d != word])
        out.append(Case(text[: m.start()] + other + text[m.end() :], source, False, "date"))
    doc = parse(text)
    names = [e for e in doc.ents if e.label_ in ("PERSON", "GPE", "ORG", "NORP")]
    candidates = [n for n in other_names if n.lower() not in text.lower()]
    if names and candidates:
        ent = rng.choice(names)
        swapped = rng.choice(candidates)
        out.append(Case(text[: ent.start_char] + swapped + text[ent.end_char :], source, False, "name"))
    aux = _AUX.search(text)
    if aux and not re.search(r"\bnot\b|n't", text):
        out.append(Case(text[: aux.end()] + " not" + text[aux.end() :], source, False, "negation"))
    else:
        lowered = text[0].lower() + text[1:]
        out.append(Case(f"It is not true that {lowered}", source, False, "negation"))
    # Another passage's claim, unless it says much the same (a tweet repeating a statement is no corruption).
    own = set(tokenize(text))
    others = [s for s in other_sentences if s != source and len(set(tokenize(s)) & own) <= 0.4 * len(own)]
    if others:
        out.append(Case(_clean(rng.choice(others)), source, False, "other-claim"))
    body = text.rstrip(".")
    out.append(Case(f"{body} {rng.choice(_INVENTED)}.", source, False, "invented"))
    return out


def build(passages: list[list[str]], seed: int = 0, min_words: int = 8) -> list[Case]:
    """Cases from passages (each a list of its sentences): every sentence of at least `min_words` words gives
    its supported forms and its corruptions (names and other claims drawn from the other passages)."""
    from qa.news.nlp import parse

    rng = random.Random(seed)
    names_of = []
    for sentences in passages:
        doc = parse(" ".join(sentences))
        names_of.append(sorted({e.text for e in doc.ents if e.label_ in ("PERSON", "GPE", "ORG", "NORP")}))
    cases: list[Case] = []
    for i, sentences in enumerate(passages):
        other_names = [n for j, names in enumerate(names_of) if j != i for n in names]
        other_sentences = [s for j, p in enumerate(passages) if j != i for s in p]
        for sentence in sentences:
            if len(sentence.split()) < min_words:
                continue
            cases.extend(supported(sentence))
            cases.extend(corrupted(sentence, other_names, other_sentences, rng))
    return cases


def paragraphs_of(texts: list[str], limit: int = 60, max_sentences: int = 4) -> list[list[str]]:
    """Each text's paragraphs of more than 30 words as lists of their first sentences (at most `limit`)."""
    from qa.chunking import split_sentences

    found = []
    for text in texts:
        for paragraph in text.split("\n"):
            if len(paragraph.split()) > 30:
                found.append([paragraph[s.start : s.end] for s in split_sentences(paragraph)][:max_sentences])
                if len(found) >= limit:
                    return found
    return found


def measure(checker, cases: list[Case]) -> dict:
    """The checker on labelled cases: the share of supported sentences it passes and of corrupted ones it
    rejects (targets: both >= 0.95), and per kind the share it judged right."""
    by_kind: dict[str, list[bool]] = {}
    passed, rejected = [], []
    for case in cases:
        ok = checker.verdict(case.sentence, (1,), {1: case.source}).supported
        (passed if case.supported else rejected).append(ok if case.supported else not ok)
        by_kind.setdefault(case.kind, []).append(ok == case.supported)
    share = lambda values: round(sum(values) / len(values), 4) if values else None  # noqa: E731
    return {"cases": len(cases), "supported_passed": share(passed), "corrupted_rejected": share(rejected),
            "correct_by_kind": {kind: share(v) for kind, v in sorted(by_kind.items())}}
