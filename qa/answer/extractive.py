"""The default answerer: no LLM. Scores the sentences of the top passages, quotes the best ones."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.answer.abstention import AbstentionFeatures, AbstentionModel
from qa.answer import premise, short_answer
from qa.answer.short_answer import is_list_question
from qa.followup import entities
from qa.news.dates import parse_published
from qa.store.lexical import LexicalIndex, QuestionTerms, sentence_terms, tokenize
from qa.schema import Passage

# A sentence opening with one of these leans on the previous sentence for its subject.
_PRONOUN_START = re.compile(r"^[\"“‘']?(he|she|they|it|his|her|their|its|this|that|these|those|the)\b", re.I)
# Weights of the sentence score; tuned on squad-v2-dev questions disjoint from the benchmark sample.
COSINE_WEIGHT, COVERAGE_WEIGHT, PASSAGE_WEIGHT = 0.3, 0.5, 0.2
CONTEXT_DISCOUNT = 0.5  # a question term found only in the title or the previous sentence counts half
# A sentence that holds what the question asks for (a name for which/who/where, a number for how many, a
# date for when: short_answer.brings_answer) is preferred to one that only restates the question. Tuned on
# RealTimeQA 2025 (bench/news.py: answer recall 0.44 -> 0.52 on its questions whose pages hold the answer);
# no change on 400 answerable squad-v2-dev questions outside the bench sample (answer recall 0.865). For a
# place question the name must be a place's (_take_back_placeless).
ANSWER_WEIGHT = 0.15
# A sentence that is itself a question ("Where did the crash occur?", a heading in a news explainer) is
# never quoted as an answer while any other sentence can be; the sentence after it often is the answer,
# and is judged with the question as its context.
KEEP_RATIO = 0.6  # further sentences must score at least this share of the best one...
COVERAGE_SLACK = 0.3  # ...and cover the question nearly as well (each adds a part, not a digression)
MAX_SENTENCES = 3
# A further sentence must bring at least this share of words not already quoted. It costs no answer recall:
# on 1,000 answerable squad-v2-dev questions outside the bench sample (`bench/squad.py --sample dev`'s),
# recall 0.821 at 0.0, 0.1, 0.2 and 0.3, 0.820 at 0.4 (45.1 words, 1.75 sentences an answer either way).
NEW_TERMS = 0.3
# A question that names no time of its own asks about the latest (`_newest_first`): among sentences that answer
# alike (within this share of the best score), a story this many days newer supersedes the older ones.
# RealTimeQA 2025 (bench/news.py, seeds 0 and 1): every figure unchanged, 10 of 300 answers quote other
# sentences. With a ratio of 0.8, 20 changed and answer recall lost a question on each seed; with as large a
# share of the question's words in place of every word the best holds, 16 changed and seed 1 lost Kamala
# Harris to another state's race. squad-v2-dev's articles carry no date.
SUPERSEDE_RATIO = 0.9
SUPERSEDED_DAYS = 30
# List questions ("Which officials...?", "Who all...?"): more room, and each sentence must bring a new item.
LIST_KEEP_RATIO, LIST_BUDGET, LIST_MAX_SENTENCES = 0.45, 1.5, 5
_PEOPLE_QUESTION = re.compile(r"\bwho(?:m)?\b|\b(?:officials|ministers|leaders|people|politicians|presidents|players|"
                              r"members|diplomats|advis[oe]rs|spokes(?:men|women|people)|executives|candidates|"
                              r"lawmakers|senators|judges|victims|suspects|authors|artists|scientists)\b", re.I)
_PLACE_OR_BODY = {"mount", "bank", "strip", "street", "city", "river", "sea", "square", "house", "department",
                  "authority", "states", "kingdom", "republic", "union", "party", "ministry", "council", "court",
                  "office", "agency", "army", "forces", "university", "county", "island", "islands", "valley",
                  "airport", "station", "bridge", "road", "park", "center", "centre", "hospital", "church", "times",
                  "news", "post", "press", "group", "company", "inc", "ltd", "corporation", "bureau", "committee"}
# Words of a title or an office: "Foreign Minister Gabi Ashkenazi" and "Ashkenazi" are one item.
_TITLE_WORDS = {"president", "minister", "secretary", "prime", "foreign", "deputy", "assistant", "national",
                "security", "advisor", "adviser", "chairman", "chair", "state", "us", "u.s", "mr", "mrs", "ms", "dr",
                "general", "senator", "governor", "mayor", "chief", "spokesman", "spokeswoman", "the", "of"}


@dataclass
class ScoredSentence:
    passage: Passage
    start: int  # offsets into the article's section text
    end: int
    text: str
    cosine: float
    coverage: float
    score: float
    terms: frozenset[str] = frozenset()  # its content terms (cached per chunk by sentence_terms)
    base: float = 0.0  # the score before ANSWER_WEIGHT (what abstention was calibrated on)
    asks: bool = False  # the sentence is a question


@dataclass
class Draft:
    sentences: list[ScoredSentence]  # chosen, in reading order
    candidates: list[ScoredSentence]  # every scored sentence but a superseded report's (_newest_first), best first
    features: AbstentionFeatures | None
    probability: float  # P(the articles answer the question)
    abstained: bool
    missing: list[str] = field(default_factory=list)  # the question's words no top passage holds (premise.missing_terms)
    note: str | None = None  # premise.premise_note, set when those words lowered the log odds by NOTE_DROP or more


class ExtractiveAnswerer:
    def __init__(self, abstention: AbstentionModel, max_passages: int = 5, max_words: int = 60,
                 threshold: float | None = None):
        self.abstention = abstention
        self.max_passages = max_passages
        self.max_words = max_words
        self.threshold = abstention.threshold if threshold is None else threshold

    def draft(self, question: str, passages: list[Passage], lexical: LexicalIndex, *, newest: bool = False) -> Draft:
        """Score every sentence of the top passages; cosines come with the passages (stored vectors).
        `newest`: the question names no time of its own, so a later story supersedes an earlier one
        (`_newest_first`)."""
        question_terms = QuestionTerms(question, lexical)
        asked = short_answer.profile(question)
        top = passages[: self.max_passages]
        if not top:
            return Draft([], [], None, 0.0, True)

        best_passage_score = max(p.score for p in top) or 1.0
        scored: list[ScoredSentence] = []
        passage_coverage = 0.0
        for passage in top:
            chunk = passage.chunk
            title_terms = set(tokenize(passage.title or ""))
            passage_coverage = max(passage_coverage, question_terms.coverage(set(tokenize(chunk.text))))
            previous_terms: frozenset[str] = frozenset()
            previous_cosine = 0.0
            previous_asks = False
            for k, ((start, end), own) in enumerate(zip(chunk.sentences, sentence_terms(chunk))):
                text = chunk.sentence_text(k)
                cosine = passage.sentence_cosines[k] if k < len(passage.sentence_cosines) else 0.0
                leans_back = k > 0 and bool(_PRONOUN_START.match(text))
                asks = _asks(text)
                context = title_terms | (previous_terms if leans_back or previous_asks else set())
                if leans_back:  # its subject is in the previous sentence: judge the two together
                    cosine_in_context = max(cosine, (cosine + previous_cosine) / 2)
                else:
                    cosine_in_context = cosine
                coverage = question_terms.coverage(own, context, CONTEXT_DISCOUNT)
                base = (COSINE_WEIGHT * cosine_in_context + COVERAGE_WEIGHT * coverage
                        + PASSAGE_WEIGHT * passage.score / best_passage_score)
                score = base
                if ANSWER_WEIGHT and short_answer.brings_answer(asked, text):
                    score += ANSWER_WEIGHT
                scored.append(ScoredSentence(passage, start, end, text, cosine_in_context, coverage, score, own,
                                             base, asks))
                previous_terms, previous_cosine, previous_asks = own, cosine, asks
        if not scored:
            return Draft([], [], None, 0.0, True)
        scored.sort(key=lambda s: -s.score)
        _take_back_placeless(asked, scored)
        superseded = _newest_first(scored, question_terms) if newest and not is_list_question(question) else set()

        best = max(scored, key=lambda s: s.base)  # abstention's features are the unadjusted best's
        checked = premise.check(question, top, lexical)
        k = best.passage.chunk.sentences.index((best.start, best.end))
        previous = best.passage.chunk.sentence_text(k - 1) if k else ""
        features = AbstentionFeatures(
            passage_cosine=float(top[0].scores.get("dense", 0.0)),
            sentence_cosine=best.cosine,
            sentence_coverage=best.coverage,
            passage_coverage=passage_coverage,
            known_terms=question_terms.known_share(lexical),
            missing_share=checked.missing_share,
            unknown_name=checked.unknown_name,
            missing_name=checked.missing_name,
            contradiction=premise.contradiction(question, best.text, previous, best.passage.chunk.text),
        )
        probability = self.abstention.probability(features)
        note = None
        if checked.missing and self.abstention.logit(features.premise_held()) - self.abstention.logit(features) >= premise.NOTE_DROP:
            note = premise.premise_note(question, checked.missing, checked.unknown)
        current = [s for s in scored if id(s) not in superseded]  # what any reader may use, the LLM's too
        if probability < self.threshold:
            return Draft([], current, features, probability, True, checked.missing, note)
        return Draft(self._select(current, question), current, features, probability, False, checked.missing, note)

    def _select(self, scored: list[ScoredSentence], question: str = "") -> list[ScoredSentence]:
        """The best sentence, plus close runners-up while they fit the word budget, each adding something:
        for a question that asks for several things (a list question), each further sentence must bring an
        item (a name) no chosen sentence holds; for any other, new words, not a restatement."""
        listing = is_list_question(question)
        keep, budget, most = (LIST_KEEP_RATIO, int(self.max_words * LIST_BUDGET), LIST_MAX_SENTENCES) if listing \
            else (KEEP_RATIO, self.max_words, MAX_SENTENCES)
        people = listing and bool(_PEOPLE_QUESTION.search(question))
        scored = [s for s in scored if not s.asks] or scored  # a question in the article is not an answer
        asked = _item_words(" ".join(entities(question)))
        chosen = [scored[0]]
        covered = asked | _items(scored[0].text, people)
        seen_terms = set(scored[0].terms)
        words = len(scored[0].text.split())
        candidates = scored[1:]
        if listing:  # items often sit in different articles: each article's best sentence is weighed first
            firsts, seen_articles = [], {scored[0].passage.article_id}
            for candidate in candidates:
                if candidate.passage.article_id not in seen_articles:
                    firsts.append(candidate)
                    seen_articles.add(candidate.passage.article_id)
            candidates = firsts + [c for c in candidates if c not in firsts]
        for candidate in candidates:
            if len(chosen) >= most:
                break
            if candidate.score < keep * scored[0].score:
                continue
            if candidate.coverage < scored[0].coverage - COVERAGE_SLACK - 1e-9:
                continue
            size = len(candidate.text.split())
            if words + size > budget:
                continue
            items = _items(candidate.text, people)
            terms = candidate.terms
            if listing and not items - covered:
                continue  # no new item
            if not listing and len(terms - seen_terms) < NEW_TERMS * max(1, len(terms)):
                continue  # says again what is already said
            chosen.append(candidate)
            covered |= items
            seen_terms |= terms
            words += size
        first_rank = {}
        for s in chosen:
            first_rank.setdefault(s.passage.article_id, s.passage.rank)
        return sorted(chosen, key=lambda s: (first_rank[s.passage.article_id], s.passage.chunk.section.value, s.start))


_CLOSING = " \"'”’)]"
PLACES_CHECKED = 6  # the best sentences whose names are checked for a place (one batch of spaCy's recogniser)


def _take_back_placeless(asked: short_answer.Profile, scored: list[ScoredSentence]) -> None:
    """For a place question, a sentence among the best whose names are no place's (a person's, a day's:
    short_answer.names_places) loses its ANSWER_WEIGHT; `scored` is sorted again, best first."""
    favoured = [s for s in scored[:PLACES_CHECKED] if s.score > s.base]
    if asked.kind is not short_answer.AnswerType.PLACE or not favoured:
        return  # nothing to check: spaCy is not run
    placeless = [s for s, named in zip(favoured, short_answer.names_places(asked, [s.text for s in favoured]))
                 if not named]
    for sentence in placeless:
        sentence.score = sentence.base
    if placeless:
        scored.sort(key=lambda s: -s.score)


def _newest_first(scored: list[ScoredSentence], question_terms: QuestionTerms) -> set[int]:
    """A later report supersedes an earlier one. Of the sentences that answer alike (they cover the question
    as fully as the best one, hold every word of it the best one holds, and score SUPERSEDE_RATIO of it or
    more), the one of the newest story goes first when that story is SUPERSEDED_DAYS or more newer than
    the best one's (`scored`, best first, is sorted again); returns the ids of the alike sentences of
    stories that much older than the first, which are not quoted: "the word of the year" as of December
    2025 is 2025's, and 2023's and 2017's are not the answer too. Undated articles are left alone."""
    best = scored[0]
    best_day = parse_published(best.passage.published)
    if best_day is None:
        return set()
    own = question_terms.held(best.terms)
    alike = [(s, day) for s in scored
             if not s.asks and s.score >= SUPERSEDE_RATIO * best.score and s.coverage >= best.coverage - 1e-9
             and own <= question_terms.held(s.terms) and (day := parse_published(s.passage.published)) is not None]
    newest, newest_day = max(alike, key=lambda pair: (pair[1], pair[0].score), default=(best, best_day))
    if (newest_day - best_day).days < SUPERSEDED_DAYS:
        newest, newest_day = best, best_day
    elif newest is not best:
        newest.score = best.score + 1e-6  # first, and the reference its runners-up are kept against
        scored.sort(key=lambda s: -s.score)
    return {id(s) for s, day in alike if (newest_day - day).days >= SUPERSEDED_DAYS}


def _asks(text: str) -> bool:
    """Is the sentence a question ("Where did the UPS plane crash occur?")?"""
    return text.rstrip(_CLOSING).endswith("?")


def _items(text: str, people: bool) -> set[str]:
    """The words naming the items a sentence brings: for a question about people, only names that look
    like people's (a title with a name, or a name of two or three words without a place's or body's word)."""
    found = entities(text)
    if people:
        found = [e for e in found if _looks_like_person(e)]
    return _item_words(" ".join(found))


def _looks_like_person(name: str) -> bool:
    words = name.lower().split()
    if any(w in _PLACE_OR_BODY for w in words):
        return False
    titled = any(w in _TITLE_WORDS for w in words) and any(w not in _TITLE_WORDS for w in words)
    return titled or 2 <= len(words) <= 3


def _item_words(text: str) -> set[str]:
    """The words that name items (names without their titles), lower case."""
    return {w for w in re.findall(r"[\w'’-]+", text.lower()) if w not in _TITLE_WORDS and len(w) > 1}
