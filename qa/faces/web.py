"""The chat page (Gradio) and the JSON API (FastAPI), both over the one Engine.

Security model: with `QA_AUTH=user:password` every endpoint that answers or changes the index needs the
login (HTTP Basic on /api/ask, Gradio's login for the page and /gradio_api). The page ingests only files
the browser uploaded through Gradio's upload route, copied into the index's uploads folder; removing an
article needs an explicit, confirmed choice. Every refusal is a message naming the field, never a traceback."""
from __future__ import annotations

import base64
import binascii
import html
import itertools
import json
import logging
import math
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Literal

import gradio as gr
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.sources.articles import ArticleError
from qa.engine import Engine
from qa.errors import InputError, QAError
from qa.feedback import Rating
from qa.ingest import store_upload
from qa.faces.render import answer_markdown, passages_html, printable, problem_markdown, sources_html
from qa.schema import MAX_QUESTION_CHARS, Answer, Filters, parse_day, validate_question

log = logging.getLogger(__name__)

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



CHAT_CONCURRENCY = 8  # questions answered at once per server (each in its own thread); more queue
MAX_BODY_BYTES = 256 * 1024  # /api/ask: a question, its filters and a conversation fit many times over
MAX_HISTORY_TURNS = 50
MAX_TURN_CHARS = 20_000
MAX_SOURCES = 100
MAX_K = 50
MAX_UPLOAD = "25mb"  # per file, enforced by Gradio's upload route
INDEX_QUEUE = "index-writes"  # uploads and removals: one at a time, never in the questions' queue


# ---------------------------------------------------------------- login

def _credentials(auth: str | None) -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ValueError("QA_AUTH must look like user:password")
    return user, password


def _utf8(text: str) -> bytes:
    """The bytes a client sent for `text` (environment and header values may carry escaped raw bytes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def login_matches(credentials: tuple[str, str], username: str, password: str) -> bool:
    """Both compared in constant time, on UTF-8 bytes (compare_digest refuses non-ASCII str), both always."""
    user_ok = secrets.compare_digest(_utf8(username), _utf8(credentials[0]))
    password_ok = secrets.compare_digest(_utf8(password), _utf8(credentials[1]))
    return user_ok & password_ok


class Utf8HTTPBasic(HTTPBasic):
    """HTTP Basic whose user and password are UTF-8 (RFC 7617); FastAPI's HTTPBasic decodes them as ASCII
    and so refuses every non-ASCII password. Undecodable bytes are kept (surrogate-escaped): they simply
    do not match. Never raises: a missing or malformed header is None, i.e. not logged in."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        scheme, _, param = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            data = base64.b64decode(param.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None
        username, separator, password = data.partition(b":")
        if not separator:
            return None
        return HTTPBasicCredentials(username=username.decode("utf-8", "surrogateescape"),
                                    password=password.decode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------- JSON API models (OpenAPI schema)

def _plain_text(value: str, field_name: str) -> str:
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise InputError(field_name, "contains an unpaired surrogate (not valid Unicode text)")
    if "\x00" in value:
        raise InputError(field_name, "contains a NUL character")
    return value


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN_CHARS)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        return _plain_text(value, "content")


class AskRequest(BaseModel):
    """Strict: types are not coerced ("5" is not a k), unknown fields are refused (a typo would otherwise
    silently drop a filter)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        "examples": [{"question": "What did Sullivan convey?", "date_from": "2021-05-01"}]})

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="Not only whitespace.")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description="The conversation so far, oldest first, for follow-up questions.")
    k: int | None = Field(None, ge=1, le=MAX_K, description="Passages to return (default: the server's top_k).")
    date_from: str | None = Field(None, description="Only articles published on or after this day.",
                                  json_schema_extra={"format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})
    date_to: str | None = Field(None, description="Only articles published on or before this day.",
                                json_schema_extra={"format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})
    sources: list[str] = Field(default_factory=list, max_length=MAX_SOURCES,
                               description="Only these indexed source files (paths as in `passages[].source`).")
    as_of: str | None = Field(None, description="The day the question is asked on (default today): 'this week', "
                              "'on Wednesday', 'latest' are read against it; later articles are hidden.",
                              json_schema_extra={"format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return validate_question(value)

    @field_validator("date_from", "date_to", "as_of")
    @classmethod
    def _day(cls, value: str | None, info) -> str | None:
        return parse_day(_plain_text(value, info.field_name) if value else value, info.field_name)

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        return [_plain_text(source, "sources") for source in value]


class CopyOut(BaseModel):
    """A syndicated copy of the cited article: the same story from another source, stored once."""

    source: str
    title: str | None
    url: str | None
    site: str | None
    published: str | None
    similarity: float
    publisher: str


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
    url: str | None = None
    site: str | None = None
    also_published_by: list[CopyOut] = Field(default_factory=list)


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
    query: str = Field(description="What was searched: the question, or a follow-up made standalone from the "
                                    "user's earlier turns in `history`.")
    answer: str
    short_answer: str | None
    note: str | None = Field(None, description="What the question names that the articles don't mention "
                                               "(\"The articles don't mention a Jordanian foreign minister\"); "
                                               "`answer` then opens with it.")
    abstained: bool
    confidence: float | None
    citations: list[CitationOut]
    passages: list[PassageOut]
    timings_ms: dict[str, float]
    mode: str = Field("extractive", description="Who wrote `answer`: extractive (quoted sentences) or llm "
                                                "(generated sentences, each checked against the sentences it cites).")
    dropped: list[dict] = Field(default_factory=list, description="Generated sentences that failed the check, "
                                "never shown: {sentence, cited, reason}.")
    fallback: str | None = Field(None, description="With an LLM configured: why this answer is extractive.")


class ErrorOut(BaseModel):
    """Every error /api/ask answers: what went wrong, for a program (`error`) and a person (`message`)."""

    error: Literal["invalid_input", "login_required", "index_busy", "index_damaged", "vector_store_unavailable", "llm_unavailable",
                   "body_too_large", "not_found", "method_not_allowed", "bad_request", "internal_error"]
    message: str = Field(description="The sentence to show; for 503s it names the command that fixes it.")
    field: str | None = Field(None, description="The request field at fault, for invalid_input.")


def _error_response(status_code: int, kind: str, message: str, field: str | None = None,
                    headers: dict | None = None) -> JSONResponse:
    body = ErrorOut(error=kind, message=printable(message, 4000), field=field)
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


class _HugeNumber:
    """A JSON integer too long to be a count (Python refuses to parse one of more than 4,300 digits);
    validation then names the field it was given for."""

    __slots__ = ()


_HUGE = _HugeNumber()


def _parse_int(digits: str) -> int | _HugeNumber:
    return int(digits) if len(digits) <= 30 else _HUGE


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _decode_json(body: bytes) -> Any:
    """json.loads, but every malformed body (bad UTF-8, NaN, deep nesting, huge numbers) is a JSON error,
    which FastAPI turns into a 422 for the body rather than a bare 400."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8 text", "", exc.start) from None
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        raise json.JSONDecodeError(str(exc) if isinstance(exc, ValueError) else "nested too deeply", "", 0) from None


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = _decode_json(await self.body())
        return self._json


class _StrictJSONRoute(APIRoute):
    def get_route_handler(self):
        handler = super().get_route_handler()

        async def strict_json_handler(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_json_handler


def _field_name(loc: tuple) -> str:
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _validation_reason(error: dict) -> str:
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "json_invalid":
        return f"not valid JSON ({ctx.get('error', 'decode error')})"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "string_unicode":
        return "contains an unpaired surrogate (not valid Unicode text)"
    if isinstance(error.get("input"), _HugeNumber):
        return "number too large"
    if kind in ("model_type", "model_attributes_type", "dict_type") and len(error.get("loc", ())) <= 1:
        return "expected a JSON object (with Content-Type: application/json)"
    if isinstance(ctx.get("error"), InputError):
        return ctx["error"].reason
    return str(error.get("msg", "invalid"))


def validation_problem(errors) -> tuple[str, str]:
    """(field, message) for a list of pydantic errors; the message covers them all and never echoes input."""
    problems, first = [], None
    for error in errors:
        loc = tuple(error.get("loc", ()))
        field = "body" if error.get("type") == "json_invalid" else _field_name(loc)
        if error.get("type") == "extra_forbidden" and loc[:1] == ("body",) and len(loc) == 2:
            allowed = ", ".join(AskRequest.model_fields)
            problems.append(f"{field}: unknown field (allowed: {allowed})")
        else:
            problems.append(f"{field}: {_validation_reason(error)}")
        first = first or field
    return first or "body", "; ".join(dict.fromkeys(problems)) or "body: invalid request"


def _known_sources(engine: Engine, sources) -> tuple[str, ...]:
    """The requested sources, each one the index holds: an unknown one would only ever abstain."""
    if sources is None or sources == "":
        return ()
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, (list, tuple)) or not all(isinstance(s, str) for s in sources):
        raise InputError("sources", "expected a list of source paths")
    if len(sources) > MAX_SOURCES:
        raise InputError("sources", f"at most {MAX_SOURCES}")
    if not sources:
        return ()
    known = set(engine.store.catalog.source_paths())
    unknown = [s for s in sources if s not in known]
    if unknown:
        raise InputError("sources", f"not an indexed source: {printable(unknown[0], 200)!r}")
    return tuple(sources)


class _DeclaredBodyLimit:
    """A request whose declared Content-Length exceeds the limit is answered 413 before any of it is read
    (a chunked body is counted by the route's max_body_size, whose 413 the API's handler words).
    Plain ASGI, so the Gradio app mounted beside it streams untouched."""

    def __init__(self, app, paths: tuple[str, ...], limit: int):
        self.app, self.paths, self.limit = app, paths, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path") in self.paths:
            length = Headers(scope=scope).get("content-length")
            if length is not None and (not length.isdigit() or len(length) > 15 or int(length) > self.limit):
                response = _error_response(413, "body_too_large", f"body: larger than {self.limit} bytes", "body")
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def _error_responses(login: bool) -> dict:
    described = {
        409: "The index is being changed by another writer and the request could not wait.",
        413: f"The request body is larger than {MAX_BODY_BYTES} bytes.",
        422: "A field is invalid: `field` names it, `message` says why.",
        503: "The index is damaged, its Chroma server is unreachable, or the configured LLM cannot be used; "
             "`message` names the fix.",
    }
    if login:
        described[401] = "Login required (HTTP Basic, UTF-8 user and password)."
    return {code: {"model": ErrorOut, "description": text} for code, text in sorted(described.items())}


def build_api(engine: Engine) -> FastAPI:
    api = FastAPI(title="article-qa", description="Questions about news articles, answered with verbatim quotes.")
    api.router.route_class = _StrictJSONRoute
    credentials = _credentials(engine.settings.auth)
    basic = Utf8HTTPBasic(auto_error=False, scheme_name="HTTPBasic", realm="article-qa",
                          description="The QA_AUTH user and password.")

    def require_login(given: HTTPBasicCredentials | None = Depends(basic)) -> None:
        if given is None or not login_matches(credentials, given.username, given.password):
            raise StarletteHTTPException(401, "login required",
                                         headers={"WWW-Authenticate": 'Basic realm="article-qa", charset="UTF-8"'})

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        field, message = validation_problem(exc.errors())
        return _error_response(422, "invalid_input", message, field)

    @api.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        return _error_response(exc.http_status, exc.kind, str(exc), getattr(exc, "field", None))

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {401: "login_required", 404: "not_found", 405: "method_not_allowed",
                413: "body_too_large"}.get(exc.status_code, "bad_request")
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
        if exc.status_code == 413:
            message = f"body: larger than {MAX_BODY_BYTES} bytes"
        return _error_response(exc.status_code, kind, message, "body" if exc.status_code == 413 else None,
                               headers=getattr(exc, "headers", None))

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:  # a bug: there is no known path here
        log.error("unexpected error answering %s", request.url.path, exc_info=exc)
        return _error_response(500, "internal_error", "Internal error; it has been logged.")

    api.add_middleware(_DeclaredBodyLimit, paths=("/api/ask", "/api/ask/stream"), limit=MAX_BODY_BYTES)

    @api.post("/api/ask", response_model=AnswerOut, responses=_error_responses(credentials is not None),
              dependencies=[Depends(require_login)] if credentials else [], max_body_size=MAX_BODY_BYTES)
    def ask(request: AskRequest) -> Any:
        """The same object as `qa ask --json`. Errors are an ErrorOut: 422 names the field."""
        filters = Filters(request.date_from, request.date_to, _known_sources(engine, request.sources))
        history = [turn.model_dump() for turn in request.history]
        try:
            return engine.ask(request.question, history=history, k=request.k, filters=filters,
                              as_of=request.as_of).to_dict()
        except QAError:
            raise  # its status and message (the handler above)
        except Exception:  # a bug: logged, answered as JSON
            log.exception("unexpected error answering /api/ask")
            return _error_response(500, "internal_error", "Internal error; it has been logged.")

    @api.post("/api/ask/stream", responses=_error_responses(credentials is not None),
              dependencies=[Depends(require_login)] if credentials else [], max_body_size=MAX_BODY_BYTES,
              response_class=StreamingResponse)
    def ask_stream(request: AskRequest) -> Any:
        """The answer as it is made, as NDJSON: one `{"type": "sentence", "sentence", "citations"}` line per
        sentence as soon as it may be shown (a generated one once it has passed the check; never withdrawn),
        then `{"type": "answer", "answer": {...}}` (the /api/ask object). Bad input is refused before the
        stream starts, with /api/ask's errors; a failure later ends it with `{"type": "error", ...}`."""
        filters = Filters(request.date_from, request.date_to, _known_sources(engine, request.sources))
        history = [turn.model_dump() for turn in request.history]
        events = engine.stream(request.question, history=history, k=request.k, filters=filters,
                               as_of=request.as_of)
        first = next(events)  # input, index and LLM errors surface here, as an ordinary error response

        def lines():
            try:
                for event in itertools.chain([first], events):
                    if isinstance(event, Answer):
                        row = {"type": "answer", "answer": event.to_dict()}
                    else:
                        row = {"type": "sentence", "sentence": event.sentence,
                               "citations": [c.to_dict() for c in event.citations]}
                    yield json.dumps(row, ensure_ascii=False) + "\n"
            except QAError as exc:
                yield json.dumps({"type": "error", "error": exc.kind, "message": str(exc)}) + "\n"
            except Exception:
                log.exception("unexpected error streaming /api/ask/stream")
                yield json.dumps({"type": "error", "error": "internal_error",
                                  "message": "Internal error; it has been logged."}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @api.get("/api/quotes", responses=_error_responses(credentials is not None),
             dependencies=[Depends(require_login)] if credentials else [])
    def quotes(speaker: str | None = None, limit: int = 100) -> Any:
        """Who said what: the quotes read out of the articles, newest first, each with its speaker's
        resolved name and title, the article's date and the quote's offsets; `speaker` a name, surname
        or body. The same objects as `qa quotes --json`; 422 names a bad parameter."""
        return {"speaker": speaker, "quotes": engine.quotes(speaker, limit=limit)}

    return api


# ---------------------------------------------------------------- the page

def _article_rows(engine: Engine) -> list[list]:
    try:
        articles = engine.store.catalog.articles()
    except Exception as exc:  # a damaged or busy index still shows the page; the questions say why
        log.warning("cannot list the articles: %s", exc)
        return []
    return [[a.title or Path(a.source or "").name or a.id, a.published or "", a.chunks, Path(a.source or "").name,
             a.id] for a in articles]


def _article_choices(rows: list[list]) -> list[tuple[str, str]]:
    return [(f"{row[0]} ({row[1] or 'no date'})", row[4]) for row in rows]


def _source_choices(engine: Engine) -> list[tuple[str, str]]:
    try:
        return [(Path(p).name, p) for p in engine.store.catalog.source_paths()]
    except Exception as exc:
        log.warning("cannot list the sources: %s", exc)
        return []


def _slider_k(value) -> int | None:
    """The Passages slider's value as a count: JSON gives 5 or 5.0; anything else is refused by name."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError("k", f"expected a whole number of passages, got {type(value).__name__}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise InputError("k", "expected a whole number of passages")
    if not 1 <= value <= MAX_K:
        raise InputError("k", f"must be between 1 and {MAX_K}")
    return int(value)


def _answer_mode(value) -> str:
    if value is None or value == "":
        return ANSWER_WITH_QUOTES
    if value not in (ANSWER_WITH_QUOTES, PASSAGES_ONLY):
        raise InputError("mode", f"expected {ANSWER_WITH_QUOTES!r} or {PASSAGES_ONLY!r}")
    return value


def _is_uploaded(path: str, demo: gr.Blocks) -> bool:
    """Gradio records every file its upload route stored; only those count (a file Gradio fetched from a
    URL, or one that merely sits in its cache folder, was not uploaded from the page)."""
    uploaded = getattr(demo, "upload_file_set", None)
    if uploaded is None:  # pragma: no cover - a Gradio without the record: the folder check below remains
        return True
    return path in uploaded or os.path.abspath(path) in uploaded


def read_upload(path: object, demo: gr.Blocks) -> tuple[str, bytes]:
    """(file name, content) of a file the browser uploaded (through Gradio's upload route), else an
    ArticleError naming it.

    Only a regular file inside Gradio's upload folder, recorded by its upload route, is read; a symlink
    or anything else is refused before it is opened."""
    if not isinstance(path, str) or not path:
        raise ArticleError("(upload)", "not an uploaded file")
    name = printable(Path(path).name or path, 200)
    refused = ArticleError(name, "refused: not a file uploaded from this page; nothing was read")
    if not _is_uploaded(path, demo):
        raise refused
    root = Path(os.path.abspath(gr.utils.get_upload_folder())).resolve()
    candidate = Path(os.path.abspath(path))
    try:
        info = os.lstat(candidate)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
            raise refused
        if not candidate.resolve(strict=True).is_relative_to(root):
            raise refused
        fd = os.open(candidate, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise ArticleError(name, "the upload is gone; upload it again") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise refused
        return Path(path).name, handle.read()


def render_quotes(quotes: list[dict], who: str | None = None) -> str:
    """The "Who said what" list as HTML; every piece of article text escaped."""
    if not quotes:
        named = f" by {html.escape(printable(who, 200))}" if who and who.strip() else ""
        return f"<p>No quotes{named} in the articles.</p>"
    items = []
    for q in quotes:
        e = lambda value: html.escape(str(value or ""))  # noqa: E731
        role = f" <span class='role'>({e(q['role'])})</span>" if q["role"] else ""
        via = f", via {e(q['via'])}" if q["via"] else ""
        date = f" ({e(q['published'])})" if q["published"] else ""
        items.append(f"<li class='quote'><b class='speaker'>{e(q['speaker'])}</b>{role}, {e(q['cue'])}{via}: "
                     f"“{e(q['quote'])}”<br><small>{e(q['title'] or q['article_id'])}{date}, chars "
                     f"{int(q['start'])}-{int(q['end'])}</small></li>")
    return "<ul class='quotes'>" + "".join(items) + "</ul>"


def build_blocks(engine: Engine) -> gr.Blocks:
    with gr.Blocks(title="article-qa") as demo:
        gr.Markdown("## article-qa\nAsk about the indexed news articles. Every sentence of an answer cites a "
                    "verbatim quote; click a **[n]** to see it in its passage.")
        # The Answer dicts behind the assistant messages, one per question (None for a refused one).
        answers = gr.State([])
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        label="Chat", height=520, examples=[{"text": q} for q in EXAMPLES],
                        placeholder="Ask a question about the articles, or pick an example.",
                        feedback_options=("Like", "Dislike"),
                    )
                    question = gr.Textbox(placeholder="Ask about the articles…", show_label=False, submit_btn=True,
                                          elem_id="question", max_length=MAX_QUESTION_CHARS)
                with gr.Column(scale=2):
                    sources = gr.HTML("<p>Sources appear here.</p>", label="Sources", elem_id="sources")
            with gr.Accordion("Settings", open=False):
                with gr.Row():
                    k = gr.Slider(1, 20, value=engine.settings.top_k, step=1, label="Passages")
                    mode = gr.Radio([ANSWER_WITH_QUOTES, PASSAGES_ONLY], value=ANSWER_WITH_QUOTES, label="Answer mode")
                with gr.Row():
                    date_from = gr.Textbox(label="Published from (YYYY-MM-DD)")
                    date_to = gr.Textbox(label="Published until (YYYY-MM-DD)")
                    source_filter = gr.Dropdown(choices=_source_choices(engine), value=[], multiselect=True,
                                                label="Only these sources")
                    as_of_day = gr.Textbox(label="As of (YYYY-MM-DD; empty: today)", elem_id="as-of",
                                           info="Read 'this week', 'on Wednesday', 'latest' as on this day; "
                                                "later articles are hidden.")
        with gr.Tab("Articles"):
            rows = _article_rows(engine)
            table = gr.Dataframe(value=rows, headers=["title", "date", "chunks", "file", "id"],
                                 interactive=False, label="Indexed articles")
            upload = gr.File(file_count="multiple", type="filepath",
                             label="Add articles (.txt .md .html .pdf .jsonl .rss .atom .xml)")
            ingest_log = gr.Markdown()
            with gr.Row():
                to_remove = gr.Dropdown(choices=_article_choices(rows), value=None, label="Remove an article")
                confirm = gr.Checkbox(value=False, label="Yes, remove it from the index")
                remove = gr.Button("Remove", variant="stop")

        with gr.Tab("Who said what"):
            with gr.Row():
                speaker = gr.Textbox(label="Speaker", placeholder="a name or surname (Blinken), or a body "
                                     "(State Department); empty for everyone", elem_id="speaker", max_length=200)
                show_quotes = gr.Button("Show quotes", elem_id="show-quotes")
            quote_list = gr.HTML("<p>Quotes appear here.</p>", elem_id="quotes")

        def list_quotes(who=None):
            """A speaker's quotes (or everyone's), newest first: speaker, title, the quote, article and date."""
            if who is not None and not isinstance(who, str):
                return "<p>⚠️ speaker: expected text.</p>"
            try:
                found = engine.quotes((who or "").strip() or None, limit=200)
            except QAError as exc:
                return f"<p>⚠️ {html.escape(printable(exc))}</p>"
            except Exception:
                log.exception("unexpected error listing quotes")
                return "<p>⚠️ Something went wrong listing the quotes; it has been logged.</p>"
            return render_quotes(found, who)

        speaker.submit(list_quotes, [speaker], [quote_list], api_name="quotes", preprocess=False)
        show_quotes.click(list_quotes, [speaker], [quote_list], api_name=False, preprocess=False)

        # preprocess=False: the values arrive as sent, so that every one, whatever its type, is checked
        # here and refused with a ⚠️ naming it, instead of failing in a component before the chat sees it.
        def respond(message="", history=None, answered=None, k_value=None, start=None, end=None, chosen=None,
                    answer_mode=None, as_of=None):
            history = list(history) if isinstance(history, list) else []
            answered = list(answered or [])
            shown = html.escape(printable(message, MAX_QUESTION_CHARS)) if isinstance(message, str) else ""
            history.append({"role": "user", "content": shown.strip() or "…"})

            def refused(text: str):
                return (history + [{"role": "assistant", "content": text}], answered + [None], gr.skip(), "")

            try:
                text = validate_question(message)
                n = _slider_k(k_value)
                answer_mode = _answer_mode(answer_mode)
                filters = Filters(start, end, _known_sources(engine, chosen))
                as_of = parse_day(as_of, "as of")
            except QAError as exc:
                yield refused(problem_markdown(exc))
                return
            yield history + [{"role": "assistant", "content": "_Searching the articles…_"}], answered, gr.skip(), ""
            turns = []
            for previous in answered:
                if previous:
                    turns += [{"role": "user", "content": previous["question"]},
                              {"role": "assistant", "content": previous["answer"]}]
            try:
                if answer_mode != PASSAGES_ONLY and engine.llm is not None:
                    # Generated answers: each sentence shown once it has passed the check, never withdrawn.
                    answer, shown_so_far = None, []
                    for event in engine.stream(text, history=turns, k=n, filters=filters, as_of=as_of):
                        if isinstance(event, Answer):
                            answer = event
                        else:
                            shown_so_far.append(event)
                            partial = Answer(question=text, text=" ".join(e.sentence for e in shown_so_far),
                                             abstained=False,
                                             citations=[c for e in shown_so_far for c in e.citations])
                            yield (history + [{"role": "assistant", "content": answer_markdown(partial)}], answered,
                                   gr.skip(), "")
                    reply, panel = answer_markdown(answer), sources_html(answer)
                    yield (history + [{"role": "assistant", "content": reply}], answered + [answer.to_dict()], panel,
                           "")
                    return
                answer = engine.ask(text, history=turns, k=n, filters=filters, as_of=as_of)
                if answer_mode == PASSAGES_ONLY:
                    reply = f"Top {len(answer.passages)} passages are in the sources panel."
                    panel = passages_html(answer.passages, "Passages, best first:", limit=len(answer.passages),
                                          clip=None)
                else:
                    reply, panel = answer_markdown(answer), sources_html(answer)
            except QAError as exc:
                yield refused(problem_markdown(exc))
                return
            except Exception:
                log.exception("unexpected error answering a question on the page")
                yield refused(problem_markdown("Something went wrong answering this question; it has been logged."))
                return
            words = reply.split(" ")
            for i in range(STREAM_WORDS, len(words), STREAM_WORDS):  # answers appear progressively
                yield history + [{"role": "assistant", "content": " ".join(words[:i])}], answered, gr.skip(), ""
            yield (history + [{"role": "assistant", "content": reply}], answered + [answer.to_dict()], panel, "")

        # The as-of day reaches the chat through a State: the /chat API keeps its parameters (a client
        # written before the setting existed still works), and the page sends what the box holds.
        as_of_state = gr.State(None)
        as_of_day.change(lambda day: day, [as_of_day], [as_of_state], api_name=False, queue=False)
        inputs = [question, chatbot, answers, k, date_from, date_to, source_filter, mode, as_of_state]
        outputs = [chatbot, answers, sources, question]
        question.submit(respond, inputs, outputs, api_name="chat", preprocess=False, concurrency_id="chat")

        def pick_example(event: gr.SelectData) -> str:
            return event.value["text"]

        chatbot.example_select(pick_example, None, question, api_name=False).then(
            respond, inputs, outputs, api_name=False, preprocess=False, concurrency_id="chat")

        def on_feedback(answered, data: gr.LikeData, request: gr.Request):
            try:
                index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
                position = int(index) // 2  # messages alternate user / assistant
                answer = answered[position] if 0 <= position < len(answered or []) else None
                if answer and data.liked is not None:
                    rating = Rating.UP if data.liked is True or data.liked == "Like" else Rating.DOWN
                    engine.feedback.record(answer, rating, "web", getattr(request, "username", None))
            except Exception:
                log.exception("cannot record feedback")

        chatbot.like(on_feedback, [answers], None, api_name=False)

        def listing():
            rows = _article_rows(engine)
            return rows, gr.update(choices=_article_choices(rows)), gr.update(choices=_source_choices(engine))

        def add_files(files=None, progress=gr.Progress()):
            """Ingest the files uploaded with this request (copied into the index's uploads folder)."""
            saved, problems, summary = [], [], None
            try:
                for file in files if isinstance(files, list) else [files] if files else []:
                    try:
                        name, content = read_upload(file, demo)
                        saved.append(store_upload(engine.settings.uploads_dir, name, content))
                    except ArticleError as exc:
                        problems.append(str(exc))
                if saved:
                    progress(0.1, desc=f"Indexing {len(saved)} file(s)…")
                    try:
                        report = engine.ingest_uploads(saved)
                        summary = report.summary()
                        problems += [str(e) for e in report.errors]
                    except QAError as exc:
                        problems.append(str(exc))
            except Exception:
                log.exception("unexpected error adding files")
                problems.append("Something went wrong adding the files; it has been logged.")
            lines = [f"**{html.escape(summary)}**"] if summary else []
            lines += [f"- ❌ {html.escape(printable(p, 1000))}" for p in problems]
            return ("\n".join(lines) or "Nothing to add: upload a file first.", *listing(), None)

        upload.upload(add_files, [upload], [ingest_log, table, to_remove, source_filter, upload], api_name="add_files",
                      concurrency_limit=1, concurrency_id=INDEX_QUEUE)

        # preprocess=False: an id not offered in this page's list (a stale page, an API caller) reaches the
        # check below and is answered, instead of failing in the dropdown.
        def remove_article(article_id=None, confirmed=False):
            """Remove one article; only with its id and the confirmation ticked."""
            if not isinstance(article_id, str) or not article_id.strip():
                note = "Choose an article to remove; nothing was removed."
            elif confirmed is not True:
                note = "Tick “Yes, remove it from the index” to confirm; nothing was removed."
            else:
                try:
                    removed = engine.remove_article(article_id.strip())
                    note = "Removed." if removed else (
                        f"No article has the id {printable(article_id, 80)!r}; nothing was removed.")
                except QAError as exc:
                    note = f"{printable(exc)} Nothing was removed."
                except Exception:
                    log.exception("unexpected error removing an article")
                    note = "Something went wrong removing the article; it has been logged. Nothing was removed."
            rows = _article_rows(engine)
            return html.escape(note, quote=False), rows, gr.update(choices=_article_choices(rows), value=None), False

        remove.click(remove_article, [to_remove, confirm], [ingest_log, table, to_remove, confirm],
                     api_name="remove_article", preprocess=False, concurrency_limit=1, concurrency_id=INDEX_QUEUE)

        # A page opened after uploads or removals lists the index as it is now, not as it was at start.
        demo.load(listing, None, [table, to_remove, source_filter], api_name=False)
    demo.queue(default_concurrency_limit=CHAT_CONCURRENCY)
    return demo


def _warm_up(engine: Engine) -> None:
    """Index the samples on a fresh install and load the models now, not on the first visitor's question.
    A damaged index or an unreachable Chroma still starts the server: every question then says why."""
    try:
        engine.ensure_examples(progress=False)
        engine.ask("warm up")
        engine.llm  # a configured LLM is loaded (a local model) or named wrong now, not at the first question
    except QAError as exc:
        log.warning("%s", exc)
        print(f"article-qa: {printable(exc)}", flush=True)


def build_app(engine: Engine | None = None) -> FastAPI:
    engine = engine or Engine()
    _warm_up(engine)
    api = build_api(engine)
    blocks = build_blocks(engine)
    credentials = _credentials(engine.settings.auth)
    auth = (lambda username, password: login_matches(credentials, username, password)) if credentials else None
    app = gr.mount_gradio_app(api, blocks, path="/", auth=auth, head=CLICK_SOURCES_JS, css=CSS,
                              footer_links=["api"], max_file_size=MAX_UPLOAD, show_error=True)
    # Gradio checks that a file an API caller names was uploaded (and refuses it, unread, otherwise) only
    # once the Blocks "has launched", which launch() records and mount_gradio_app does not: without this,
    # any server file named in a request is copied into Gradio's cache and handed to add_files.
    blocks.has_launched = True
    return app


def main(port: int | None = None) -> None:
    import uvicorn

    engine = Engine()
    engine.serve()
    app = build_app(engine)
    port = port or engine.settings.port
    print(f"article-qa: http://{engine.settings.host}:{port}/  (API: POST /api/ask, /docs)", flush=True)
    uvicorn.run(app, host=engine.settings.host, port=port, log_level="warning")
