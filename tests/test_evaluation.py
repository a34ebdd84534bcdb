"""Gold formats, metrics, and `qa eval` end to end (real engine, real reports)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT
from qa.evaluation import contains, exact_match, failures, normalize_answer, parse_bounds, summarize, token_f1
from qa.gold import AnswerMode, GoldFormatError, load_gold


def test_official_squad_normalization_and_scores():
    assert normalize_answer("The  Normans, of France!") == "normans of france"
    assert exact_match("the Normans", ["Normans"]) == 1.0
    assert token_f1("in the 10th century", ["10th and 11th centuries"]) == pytest.approx(2 / 7)  # P 1/3, R 1/4
    assert token_f1("", ["France"]) == 0.0
    assert contains("It was “harrowing,” he said.", "harrowing")  # curly quotes do not hide a match
    assert not contains("Francesca", "France")
    decomposed = "Nestle\u0301"  # "Nestlé" as some pages store it: e + a combining acute accent
    assert exact_match(decomposed, ["Nestl\u00e9"]) == 1.0 and contains(f"{decomposed} ousted its CEO", "Nestl\u00e9")


def test_jsonl_csv_and_dialogue_formats(tmp_path: Path):
    jsonl = tmp_path / "gold.jsonl"
    jsonl.write_text(
        '{"id": "q1", "question": "Who?", "answers": ["A", "B"], "answer_mode": "all", "type": "fact"}\n'
        '{"id": "q2", "question": "Nothing?", "answers": []}\n'
        '{"id": "d1", "type": "dialogue", "turns": [{"question": "First?", "answers": ["x"]}, '
        '{"question": "And then?", "answers": ["y"]}]}\n'
    )
    gold = load_gold(jsonl)
    assert [d.id for d in gold.dialogues] == ["q1", "q2", "d1"]
    q1, q2, t1, t2 = gold.questions
    assert q1.answer_mode is AnswerMode.ALL and q1.answerable and not q2.answerable
    assert q2.group == "unanswerable" and t2.id == "d1#2" and t2.type == "dialogue"

    csv_file = tmp_path / "gold.csv"
    csv_file.write_text('id,question,answers,evidence_article_ids,type\n'
                        'c1,Who spoke?,"[""Abbas"", ""Mahmoud Abbas""]",a1|a2,fact\nc2,Why?,,,unanswerable\n')
    c1, c2 = load_gold(csv_file).questions
    assert c1.answers == ["Abbas", "Mahmoud Abbas"] and c1.evidence_article_ids == ["a1", "a2"]
    assert c2.answers == [] and c2.type == "unanswerable"

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok", "answers": []}\n{"answers": ["no question"]}\n')
    with pytest.raises(GoldFormatError, match="bad.jsonl:2: missing 'question'"):
        load_gold(bad)


def test_squad_json_carries_its_articles(tmp_path: Path):
    squad = tmp_path / "dev-v2.0.json"
    squad.write_text(json.dumps({"version": "v2.0", "data": [{"title": "Harbor_Town", "paragraphs": [
        {"context": "The ferry to Harbor Town leaves at noon.", "qas": [
            {"id": "s1", "question": "When does the ferry leave?", "answers": [{"text": "noon", "answer_start": 34}],
             "is_impossible": False},
            {"id": "s2", "question": "When does the train leave?", "answers": [], "is_impossible": True,
             "plausible_answers": [{"text": "noon", "answer_start": 34}]}]}]}]}))
    gold = load_gold(squad)
    assert gold.articles == [{"id": "Harbor_Town", "title": "Harbor Town", "text": "The ferry to Harbor Town leaves at noon."}]
    s1, s2 = gold.questions
    assert s1.answers == ["noon"] and s1.evidence_article_ids == ["Harbor_Town"] and s2.type == "unanswerable"


def test_summary_metrics_on_known_rows():
    def row(answerable, hit_rank=None, recall=0.0, f1=0.0, abstained=False, citations=1, correct=0, latency=10.0):
        return {"answerable": answerable, "hit_rank": hit_rank, "answer_recall": recall if answerable else None,
                "exact_match": float(f1 == 1.0) if answerable else None, "f1": f1 if answerable else None,
                "abstained": abstained, "citations": citations, "correct_citations": correct if answerable else None,
                "nonverbatim_citations": 0, "latency_ms": latency}

    rows = [row(True, 1, 1.0, 1.0, correct=1), row(True, 3, 1.0, 0.5), row(True, None, abstained=True, citations=0),
            row(False, abstained=True, citations=0), row(False, citations=2)]
    m = summarize(rows, k=10)
    assert m["hit@1"] == pytest.approx(1 / 3, abs=1e-3) and m["hit@5"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3, abs=1e-3)
    assert m["answer_recall"] == pytest.approx(2 / 3, abs=1e-3) and m["f1"] == pytest.approx(0.5, abs=1e-3)
    assert m["citation_precision"] == pytest.approx(0.5) and m["wrongful_abstention"] == pytest.approx(1 / 3, abs=1e-3)
    assert (m["abstention_precision"], m["abstention_recall"], m["abstention_f1"]) == (0.5, 0.5, 0.5)
    assert failures(m, parse_bounds(["hit@1=0.3", "answer_recall=0.9"])) == ["answer_recall = 0.6667 < 0.9"]
    with pytest.raises(ValueError):
        parse_bounds(["hit@1"])


def _run_eval(tmp_path: Path, *extra: str):
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), QA_AUTO_INDEX_EXAMPLES="false")
    return subprocess.run(
        [sys.executable, "-m", "qa.faces.cli", "eval", str(ROOT / "examples" / "gold.jsonl"), "--articles", str(EXAMPLES),
         "--out", str(tmp_path / "out"), "-q", *extra],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
    )


def test_qa_eval_on_the_shipped_gold_questions_meets_its_bounds(tmp_path: Path):
    # The bold short answer is shown only when its calibrated gate says it is likely right: when shown, it
    # must be right (its overall F1 counts every hidden one as 0, so it is no bound).
    bounds = ["hit@1=0.9", "answer_recall=0.9", "shown_exact_match=0.8", "abstention_recall=0.8",
              "citation_precision=0.55", "items_found=0.9"]
    result = _run_eval(tmp_path, "--fail-under", *bounds)
    assert result.returncode == 0, result.stdout + result.stderr
    overall = json.loads(result.stdout)
    assert overall["nonverbatim_citations"] == 0 and overall["questions"] == 45
    # Extractive answers are their quotes: every sentence supported by what it cites, every citation relevant.
    assert overall["alce_citation_recall"] >= 0.95 and overall["alce_citation_precision"] >= 0.95
    assert "llm_answer_share" not in overall  # no LLM configured
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {"dialogue", "unanswerable", "fact", "multi-article", "list", "speaker", "title", "date",
            "quote", "typo"} <= set(report["by_type"])
    # Who said what, people's titles, dates, misspelt names: every such question answered and cited.
    for kind in ("speaker", "title", "date", "quote", "typo"):
        assert report["by_type"][kind]["answer_recall"] == 1.0, kind
    assert report["by_type"]["list"]["items_found"] == 1.0  # every item of every list question
    rows = {r["id"]: r for r in report["rows"]}
    assert rows["dialogue-tweet#2"]["answer_recall"] == 1.0  # the follow-up used the conversation
    assert rows["dialogue-sullivan#2"]["query"] == "Who did Sullivan speak with?"
    assert rows["typo-sullivan"]["query"] == "What did Sullivan convey?"
    assert all(r["answer_recall"] == 1.0 for r in report["rows"] if r["type"] == "dialogue")
    assert rows["none-gaza-population"]["abstained"] is True
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4 and "<script" not in html
    assert "| hit@1 |" in (tmp_path / "out" / "report.md").read_text()
    assert "| alce_citation_recall |" in (tmp_path / "out" / "report.md").read_text()

    failing = _run_eval(tmp_path, "--fail-under", "hit@1=1.01")
    assert failing.returncode == 1 and "FAIL: hit@1" in failing.stderr


def test_markdown_report_shows_text_as_written_and_never_raw_html():
    from qa.report import _md_cell

    cell = _md_cell("The articles don't say \"why\" <script>alert(1)</script> a|b")
    assert "don't" in cell and '"why"' in cell and "&#x27;" not in cell and "&quot;" not in cell
    assert "<script>" not in cell and "\\<script\\>" in cell and "a\\|b" in cell


# ---------------------------------------------------------------- cited support (ALCE) and generated answers

SULLIVAN = ("He conveyed the President’s unwavering support for Israel’s security and for its legitimate right to "
            "defend itself and its people, while protecting civilians.")
TUESDAY = ("US Secretary of State Antony Blinken spoke on Tuesday to Foreign Minister Gabi Ashkenazi amid the "
           "ongoing rocket attacks from Gaza against Israel.")


@pytest.fixture(scope="module")
def checker():
    from qa.answer.checker import Checker
    from qa.config import Settings
    from qa.embedding import get_encoder

    return Checker(get_encoder(Settings().embedding_model).encode)


def _answer(text: str, quotes: dict[int, str], **fields):
    from qa.schema import Answer, Citation

    citations = [Citation(n=n, article_id="a1", title="t", published="2021-05-12", quote=q, start=0, end=len(q))
                 for n, q in quotes.items()]
    return Answer(question="q?", text=text, abstained=fields.pop("abstained", False), citations=citations, **fields)


def test_an_extractive_answer_is_supported_by_its_own_quotes(checker):
    from qa.evaluation import answer_sentences, cited_support

    # The lead names the speaker (not in the quote) and with_dates resolved "Tuesday": both set aside.
    answer = _answer(f"Jake Sullivan (US National Security Advisor): {SULLIVAN} [1] "
                     f"{TUESDAY.replace('Tuesday', 'Tuesday (11 May 2021)')} [2]", {1: SULLIVAN, 2: TUESDAY})
    assert answer_sentences(answer) == [(SULLIVAN, (1,)), (TUESDAY, (2,))]
    support = cited_support(answer, checker)
    assert (support["recall"], support["precision"], support["sentences"]) == (1.0, 1.0, 2)
    # A quote the sentence splitter cuts ("U.S." then a capital) is still one cited sentence.
    quote = "The U.S. Secretary of State spoke with Ashkenazi."
    assert answer_sentences(_answer(f"{quote} [1]", {1: quote})) == [(quote, (1,))]
    # A note's "...; they report:" is no claim of the quotes either; an abstention is not judged.
    noted = _answer(f"The articles don't mention a Jordanian foreign minister; they report: {TUESDAY} [1]", {1: TUESDAY})
    assert cited_support(noted, checker)["recall"] == 1.0
    assert cited_support(_answer("The articles don't say.", {}, abstained=True), checker) is None


def test_a_wrong_citation_lowers_recall_and_precision(checker):
    from qa.evaluation import cited_support

    answer = _answer("Blinken spoke to Foreign Minister Gabi Ashkenazi on Tuesday [1]. "
                     "He conveyed unwavering support for Israel's security [1].", {1: TUESDAY, 2: SULLIVAN}, mode="llm")
    support = cited_support(answer, checker)
    assert support["recall"] == 0.5 and support["precision"] == 0.5
    (unsupported,) = support["unsupported"]
    assert unsupported["cited"] == [1] and unsupported["sentence"].startswith("He conveyed")
    # Citing nothing: unsupported, and no citation to judge.
    bare = cited_support(_answer("Blinken spoke to Ashkenazi on Tuesday.", {1: TUESDAY}, mode="llm"), checker)
    assert bare["recall"] == 0.0 and bare["precision"] is None


def test_a_redundant_citation_lowers_precision_only(checker):
    from qa.evaluation import cited_support

    answer = _answer("Blinken spoke to Foreign Minister Gabi Ashkenazi on Tuesday [1, 2].", {1: TUESDAY, 2: SULLIVAN},
                     mode="llm")
    support = cited_support(answer, checker)
    assert support["recall"] == 1.0 and support["precision"] == 0.5
    # Both needed (Blinken and Tuesday from [1], the support from [2]): both relevant.
    both = _answer("On Tuesday Blinken spoke with Ashkenazi and conveyed the President's unwavering support for "
                   "Israel's legitimate right to defend itself and its people, while protecting civilians [1, 2].",
                   {1: TUESDAY, 2: SULLIVAN}, mode="llm")
    assert cited_support(both, checker) == {"recall": 1.0, "precision": 1.0, "sentences": 1, "unsupported": []}


def test_generated_answers_dropped_and_fallback_shares():
    from qa.evaluation import generation_counts

    dropped = [{"sentence": "Blinken met Abbas.", "cited": [1], "reason": "'Abbas' not in [1]"}]
    llm = _answer("Blinken spoke to Ashkenazi on Tuesday (11 May 2021) [1]. Gaza fired rockets at Israel [1].",
                  {1: TUESDAY}, mode="llm", dropped=dropped)
    assert generation_counts(llm) == {"mode": "llm", "fallback": None, "dropped": 1, "generated_shown": 2}
    fell_back = _answer(f"{TUESDAY} [1]", {1: TUESDAY}, dropped=dropped * 2,
                        fallback="no generated sentence passed the check")
    assert generation_counts(fell_back)["generated_shown"] == 0

    def row(answer, abstained=False):
        return {"answerable": True, "hit_rank": 1, "answer_recall": 1.0, "exact_match": 1.0, "f1": 1.0,
                "abstained": abstained, "citations": 1, "correct_citations": 1, "nonverbatim_citations": 0,
                "latency_ms": 10.0, "alce_citation_recall": None if abstained else 1.0,
                "alce_citation_precision": None if abstained else 0.5, **generation_counts(answer)}

    rule = _answer(f"{TUESDAY} [1]", {1: TUESDAY})  # a rule-based answer: the LLM never asked
    m = summarize([row(llm), row(fell_back), row(rule), row(rule, abstained=True)])
    assert m["llm_answer_share"] == 0.25 and m["fallback_share"] == 0.25 and m["llm_declined_share"] == 0.0
    assert m["dropped_share"] == pytest.approx(1 / 3, abs=1e-3)  # 1 dropped, 2 shown
    assert m["dropped_share_with_fallbacks"] == pytest.approx(3 / 5)  # and the fallback's 2 dropped
    assert m["alce_citation_recall"] == 1.0 and m["alce_citation_precision"] == 0.5
    # Without an LLM, no LLM figures (and the rows of older callers, without the new keys, still summarise).
    assert "llm_answer_share" not in summarize([row(rule)])


def test_qa_eval_scores_generated_answers_from_the_engine(sample_engine, llama_server, tmp_path: Path):
    """The engine's own LLM-mode answers (the real llama.cpp server, what it writes pinned by a grammar)
    scored as `qa eval` scores them: the resolved "Tuesday (11 May 2021)" is no unsupported fact, the
    dropped sentence is counted, and the answer the LLM could not write falls back and says so."""
    from conftest import make_settings
    from helpers import forced, llm_sources
    from qa.engine import Engine
    from qa.evaluation import evaluate

    question = "Who did Blinken speak to on Tuesday?"
    extractive = Engine(make_settings(sample_engine.settings.index_dir))
    sources = llm_sources(extractive, question)
    n = next(i for i, s in enumerate(sources, start=1) if "Gabi Ashkenazi" in s.text)
    false = f"Blinken flew to Amman to meet King Abdullah of Jordan [{n}]."
    replies = [f"Blinken spoke on Tuesday to Foreign Minister Gabi Ashkenazi [{n}]. {false}",
               false]
    engine = Engine(make_settings(sample_engine.settings.index_dir), llm=forced(llama_server, *replies))
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": f"ashkenazi-{i}", "question": question, "answers": ["Gabi Ashkenazi"]}) + "\n"
                            for i in (1, 2)))
    report = evaluate(engine, load_gold(gold), progress=False)
    first, second = report.rows
    assert first["mode"] == "llm" and first["generated_shown"] == 1 and first["dropped"] == 1
    assert "Tuesday (11 May 2021)" in first["answer"] and first["alce_citation_recall"] == 1.0
    assert " not in " in first["dropped_sentences"][0]["reason"]  # Amman, Abdullah, Jordan
    assert second["mode"] == "extractive" and second["fallback"] == "no generated sentence passed the check"
    assert second["alce_citation_recall"] == 1.0 and second["generated_shown"] == 0
    overall = report.overall
    assert overall["llm_answer_share"] == 0.5 and overall["fallback_share"] == 0.5
    assert overall["dropped_share"] == 0.5 and overall["dropped_share_with_fallbacks"] == pytest.approx(2 / 3, abs=1e-3)
    assert overall["alce_citation_recall"] == 1.0 and overall["alce_citation_precision"] == 1.0
