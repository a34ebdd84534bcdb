"""Evaluation reports: report.json (all numbers + rows), report.md, report.html with plots."""
from __future__ import annotations

import base64
import html
import re
import io
import json
from pathlib import Path

from qa.evaluation import EvalReport

HEADLINE = ["hit@1", "hit@5", "hit@10", "mrr@10", "answer_recall", "exact_match", "f1", "citation_precision",
            "alce_citation_recall", "alce_citation_precision", "nonverbatim_citations", "llm_answer_share",
            "llm_declined_share", "fallback_share", "dropped_share", "dropped_share_with_fallbacks",
            "abstention_precision", "abstention_recall", "abstention_f1", "wrongful_abstention", "latency_ms_p50",
            "latency_ms_p95"]


def write_reports(report: EvalReport, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "html": out_dir / "report.html"}
    paths["json"].write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    paths["md"].write_text(markdown(report))
    paths["html"].write_text(html_page(report))
    return paths


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _metric_names(report: EvalReport) -> list[str]:
    return [m for m in HEADLINE if report.overall.get(m) is not None]


def markdown(report: EvalReport) -> str:
    names = _metric_names(report)
    types = list(report.by_type)
    lines = ["# Evaluation report", "",
             f"{report.overall['questions']} questions ({report.overall['answerable']} answerable, "
             f"{report.overall['unanswerable']} unanswerable) over {report.config['articles']} articles "
             f"({report.config['chunks']} chunks); k = {report.config['k']}.", "",
             "| metric | overall | " + " | ".join(types) + " |",
             "| --- | --- | " + " | ".join("---" for _ in types) + " |"]
    for name in names:
        cells = [_fmt(report.by_type[t].get(name)) for t in types]
        lines.append(f"| {name} | {_fmt(report.overall.get(name))} | " + " | ".join(cells) + " |")
    misses = [r for r in report.rows if r["answerable"] and (r["abstained"] or not r["answer_recall"])][:20]
    if misses:
        lines += ["", "## Misses (first 20 answerable questions not answered)", "",
                  "| id | question | gold | answer |", "| --- | --- | --- | --- |"]
        for r in misses:
            cells = [r["id"], r["question"], "; ".join(r["gold_answers"]), r["answer"][:200]]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    unsupported = [(r, u) for r in report.rows for u in r.get("unsupported_sentences") or []][:20]
    if unsupported:
        lines += ["", "## Unsupported answer sentences (first 20: their cited quotes do not support them)", "",
                  "| id | mode | sentence | cited | why |", "| --- | --- | --- | --- | --- |"]
        for r, u in unsupported:
            cells = [r["id"], r.get("mode", ""), u["sentence"][:200], " ".join(f"[{n}]" for n in u["cited"]),
                     u["reason"] or ""]
            lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _md_cell(text: str) -> str:
    """Gold files and articles are untrusted: no raw HTML or table breaks in the rendered markdown, yet the
    text reads as written (Markdown's own backslash escapes, not HTML entities such as don&#x27;t)."""
    return re.sub(r"([\\<>|`*_\[\]])", r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(report: EvalReport) -> dict[str, str]:
    """Base64 PNGs: hit@k curve, per-type bars, latency histogram, abstention score distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: dict[str, str] = {}
    overall = report.overall
    ks = [k for k in range(1, report.config["k"] + 1) if overall.get(f"hit@{k}") is not None]
    if ks:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(ks, [overall[f"hit@{k}"] for k in ks], marker="o")
        ax.set(xlabel="k", ylabel="hit@k", ylim=(0, 1.02), title="Gold passage within the top k")
        ax.grid(alpha=0.3)
        images["hit@k curve"] = _png(fig)
        plt.close(fig)
    metrics = [m for m in ("hit@1", "mrr@10", "answer_recall", "f1", "citation_precision", "abstention_f1")
               if any(t.get(m) is not None for t in report.by_type.values())]
    if metrics and report.by_type:
        fig, ax = plt.subplots(figsize=(7, 3.4))
        width = 0.8 / max(len(report.by_type), 1)
        for i, (name, values) in enumerate(report.by_type.items()):
            xs = [j + i * width for j in range(len(metrics))]
            ax.bar(xs, [values.get(m) or 0 for m in metrics], width=width, label=name[:30])
        ax.set_xticks([j + width * (len(report.by_type) - 1) / 2 for j in range(len(metrics))], metrics, rotation=20)
        ax.set(ylim=(0, 1.05), title="Metrics by question type")
        ax.legend(fontsize=7)
        images["per-type metrics"] = _png(fig)
        plt.close(fig)
    latencies = [r["latency_ms"] for r in report.rows]
    if latencies:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.hist(latencies, bins=40)
        ax.axvline(overall["latency_ms_p50"], color="k", linestyle="--", label="p50")
        ax.axvline(overall["latency_ms_p95"], color="r", linestyle="--", label="p95")
        ax.set(xlabel="ms per question", ylabel="questions", title="Latency")
        ax.legend()
        images["latency histogram"] = _png(fig)
        plt.close(fig)
    scored = [r for r in report.rows if r["confidence"] is not None]
    if scored:
        fig, ax = plt.subplots(figsize=(5, 3.2))
        for label, answerable in (("answerable", True), ("unanswerable", False)):
            values = [r["confidence"] for r in scored if r["answerable"] is answerable]
            if values:
                ax.hist(values, bins=30, range=(0, 1), alpha=0.6, label=f"{label} ({len(values)})")
        ax.set(xlabel="P(answerable) from the abstention model", ylabel="questions", title="Abstention scores")
        ax.legend()
        images["abstention score distribution"] = _png(fig)
        plt.close(fig)
    return images


def html_page(report: EvalReport) -> str:
    esc = html.escape
    names = _metric_names(report)
    types = list(report.by_type)
    head = "".join(f"<th>{esc(t)}</th>" for t in types)
    rows = "".join(
        f"<tr><td>{esc(n)}</td><td><b>{esc(_fmt(report.overall.get(n)))}</b></td>"
        + "".join(f"<td>{esc(_fmt(report.by_type[t].get(n)))}</td>" for t in types) + "</tr>"
        for n in names
    )
    figures = "".join(
        f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{data}"><figcaption>{esc(title)}</figcaption></figure>'
        for title, data in plots(report).items()
    )
    question_rows = "".join(
        "<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in (
            r["id"], r["type"], r["question"], "; ".join(r["gold_answers"]), r["short_answer"] or "", r["answer"],
            r["hit_rank"] if r["hit_rank"] is not None else "", _fmt(r["f1"]), "yes" if r["abstained"] else "",
            r.get("mode", ""), _fmt(r.get("alce_citation_recall")), _fmt(r.get("alce_citation_precision")),
            r.get("dropped", ""), r["latency_ms"])) + "</tr>"
        for r in report.rows[:2000]
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>article-qa evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}}figure{{display:inline-block;margin:1em}}
</style></head><body><h1>article-qa evaluation</h1>
<p>{report.overall['questions']} questions ({report.overall['answerable']} answerable, {report.overall['unanswerable']}
unanswerable) over {report.config['articles']} articles ({report.config['chunks']} chunks), k = {report.config['k']}.</p>
<table><tr><th>metric</th><th>overall</th>{head}</tr>{rows}</table>
<div>{figures}</div>
<h2>Questions</h2><table><tr><th>id</th><th>type</th><th>question</th><th>gold</th><th>short answer</th><th>answer</th>
<th>hit rank</th><th>F1</th><th>abstained</th><th>mode</th><th>cited support (ALCE recall)</th>
<th>ALCE precision</th><th>dropped</th><th>ms</th></tr>{question_rows}</table></body></html>
"""
