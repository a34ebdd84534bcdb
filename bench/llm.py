"""Generated answers (issue 11) beside extractive ones, on the same questions: QA_LLM=none, then a local
Qwen2.5-Coder-0.5B GGUF, then the 1.5B one.

Questions:
- gold: the sample articles' gold questions (examples/gold.jsonl, dialogues turn by turn) over an index of
  examples/articles;
- squad: the first N answerable and M unanswerable questions (default 100 and 50) of bench/squad.py's fixed
  sample (seed 0), over all 35 squad-v2-dev articles (the index cached under bench/.cache/squad-all).

Each mode is scored by qa.evaluation.evaluate, as `qa eval` scores it: per mode and set, side by side,
- ALCE citation recall (share of answer sentences that the quotes they cite support, judged by the answer
  checker) and ALCE citation precision (share of citations that are relevant);
- dropped share (generated sentences the checker refused, over those written, in LLM-mode answers; and
  counting the fallbacks too), the share of questions the LLM answered (and, of them, declined: "NOT IN THE
  ARTICLES", an abstention) and of those that fell back to the extractive answer (with why, counted);
- answer recall, short-answer EM/F1, abstention on the unanswerable questions (recall) and wrongful
  abstention on the answerable ones, latency p50/p95 (ms per question, generation included; the model is
  loaded and one unscored question asked before the clock starts, the load time reported apart).

The checker that judges ALCE support is the one that gates generated sentences, so an LLM-mode answer's
citation recall is near 1 by construction (what it shows passed that check): the figure tells the gate held
(and that resolved dates and leads do not break it), not that an independent judge agrees. Precision still
tells redundant citations; the dropped share, what the gate refused.

A model whose file is missing (or that llama-cpp-python cannot load) is skipped, the reason in the JSON.
Rows of every run go to bench/.cache/llm-<mode>-<set>.rows.json.

    python bench/llm.py [--model-05 models/qwen2.5-coder-0.5b.gguf] [--model-15 models/qwen2.5-coder-1.5b.gguf]
                        [--answerable 100] [--unanswerable 50] [--limit N] [--sets gold,squad]
                        [--modes none,0.5b,1.5b] [--threads N] [--out bench/results/llm.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from common import CACHE_DIR, ROOT, benchmark_sample, emit, engine_for, load_questions

RESULT = ROOT / "bench" / "results" / "llm.json"
GOLD = ROOT / "examples" / "gold.jsonl"
SAMPLES = ROOT / "examples" / "articles"
METRICS = ["alce_citation_recall", "alce_citation_precision", "dropped_share", "dropped_share_with_fallbacks",
           "llm_answer_share", "llm_declined_share", "fallback_share", "answer_recall", "exact_match", "f1",
           "abstention_recall", "wrongful_abstention", "latency_ms_p50", "latency_ms_p95"]
MODES = {"none": None, "0.5b": "model_05", "1.5b": "model_15"}


def squad_questions(answerable: int, unanswerable: int) -> Path:
    """The first `answerable` / `unanswerable` questions of the squad bench's fixed sample, as a gold file."""
    sample = benchmark_sample(load_questions())
    chosen = ([q for q in sample if q["type"] == "answerable"][:answerable]
              + [q for q in sample if q["type"] == "unanswerable"][:unanswerable])
    path = CACHE_DIR / f"llm-squad-{answerable}-{unanswerable}.questions.jsonl"
    text = "".join(json.dumps(q) + "\n" for q in chosen)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def sample_index() -> Path:
    """An index of the sample articles, cached like the others (ingest skips what is stored)."""
    from qa.config import Settings
    from qa.engine import Engine

    index_dir = CACHE_DIR / "llm-samples"
    Engine(Settings(index_dir=index_dir, auto_index_examples=False)).ingest([SAMPLES], progress=False)
    return index_dir


def _reason(fallback: str) -> str:
    return fallback.split(":", 1)[0] if fallback.startswith("the LLM failed") else fallback


def _category(reason: str | None) -> str:
    """A dropped sentence's reason, without its particulars: "'Abbas' not in [1]" -> "a fact not in the cited"."""
    reason = reason or "none given"
    for pattern, category in ((" not in [", "a fact not in the cited"), ("negation differs", "negation differs"),
                              ("too far from", "too far from the cited"), ("which is not a given", "cites no source"),
                              ("cites nothing", "cites nothing"), ("adds what [", "adds words the cited does not say"),
                              ("repeats an earlier", "repeats an earlier sentence")):
        if pattern in reason:
            return category
    return reason


def run_mode(label: str, model: Path | None, sets: dict, args) -> dict:
    from qa.answer.llm import LLMUnavailable
    from qa.config import Settings
    from qa.engine import Engine
    from qa.evaluation import evaluate
    from qa.gold import load_gold

    llm = {} if model is None else {"llm": "local", "llm_model_path": model, "llm_threads": args.threads}
    result: dict = {"model": None if model is None else str(model)}
    for name, (index_dir, gold_path) in sets.items():
        engine = Engine(Settings(index_dir=index_dir, auto_index_examples=False, **llm))
        if model is not None:
            started = time.perf_counter()
            try:
                engine.llm  # loaded now, so the first question's latency is not the model's load
            except LLMUnavailable as exc:
                return {**result, "skipped": str(exc)}
            result["load_seconds"] = round(time.perf_counter() - started, 2)
        # One question first, unscored: the encoder, spaCy and the model warm, so p50/p95 are steady state.
        engine.ask("What happened?")
        started = time.perf_counter()
        report = evaluate(engine, load_gold(gold_path), k=10, limit=args.limit if name == "gold" else None,
                          progress=args.progress)
        (CACHE_DIR / f"llm-{label}-{name}.rows.json").write_text(json.dumps(report.rows, indent=1, ensure_ascii=False))
        fallbacks = Counter(_reason(r["fallback"]) for r in report.rows if r.get("fallback"))
        dropped = Counter(_category(d.get("reason")) for r in report.rows for d in r.get("dropped_sentences") or [])
        result[name] = {"questions": report.overall["questions"], "seconds": round(time.perf_counter() - started, 1),
                        **{m: report.overall.get(m) for m in METRICS},
                        "fallback_reasons": dict(fallbacks.most_common()),
                        "dropped_reasons": dict(dropped.most_common())}
    return result


def table(side: dict, labels: list[str]) -> str:
    """The side-by-side figures as a plain text table (to stderr, for a person watching)."""
    lines = []
    for name, metrics in side.items():
        lines.append(f"{name}:  " + "  ".join(f"{label:>12}" for label in labels))
        for metric, values in metrics.items():
            cells = ["–" if values.get(label) is None else f"{values[label]:.3f}" if isinstance(values[label], float)
                     else str(values[label]) for label in labels]
            lines.append(f"  {metric:<30}" + "  ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-05", type=Path, default=ROOT / "models" / "qwen2.5-coder-0.5b.gguf")
    parser.add_argument("--model-15", type=Path, default=ROOT / "models" / "qwen2.5-coder-1.5b.gguf")
    parser.add_argument("--answerable", type=int, default=100, help="squad-v2-dev answerable questions")
    parser.add_argument("--unanswerable", type=int, default=50, help="squad-v2-dev unanswerable questions")
    parser.add_argument("--limit", type=int, default=None, help="ask only the first N gold dialogues")
    parser.add_argument("--sets", default="gold,squad", help="comma-separated: gold, squad")
    parser.add_argument("--modes", default="none,0.5b,1.5b", help="comma-separated: none, 0.5b, 1.5b")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of the local model")
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [s for s in wanted if s not in ("gold", "squad")] + [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown set or mode: {', '.join(unknown)}")

    sets: dict[str, tuple[Path, Path]] = {}
    described: dict[str, str] = {}
    if "gold" in wanted:
        sets["gold"] = (sample_index(), GOLD)
        described["gold"] = (f"examples/gold.jsonl{f' (first {args.limit} dialogues)' if args.limit else ''} "
                             "over examples/articles")
    if "squad" in wanted:
        engine_for(None, "squad-all")  # the cached index of all 35 articles, brought up to date
        sets["squad"] = (CACHE_DIR / "squad-all", squad_questions(args.answerable, args.unanswerable))
        described["squad"] = (f"squad-v2-dev: the first {args.answerable} answerable + {args.unanswerable} "
                              "unanswerable questions of bench/squad.py's fixed sample (seed 0), all 35 articles")

    labels = {"none": "none", "0.5b": "qwen2.5-coder-0.5b", "1.5b": "qwen2.5-coder-1.5b"}
    results: dict[str, dict] = {}
    for mode in modes:
        model = None if MODES[mode] is None else getattr(args, MODES[mode])
        if model is not None and not model.is_file():
            results[labels[mode]] = {"model": str(model), "skipped": f"{model} not found (qa llm install makes it)"}
            continue
        print(f"{labels[mode]} ...", file=sys.stderr, flush=True)
        results[labels[mode]] = run_mode(labels[mode], model, sets, args)

    ran = [label for label, r in results.items() if "skipped" not in r]
    side = {name: {m: {label: results[label][name].get(m) for label in ran} for m in METRICS} for name in sets}
    defaults = args.limit is None and (args.answerable, args.unanswerable) == (100, 50) and set(wanted) == {
        "gold", "squad"}
    result = {"questions": described, "partial_run": not defaults, "modes": results, "side_by_side": side,
              "settings": {"k": 10, "threads": args.threads}}
    print(table(side, ran), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    emit(result)


if __name__ == "__main__":
    main()
