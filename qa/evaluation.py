"""Score the engine against gold questions: retrieval, answers, short answers, citations, abstention, latency."""
from __future__ import annotations

import re
import string
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from qa.answer import citations as citation_check
from qa.answer.checker import parse as parse_markers
from qa.gold import AnswerMode, GoldQuestion, GoldSet
from qa.schema import Answer



# ---------------------------------------------------------------- official SQuAD normalisation

def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and the articles a/an/the, collapse whitespace (SQuAD's evaluate-v2.0);
    first NFC, so that a decomposed "é" (e + U+0301, as some pages store it) equals the composed one."""
    text = unicodedata.normalize("NFC", text).lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, golds: list[str]) -> float:
    return max((float(normalize_answer(prediction) == normalize_answer(g)) for g in golds), default=0.0)


def short_forms(short: str) -> list[str]:
    """A bold answer as it may be judged: whole, and for a resolved day ("Tuesday (11 May 2021)") the day
    as the article writes it and the date it stands for, either of which a gold answer may give."""
    match = re.fullmatch(r"(.+?) \((.+)\)", short.strip())
    return [short] + ([match.group(1), match.group(2)] if match else [])


def token_f1(prediction: str, golds: list[str]) -> float:
    def f1(pred: str, gold: str) -> float:
        p, g = normalize_answer(pred).split(), normalize_answer(gold).split()
        if not p or not g:
            return float(p == g)
        common = sum((Counter(p) & Counter(g)).values())
        if not common:
            return 0.0
        precision, recall = common / len(p), common / len(g)
        return 2 * precision * recall / (precision + recall)

    return max((f1(prediction, g) for g in golds), default=0.0)


def _loose(text: str) -> str:
    """SQuAD normalisation that also drops Unicode punctuation (curly quotes), for containment checks."""
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return normalize_answer(text)


def contains(text: str, answer: str) -> bool:
    needle = _loose(answer)
    return bool(needle) and f" {needle} " in f" {_loose(text)} "


def _overlaps(passage: str, evidence: str) -> bool:
    """Passage and gold evidence are the same text, or one holds the other, or they share most words."""
    a, b = _loose(passage), _loose(evidence)
    if not a or not b:
        return False
    if a in b or b in a:
        return True
    wa, wb = Counter(a.split()), Counter(b.split())
    return sum((wa & wb).values()) >= 0.6 * min(sum(wa.values()), sum(wb.values()))


# ---------------------------------------------------------------- cited support (ALCE)

# A date with_dates (qa/news/answers.py) inserted after a relative day: "Tuesday (11 May 2021)", "(10-16 May
# 2021)", "(May 2021)", "(30 April 2021 - 2 May 2021)" (qa/news/dates.py date_label). Not in the quote itself.
_RESOLVED_DATE = re.compile(r" \((?:\d{1,2}(?:[-–]\d{1,2})? )?[A-Z][a-z]+ \d{4}(?: [-–] \d{1,2} [A-Z][a-z]+ \d{4})?\)")
_FIRST_MARKER = re.compile(r"\[\d")


def answer_sentences(answer: Answer) -> list[tuple[str, tuple[int, ...]]]:
    """The answer's sentences and the citation numbers each cites, as the checker parses them, ready to be
    judged against the quotes: an extractive answer's lead ("Jake Sullivan (US National Security Advisor): ",
    a note's "...; they report: ") is set aside when the quotes don't hold it; the dates with_dates inserted
    are removed; and since every shown unit of an answer ends with its markers, a piece the sentence
    splitter cut off without a marker ("U.S." then "Secretary ... [1]") is joined to the piece after it."""
    text = answer.text
    quotes = [c.quote for c in answer.citations]
    if answer.mode != "llm":
        colon, marker = text.find(": "), _FIRST_MARKER.search(text)
        if colon >= 0 and (marker is None or colon < marker.start()) and not any(text[:colon] in q for q in quotes):
            text = text[colon + 2:]
    everything = " ".join(quotes)
    text = _RESOLVED_DATE.sub(lambda m: m.group(0) if m.group(0).strip() in everything else "", text)
    units: list[tuple[str, tuple[int, ...]]] = []
    pending = ""
    for sentence, cited in parse_markers(text):
        sentence = f"{pending} {sentence}".strip() if pending else sentence
        if not cited:
            pending = sentence
            continue
        pending = ""
        units.append((sentence, cited))
    if pending:
        units.append((pending, ()))
    return units


def cited_support(answer: Answer, checker) -> dict[str, Any] | None:
    """ALCE's citation recall and precision (Gao et al. 2023) of an answer, judged by the answer checker
    (qa/answer/checker.py: `checker.verdict(sentence, cited, sources)`) against the citations' quotes.

    - recall: the share of the answer's sentences supported by the concatenation of the quotes they cite
      (a sentence citing nothing is unsupported);
    - precision: the share of (sentence, citation) pairs that are relevant: the quote alone supports the
      sentence, or the sentence is supported with all its citations but not without this one.

    None for an abstention (or no checker)."""
    if answer.abstained or checker is None:
        return None
    sources = {c.n: c.quote for c in answer.citations}
    sentences = answer_sentences(answer)
    if not sentences:
        return None
    verdicts: dict[tuple[str, tuple[int, ...]], Any] = {}

    def verdict(sentence: str, cited: tuple[int, ...]):
        key = (sentence, cited)
        if key not in verdicts:
            verdicts[key] = checker.verdict(sentence, cited, sources)
        return verdicts[key]

    supported, relevant, pairs, unsupported = 0, 0, 0, []
    for sentence, cited in sentences:
        whole = verdict(sentence, cited)
        supported += whole.supported
        if not whole.supported:
            unsupported.append({"sentence": sentence, "cited": list(cited), "reason": whole.reason})
        for n in cited:
            pairs += 1
            alone = verdict(sentence, (n,)).supported
            others = tuple(c for c in cited if c != n)
            if alone or (whole.supported and not verdict(sentence, others).supported):
                relevant += 1
    return {"recall": supported / len(sentences), "precision": relevant / pairs if pairs else None,
            "sentences": len(sentences), "unsupported": unsupported}


def generation_counts(answer: Answer) -> dict[str, Any]:
    """Who wrote the answer, why it fell back to extractive, and how many generated sentences were shown
    and dropped (an LLM-mode answer's shown sentences are its parsed sentences)."""
    shown = len(answer_sentences(answer)) if answer.mode == "llm" and not answer.abstained else 0
    return {"mode": answer.mode, "fallback": answer.fallback, "dropped": len(answer.dropped),
            "generated_shown": shown}


# ---------------------------------------------------------------- one question

@dataclass
class ArticleNames:
    """All the names a gold file may use for an article: content id, external id, file name, title."""

    names: dict[str, set[str]]

    @classmethod
    def from_catalog(cls, catalog) -> "ArticleNames":
        names: dict[str, set[str]] = {}
        for a in catalog.articles():
            keys = {a.id}
            if a.external_id:
                keys.add(a.external_id)
            if a.title:
                keys.add(a.title)
            if a.source:
                keys.update({Path(a.source).name, Path(a.source).stem})
            names[a.id] = keys
        return cls(names)

    def is_gold(self, article_id: str, gold_ids: list[str]) -> bool:
        return not gold_ids or bool(self.names.get(article_id, {article_id}) & set(gold_ids))


def score_question(gold: GoldQuestion, answer: Answer, names: ArticleNames, catalog, latency_ms: float,
                   checker=None) -> dict:
    """One question's row. With `checker` (engine.checker), an answered question's citations are also
    judged ALCE-style (cited_support)."""
    hit_rank = None
    for rank, passage in enumerate(answer.passages, start=1):
        if names.is_gold(passage.article_id, gold.evidence_article_ids) and (
            any(contains(passage.chunk.text, a) for a in gold.answers)
            or any(_overlaps(passage.chunk.text, e) for e in gold.evidence_text)
        ):
            hit_rank = rank
            break
    text = "" if answer.abstained else answer.text
    found = [contains(text, a) for a in gold.answers]
    if gold.answer_mode is AnswerMode.ALL:
        recall = float(all(found)) if gold.answers else 0.0
    else:
        recall = float(any(found))
    short = answer.short_answer or ""
    correct_citations = sum(
        1 for c in answer.citations
        if names.is_gold(c.article_id, gold.evidence_article_ids) and any(contains(c.quote, a) for a in gold.answers)
    )
    support = cited_support(answer, checker)
    return {
        "id": gold.id,
        "question": gold.question,
        "query": answer.query,
        "type": gold.group,
        "answerable": gold.answerable,
        "gold_answers": gold.answers,
        "answer": answer.text,
        "short_answer": answer.short_answer,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "hit_rank": hit_rank if gold.answerable else None,
        "answer_recall": recall if gold.answerable else None,
        # For questions that ask for several items (answer_mode "all"): the share of them the answer holds.
        "items_found": sum(found) / len(found) if gold.answerable and gold.answer_mode is AnswerMode.ALL else None,
        "exact_match": max(exact_match(f, gold.answers) for f in short_forms(short)) if gold.answerable else None,
        "f1": max(token_f1(f, gold.answers) for f in short_forms(short)) if gold.answerable else None,
        "citations": len(answer.citations),
        "correct_citations": correct_citations if gold.answerable else None,
        "nonverbatim_citations": len(citation_check.verify(answer.citations, catalog)),
        # ALCE: share of answer sentences their cited quotes support, share of citations that are relevant.
        "alce_citation_recall": None if support is None else round(support["recall"], 4),
        "alce_citation_precision": None if support is None or support["precision"] is None
        else round(support["precision"], 4),
        "unsupported_sentences": [] if support is None else support["unsupported"],
        **generation_counts(answer),
        "dropped_sentences": list(answer.dropped),  # {"sentence", "cited", "reason"}: refused by the checker
        "latency_ms": round(latency_ms, 2),
        "passages": [p.article_id for p in answer.passages],
    }


# ---------------------------------------------------------------- aggregation

def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def summarize(rows: list[dict], k: int = 10) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    metrics: dict[str, Any] = {"questions": len(rows), "answerable": len(answerable), "unanswerable": len(unanswerable)}
    if answerable:
        for hit_k in range(1, k + 1):
            metrics[f"hit@{hit_k}"] = _mean([float(r["hit_rank"] is not None and r["hit_rank"] <= hit_k) for r in answerable])
        metrics[f"mrr@{k}"] = _mean([1.0 / r["hit_rank"] if r["hit_rank"] and r["hit_rank"] <= k else 0.0 for r in answerable])
        metrics["answer_recall"] = _mean(r["answer_recall"] for r in answerable)
        metrics["exact_match"] = _mean(r["exact_match"] for r in answerable)
        metrics["f1"] = _mean(r["f1"] for r in answerable)
        # The bold short answer is shown only when it is likely right: how often, and how right when shown.
        answered = [r for r in answerable if not r["abstained"]]
        shown = [r for r in answered if r.get("short_answer")]
        metrics["short_answer_shown"] = round(len(shown) / len(answered), 4) if answered else None
        metrics["shown_exact_match"] = _mean(r["exact_match"] for r in shown)
        metrics["shown_f1"] = _mean(r["f1"] for r in shown)
        metrics["items_found"] = _mean(r.get("items_found") for r in answerable)
        cited = sum(r["citations"] for r in answerable)
        metrics["citation_precision"] = round(sum(r["correct_citations"] for r in answerable) / cited, 4) if cited else None
        metrics["wrongful_abstention"] = _mean(float(r["abstained"]) for r in answerable)
    metrics["nonverbatim_citations"] = sum(r["nonverbatim_citations"] for r in rows)
    # ALCE citation recall / precision, averaged over the answered questions (answerable or not).
    metrics["alce_citation_recall"] = _mean(r.get("alce_citation_recall") for r in rows)
    metrics["alce_citation_precision"] = _mean(r.get("alce_citation_precision") for r in rows)
    # With an LLM configured: the share of questions it answered (mode "llm") and of those given the
    # extractive answer instead (fallback), and the share of its sentences the checker dropped: over
    # LLM-mode answers, and also counting the fallbacks, whose generated sentences were all dropped.
    involved = [r for r in rows if r.get("mode") == "llm" or r.get("fallback") is not None]
    if involved:
        metrics["llm_answer_share"] = _mean(float(r.get("mode") == "llm") for r in rows)
        metrics["fallback_share"] = _mean(float(r.get("fallback") is not None) for r in rows)
        # The LLM read the passages and said they don't answer: an abstention of its own.
        metrics["llm_declined_share"] = _mean(float(r.get("mode") == "llm" and r["abstained"]) for r in rows)
        for name, group in (("dropped_share", [r for r in involved if r.get("mode") == "llm"]),
                            ("dropped_share_with_fallbacks", involved)):
            dropped = sum(r.get("dropped", 0) for r in group)
            written = dropped + sum(r.get("generated_shown", 0) for r in group)
            metrics[name] = round(dropped / written, 4) if written else None
    true_pos = sum(1 for r in unanswerable if r["abstained"])
    false_pos = sum(1 for r in answerable if r["abstained"])
    if unanswerable:
        precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
        recall = true_pos / len(unanswerable)
        metrics["abstention_precision"] = round(precision, 4)
        metrics["abstention_recall"] = round(recall, 4)
        metrics["abstention_f1"] = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    latencies = [r["latency_ms"] for r in rows]
    metrics["latency_ms_p50"] = round(float(np.percentile(latencies, 50)), 2) if latencies else None
    metrics["latency_ms_p95"] = round(float(np.percentile(latencies, 95)), 2) if latencies else None
    return metrics


# ---------------------------------------------------------------- running

@dataclass
class EvalReport:
    overall: dict[str, Any]
    by_type: dict[str, dict[str, Any]]
    rows: list[dict]
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"overall": self.overall, "by_type": self.by_type, "config": self.config, "rows": self.rows}


def evaluate(engine, gold: GoldSet, k: int = 10, limit: int | None = None, progress: bool = True) -> EvalReport:
    """Ask every question (dialogue turns in order, with their history) and score the answers."""
    catalog = engine.store.catalog
    names = ArticleNames.from_catalog(catalog)
    dialogues = gold.dialogues[:limit] if limit else gold.dialogues
    rows: list[dict] = []
    total = sum(len(d.turns) for d in dialogues)
    with tqdm(total=total, desc="evaluating", unit="question", disable=not progress) as bar:
        for dialogue in dialogues:
            history: list[dict] = []
            for turn in dialogue.turns:
                started = time.perf_counter()
                answer = engine.ask(turn.question, history=history, k=k)
                latency = (time.perf_counter() - started) * 1000
                rows.append(score_question(turn, answer, names, catalog, latency, checker=engine.checker))
                history += [{"role": "user", "content": turn.question},
                            {"role": "assistant", "content": answer.text}]
                bar.update(1)
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row["type"]].append(row)
    config = {"k": k, "fusion": engine.settings.fusion.value, "bm25_weight": engine.settings.bm25_weight,
              "top_k": engine.settings.top_k, "articles": catalog.count_articles(), "chunks": catalog.count_chunks()}
    return EvalReport(summarize(rows, k), {t: summarize(g, k) for t, g in sorted(groups.items())}, rows, config)


def parse_bounds(specs: list[str]) -> dict[str, float]:
    bounds = {}
    for spec in specs:
        name, _, value = spec.partition("=")
        try:
            bounds[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--fail-under expects METRIC=VALUE, got {spec!r}") from None
    return bounds


def failures(overall: dict[str, Any], bounds: dict[str, float]) -> list[str]:
    """The bounds that are not met (a metric missing from the report fails too), and any misquote."""
    problems = []
    for name, bound in bounds.items():
        value = overall.get(name)
        if value is None:
            problems.append(f"{name}: not measured (known: {', '.join(k for k, v in overall.items() if v is not None)})")
        elif value < bound:
            problems.append(f"{name} = {value} < {bound}")
    if overall.get("nonverbatim_citations"):
        problems.append(f"nonverbatim_citations = {overall['nonverbatim_citations']} (must be 0)")
    return problems
