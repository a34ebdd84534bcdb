"""The Slack bot in HTTP mode (`qa slack --http`) against a local fake Slack Web API, with signed events."""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from types import SimpleNamespace

from helpers import free_port, serve_in_thread, stop, wait_until_up
from conftest import ROOT, make_settings
from fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack
from qa.errors import IndexBusyError, IndexDamagedError, InputError, VectorStoreUnavailable
from qa.feedback import FeedbackStore, Rating
from qa.schema import Answer, Citation
from qa.faces.slack_bot import answer_blocks, build_slack_app, events_api

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token-never-logged"



@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("slack")
    fake = FakeSlack()
    port = free_port()
    env = dict(os.environ, QA_INDEX_DIR=str(tmp_path / "index"), SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
               SLACK_API_URL=fake.url + "/api/")
    log = tmp_path / "bot.log"
    proc = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "slack", "--http", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/slack/events"
    wait_until_up(proc, url, log, timeout=120, what="qa slack --http", data=b"{}")  # a 401 (unsigned) is up
    yield url, fake, tmp_path, log
    stop(proc)
    fake.close()


def send(url: str, body: str, content_type: str, timestamp: int | None = None, secret: str = SECRET,
         headers: dict | None = None) -> tuple[int, str, float]:
    timestamp = timestamp or int(time.time())
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature,
        **(headers or {})})
    started = time.time()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), time.time() - started
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), time.time() - started


_event_counter = iter(range(1, 10_000))


def event(url: str, payload: dict, headers: dict | None = None, event_id: str | None = None):
    body = json.dumps({"token": "legacy", "team_id": TEAM_ID, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id or f"Ev{next(_event_counter):04d}", "event_time": int(time.time()),
                       "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
                       "event": payload})
    return send(url, body, "application/json", headers=headers)


def blocks_text(blocks: list[dict]) -> str:
    parts = []
    for block in blocks:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts += [e["text"] for e in block["elements"]]
    return "\n".join(parts)


def updates_after(fake: FakeSlack, count: int) -> dict:
    return fake.wait_for("chat.update", count)[count - 1]


def mention(url: str, fake: FakeSlack, channel: str, ts: str, question: str) -> dict:
    """@-mention the bot with a question; returns the chat.update that carries its answer."""
    updates = len(fake.calls_to("chat.update"))
    event(url, {"type": "app_mention", "user": "U1", "channel": channel, "ts": ts,
                "text": f"<@{BOT_USER_ID}> {question}"})
    return updates_after(fake, updates + 1)


def test_mention_answers_in_thread_then_follow_up_without_mention(bot):
    url, fake, _, _ = bot
    updates = len(fake.calls_to("chat.update"))
    posts = len(fake.calls_to("chat.postMessage"))
    fake.add_user_message("C1", "1700000001.000100", f"<@{BOT_USER_ID}> Who did Blinken speak with on Wednesday night?")
    status, _, took = event(url, {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700000001.000100",
                                  "text": f"<@{BOT_USER_ID}> Who did Blinken speak with on Wednesday night?"})
    assert status == 200 and took < 3
    placeholder = fake.wait_for("chat.postMessage", posts + 1)[posts]
    assert placeholder["thread_ts"] == "1700000001.000100" and placeholder["channel"] == "C1"
    assert placeholder["text"] == "Searching the articles…"
    update = updates_after(fake, updates + 1)
    text = blocks_text(update["blocks"])
    assert "Mahmoud Abbas" in text and "*[1]*" in text and update["channel"] == "C1"
    assert "Searched for" not in text  # asked as written
    assert any(b["type"] == "actions" for b in update["blocks"])

    # A follow-up in that thread, no mention: answered, with the thread as history.
    fake.add_user_message("C1", "1700000009.000100", "What did he tweet after that call?", thread_ts="1700000001.000100")
    event(url, {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1",
                "ts": "1700000009.000100", "thread_ts": "1700000001.000100", "text": "What did he tweet after that call?"})
    follow = updates_after(fake, updates + 2)
    assert "tweeted Blinken" in blocks_text(follow["blocks"])
    assert follow["blocks"][0]["type"] == "context"  # what the follow-up was searched as, above the answer
    assert "Searched for: What did Blinken tweet after that call?" in blocks_text(follow["blocks"][:1])
    assert fake.calls_to("conversations.replies")


def test_dm_is_answered_and_other_threads_and_bots_are_ignored(bot):
    url, fake, _, _ = bot
    posts = len(fake.calls_to("chat.postMessage"))
    updates = len(fake.calls_to("chat.update"))
    event(url, {"type": "message", "channel_type": "im", "user": "U2", "channel": "D1", "ts": "1700000020.000100",
                "text": "Who will travel to Israel?"})
    update = updates_after(fake, updates + 1)
    assert update["channel"] == "D1" and "Hady Amr" in blocks_text(update["blocks"])
    dm_post = fake.calls_to("chat.postMessage")[posts]
    assert dm_post["channel"] == "D1" and not dm_post.get("thread_ts")

    ignored = [
        {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1", "ts": "1700000030.000100",
         "thread_ts": "1700000025.000100", "text": "a thread the bot never joined"},
        {"type": "message", "channel_type": "im", "bot_id": "BOTHER", "user": "UOTHER", "channel": "D1",
         "ts": "1700000031.000100", "text": "another bot talking"},
        {"type": "message", "subtype": "bot_message", "channel_type": "im", "channel": "D1",
         "ts": "1700000032.000100", "text": "legacy bot message"},
        {"type": "message", "channel_type": "im", "user": BOT_USER_ID, "channel": "D1", "ts": "1700000033.000100",
         "text": "the bot's own message"},
    ]
    for payload in ignored:
        assert event(url, payload)[0] == 200
    time.sleep(1.5)
    assert len(fake.calls_to("chat.postMessage")) == posts + 1


def test_abstention_is_marked(bot):
    url, fake, _, _ = bot
    update = mention(url, fake, "C2", "1700000040.000100", "What is the population of Gaza?")
    assert ":information_source:" in blocks_text(update["blocks"]) and "don't say" in update["text"]


def test_slash_command_acks_fast_then_answers(bot):
    url, fake, _, _ = bot
    before = len(fake.calls_to("response_url"))
    body = urlencode({"token": "legacy", "team_id": TEAM_ID, "channel_id": "C3", "user_id": "U7", "command": "/ask",
                      "text": "What did Sullivan convey?", "response_url": f"{fake.url}/response/1",
                      "trigger_id": "t1", "api_app_id": "A1"})
    status, text, took = send(url, body, "application/x-www-form-urlencoded")
    assert status == 200 and took < 3 and "Searching the articles" in text
    response = fake.wait_for("response_url", before + 1)[before]
    assert response["response_type"] == "in_channel"
    content = blocks_text(response["blocks"])
    assert "unwavering support" in content and "sustainable calm" in content and "<@U7> asked" in content


def test_feedback_button_is_stored_with_user(bot):
    url, fake, tmp_path, _ = bot
    update = mention(url, fake, "C4", "1700000050.000100", "Who will travel to Israel?")
    actions = next(b for b in update["blocks"] if b["type"] == "actions")
    down = next(e for e in actions["elements"] if e["action_id"] == "feedback_down")
    payload = {"type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": "U9"}, "api_app_id": "A1",
               "token": "legacy", "channel": {"id": "C4"}, "container": {"type": "message", "channel_id": "C4"},
               "trigger_id": "t2", "response_url": f"{fake.url}/response/2",
               "actions": [{"type": "button", "action_id": "feedback_down", "block_id": "feedback",
                            "value": down["value"], "action_ts": str(time.time())}]}
    status, _, _ = send(url, urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert status == 200
    fake.wait_for("chat.postEphemeral")
    store = FeedbackStore(tmp_path / "index" / "feedback.sqlite")
    (record,) = [r for r in store.records(Rating.DOWN) if r.user == "U9"]
    assert record.question == "Who will travel to Israel?" and record.channel == "slack"
    assert any("Hady Amr" in c["quote"] for c in record.citations)


def test_retries_never_answer_twice(bot):
    url, fake, _, _ = bot
    posts = len(fake.calls_to("chat.postMessage"))
    payload = {"type": "app_mention", "user": "U1", "channel": "C5", "ts": "1700000060.000100",
               "text": f"<@{BOT_USER_ID}> Who did Blinken speak to on Tuesday?"}
    assert event(url, payload, event_id="EvRetry")[0] == 200
    assert event(url, payload, event_id="EvRetry", headers={"X-Slack-Retry-Num": "1",
                                                            "X-Slack-Retry-Reason": "http_timeout"})[0] == 200
    assert event(url, payload, event_id="EvRetry")[0] == 200  # redelivered without the header
    fake.wait_for("chat.postMessage", posts + 1)
    time.sleep(1.5)
    assert len([p for p in fake.calls_to("chat.postMessage") if p["channel"] == "C5"]) == 1


def test_bad_signature_and_stale_timestamp_are_rejected(bot):
    url, fake, _, log = bot
    posts = len(fake.calls_to("chat.postMessage"))
    body = json.dumps({"type": "event_callback", "event_id": "EvBad", "team_id": TEAM_ID, "event": {
        "type": "app_mention", "user": "U1", "channel": "C6", "ts": "1700000070.000100", "text": "<@UBOT> hi"}})
    assert send(url, body, "application/json", secret="wrong-secret")[0] == 401
    assert send(url, body, "application/json", timestamp=int(time.time()) - 600)[0] == 401
    time.sleep(1)
    assert len(fake.calls_to("chat.postMessage")) == posts
    assert TOKEN not in log.read_text()


def test_blocks_escape_article_text():
    citation = Citation(1, "a1", "<!channel> alert", "2024-01-01", "Click <http://evil.test|here> & win", 0, 10)
    answer = Answer("q", "Click <http://evil.test|here> & win [1]", False, [citation], short_answer="<@U123>")
    text = blocks_text(answer_blocks(answer, "k"))
    assert "<" not in text.replace("&lt;", "") and "&lt;!channel&gt;" in text and "&amp; win" in text


def slash(url: str, fake: FakeSlack, text: str, n: int) -> dict:
    """/ask `text`; returns what the bot sent to the response_url."""
    before = len(fake.calls_to("response_url"))
    body = urlencode({"token": "legacy", "team_id": TEAM_ID, "channel_id": "C3", "user_id": "U7", "command": "/ask",
                      "text": text, "response_url": f"{fake.url}/response/{n}", "trigger_id": f"t{n}",
                      "api_app_id": "A1"})
    status, _, took = send(url, body, "application/x-www-form-urlencoded")
    assert status == 200 and took < 3
    return fake.wait_for("response_url", before + 1)[before]


def test_bad_questions_get_a_message_naming_the_field(bot):
    url, fake, _, log = bot
    # Slack's JSON may carry a lone surrogate; the reply names the problem, the bot goes on.
    update = mention(url, fake, "C7", "1700000080.000100", "Who did Blinken call? \ud800")
    assert update["text"].startswith(":warning:") and "question: contains an unpaired surrogate" in update["text"]
    update = mention(url, fake, "C7", "1700000081.000100", "why " * 600)
    assert "question: too long" in update["text"]
    updates = len(fake.calls_to("chat.update"))
    event(url, {"type": "message", "channel_type": "im", "user": "U2", "channel": "D7", "ts": "1700000082.000100",
                "text": "\x00 who?"})
    assert "question: contains a NUL character" in updates_after(fake, updates + 1)["text"]
    response = slash(url, fake, "why " * 600, 80)
    assert response["response_type"] == "ephemeral" and "question: too long" in response["text"]
    assert "Traceback" not in log.read_text()
    update = mention(url, fake, "C7", "1700000083.000100", "Who will travel to Israel?")  # still answering
    assert "Hady Amr" in blocks_text(update["blocks"])


class FailingEngine:
    """What the bot calls of an Engine; ask raises `error`."""

    def __init__(self, index_dir):
        self.settings = make_settings(index_dir)
        self.error: Exception = RuntimeError("unset")
        self.feedback = SimpleNamespace(record=lambda *args, **kwargs: None)
        self.llm = None  # answers are extractive (QA_LLM=none)

    def ask(self, question, history=None, k=None, filters=None):
        raise self.error


@pytest.fixture
def failing_bot(tmp_path):
    fake = FakeSlack()
    engine = FailingEngine(tmp_path / "index")
    app = build_slack_app(engine, token=TOKEN, signing_secret=SECRET, api_url=fake.url + "/api/")
    server, url = serve_in_thread(events_api(app))
    yield f"{url}/slack/events", fake, engine
    server.should_exit = True
    fake.close()


@pytest.mark.parametrize("error, shown", [
    (IndexDamagedError("3 chunks have no vector"), "Run `qa check --repair` to fix it."),
    (VectorStoreUnavailable("http://127.0.0.1:9"), "The Chroma server at http://127.0.0.1:9 is not reachable"),
    (IndexBusyError("the index is being written; try again when it finishes"), "try again when it finishes"),
    (InputError("filters", "unknown field(s) x"), "filters: unknown field(s) x"),
    (RuntimeError("secret internals"), "Something went wrong answering that; it has been logged."),
])
def test_engine_errors_are_replied_everywhere(failing_bot, error, shown):
    url, fake, engine = failing_bot
    engine.error = error

    def replied(count: int) -> str:
        text = updates_after(fake, count)["text"]
        assert text.startswith(":warning:") and shown in text and "secret internals" not in text
        return text

    replied_before = len(fake.calls_to("chat.update"))
    fake.add_user_message("C1", "1700000101.000100", f"<@{BOT_USER_ID}> Who did Blinken call?")
    event(url, {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1700000101.000100",
                "text": f"<@{BOT_USER_ID}> Who did Blinken call?"})
    replied(replied_before + 1)
    fake.add_user_message("C1", "1700000102.000100", "And then?", thread_ts="1700000101.000100")
    event(url, {"type": "message", "channel_type": "channel", "user": "U1", "channel": "C1",
                "ts": "1700000102.000100", "thread_ts": "1700000101.000100", "text": "And then?"})
    replied(replied_before + 2)
    event(url, {"type": "message", "channel_type": "im", "user": "U2", "channel": "D1", "ts": "1700000103.000100",
                "text": "Who will travel to Israel?"})
    replied(replied_before + 3)
    response = slash(url, fake, "What did Sullivan convey?", 90)
    assert response["response_type"] == "ephemeral" and shown in response["text"]
