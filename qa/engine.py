"""The one Engine every interface calls: store + retriever + answerer, built once, models loaded lazily."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from qa.answer import citations, short_answer
from qa.config import Settings, get_settings
from qa.ingest import Ingestor, IngestReport
from qa.schema import Answer, Citation, Filters
from qa.store import Store

if TYPE_CHECKING:  # imported lazily: `qa ingest` of unchanged files should not pay for LangChain
    from langchain_core.runnables import Runnable

    from qa.answer.extractive import ExtractiveAnswerer
    from qa.retrieval import HybridRetriever
    from qa.sources.web import Fetcher
    from qa.store.lexical import LexicalIndex


Turn = dict  # {"role": "user" | "assistant", "content": str}
_UNSET = object()


@dataclass
class Progress:
    """A sentence of the answer being streamed (Engine.stream): shown as soon as it has passed the check;
    never withdrawn. `citations` are the ones it adds (its markers may also reuse earlier ones)."""

    sentence: str
    citations: list[Citation] = field(default_factory=list)


def abstention_text(question: str, note: str | None = None) -> str:
    """What an abstention says; with the premise check's note (qa/answer/premise.py) it names what the
    articles don't mention first."""
    if note:
        return f"{note}. Nothing in them answers “{question.strip()}”."
    return f"The articles don't say. Nothing in them answers “{question.strip()}”."


def noted_text(note: str, text: str) -> str:
    """An answer whose question names something no passage holds: the note first, then what the articles
    do report (the cited sentences), so the quotes do not read as the answer to the question as asked."""
    return f"{note}; they report: {text}"


def time_frame(query: str, as_of: str | None):
    from qa.news.when import frame

    return frame(query, as_of)


def retrieval_query(question: str, history: Sequence[Turn] | None) -> str:
    """What a question is searched (and read) as: a follow-up ("Who did he speak with?") made standalone
    from the entities of the user's earlier turns (qa/followup.py); any other question as asked."""
    from qa.followup import standalone_query

    return standalone_query(question, history)


def short_of(question: str, best_first: list, probability: float) -> str | None:
    """The bold short answer from the quotes (best first), or None (short_answer.extract says when)."""
    return short_answer.extract(question, [s.text for s in best_first], **short_answer.inputs(best_first, probability))


class Engine:
    def __init__(self, settings: Settings | None = None, llm=None):
        """`llm`: a qa.answer.llm.LLM to answer with instead of the one the settings name."""
        self.settings = settings or get_settings()
        self._store: Store | None = None
        self._retriever: HybridRetriever | None = None
        self._answerer: ExtractiveAnswerer | None = None
        self._chain: Runnable | None = None
        self._feedback = None  # qa.feedback.FeedbackStore, opened on first use
        self._llm: Any = _UNSET if llm is None else llm  # qa.answer.llm.LLM, None for QA_LLM=none; built lazily
        self._checker = None
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- components (lazy)
    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.settings)
            return self._store

    @property
    def retriever(self) -> HybridRetriever:
        from qa.retrieval import HybridRetriever

        with self._lock:
            if self._retriever is None:
                self._retriever = HybridRetriever.from_store(self.store)
            return self._retriever

    @property
    def answerer(self) -> ExtractiveAnswerer:
        from qa.answer.abstention import AbstentionModel
        from qa.answer.extractive import ExtractiveAnswerer

        with self._lock:
            if self._answerer is None:
                self._answerer = ExtractiveAnswerer(
                    AbstentionModel.load(),
                    max_passages=self.settings.answer_passages,
                    max_words=self.settings.answer_max_words,
                    threshold=self.settings.abstain_threshold,
                )
            return self._answerer

    @property
    def llm(self):
        """The configured LLM (qa.answer.llm.LLM), or None when answers are extractive (QA_LLM=none). Raises
        qa.answer.llm.LLMUnavailable naming what is missing (the extra, a setting, the model file)."""
        from qa.answer.llm import build

        with self._lock:
            if self._llm is _UNSET:
                self._llm = build(self.settings)
            return self._llm

    @property
    def checker(self):
        from qa.answer.checker import Checker

        with self._lock:
            if self._checker is None:
                self._checker = Checker(self.store.encoder.encode)
            return self._checker

    # ---------------------------------------------------------------- ingestion
    def ingest(self, paths: Iterable[Path | str], prune: bool = False, progress: bool = True, wait: bool = True,
               on_wait: Callable[[str], None] | None = None, *, ingestor: Ingestor | None = None,
               fetcher: "Fetcher | None" = None) -> IngestReport:
        """Ingest files, folders and URLs (article pages, feeds: each item's page) in this process. URLs are
        fetched first, without the index's writer lock; what they hold is then stored under it (the lock
        is shared with every other process), with the files."""
        from qa.sources.feeds import Harvester
        from qa.sources.web import is_url

        targets = [str(p) if isinstance(p, Path) else p for p in paths]
        urls = [t for t in targets if is_url(t)]
        files = [t for t in targets if not is_url(t)]
        harvest = None
        if urls:
            own = fetcher is None
            fetcher = fetcher or self.fetcher()
            try:
                harvest = Harvester(self.store.catalog, fetcher, workers=self.settings.fetch_workers).collect(urls)
            finally:
                if own:
                    fetcher.close()
        return (ingestor or Ingestor(self.store)).run(files, prune=prune, progress=progress, wait=wait,
                                                      on_wait=on_wait, harvest=harvest)

    def fetcher(self) -> "Fetcher":
        from qa.sources.web import Fetcher

        return Fetcher(timeout=self.settings.fetch_timeout, max_bytes=self.settings.fetch_max_bytes)

    def watch(self, targets: Sequence[Path | str], every: float, rounds: int | None = None, prune: bool = False,
              progress: bool = False, on_round: Callable[[IngestReport], None] | None = None,
              on_wait: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> int:
        """Ingest `targets` (feeds, pages, files, folders) every `every` seconds until `stop` is set (or
        `rounds` are done); only new or changed articles cost anything. Returns the rounds run."""
        stop = stop or threading.Event()
        ingestor = Ingestor(self.store)  # keeps the near-duplicate signatures between rounds
        done = 0
        with self.fetcher() as fetcher:
            while not stop.is_set():
                started = time.monotonic()
                report = self.ingest(targets, prune=prune, progress=progress, on_wait=on_wait, ingestor=ingestor,
                                     fetcher=fetcher)
                done += 1
                if on_round is not None:
                    on_round(report)
                if rounds is not None and done >= rounds:
                    break
                stop.wait(max(0.0, every - (time.monotonic() - started)))
        return done

    def ingest_uploads(self, paths: Sequence[Path], timeout: float | None = None) -> IngestReport:
        """Ingest files already copied into the uploads folder in a child process (`qa ingest --json`), so
        that encoding them competes neither for this server's interpreter nor for all its cores: questions
        keep being answered meanwhile, from the last commit, and see the new articles once it commits."""
        import json
        import os
        import subprocess
        import sys

        uploads = self.settings.uploads_dir.resolve()
        paths = [Path(p).resolve() for p in paths]
        outside = [str(p) for p in paths if p.parent != uploads]
        if outside:
            raise ValueError(f"not in the uploads folder: {', '.join(outside)}")
        env = dict(os.environ, **self.settings.as_environment())
        env.setdefault("OMP_NUM_THREADS", str(self.settings.background_threads))
        env.setdefault("MKL_NUM_THREADS", str(self.settings.background_threads))
        command = [sys.executable, "-m", "qa.faces.cli", "ingest", "--json", "--quiet", *map(str, paths)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        try:
            return IngestReport.from_dict(json.loads(done.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError, KeyError, TypeError):
            from qa.sources.articles import ArticleError

            tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            return IngestReport(errors=[ArticleError("ingest", f"the ingest process failed: {tail[0]}")])

    def serve(self) -> None:
        """Set this process up to answer questions: encoding one short question gains nothing from more
        torch threads, and OpenBLAS's threads (BM25 term coverage is a matrix product) keep spinning after
        each product and slow the next question's encoding; requests run side by side in threads instead."""
        import torch
        from threadpoolctl import threadpool_limits

        threads = max(1, self.settings.serve_threads)
        torch.set_num_threads(threads)
        threadpool_limits(limits=threads, user_api="blas")

    def ensure_examples(self, progress: bool = True) -> IngestReport | None:
        """On a fresh install, index the sample articles so the first question has something to read."""
        if self.settings.auto_index_examples and self.store.is_empty() and self.settings.examples_dir.is_dir():
            return self.ingest([self.settings.examples_dir], progress=progress)
        return None

    def remove_article(self, article_id: str, wait: bool = True) -> bool:
        """Drop an article from the index; an uploaded file that held only it is deleted too."""
        store = self.store
        with store.writing(wait=wait, purpose="remove article"):
            catalog = store.catalog
            if not isinstance(article_id, str) or catalog.article(article_id) is None:
                return False
            paths = catalog.detach_article(article_id)
            store.collect_garbage()
            uploads = self.settings.uploads_dir.resolve()
            for path in map(Path, paths):
                if path.resolve().parent == uploads and not catalog.articles_of_source(str(path)):
                    catalog.remove_source(str(path))
                    path.unlink(missing_ok=True)
            store.commit()
            return True

    def check(self, deep: bool = True, progress: bool = False):
        """Verify that catalog, vector store and BM25 agree (see qa.store.check)."""
        from qa.store.check import check_index

        return check_index(self.store, deep=deep, progress=progress)

    def repair(self, wait: bool = True, progress: bool = False, on_wait: Callable[[str], None] | None = None):
        """Mend what `check` finds (see qa.store.check), under the writer lock."""
        from qa.store.check import repair_index

        return repair_index(self.store, wait=wait, progress=progress, on_wait=on_wait)

    @property
    def feedback(self):
        from qa.feedback import FeedbackStore

        with self._lock:
            if self._feedback is None:
                self._feedback = FeedbackStore(self.settings.feedback_path)
            return self._feedback

    # ---------------------------------------------------------------- who said what
    def quotes(self, speaker: str | None = None, limit: int = 100) -> list[dict]:
        """Quotes read at ingest (qa.news), newest article first: every one, or one speaker's (a full name,
        a surname, a body such as "State Department"; a misspelt name that matches nobody is corrected as a
        question's is); each with its speaker's title, date and offsets.
        Bad input raises InputError naming `speaker` or `limit`."""
        from qa.errors import InputError

        if speaker is not None:
            if not isinstance(speaker, str):
                raise InputError("speaker", f"expected text, got {type(speaker).__name__}")
            speaker = " ".join(speaker.split())
            if not speaker:
                raise InputError("speaker", "is empty")
            if len(speaker) > 200:
                raise InputError("speaker", "longer than 200 characters")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InputError("limit", f"{limit!r} is not a whole number from 1 to 1000")
        rows = self.store.catalog.quotes(speaker=speaker, limit=limit)
        if not rows and speaker and (spelled := self.spelled(speaker)) != speaker:
            rows = self.store.catalog.quotes(speaker=spelled, limit=limit)  # "Blinkin": Antony Blinken's
        return [{"speaker": r.speaker, "role": r.role, "quote": r.text, "kind": r.kind, "cue": r.cue, "via": r.via,
                 "mention": r.mention, "article_id": r.article_id, "title": r.title, "published": r.published,
                 "url": r.url, "section": "body", "start": r.start, "end": r.end} for r in rows]

    # ---------------------------------------------------------------- answering
    def ask(self, question: str, history: Sequence[Turn] | None = None, k: int | None = None,
            filters: Filters | dict | None = None, as_of: str | None = None) -> Answer:
        """`filters` is a Filters or its plain-JSON form ({"date_from": "2021-05-01"}); `as_of` the day the
        question is asked on (YYYY-MM-DD; today when None: "this week", "on Wednesday", "latest" are read
        against it, and articles published after it are hidden); bad input raises InputError."""
        return self.chain.invoke({"question": question, "history": history, "k": k, "filters": filters,
                                  "as_of": as_of})

    def stream(self, question: str, history: Sequence[Turn] | None = None, k: int | None = None,
               filters: Filters | dict | None = None, as_of: str | None = None) -> Iterator[Progress | Answer]:
        """The answer as it is made: a Progress for each sentence as soon as it may be shown (a generated
        sentence once it has passed the check; an extractive answer's all at once), then the Answer (the
        same one `ask` returns). Bad input raises InputError before anything is yielded."""
        state = self._prepare({"question": question, "history": history, "k": k, "filters": filters,
                               "as_of": as_of})
        state["passages"] = self._retrieve(state, None)
        yield from self._events(state)

    @property
    def chain(self) -> Runnable:
        """The whole pipeline as one LangChain Runnable: {question, history?, k?, filters?} → Answer.

        Plain JSON in: `filters` a Filters or {"date_from", "date_to", "sources"}, `k` an int in 1..50;
        anything else raises qa.errors.InputError naming the field. The retriever runs as a LangChain
        retriever step, so callbacks and tracers see its run and its documents."""
        from langchain_core.runnables import RunnableLambda, RunnablePassthrough

        if self._chain is None:
            self._chain = (
                RunnableLambda(self._prepare, name="prepare")
                | RunnablePassthrough.assign(passages=RunnableLambda(self._retrieve, name="retrieve"))
                | RunnableLambda(self._compose, name="answer")
            )
        return self._chain

    def _prepare(self, request: Any) -> dict:
        from collections.abc import Mapping

        from qa.errors import InputError
        from qa.retrieval import MAX_K, check_k
        from qa.schema import validate_question

        if isinstance(request, str):
            request = {"question": request}
        if not isinstance(request, Mapping):
            raise InputError("request", f"expected a question or an object with one, got {type(request).__name__}")
        # Everything is checked before the query is encoded.
        question = validate_question(request.get("question"))
        k = check_k(request.get("k"), maximum=MAX_K)
        filters = Filters.from_json(request.get("filters"))
        history = request.get("history") or []
        as_of = request.get("as_of")
        if as_of is not None:
            from qa.schema import parse_day

            as_of = parse_day(as_of, "as_of")
        query = retrieval_query(question, history)
        timings: dict[str, float] = {}
        if query != question and self.llm is not None:  # a follow-up: the LLM condenses it, when there is one
            started = time.perf_counter()
            query = self._condense(question, history, fallback=query)
            timings["condense"] = (time.perf_counter() - started) * 1000
        view = self.store.view()  # the last commit, reloaded if another process committed; raises if damaged
        query = self.spelled(query, view.lexical)
        started = time.perf_counter()
        vector = self.store.encoder.encode([query])[0]
        return {
            "question": question,
            "history": history,
            "query": query,
            "query_vector": vector,
            "k": k or self.settings.top_k,
            "filters": filters,
            "frame": time_frame(query, as_of),
            "timings": {**timings, "encode": (time.perf_counter() - started) * 1000},
        }

    def spelled(self, query: str, lexical: LexicalIndex | None = None) -> str:
        """`query` with its misspelt words (unknown to the index, close to a word it holds) corrected to the
        word the articles write: "What did Sulivan convey?" is searched as "What did Sullivan convey?".
        `lexical`: the BM25 index of the view already taken (the last commit's when None)."""
        from qa import spelling

        def texts_of(chunk_ids: list[str]) -> list[str]:
            return [stored.chunk.text for stored in self.store.catalog.chunks(chunk_ids).values()]

        found = spelling.corrections(query, lexical or self.store.lexical(), texts_of)
        return spelling.corrected(query, found)

    def _condense(self, question: str, history: Sequence[Turn], fallback: str) -> str:
        """A follow-up rewritten as a standalone question by the LLM (prompts/condense.txt) from the user's
        earlier turns only; the rule-based rewrite (`fallback`) when the LLM fails or writes anything but
        one question."""
        from qa.answer import prompts
        from qa.answer.llm import LLMFailed, Message
        from qa.followup import user_turns

        turns = user_turns(history)
        listed = "\n".join(f"- {' '.join(t.split())[:500]}" for t in turns[-4:])
        try:
            reply = self.llm.complete([Message("user", prompts.render("condense", history=listed,
                                                                      question=question))], max_tokens=60)
        except LLMFailed:
            return fallback
        lines = [line.strip().strip('"“”') for line in reply.strip().splitlines() if line.strip()]
        if not lines:
            return fallback
        condensed = re.sub(r"^(?:standalone question|question)\s*:\s*", "", lines[0], flags=re.I).strip()
        if not condensed or len(condensed) > 3 * len(fallback) + 100 or "NOT IN THE ARTICLES" in condensed.upper():
            return fallback
        return condensed

    def _retrieve(self, state: dict, config: dict) -> list:  # config: this step's RunnableConfig
        """The retriever invoked as a Runnable with this step's child config, so callbacks see a retriever
        run; its documents carry what the answerer needs (exact scores, sentence cosines) back to Passages."""
        from qa.retrieval import document_to_passage

        started = time.perf_counter()
        from qa.news.when import POOL, reweigh

        k = max(state["k"], self.settings.answer_passages)
        # POOL times as many candidates, then the time frame (qa/news/when.py) re-ranks them: a question
        # "this week" or "on Wednesday" favours what was published (or happened) then, as of its date.
        documents = self.retriever.invoke(state["query"], config=config, k=k * POOL, filters=state["filters"],
                                          query_vector=state["query_vector"])
        passages = [document_to_passage(document) for document in documents]
        passages = reweigh(passages, state["frame"], self.store.catalog.date_mentions)[:k]
        state["timings"]["retrieve"] = (time.perf_counter() - started) * 1000
        return passages

    def _compose(self, state: dict) -> Answer:
        answer = None
        for event in self._events(state):
            answer = event
        assert isinstance(answer, Answer)
        return answer

    def _events(self, state: dict) -> Iterator[Progress | Answer]:
        started = time.perf_counter()
        question, passages = state["question"], state["passages"]
        catalog = self.store.catalog
        from qa.news.answers import NewsAnswerer, short_with_date, with_dates

        # "What did Sullivan convey?", "Who is Ned Price?": from the quotes and people read at ingest.
        news = NewsAnswerer(catalog)
        told = (news.speech(state["query"], state["filters"]) or news.person(state["query"], state["filters"])
                or news.happened(state["query"], state.get("frame"), passages))
        if told is not None:
            text, cited = citations.cite(told.sentences)
            citations.check(cited, catalog)
            timings = state["timings"]
            timings["answer"] = (time.perf_counter() - started) * 1000
            timings["total"] = sum(timings.values())
            text = with_dates(f"{told.lead}: {text}", cited, catalog)
            cited = citations.with_sources(cited, catalog)
            yield Progress(text, cited)
            yield Answer(question=question, text=text, abstained=False, citations=cited,
                         passages=passages[: state["k"]], timings_ms=timings, confidence=1.0, short_answer=told.short,
                         query=state["query"])
            return
        draft = self._draft(state, passages)
        short = None
        mode, dropped, fallback = "extractive", [], None
        said_by = None if draft.abstained or draft.note else news.speaker_of(state["query"], draft.sentences)
        generated = None
        if said_by is None and not draft.abstained and self.llm is not None:
            generated = yield from self._generate(state, draft, started)
            if generated is not None:
                if isinstance(generated, Answer):
                    yield generated
                    return
                dropped, fallback = generated
        if said_by is not None:  # "Who said ...?": the resolved speaker of the quote that says it
            text, cited = citations.cite(said_by.sentences)
            citations.check(cited, catalog)
            cited = citations.with_sources(cited, catalog)
            text, short = f"{said_by.lead}: {text}", said_by.short
        elif draft.abstained:
            text, cited = abstention_text(question, draft.note), []
        else:
            text, cited = citations.cite(draft.sentences)
            citations.check(cited, catalog)
            cited = citations.with_sources(cited, catalog)
            if draft.note:
                # The quotes answer a nearby question (another country's minister), not this one: say so,
                # and show no bold short answer, which would read as the answer to the question asked.
                text = noted_text(draft.note, text)
            else:
                short = short_of(question, sorted(draft.sentences, key=lambda s: -s.score), draft.probability)
        text = with_dates(text, cited, catalog)  # "on Tuesday (11 May 2021)"
        short = short_with_date(short, cited, catalog)
        timings = state["timings"]
        timings["answer"] = (time.perf_counter() - started) * 1000
        timings["total"] = sum(timings.values())
        if not draft.abstained:
            yield Progress(text, cited)
        yield Answer(
            question=question,
            text=text,
            abstained=draft.abstained,
            citations=cited,
            passages=passages[: state["k"]],
            timings_ms=timings,
            confidence=draft.probability,
            short_answer=short,
            query=state["query"],
            note=draft.note,
            mode=mode,
            dropped=dropped,
            fallback=fallback,
        )

    def _draft(self, state: dict, passages: list):
        """The extractive draft: scored sentences, the chosen ones, and P(answered). A question that names no
        time of its own is asked of the latest news, where a later story supersedes an earlier one."""
        return self.answerer.draft(state["query"], passages, self.store.lexical(), newest=state["frame"].first is None)

    def _generate(self, state: dict, draft, started: float):
        """The LLM's answer, each sentence checked (qa/answer/generate.py) and yielded as a Progress once it
        passes. Returns the Answer when a sentence passed (or the model said the passages don't answer), else
        (dropped sentences, why the extractive answer is given instead)."""
        from qa.answer.generate import Generator, choose_sources
        from qa.answer.llm import LLMFailed
        from qa.news.answers import short_with_date, with_dates

        catalog = self.store.catalog
        question, passages = state["question"], state["passages"]
        sources = choose_sources(draft.candidates, draft.sentences, self.settings.llm_context_words)
        generator = Generator(self.llm, self.checker, max_tokens=self.settings.llm_max_tokens,
                              timeout=self.settings.llm_timeout)
        citer = citations.Citer()
        sentences: list[str] = []
        llm_started = time.perf_counter()
        try:
            for kept in generator.run(question, sources):
                before = len(citer.citations)
                markers = " ".join(f"[{citer.number(source)}]" for source in kept.sources)
                new = citer.citations[before:]
                citations.check(new, catalog)
                new = citations.with_sources(new, catalog)
                citer.citations[before:] = new
                sentence = with_dates(f"{kept.text} {markers}", new or citer.citations, catalog)
                sentences.append(sentence)
                yield Progress(sentence, new)
        except LLMFailed as exc:
            if not sentences:
                return generator.result.dropped, f"the LLM failed: {exc}"
        result = generator.result
        state["timings"]["generate"] = (time.perf_counter() - llm_started) * 1000
        if not sentences and not result.declined:
            if result.timed_out:
                return result.dropped, f"the LLM took longer than {self.settings.llm_timeout:g} s"
            return result.dropped, ("no generated sentence passed the check" if result.dropped
                                    else "the LLM wrote no answer")
        timings = state["timings"]
        timings["answer"] = (time.perf_counter() - started) * 1000
        timings["total"] = sum(v for key, v in timings.items() if key != "generate")
        if not sentences:  # the model read the passages and says they do not answer
            return Answer(question=question, text=abstention_text(question), abstained=True, citations=[],
                          passages=passages[: state["k"]], timings_ms=timings, confidence=draft.probability,
                          query=state["query"], mode="llm", dropped=result.dropped)
        cited = citer.citations
        used = sorted({id(s): s for kept in result.kept for s in kept.sources}.values(), key=lambda s: -s.score)
        short = short_of(question, used, draft.probability)
        return Answer(question=question, text=" ".join(sentences), abstained=False, citations=cited,
                      passages=passages[: state["k"]], timings_ms=timings, confidence=draft.probability,
                      short_answer=short_with_date(short, cited, catalog), query=state["query"], mode="llm",
                      dropped=result.dropped)
