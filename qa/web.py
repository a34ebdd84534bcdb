"""The chat page (Gradio) and the JSON API (FastAPI), both over the one Engine."""
from __future__ import annotations

import html
import secrets
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from qa.engine import Engine
from qa.feedback import Rating
from qa.ingest import store_upload
from qa.articles import ArticleError
from qa.render import answer_markdown, citation_label, passages_html, sources_html
from qa.schema import Filters

EXAMPLES = [
    "What did Sullivan convey?",
    "Who did Blinken speak with on Wednesday night?",
    "Who will travel to Israel?",
    "What is the population of Gaza?",
]
ANSWER_WITH_QUOTES, PASSAGES_ONLY = "Answer with quotes", "Passages only"
STREAM_WORDS = 4  # words added per streamed frame

# [n] markers link to #source-n in the sources panel: open and highlight it instead of navigating away.
CLICK_SOURCES_JS = """
<script>
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a[href^="#source-"]');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const target = document.getElementById(link.getAttribute('href').slice(1));
  if (target) {
    target.open = true;
    target.scrollIntoView({behavior: 'smooth', block: 'center'});
    target.classList.add('qa-focus');
    setTimeout(() => target.classList.remove('qa-focus'), 2000);
  }
}, true);
</script>
"""
CSS = """
.qa-source { border-left: 3px solid #888; padding: 4px 8px; margin: 6px 0; }
.qa-source mark { background: #ffe58a; }
.qa-focus { outline: 3px solid #f0a000; }
.qa-offsets { color: #777; font-size: 0.85em; }
.qa-passage { white-space: pre-wrap; }
.qa-abstained { border-left: 3px solid #c77; padding-left: 8px; }
"""


# ---------------------------------------------------------------- JSON API models (OpenAPI schema)

class Turn(BaseModel):
    role: str = Field(pattern="^(user|assistant)$")
    content: str


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    history: list[Turn] = Field(default_factory=list)
    k: int | None = Field(None, ge=1, le=50)
    date_from: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    date_to: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    sources: list[str] = Field(default_factory=list)


class CitationOut(BaseModel):
    n: int
    article_id: str
    title: str | None
    published: str | None
    quote: str
    start: int
    end: int
    section: str
    source: str | None


class PassageOut(BaseModel):
    article_id: str
    external_id: str | None
    title: str | None
    published: str | None
    source: str | None
    section: str
    start: int
    end: int
    text: str
    score: float


class AnswerOut(BaseModel):
    question: str
    answer: str
    short_answer: str | None
    abstained: bool
    confidence: float | None
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings_ms: dict[str, float]


def _credentials(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ValueError("QA_AUTH must look like user:password")
    return user, password


def build_api(engine: Engine) -> FastAPI:
    api = FastAPI(title="article-qa", description="Questions about news articles, answered with verbatim quotes.")
    credentials = _credentials(engine.settings.auth)
    basic = HTTPBasic(auto_error=False)

    def require_login(given: HTTPBasicCredentials | None = Depends(basic)) -> None:
        if credentials is None:
            return
        ok = given is not None and secrets.compare_digest(given.username, credentials[0]) and secrets.compare_digest(
            given.password, credentials[1])
        if not ok:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "login required",
                                headers={"WWW-Authenticate": "Basic"})

    @api.post("/api/ask", response_model=AnswerOut, dependencies=[Depends(require_login)])
    def ask(request: AskRequest) -> dict[str, Any]:
        """The same object as `qa ask --json`."""
        filters = Filters(request.date_from, request.date_to, tuple(request.sources))
        history = [turn.model_dump() for turn in request.history]
        return engine.ask(request.question, history=history, k=request.k, filters=filters).to_dict()

    return api


# ---------------------------------------------------------------- the page

def _article_rows(engine: Engine) -> list[list]:
    return [[a.title or citation_label(a), a.published or "", a.chunks, Path(a.source or "").name, a.id]
            for a in engine.store.catalog.articles()]


def _article_choices(rows: list[list]) -> list[tuple[str, str]]:
    return [(f"{row[0]} ({row[1] or 'no date'})", row[4]) for row in rows]


def _source_choices(engine: Engine) -> list[tuple[str, str]]:
    return [(Path(p).name, p) for p in engine.store.catalog.source_paths()]


def build_blocks(engine: Engine) -> gr.Blocks:
    with gr.Blocks(title="article-qa") as demo:
        gr.Markdown("## article-qa\nAsk about the indexed news articles. Every sentence of an answer cites a "
                    "verbatim quote; click a **[n]** to see it in its passage.")
        answers = gr.State([])  # the Answer dicts behind the assistant messages, in order
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="Chat", height=520, examples=[{"text": q} for q in EXAMPLES],
                        placeholder="Ask a question about the articles, or pick an example.",
                        feedback_options=("Like", "Dislike"),
                    )
                    question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, submit_btn=True,
                                          elem_id="question")
                with gr.Column(scale=2):
                    sources = gr.HTML("<p>Sources appear here.</p>", label="Sources", elem_id="sources")
            with gr.Accordion("Settings", open=False):
                with gr.Row():
                    k = gr.Slider(1, 20, value=engine.settings.top_k, step=1, label="Passages")
                    mode = gr.Radio([ANSWER_WITH_QUOTES, PASSAGES_ONLY], value=ANSWER_WITH_QUOTES, label="Answer mode")
                with gr.Row():
                    date_from = gr.Textbox(label="Published from (YYYY-MM-DD)")
                    date_to = gr.Textbox(label="Published until (YYYY-MM-DD)")
                    source_filter = gr.Dropdown(choices=_source_choices(engine), multiselect=True,
                                                label="Only these sources")
        with gr.Tab("Articles"):
            rows = _article_rows(engine)
            table = gr.Dataframe(value=rows, headers=["title", "date", "chunks", "file", "id"],
                                 interactive=False, label="Indexed articles")
            upload = gr.File(file_count="multiple", label="Add articles (.txt .md .html .pdf .jsonl .rss .atom .xml)")
            ingest_log = gr.Markdown()
            with gr.Row():
                to_remove = gr.Dropdown(choices=_article_choices(rows), label="Remove an article")
                remove = gr.Button("Remove", variant="stop")

        def respond(message, history, answered, k_value, start, end, chosen, answer_mode, request: gr.Request):
            message = (message or "").strip()
            if not message:
                yield history, answered, gr.skip(), ""
                return
            history = list(history or []) + [{"role": "user", "content": html.escape(message)}]
            yield history + [{"role": "assistant", "content": "_Searching the articles…_"}], answered, gr.skip(), ""
            turns = []
            for previous in answered:
                turns += [{"role": "user", "content": previous["question"]},
                          {"role": "assistant", "content": previous["answer"]}]
            try:
                filters = Filters((start or "").strip() or None, (end or "").strip() or None, tuple(chosen or ()))
                answer = engine.ask(message, history=turns, k=int(k_value), filters=filters)
            except ValueError as exc:
                yield history + [{"role": "assistant", "content": f"⚠️ {html.escape(str(exc))}"}], answered, gr.skip(), ""
                return
            if answer_mode == PASSAGES_ONLY:
                text = f"Top {len(answer.passages)} passages are in the sources panel."
                panel = passages_html(answer.passages, "Passages, best first:", limit=len(answer.passages), clip=None)
            else:
                text, panel = answer_markdown(answer), sources_html(answer)
            words = text.split(" ")
            for i in range(STREAM_WORDS, len(words), STREAM_WORDS):  # answers appear progressively
                yield history + [{"role": "assistant", "content": " ".join(words[:i])}], answered, gr.skip(), ""
            yield (history + [{"role": "assistant", "content": text}], answered + [answer.to_dict()], panel, "")

        inputs = [question, chatbot, answers, k, date_from, date_to, source_filter, mode]
        question.submit(respond, inputs, [chatbot, answers, sources, question], api_name="chat")
        def pick_example(event: gr.SelectData) -> str:
            return event.value["text"]

        chatbot.example_select(pick_example, None, question, api_name=False).then(
            respond, inputs, [chatbot, answers, sources, question], api_name=False)

        def on_feedback(answered, data: gr.LikeData, request: gr.Request):
            index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
            position = index // 2  # messages alternate user / assistant
            if 0 <= position < len(answered) and data.liked is not None:
                rating = Rating.UP if data.liked is True or data.liked == "Like" else Rating.DOWN
                engine.feedback.record(answered[position], rating, "web", getattr(request, "username", None))

        chatbot.like(on_feedback, [answers], None, api_name=False)

        def add_files(files, progress=gr.Progress(track_tqdm=True)):
            saved, problems = [], []
            for file in files or []:
                path = Path(file if isinstance(file, str) else file.name)
                try:
                    saved.append(store_upload(engine.settings.uploads_dir, path.name, path.read_bytes()))
                except ArticleError as exc:
                    problems.append(str(exc))
            report = engine.ingest(saved, progress=True) if saved else None
            problems += [str(e) for e in (report.errors if report else [])]
            lines = [f"**{html.escape(report.summary())}**"] if report else []
            lines += [f"- ❌ {html.escape(p)}" for p in problems]
            rows = _article_rows(engine)
            return ("\n".join(lines) or "Nothing to add.", rows,
                    gr.update(choices=_article_choices(rows)), gr.update(choices=_source_choices(engine)), None)

        upload.upload(add_files, [upload], [ingest_log, table, to_remove, source_filter, upload], api_name="add_files")

        def remove_article(article_id):
            removed = bool(article_id) and engine.remove_article(article_id)
            note = "Removed." if removed else "Choose an article to remove."
            rows = _article_rows(engine)
            return note, rows, gr.update(choices=_article_choices(rows), value=None)

        remove.click(remove_article, [to_remove], [ingest_log, table, to_remove], api_name="remove_article")
    return demo


def build_app(engine: Engine | None = None) -> FastAPI:
    engine = engine or Engine()
    engine.ensure_examples(progress=False)
    engine.ask("warm up")  # load the models now, not on the first visitor's question
    api = build_api(engine)
    blocks = build_blocks(engine)
    return gr.mount_gradio_app(api, blocks, path="/", auth=_credentials(engine.settings.auth),
                               head=CLICK_SOURCES_JS, css=CSS, footer_links=["api"])


def main(port: int | None = None) -> None:
    import uvicorn

    engine = Engine()
    app = build_app(engine)
    port = port or engine.settings.port
    print(f"article-qa: http://{engine.settings.host}:{port}/  (API: POST /api/ask, /docs)", flush=True)
    uvicorn.run(app, host=engine.settings.host, port=port, log_level="warning")
