"""The Slack bot (slack-bolt): mentions, DMs, thread follow-ups, `/ask`, sources and 👍/👎 feedback.

Socket Mode for users (`qa slack`), the Events API over HTTP for deployments and tests
(`qa slack --http --port N`, at /slack/events). Bolt verifies every request's signature and timestamp."""
from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from fastapi import FastAPI, Request
from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from qa.engine import Engine
from qa.errors import QAError
from qa.feedback import Rating
from qa.faces.render import also_published_by, citation_label, printable, searched_for
from qa.schema import Answer, validate_question

log = logging.getLogger(__name__)

PLACEHOLDER = "Searching the articles…"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
SECTION_LIMIT, CONTEXT_LIMIT = 2900, 1900  # Block Kit: 3000 per section text, 2000 per context element


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; this also defuses <!channel>, <@U…> and links in article text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_blocks(answer: Answer, feedback_key: str | None) -> list[dict]:
    """Block Kit: the answer with its [n] markers, the sources as context, then 👍/👎."""
    blocks: list[dict] = []
    if query := searched_for(answer):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": _clip(f"Searched for: {escape_mrkdwn(query)}", CONTEXT_LIMIT)}]})
    if answer.abstained:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": f":information_source: _{escape_mrkdwn(answer.text)}_"}})
        closest = [f"{escape_mrkdwn(citation_label(p))}{' (' + p.published + ')' if p.published else ''}"
                   for p in answer.passages[:3]]
        if closest:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": _clip("Closest articles: " + "; ".join(closest), CONTEXT_LIMIT)}]})
    else:
        text = escape_mrkdwn(answer.text)
        if answer.short_answer:
            text = f"*{escape_mrkdwn(answer.short_answer)}*\n{text}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT)}})
        for c in answer.citations[:8]:
            date = f" ({c.published})" if c.published else ""
            copies = also_published_by(c)
            copies = f" _({escape_mrkdwn(copies)})_" if copies else ""
            source = f"*[{c.n}]* {escape_mrkdwn(citation_label(c))}{date}{copies}: “{escape_mrkdwn(c.quote)}”"
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(source, CONTEXT_LIMIT)}]})
    if feedback_key:
        blocks.append({"type": "actions", "block_id": "feedback", "elements": [
            {"type": "button", "action_id": "feedback_up", "value": feedback_key,
             "text": {"type": "plain_text", "text": "👍", "emoji": True}},
            {"type": "button", "action_id": "feedback_down", "value": feedback_key,
             "text": {"type": "plain_text", "text": "👎", "emoji": True}},
        ]})
    return blocks


def fallback_text(answer: Answer) -> str:
    """Plain text for notifications and clients without Block Kit."""
    return _clip(escape_mrkdwn(answer.text), SECTION_LIMIT)


FAILED = "Something went wrong answering that; it has been logged."


def problem_text(error: BaseException | str) -> str:
    """A refused question (InputError), a busy or damaged index, an unreachable Chroma: the message, which
    names the field or the fix; anything else is a bug, logged, and reads as FAILED."""
    message = str(error) if isinstance(error, (QAError, str)) else FAILED
    return _clip(f":warning: {escape_mrkdwn(printable(message))}", SECTION_LIMIT)


UPDATE_EVERY = 1.0  # seconds between two edits of a streamed answer's placeholder (Slack's rate limits)


def ask_engine(engine: Engine, question: str, history: list[dict] | None = None,
               on_sentence: Callable[[str], None] | None = None) -> Answer | str:
    """The Answer, or the text to reply instead: never an exception. With an LLM configured and
    `on_sentence`, it is called with the answer so far each time a generated sentence has passed the check
    (at most once every UPDATE_EVERY seconds; the final Answer is returned as usual)."""
    try:
        question = validate_question(question)
        if on_sentence is None or engine.llm is None:
            return engine.ask(question, history=history)
        answer, sentences, last = None, [], 0.0
        for event in engine.stream(question, history=history):
            if isinstance(event, Answer):
                answer = event
                continue
            sentences.append(event.sentence)
            if time.monotonic() - last >= UPDATE_EVERY:
                last = time.monotonic()
                on_sentence(" ".join(sentences))
        return answer
    except QAError as exc:
        return problem_text(exc)
    except Exception:
        log.exception("unexpected error answering a question")
        return problem_text(FAILED)


class SlackMemory:
    """What the bot must remember across requests: threads it started, answers awaiting feedback."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.executescript(
            "CREATE TABLE IF NOT EXISTS threads (channel TEXT, thread_ts TEXT, PRIMARY KEY (channel, thread_ts));"
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer_json TEXT NOT NULL);"
        )
        self._lock = threading.Lock()
        self._seen_events: OrderedDict[str, None] = OrderedDict()

    def remember_thread(self, channel: str, thread_ts: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO threads VALUES (?, ?)", (channel, thread_ts))

    def is_our_thread(self, channel: str, thread_ts: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM threads WHERE channel = ? AND thread_ts = ?", (channel, thread_ts))
        return row.fetchone() is not None

    def keep_answer(self, answer: Answer) -> str:
        key = secrets.token_hex(8)
        with self._lock:
            self._conn.execute("INSERT INTO answers VALUES (?, ?)", (key, json.dumps(answer.to_dict())))
        return key

    def answer(self, key: str) -> dict | None:
        row = self._conn.execute("SELECT answer_json FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def first_time(self, event_id: str | None) -> bool:
        """False for an event already handled (Slack redelivers when it is unsure we got it)."""
        if not event_id:
            return True
        with self._lock:
            if event_id in self._seen_events:
                return False
            self._seen_events[event_id] = None
            while len(self._seen_events) > 10_000:
                self._seen_events.popitem(last=False)
            return True


def build_slack_app(engine: Engine, token: str | None = None, signing_secret: str | None = None,
                    api_url: str | None = None) -> App:
    token = token or os.environ["SLACK_BOT_TOKEN"]
    api_url = api_url or os.environ.get("SLACK_API_URL") or WebClient.BASE_URL
    client = WebClient(token=token, base_url=api_url if api_url.endswith("/") else api_url + "/")
    app = App(client=client, signing_secret=signing_secret or os.environ.get("SLACK_SIGNING_SECRET"),
              process_before_response=False)
    memory = SlackMemory(engine.settings.index_dir / "slack.sqlite")
    bot_user_id = client.auth_test()["user_id"]

    @app.middleware
    def ignore_retries(req, resp, next):
        # A retry means Slack did not see our 200 in time; the first delivery is already being answered.
        if req.headers.get("x-slack-retry-num") or not memory.first_time((req.body or {}).get("event_id")):
            return BoltResponse(status=200, body="")
        next()

    def thread_history(channel: str, thread_ts: str, before_ts: str) -> list[dict]:
        """The thread so far as conversation turns: the bot's messages are the assistant's."""
        try:
            messages = client.conversations_replies(channel=channel, ts=thread_ts, limit=50)["messages"]
        except Exception as exc:  # history is a help, not a requirement
            log.warning("cannot read thread %s: %s", thread_ts, type(exc).__name__)
            return []
        turns = []
        for message in messages:
            if float(message.get("ts", 0)) >= float(before_ts) or message.get("text") == PLACEHOLDER:
                continue
            mine = message.get("user") == bot_user_id or message.get("bot_id")
            text = _MENTION.sub("", message.get("text", "")).strip()
            if text:
                turns.append({"role": "assistant" if mine else "user", "content": text})
        return turns

    def answer_in(channel: str, question: str, thread_ts: str | None, history: list[dict]) -> None:
        placeholder = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=PLACEHOLDER)

        def show(so_far: str) -> None:  # the checked sentences so far, in the placeholder
            try:
                client.chat_update(channel=channel, ts=placeholder["ts"],
                                   text=_clip(escape_mrkdwn(printable(so_far)) + " …", SECTION_LIMIT))
            except Exception as exc:  # a refused edit (rate limit) only delays the text until the end
                log.warning("cannot update the streamed answer: %s", type(exc).__name__)

        answer = ask_engine(engine, question, history, on_sentence=show)
        if isinstance(answer, str):
            client.chat_update(channel=channel, ts=placeholder["ts"], text=answer)
            return
        key = memory.keep_answer(answer)
        client.chat_update(channel=channel, ts=placeholder["ts"], text=fallback_text(answer),
                           blocks=answer_blocks(answer, key))

    @app.event("app_mention")
    def on_mention(event, logger):
        question = _MENTION.sub("", event.get("text", "")).strip()
        thread_ts = event.get("thread_ts") or event["ts"]
        history = thread_history(event["channel"], thread_ts, event["ts"]) if event.get("thread_ts") else []
        memory.remember_thread(event["channel"], thread_ts)
        if not question:
            client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts,
                                    text="Ask me a question about the articles, e.g. “What did Sullivan convey?”")
            return
        answer_in(event["channel"], question, thread_ts, history)

    @app.event("message")
    def on_message(event, logger):
        if event.get("bot_id") or event.get("subtype") or event.get("user") in (None, bot_user_id):
            return  # bots (this one included), edits, joins...
        text = event.get("text", "")
        if f"<@{bot_user_id}" in text and event.get("channel_type") != "im":
            return  # the app_mention event answers it
        question = _MENTION.sub("", text).strip()
        thread_ts = event.get("thread_ts")
        if event.get("channel_type") == "im":
            history = thread_history(event["channel"], thread_ts, event["ts"]) if thread_ts else []
            if question:
                answer_in(event["channel"], question, thread_ts, history)
        elif thread_ts and memory.is_our_thread(event["channel"], thread_ts) and question:
            answer_in(event["channel"], question, thread_ts, thread_history(event["channel"], thread_ts, event["ts"]))

    @app.command("/ask")
    def on_ask(ack, command, respond):
        question = (command.get("text") or "").strip()
        if not question:
            ack(text="Usage: /ask your question about the articles")
            return
        ack(response_type="ephemeral", text=PLACEHOLDER)  # within Slack's 3 seconds; the answer follows
        answer = ask_engine(engine, question)
        if isinstance(answer, str):
            respond(response_type="ephemeral", text=answer)
            return
        respond(response_type="in_channel", text=fallback_text(answer),
                blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(
                    f"<@{command['user_id']}> asked: {escape_mrkdwn(printable(question))}", CONTEXT_LIMIT)}]}]
                + answer_blocks(answer, memory.keep_answer(answer)))

    @app.error
    def on_error(error, body, logger):
        # A listener that failed past the guards above (Slack's API refusing a post, say): logged, never raised.
        log.error("Slack listener failed: %s", type(error).__name__, exc_info=error)

    def on_feedback(ack, body, action, rating: Rating):
        ack()
        answer = memory.answer(action.get("value", ""))
        if answer is None:
            return
        user = body.get("user", {}).get("id")
        engine.feedback.record(answer, rating, "slack", user)
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if channel and user:
            client.chat_postEphemeral(channel=channel, user=user, text="Thanks, your feedback was recorded.")

    app.action("feedback_up")(lambda ack, body, action: on_feedback(ack, body, action, Rating.UP))
    app.action("feedback_down")(lambda ack, body, action: on_feedback(ack, body, action, Rating.DOWN))
    return app


def events_api(app: App):
    """The Events API endpoint (events, slash commands, interactions) as a small ASGI app."""
    from slack_bolt.adapter.fastapi import SlackRequestHandler

    handler = SlackRequestHandler(app)
    api = FastAPI(title="article-qa Slack bot", docs_url=None, redoc_url=None, openapi_url=None)

    @api.post("/slack/events")
    async def slack_events(request: Request):
        return await handler.handle(request)

    return api


def run(http: bool = False, port: int = 3000) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = Engine()
    engine.serve()
    try:  # models loaded before the first event, so answers stay fast
        engine.ensure_examples(progress=False)
        engine.ask("warm up")
        engine.llm  # a configured LLM loaded now (or its misconfiguration logged), not at the first question
    except QAError as exc:  # a damaged index or unreachable Chroma: start anyway, every reply says why
        log.warning("%s", exc)
    app = build_slack_app(engine)
    if http:
        import uvicorn

        host = engine.settings.host
        print(f"article-qa Slack bot: Events API at http://{host}:{port}/slack/events", flush=True)
        uvicorn.run(events_api(app), host=host, port=port, log_level="warning")
    else:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        print("article-qa Slack bot: Socket Mode", flush=True)
        SocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).start()
