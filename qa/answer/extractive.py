"""The default answerer: no LLM. Scores the sentences of the top passages, quotes the best ones."""
from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.abstention import AbstentionFeatures, AbstentionModel
from qa.store.lexical import LexicalIndex, QuestionTerms, sentence_terms, tokenize
from qa.schema import Passage

# A sentence opening with one of these leans on the previous sentence for its subject.
_PRONOUN_START = re.compile(r"^[\"“‘']?(he|she|they|it|his|her|their|its|this|that|these|those|the)\b", re.I)
# Weights of the sentence score; tuned on squad-v2-dev questions disjoint from the benchmark sample.
COSINE_WEIGHT, COVERAGE_WEIGHT, PASSAGE_WEIGHT = 0.3, 0.5, 0.2
CONTEXT_DISCOUNT = 0.5  # a question term found only in the title or the previous sentence counts half
KEEP_RATIO = 0.6  # further sentences must score at least this share of the best one...
COVERAGE_SLACK = 0.3  # ...and cover the question nearly as well (each adds a part, not a digression)
MAX_SENTENCES = 3


@dataclass
class ScoredSentence:
    passage: Passage
    start: int  # offsets into the article's section text
    end: int
    text: str
    cosine: float
    coverage: float
    score: float


@dataclass
class Draft:
    sentences: list[ScoredSentence]  # chosen, in reading order
    candidates: list[ScoredSentence]  # every scored sentence, best first
    features: AbstentionFeatures | None
    probability: float  # P(the articles answer the question)
    abstained: bool


class ExtractiveAnswerer:
    def __init__(self, abstention: AbstentionModel, max_passages: int = 5, max_words: int = 60,
                 threshold: float | None = None):
        self.abstention = abstention
        self.max_passages = max_passages
        self.max_words = max_words
        self.threshold = abstention.threshold if threshold is None else threshold

    def draft(self, question: str, passages: list[Passage], lexical: LexicalIndex) -> Draft:
        """Score every sentence of the top passages; cosines come with the passages (stored vectors)."""
        question_terms = QuestionTerms(question, lexical)
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
            for k, ((start, end), own) in enumerate(zip(chunk.sentences, sentence_terms(chunk))):
                text = chunk.sentence_text(k)
                cosine = passage.sentence_cosines[k] if k < len(passage.sentence_cosines) else 0.0
                leans_back = k > 0 and bool(_PRONOUN_START.match(text))
                context = title_terms | (previous_terms if leans_back else set())
                if leans_back:  # its subject is in the previous sentence: judge the two together
                    cosine_in_context = max(cosine, (cosine + previous_cosine) / 2)
                else:
                    cosine_in_context = cosine
                coverage = question_terms.coverage(own, context, CONTEXT_DISCOUNT)
                score = (COSINE_WEIGHT * cosine_in_context + COVERAGE_WEIGHT * coverage
                         + PASSAGE_WEIGHT * passage.score / best_passage_score)
                scored.append(ScoredSentence(passage, start, end, text, cosine_in_context, coverage, score))
                previous_terms, previous_cosine = own, cosine
        if not scored:
            return Draft([], [], None, 0.0, True)
        scored.sort(key=lambda s: -s.score)

        best = scored[0]
        features = AbstentionFeatures(
            passage_cosine=float(top[0].scores.get("dense", 0.0)),
            sentence_cosine=best.cosine,
            sentence_coverage=best.coverage,
            passage_coverage=passage_coverage,
            known_terms=question_terms.known_share(lexical),
        )
        probability = self.abstention.probability(features)
        if probability < self.threshold:
            return Draft([], scored, features, probability, True)
        return Draft(self._select(scored), scored, features, probability, False)

    def _select(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        """The best sentence, plus close runners-up while they fit the word budget."""
        chosen = [scored[0]]
        words = len(scored[0].text.split())
        for candidate in scored[1:]:
            if len(chosen) >= MAX_SENTENCES or candidate.score < KEEP_RATIO * scored[0].score:
                break
            if candidate.coverage < scored[0].coverage - COVERAGE_SLACK - 1e-9:
                continue
            size = len(candidate.text.split())
            if words + size > self.max_words:
                continue
            chosen.append(candidate)
            words += size
        first_rank = {}
        for s in chosen:
            first_rank.setdefault(s.passage.article_id, s.passage.rank)
        return sorted(chosen, key=lambda s: (first_rank[s.passage.article_id], s.passage.chunk.section.value, s.start))
