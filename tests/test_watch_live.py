"""`qa watch` on a live feed while people ask: the real page (app.py) and the real Slack bot (HTTP mode, a
fake Slack Web API) over the same index as a `qa watch` process polling a feed on 127.0.0.1. Questions keep
being answered (200, never an error) while it ingests, and a new feed item becomes answerable on the page
and in Slack without restarting anything."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import ROOT
from fake_slack import BOT_USER_ID, FakeSlack
from helpers import free_port, start_app, stop, wait_until_up
from news_site import FeedItem, NewsSite
from test_live_server import ask
from test_slack_bot import SECRET, TOKEN, blocks_text, event

TOWNS = {
    "Quillby": "the Quillby ferry will run every twenty minutes from June",
    "Rostock Vale": "the Rostock Vale dairy won a national cheese prize",
    "Sandmere": "the Sandmere lighthouse will be repainted red and white",
    "Tarnwick": "the Tarnwick glassworks will reopen with ninety jobs",
}


def page_of(town: str, fact: str) -> list[str]:
    return [f"The council of {town} announced on Monday that {fact}, after a vote that followed months of "
            f"debate among residents of {town}.",
            f"Mayor Elin Hart of {town} said the decision would help local families and shops in {town}.",
            f"Residents of {town} will be able to comment on the plan at a public meeting in the town hall."]


def question(town: str) -> str:
    return f"What did the council of {town} announce on Monday?"


def answered(answer: dict, town: str) -> bool:
    return not answer["abstained"] and any(TOWNS[town].split(" will ")[0].split(" won ")[0] in c["quote"]
                                           for c in answer["citations"])


def test_page_and_slack_answer_while_qa_watch_ingests_a_changing_feed(tmp_path: Path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "base.txt").write_text("Title: News from Oldham Cross\nDate: 2025-01-02\n\n" + " ".join(
        page_of("Oldham Cross", "the Oldham Cross market will open on Sundays")))
    index = tmp_path / "index"
    env = dict(QA_INDEX_DIR=str(index), QA_EXAMPLES_DIR=str(base), GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    with NewsSite() as site:
        items = []
        for town in ("Quillby", "Rostock Vale"):
            slug = town.lower().replace(" ", "-")
            link = site.put_article(f"/local/{slug}.html", f"{town} council decision", page_of(town, TOWNS[town]),
                                    published="2025-03-03", site_name="Valley News")
            items.append(FeedItem(f"id-{slug}", link, f"{town} council decision", "2025-03-03", "Summary."))
        feed = site.set_feed("/local/feed.xml", items)

        app, url, app_log = start_app(tmp_path, env, timeout=240)
        fake = FakeSlack()
        port = free_port()
        bot_log = tmp_path / "bot.log"
        bot = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "slack", "--http", "--port", str(port)],
                               cwd=ROOT, env={**os.environ, **env, "SLACK_BOT_TOKEN": TOKEN,
                                              "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url + "/api/"},
                               stdout=bot_log.open("w"), stderr=subprocess.STDOUT)
        watch_log = tmp_path / "watch.log"
        watcher = None
        statuses: list[int] = []
        halt = threading.Event()
        try:
            slack_url = f"http://127.0.0.1:{port}/slack/events"
            wait_until_up(bot, slack_url, bot_log, timeout=240, what="qa slack --http", data=b"{}")
            watcher = subprocess.Popen(
                [sys.executable, "-m", "qa.faces.cli", "watch", feed, "--every", "2s", "--quiet"], cwd=ROOT,
                env={**os.environ, **env, "QA_AUTO_INDEX_EXAMPLES": "false"}, stdout=watch_log.open("w"),
                stderr=subprocess.STDOUT)

            def keep_asking() -> None:  # someone asking about the old article all along
                while not halt.is_set():
                    status, answer, _ = ask(url, "When will the Oldham Cross market open?")
                    statuses.append(status if status != 200 or not answer["abstained"] else -1)

            asker = threading.Thread(target=keep_asking, daemon=True)
            asker.start()

            def wait_for(town: str, timeout: float = 300) -> None:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    status, answer, _ = ask(url, question(town))
                    if status == 200 and answered(answer, town):
                        return
                    assert watcher.poll() is None, watch_log.read_text()
                    time.sleep(0.5)
                raise AssertionError(f"{town} never answerable; watch log:\n{watch_log.read_text()[-3000:]}")

            wait_for("Quillby")
            wait_for("Rostock Vale")
            # A new item appears in the feed while the page is being asked: answerable without a restart.
            slug = "tarnwick"
            link = site.put_article(f"/local/{slug}.html", "Tarnwick council decision", page_of("Tarnwick", TOWNS["Tarnwick"]),
                                    published="2025-03-04", site_name="Valley News")
            site.set_feed("/local/feed.xml", items + [FeedItem(f"id-{slug}", link, "Tarnwick council decision",
                                                               "2025-03-04", "Summary.")])
            wait_for("Tarnwick")
            # ...and in Slack.
            updates = len(fake.calls_to("chat.update"))
            event(slack_url, {"type": "app_mention", "user": "U1", "channel": "C9", "ts": "1700000100.000100",
                              "text": f"<@{BOT_USER_ID}> {question('Tarnwick')}"})
            reply = blocks_text(fake.wait_for("chat.update", updates + 1, timeout=120)[updates]["blocks"])
            assert "Tarnwick glassworks" in reply and "*[1]*" in reply, reply
            halt.set()
            asker.join(timeout=120)
        finally:
            halt.set()
            for proc in (watcher, bot, app):
                if proc is not None:
                    stop(proc)
            fake.close()
        assert statuses and all(s == 200 for s in statuses), statuses
        for log in (watch_log, app_log, bot_log):
            text = log.read_text(errors="replace")
            assert "Traceback" not in text, f"{log}:\n{text[-4000:]}"
        polls = [line for line in watch_log.read_text().splitlines() if "feed(s) polled" in line]
        assert len(polls) >= 2 and any("1 not modified" in line for line in polls), polls
        # A poll that found nothing new fetched no page: the feed's 304 was all it cost.
        assert site.count("/local/quillby.html") == 1
