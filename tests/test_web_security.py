"""The page and the API as an attacker calls them: made-up server paths, unconfirmed removals, bad input of
every kind, logins with non-ASCII passwords; and what each answers (a message naming the field or the fix,
never a traceback or a 500). Most tests run the real app in this process over a fake Engine (fast, and
the engine's errors can be chosen); the attack on uploads also runs against the real server and index."""
from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from conftest import EXAMPLES
from helpers import serve_in_thread, start_app, stop
from qa.store.catalog import ArticleSummary
from qa.config import Settings
from qa.errors import IndexBusyError, IndexDamagedError, InputError, VectorStoreUnavailable
from qa.ingest import IngestReport
from qa.schema import Answer
from qa.faces.web import ErrorOut, build_api, build_app, build_blocks, login_matches

FILE_META = {"_type": "gradio.FileData"}
SECRET_TEXT = "The vault code of the Harbor Bank is 4417-ZULU, said the night guard."
PASSWORD = "pässwörd✓"


# ---------------------------------------------------------------- a fake engine and an in-process server

class FakeCatalog:
    def __init__(self, engine: "FakeEngine"):
        self.engine = engine

    def articles(self):
        return [ArticleSummary(i, title, "2021-05-12", source, None, 1)
                for i, (title, source) in self.engine.articles.items()]

    def source_paths(self):
        return sorted({source for _, source in self.engine.articles.values()})


class FakeEngine:
    """What the page and the API call of an Engine; `error` is raised by ask, `delay` slows it."""

    def __init__(self, tmp: Path, auth: str | None = None):
        self.settings = Settings(index_dir=tmp / "index", auto_index_examples=False, auth=auth)
        self.articles = {"a1": ("Sullivan call", "/srv/articles/sullivan.txt")}
        self.store = SimpleNamespace(catalog=FakeCatalog(self))
        self.feedback = SimpleNamespace(record=lambda *args, **kwargs: None)
        self.llm = None  # answers are extractive (QA_LLM=none)
        self.error: Exception | None = None
        self.delay = self.ingest_delay = 0.0
        self.asked: list[tuple] = []
        self.ingested: list[list[Path]] = []
        self.removed: list[str] = []

    def ensure_examples(self, progress=False):
        return None

    def ask(self, question, history=None, k=None, filters=None, as_of=None):
        self.asked.append((question, k, filters))
        self.as_of = as_of
        time.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return Answer(question, "The articles don't say.", True)

    def quotes(self, speaker=None, limit=100):
        self.quoted = (speaker, limit)
        return [{"speaker": "<b>Ned</b> Price", "role": None, "cue": "said", "via": None, "quote": "<img src=x>",
                 "title": None, "article_id": "a1", "published": None, "start": 0, "end": 12}]

    def ingest_uploads(self, paths):
        paths = list(paths)
        self.ingested.append(paths)
        time.sleep(self.ingest_delay)
        return IngestReport(files_seen=len(paths), files_ingested=len(paths))

    def remove_article(self, article_id):
        self.removed.append(article_id)
        return self.articles.pop(article_id, None) is not None


@pytest.fixture(scope="module")
def gradio_cache(tmp_path_factory):
    """Gradio's upload folder for this module's servers (GRADIO_TEMP_DIR), so tests can look inside it."""
    folder = tmp_path_factory.mktemp("gradio-cache")
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = before


@pytest.fixture(scope="module")
def page(tmp_path_factory, gradio_cache):
    """The whole app (page + API) over a FakeEngine, served in this process."""
    tmp = tmp_path_factory.mktemp("page")
    engine = FakeEngine(tmp)
    server, url = serve_in_thread(build_app(engine))
    yield SimpleNamespace(engine=engine, url=url, tmp=tmp, cache=gradio_cache)
    server.should_exit = True


@pytest.fixture
def fresh(page):
    """The page's engine reset between tests."""
    engine = page.engine
    engine.error, engine.delay, engine.ingest_delay = None, 0.0, 0.0
    engine.asked.clear(), engine.ingested.clear(), engine.removed.clear()
    engine.articles = {"a1": ("Sullivan call", "/srv/articles/sullivan.txt")}
    return page


def client_for(url: str, **kwargs):
    from gradio_client import Client

    return Client(url + "/", verbose=False, **kwargs)


def call_raw(url: str, api_name: str, body: str | dict, cookies: dict | None = None) -> tuple[int, str]:
    """POST /gradio_api/call/<api>, then read its event stream: (HTTP status, the stream's text)."""
    data = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(f"{url}/gradio_api/call/{api_name}", content=data, cookies=cookies,
                          headers={"content-type": "application/json"}, timeout=30)
    if response.status_code != 200:
        return response.status_code, response.text
    event_id = response.json()["event_id"]
    stream = httpx.get(f"{url}/gradio_api/call/{api_name}/{event_id}", cookies=cookies, timeout=60)
    return stream.status_code, stream.text


def join_queue(url: str, fn_index: int, data: list, cookies: dict | None = None) -> tuple[int, list[dict]]:
    """POST /gradio_api/queue/join as the page does, then follow /queue/data to the event's end."""
    session = "attacker" + str(time.monotonic_ns())
    joined = httpx.post(f"{url}/gradio_api/queue/join", cookies=cookies, timeout=30, json={
        "data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
    if joined.status_code != 200:
        return joined.status_code, []
    messages = []
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, cookies=cookies,
                      timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                if messages[-1].get("msg") == "process_completed":
                    break
    return joined.status_code, messages


def fn_index(url: str, api_name: str) -> int:
    config = httpx.get(f"{url}/config", timeout=30).json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def last_message(messages) -> str:
    content = messages[-1]["content"]
    return content[0]["text"] if isinstance(content, list) else content


@pytest.fixture
def remote_client(monkeypatch):
    """gradio_client as a remote attacker uses it: a FileData naming a server path is sent as it is (the
    real client would upload the file from its own disk, which here is the server's)."""
    from gradio_client.client import Endpoint

    monkeypatch.setattr(Endpoint, "_upload_file", lambda self, f, data_index: f)
    return client_for


def plant_secret(tmp: Path) -> Path:
    secret = tmp / "secret-notes.txt"
    secret.write_text(f"Title: Harbor Bank\n\n{SECRET_TEXT}\n")
    return secret


def secret_copies(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and "4417-ZULU" in p.read_text(
        errors="ignore")]


# ---------------------------------------------------------------- uploads: only what the browser uploaded

def test_made_up_server_path_is_refused_unread(fresh, remote_client):
    url, engine, tmp = fresh.url, fresh.engine, fresh.tmp
    secret = plant_secret(tmp)
    for path in (str(secret), f"{fresh.cache}/../{secret.relative_to(secret.anchor)}", str(fresh.cache / ".." / ".."
                                                                                           / secret.name)):
        status, stream = call_raw(url, "add_files", {"data": [[{"path": path, "meta": FILE_META}]]})
        assert status == 200 and "event: error" in stream and "not uploaded by a user" in stream
        assert "event: complete" not in stream
    # Without Gradio's file marker the value is no file at all.
    status, stream = call_raw(url, "add_files", {"data": [[str(secret)]]})
    assert "event: error" in stream
    # The page's own transport: queue/join + queue/data.
    status, messages = join_queue(url, fn_index(url, "add_files"), [[{"path": str(secret), "meta": FILE_META}]])
    assert status == 200 and messages[-1]["msg"] == "process_completed" and messages[-1]["success"] is False
    assert "not uploaded by a user" in messages[-1]["output"]["error"]
    # gradio_client, naming a server path instead of uploading a file.
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not uploaded by a user"):
        remote_client(url).predict([{"path": str(secret), "meta": FILE_META}], api_name="/add_files")
    assert engine.ingested == [] and not engine.settings.uploads_dir.exists()
    assert secret_copies(fresh.cache) == []  # never read: not even copied into Gradio's cache


def test_a_server_path_in_the_chat_history_is_refused_unread(fresh):
    # Any component's value may carry a file: the chat history, too. Gradio would copy it into its cache and
    # serve it back at /gradio_api/file=…, had the page not marked itself launched (see qa.faces.web.build_app).
    secret = plant_secret(fresh.tmp)
    history = [{"role": "user", "content": [{"type": "file", "file": {"path": str(secret), "meta": FILE_META}}]}]
    status, stream = call_raw(fresh.url, "chat", {"data": ["Who?", history, 5, "", "", [], None]})
    assert "event: error" in stream and "not uploaded by a user" in stream
    assert secret_copies(fresh.cache) == [] and fresh.engine.asked == []


def test_files_in_the_cache_but_not_uploaded_and_symlinks_are_refused(fresh, remote_client):
    url, engine, cache = fresh.url, fresh.engine, fresh.cache
    secret = plant_secret(fresh.tmp)
    planted = cache / "planted" / "notes.txt"  # a file that is in Gradio's folder without having been uploaded
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(SECRET_TEXT)
    link = cache / "planted" / "link.txt"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    log, *_ = remote_client(url).predict([{"path": str(planted), "meta": FILE_META}], api_name="/add_files")
    assert "notes.txt" in log and "refused" in log and "nothing was read" in log
    status, stream = call_raw(url, "add_files", {"data": [[{"path": str(link), "meta": FILE_META}]]})
    assert "event: error" in stream or "refused" in stream
    assert engine.ingested == [] and not engine.settings.uploads_dir.exists()


def test_uploaded_files_are_copied_into_the_uploads_folder(fresh):
    from gradio_client import handle_file

    url, engine, tmp = fresh.url, fresh.engine, fresh.tmp
    good = tmp / "harbor.md"
    good.write_text("# Harbor ferry returns\n\nThe ferry resumed service on Monday.\n")
    odd = tmp / "notes.exe"
    odd.write_text("not an article")
    log, *_ = client_for(url).predict([handle_file(str(good)), handle_file(str(odd))], api_name="/add_files")
    uploads = engine.settings.uploads_dir
    assert engine.ingested == [[uploads / "harbor.md"]]
    assert (uploads / "harbor.md").read_text() == good.read_text() and not (uploads / "notes.exe").exists()
    assert "1 file(s) ingested" in log and "notes.exe" in log and "unsupported file type" in log


# ---------------------------------------------------------------- removal needs an explicit choice

def test_remove_needs_an_id_and_the_confirmation(fresh):
    url, engine = fresh.url, fresh.engine
    client = client_for(url)
    note, table, _, ticked = client.predict(api_name="/remove_article")  # only the required arguments: none
    assert "nothing was removed" in note and ticked is False
    assert "nothing was removed" in client.predict("", True, api_name="/remove_article")[0]
    assert "Tick" in client.predict("a1", api_name="/remove_article")[0]  # no confirmation
    assert "Tick" in client.predict("a1", "yes", api_name="/remove_article")[0]  # only True confirms
    assert engine.removed == [] and "a1" in engine.articles
    note = client.predict("no-such-id", True, api_name="/remove_article")[0]
    assert "No article has the id 'no-such-id'; nothing was removed." == note
    status, stream = call_raw(url, "remove_article", {"data": [None, None]})
    assert "event: complete" in stream and "nothing was removed" in stream
    assert "a1" in engine.articles
    note, table, *_ = client.predict("a1", True, api_name="/remove_article")
    assert note == "Removed." and engine.removed[-1] == "a1" and table["data"] == []


# ---------------------------------------------------------------- every endpoint with its required arguments only

def test_every_endpoint_runs_with_only_its_required_arguments(fresh):
    client = client_for(fresh.url)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {"/chat", "/add_files", "/remove_article", "/quotes"}
    meaningful = {"message": "Who did Blinken speak with?"}
    for name, info in endpoints.items():
        required = [p["parameter_name"] for p in info["parameters"] if not p["parameter_has_default"]]
        assert set(required) <= set(meaningful), (name, required)
        result = client.predict(*[meaningful[p] for p in required], api_name=name)
        assert result is not None
    assert fresh.engine.removed == [] and fresh.engine.ingested == []
    assert fresh.engine.asked[-1][:2] == ("Who did Blinken speak with?", 5)


# ---------------------------------------------------------------- the chat refuses bad input by name

@pytest.mark.parametrize("args, field", [
    (("   ",), "question: empty question"),
    (("x" * 2001,), "question: too long"),
    (("Who?", [], 5, "2021-13-45"), "date_from: '2021-13-45' is not a real calendar date"),
    (("Who?", [], 5, "9999-99-99"), "date_from: '9999-99-99' is not a real calendar date"),
    (("Who?", [], 5, "2021-5-1"), "date_from: '2021-5-1' is not a date in the form YYYY-MM-DD"),
    (("Who?", [], 5, "", "2021-02-30"), "date_to: '2021-02-30' is not a real calendar date"),
    (("Who?", [], 5, "2021-06-01", "2021-05-01"), "date_to: 2021-05-01 is before date_from"),
    (("Who?", [], 1000), "k: must be between 1 and 50"),
    (("Who?", [], 2.5), "k: expected a whole number"),
    (("Who?", [], "five"), "k: expected a whole number of passages, got str"),
    (("Who?", [], 5, "", "", ["/etc/passwd"]), "sources: not an indexed source: '/etc/passwd'"),
    (("Who?", [], 5, "", "", [], "Everything"), "mode: expected"),
])
def test_chat_refuses_bad_input_with_a_warning_naming_the_field(fresh, args, field):
    messages, sources, box = client_for(fresh.url).predict(*args, api_name="/chat")
    text = last_message(messages)
    assert text.startswith("⚠️") and field in text.replace("&#x27;", "'")
    assert fresh.engine.asked == []  # refused before the engine


def test_chat_refuses_what_only_raw_json_can_carry(fresh):
    url = fresh.url
    status, stream = call_raw(url, "chat", '{"data": ["\\ud800 who?", [], 5, "", "", [], "Answer with quotes"]}')
    assert status == 200 and "event: complete" in stream and "question: contains an unpaired surrogate" in stream
    status, stream = call_raw(url, "chat", '{"data": [12345, [], 5, "", "", [], "Answer with quotes"]}')
    assert "question: expected text, got int" in stream
    status, stream = call_raw(url, "chat", '{"data": ["Who?", [], 5, "", "", {"a": 1}, null]}')
    assert "sources: expected a list of source paths" in stream
    status, stream = call_raw(url, "chat", '{"data": ["Who?", [], true, "", "", [], null]}')
    assert "k: expected a whole number of passages, got bool" in stream
    status, stream = call_raw(url, "chat", '{"data": ["Who?", [], 5, {"a": 1}, "", [], null]}')
    assert "date_from: expected a date as YYYY-MM-DD text, got dict" in stream
    # A number too long for Python's int is refused by Gradio's own request parsing: a 4xx, no traceback.
    status, text = call_raw(url, "chat", '{"data": ["Who?", [], ' + "9" * 5000 + ', "", "", [], null]}')
    assert 400 <= status < 500 and "Traceback" not in text
    assert fresh.engine.asked == []


@pytest.mark.parametrize("error, shown", [
    (IndexDamagedError("3 chunks have no vector"), "Run `qa check --repair` to fix it."),
    (VectorStoreUnavailable("http://127.0.0.1:9"), "The Chroma server at http://127.0.0.1:9 is not reachable"),
    (IndexBusyError("the index is being written by qa ingest (pid 7); try again when it finishes"), "try again"),
    (InputError("filters", "unknown field(s) x"), "filters: unknown field(s) x"),
    (RuntimeError("secret internals"), "Something went wrong answering this question; it has been logged."),
])
def test_chat_shows_the_engines_errors(fresh, error, shown):
    fresh.engine.error = error
    messages, _, _ = client_for(fresh.url).predict("Who did Blinken call?", api_name="/chat")
    text = last_message(messages)
    assert text.startswith("⚠️") and shown in text and "secret internals" not in text and "Traceback" not in text


def test_refused_questions_keep_feedback_aligned(fresh):
    # A refused question adds a user/assistant pair and no answer: a later 👍 still rates the right answer.
    client = client_for(fresh.url)
    messages, _, _ = client.predict("   ", api_name="/chat")
    messages, _, _ = client.predict("Who did Blinken call?", messages, api_name="/chat")
    assert len(messages) == 4 and messages[1]["role"] == "assistant" and "⚠️" in last_message(messages[:2])


# ---------------------------------------------------------------- concurrency

def test_questions_run_concurrently_and_uploads_have_their_own_queue(fresh, tmp_path):
    from gradio_client import handle_file

    demo = build_blocks(fresh.engine)
    by_name = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}
    assert by_name["chat"].concurrency_limit in (None, "default") and demo._queue.default_concurrency_limit >= 4
    assert by_name["add_files"].concurrency_limit == 1 == by_name["remove_article"].concurrency_limit
    assert by_name["add_files"].concurrency_id == by_name["remove_article"].concurrency_id != \
        by_name["chat"].concurrency_id

    engine = fresh.engine
    clients = [client_for(fresh.url) for _ in range(5)]
    engine.delay = 1.5
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda c: c.predict("Who?", api_name="/chat"), clients[:4]))
    assert time.monotonic() - started < 4 * 1.5  # four questions at 1.5 s each, answered side by side

    engine.delay, engine.ingest_delay = 0.0, 6.0
    article = tmp_path / "slow.txt"
    article.write_text("A slow article.")
    job = clients[4].submit([handle_file(str(article))], api_name="/add_files")
    for _ in range(100):
        if engine.ingested:
            break
        time.sleep(0.05)
    asked = time.monotonic()
    messages, _, _ = clients[0].predict("Asked during an upload?", api_name="/chat")
    assert time.monotonic() - asked < 3 and not job.done()  # answered while the upload is still ingesting
    assert "1 file(s) ingested" in job.result(timeout=60)[0]


# ---------------------------------------------------------------- the JSON API

@pytest.fixture
def api(tmp_path):
    from fastapi.testclient import TestClient

    engine = FakeEngine(tmp_path)
    return SimpleNamespace(engine=engine, client=TestClient(build_api(engine), raise_server_exceptions=False))


def _post(client, body: str | bytes, **headers):
    return client.post("/api/ask", content=body, headers={"content-type": "application/json", **headers})


BAD_REQUESTS = [
    ('{"question": "   "}', 422, "question", "empty question"),
    ('{"question": "\\ud800"}', 422, "question", "unpaired surrogate"),
    ('{"question": "a\\u0000b"}', 422, "question", "NUL"),
    ('{"question": "' + "x" * 2001 + '"}', 422, "question", "at most 2000"),
    ('{"question": 42}', 422, "question", "valid string"),
    ('{"question": ["Who?"]}', 422, "question", "valid string"),
    ('{}', 422, "question", "required"),
    ('{"question": "Who?", "date_from": "2021-13-45"}', 422, "date_from", "not a real calendar date"),
    ('{"question": "Who?", "date_from": "9999-99-99"}', 422, "date_from", "not a real calendar date"),
    ('{"question": "Who?", "date_to": "2021-5-1"}', 422, "date_to", "not a date in the form YYYY-MM-DD"),
    ('{"question": "Who?", "date_to": "\\ud800"}', 422, "date_to", "unpaired surrogate"),
    ('{"question": "Who?", "date_from": 20210501}', 422, "date_from", "valid string"),
    ('{"question": "Who?", "date_from": "2021-06-01", "date_to": "2021-05-01"}', 422, "date_to", "before"),
    ('{"question": "Who?", "k": "5"}', 422, "k", "valid integer"),
    ('{"question": "Who?", "k": true}', 422, "k", "valid integer"),
    ('{"question": "Who?", "k": 2.5}', 422, "k", "valid integer"),
    ('{"question": "Who?", "k": 0}', 422, "k", "greater than or equal to 1"),
    ('{"question": "Who?", "k": 51}', 422, "k", "less than or equal to 50"),
    ('{"question": "Who?", "k": ' + "9" * 5000 + '}', 422, "k", "number too large"),
    ('{"question": "Who?", "k": NaN}', 422, "body", "not valid JSON"),
    ('{"question": "Who?", "k": 1e999}', 422, "k", "valid integer"),
    ('{"question": "Who?", "history": "none"}', 422, "history", "valid list"),
    ('{"question": "Who?", "history": [{"role": "bot", "content": "x"}]}', 422, "history[0].role", "'user'"),
    ('{"question": "Who?", "history": [{"role": "user", "content": "\\udc00"}]}', 422, "history[0].content",
     "unpaired surrogate"),
    ('{"question": "Who?", "history": [{"role": "user"}]}', 422, "history[0].content", "required"),
    ('{"question": "Who?", "sources": "a.txt"}', 422, "sources", "valid list"),
    ('{"question": "Who?", "sources": ["/etc/passwd"]}', 422, "sources", "not an indexed source"),
    ('{"question": "Who?", "quesiton": "typo"}', 422, "quesiton", "unknown field (allowed: question"),
    ('["Who?"]', 422, "body", "expected a JSON object"),
    ('not json', 422, "body", "not valid JSON"),
    ('{"question": "Who?"', 422, "body", "not valid JSON"),
    (b'{"question": "\xff"}', 422, "body", "not UTF-8"),
    ("[" * 50_000, 422, "body", "not valid JSON"),
    ('{"question": "' + "x" * 300_000 + '"}', 413, "body", "larger than"),
]


@pytest.mark.parametrize("body, status, field, reason", BAD_REQUESTS, ids=range(len(BAD_REQUESTS)))
def test_api_refuses_bad_input_naming_the_field(api, body, status, field, reason):
    response = _post(api.client, body)
    assert response.status_code == status, response.text
    error = ErrorOut.model_validate(response.json())
    assert error.field == field and reason in error.message and error.message.startswith(field)
    assert api.engine.asked == []


def test_api_refuses_a_chunked_body_that_is_too_large(api):
    def chunks():
        yield b'{"question": "'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    response = api.client.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["field"] == "body"


def test_api_refuses_a_body_that_is_not_json(api):
    response = api.client.post("/api/ask", content="question=Who", headers={"content-type": "text/plain"})
    assert response.status_code == 422 and "expected a JSON object" in response.json()["message"]


@pytest.mark.parametrize("error, status, kind", [
    (IndexDamagedError("3 chunks have no vector"), 503, "index_damaged"),
    (VectorStoreUnavailable("http://127.0.0.1:9"), 503, "vector_store_unavailable"),
    (IndexBusyError("the index is being written; try again when it finishes"), 409, "index_busy"),
    (InputError("filters", "unknown field(s) x"), 422, "invalid_input"),
])
def test_api_answers_engine_errors_with_their_status_and_message(api, error, status, kind):
    api.engine.error = error
    response = _post(api.client, '{"question": "Who did Blinken call?"}')
    assert response.status_code == status
    assert response.json() == {"error": kind, "message": str(error), "field": getattr(error, "field", None)}


def test_api_answers_an_unexpected_error_as_logged_json(api, caplog):
    api.engine.error = RuntimeError("secret internals")
    response = _post(api.client, '{"question": "Who did Blinken call?"}')
    assert response.status_code == 500 and response.json()["error"] == "internal_error"
    assert "secret internals" not in response.text and "secret internals" in caplog.text


def test_valid_requests_reach_the_engine(api):
    response = _post(api.client, json.dumps({
        "question": "  Who did Blinken call?  ", "k": 3, "date_from": "2021-05-01", "date_to": "2021-05-31",
        "sources": ["/srv/articles/sullivan.txt"], "history": [{"role": "user", "content": "Hello"}]}))
    assert response.status_code == 200 and response.json()["abstained"] is True
    question, k, filters = api.engine.asked[-1]
    assert question == "Who did Blinken call?" and k == 3
    assert (filters.date_from, filters.date_to, filters.sources) == ("2021-05-01", "2021-05-31",
                                                                     ("/srv/articles/sullivan.txt",))


# ---------------------------------------------------------------- logins (HTTP Basic and Gradio's), OpenAPI

def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_login_comparison_is_on_bytes():
    credentials = ("reader", PASSWORD)
    assert login_matches(credentials, "reader", PASSWORD)
    assert not login_matches(credentials, "reader", "passwort✓")
    assert not login_matches(credentials, "réader", PASSWORD)
    assert not login_matches(credentials, "reader", "\udcff")  # undecodable bytes: no match, no TypeError


def test_api_basic_login_with_a_non_ascii_password(tmp_path):
    from fastapi.testclient import TestClient

    engine = FakeEngine(tmp_path, auth=f"reader:{PASSWORD}")
    client = TestClient(build_api(engine), raise_server_exceptions=False)
    body = '{"question": "Who did Blinken call?"}'
    assert _post(client, body, Authorization=_basic("reader", PASSWORD)).status_code == 200
    for header in (None, _basic("reader", "passwort"), _basic("Reader", PASSWORD), "Basic !!!", "Bearer x",
                   "Basic " + base64.b64encode(b"reader").decode(),
                   "Basic " + base64.b64encode(b"reader:p\xe4ssw\xf6rd\xe2\x9c").decode()):
        response = _post(client, body, **({"Authorization": header} if header else {}))
        assert response.status_code == 401 and response.json()["error"] == "login_required", header
        assert response.headers["www-authenticate"].startswith("Basic")
    # Latin-1 bytes of the same password are not its UTF-8 bytes.
    latin1 = "Basic " + base64.b64encode("reader:pässwörd".encode("latin-1")).decode()
    assert _post(client, body, Authorization=latin1).status_code == 401
    assert len(engine.asked) == 1


@pytest.mark.parametrize("auth", [None, f"reader:{PASSWORD}"])
def test_openapi_documents_the_answers_it_gives(tmp_path, auth):
    import jsonschema
    from fastapi.testclient import TestClient

    engine = FakeEngine(tmp_path, auth=auth)
    client = TestClient(build_api(engine), raise_server_exceptions=False)
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/ask"]["post"]
    declared = operation["responses"]
    expected = {"200", "409", "413", "422", "503"} | ({"401"} if auth else set())
    assert set(declared) == expected
    if auth:
        assert operation["security"] == [{"HTTPBasic": []}]
        assert schema["components"]["securitySchemes"]["HTTPBasic"] == {
            "type": "http", "scheme": "basic", "description": "The QA_AUTH user and password."}
    else:
        assert "security" not in operation and "securitySchemes" not in schema.get("components", {})

    def check(response):
        spec = declared[str(response.status_code)]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), {**spec, "components": schema["components"]})

    headers = {"Authorization": _basic("reader", PASSWORD)} if auth else {}
    seen = set()
    for error, body in [(None, '{"question": "Who?"}'), (None, '{"question": " "}'),
                        (None, '{"question": "' + "x" * 300_000 + '"}'),
                        (IndexBusyError("busy; try again"), '{"question": "Who?"}'),
                        (IndexDamagedError("no vectors"), '{"question": "Who?"}')]:
        engine.error = error
        response = _post(client, body, **headers)
        check(response)
        seen.add(str(response.status_code))
    if auth:
        response = _post(client, '{"question": "Who?"}')
        check(response)
        seen.add(str(response.status_code))
    assert seen == expected


def test_gradio_api_needs_the_login(tmp_path_factory, gradio_cache):
    tmp = tmp_path_factory.mktemp("login")
    engine = FakeEngine(tmp, auth=f"reader:{PASSWORD}")
    server, url = serve_in_thread(build_app(engine))
    engine.asked.clear()  # the warm-up question
    secret = plant_secret(tmp)
    try:
        from gradio_client import Client

        # Without the login, raw HTTP gets 401 everywhere that answers or changes the index.
        for api_name, data in [("chat", ["Who?", [], 5, "", "", [], None]), ("remove_article", ["a1", True]),
                               ("add_files", [[{"path": str(secret), "meta": FILE_META}]])]:
            assert call_raw(url, api_name, {"data": data})[0] == 401
        assert join_queue(url, 0, ["Who?", [], 5, "", "", [], None])[0] == 401
        upload = httpx.post(f"{url}/gradio_api/upload", files={"files": ("a.txt", b"hello")}, timeout=30)
        assert upload.status_code == 401
        assert httpx.post(f"{url}/api/ask", json={"question": "Who?"}, timeout=30).status_code == 401
        with pytest.raises(Exception):
            Client(url + "/", auth=("reader", "wrong"), verbose=False)
        assert engine.asked == [] and engine.removed == [] and engine.ingested == []

        # Gradio's login form with the non-ASCII password, then the same endpoints work.
        login = httpx.post(f"{url}/login", data={"username": "reader", "password": PASSWORD}, timeout=30)
        assert login.status_code == 200
        client = Client(url + "/", auth=("reader", PASSWORD), verbose=False)
        client.predict("Who did Blinken call?", api_name="/chat")
        assert engine.asked and engine.asked[-1][0] == "Who did Blinken call?"
        assert "nothing was removed" in client.predict(api_name="/remove_article")[0]
    finally:
        server.should_exit = True


# ---------------------------------------------------------------- the real server, attacked

@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    articles = tmp / "articles"
    shutil.copytree(EXAMPLES, articles)
    cache = tmp / "gradio"
    proc, url, log = start_app(tmp, dict(QA_INDEX_DIR=str(tmp / "index"), QA_EXAMPLES_DIR=str(articles),
                                         GRADIO_TEMP_DIR=str(cache)), timeout=180)
    yield SimpleNamespace(url=url, tmp=tmp, cache=cache, uploads=tmp / "index" / "uploads", log=log)
    stop(proc)


def unexpected_tracebacks(log: Path) -> int:
    """Tracebacks in the server log other than Gradio's own report of a path it refused (it prints each)."""
    text = log.read_text()
    return text.count("Traceback (most recent call last)") - text.count("gradio.exceptions.InvalidPathError: Cannot")


def _ask(url: str, question: str) -> dict:
    request = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"question": question}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    return json.loads(urllib.request.urlopen(request, timeout=120).read())


def test_real_server_never_ingests_a_made_up_path(real_server, remote_client):
    from gradio_client.exceptions import AppError

    url = real_server.url
    secret = plant_secret(real_server.tmp)
    client = remote_client(url)
    before, table_before, *_ = client.predict(api_name="/remove_article")
    uploads_before = sorted(real_server.uploads.glob("*")) if real_server.uploads.exists() else []

    status, stream = call_raw(url, "add_files", {"data": [[{"path": str(secret), "meta": FILE_META}]]})
    assert "event: error" in stream and "not uploaded by a user" in stream
    status, messages = join_queue(url, fn_index(url, "add_files"), [[{"path": str(secret), "meta": FILE_META}]])
    assert messages[-1]["success"] is False
    with pytest.raises(AppError):
        client.predict([{"path": str(secret), "meta": FILE_META}], api_name="/add_files")
    planted = real_server.cache / "planted" / "notes.txt"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f"Title: Harbor Bank\n\n{SECRET_TEXT}\n")
    log, *_ = client.predict([{"path": str(planted), "meta": FILE_META}], api_name="/add_files")
    assert "refused" in log and "notes.txt" in log

    _, table_after, *_ = client.predict(api_name="/remove_article")
    assert table_after["data"] == table_before["data"]
    assert (sorted(real_server.uploads.glob("*")) if real_server.uploads.exists() else []) == uploads_before
    copies = [p for p in secret_copies(real_server.cache) if p != planted]
    assert copies == []
    for question in ("What is the vault code of the Harbor Bank?", "What did the night guard say?"):
        answer = _ask(url, question)
        everything = json.dumps(answer)
        assert "4417" not in everything and "vault code of the Harbor Bank is" not in everything
        assert not any("secret" in (c["source"] or "") or "notes" in (c["source"] or "") for c in answer["citations"])
    assert unexpected_tracebacks(real_server.log) == 0


def test_real_server_answers_bad_input_without_a_traceback(real_server):
    url = real_server.url
    for body, field in [('{"question": "\\ud800"}', "question"), ('{"question": "Who?", "date_from": "2021-13-45"}',
                                                                  "date_from"),
                        ('{"question": "Who?", "k": ' + "9" * 5000 + '}', "k")]:
        request = urllib.request.Request(f"{url}/api/ask", data=body.encode(), method="POST",
                                         headers={"content-type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=60)
        assert info.value.code == 422 and json.loads(info.value.read())["field"] == field
    messages, _, _ = client_for(url).predict("Who?", [], 5, "2021-13-45", api_name="/chat")
    assert "date_from" in last_message(messages) and last_message(messages).startswith("⚠️")
    assert unexpected_tracebacks(real_server.log) == 0


def test_quotes_endpoint_escapes_and_refuses_wrong_types(fresh):
    client = client_for(fresh.url)
    page = client.predict("<script>alert(1)</script>", api_name="/quotes")
    assert "<img" not in page and "&lt;img src=x&gt;" in page and "&lt;b&gt;Ned&lt;/b&gt;" in page
    assert fresh.engine.quoted == ("<script>alert(1)</script>", 200)
    status, stream = call_raw(fresh.url, "quotes", {"data": [["not", "text"]]})
    assert status == 200 and "speaker: expected text" in stream
