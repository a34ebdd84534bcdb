"""`qa watch` on a live feed while people ask: the real page (app.py) and the real Slack bot (HTTP mode, a
fake Slack Web API) over the same index as a `qa watch` process polling a feed on 127.0.0.1. Questions keep
being answered (200, never an error) while it ingests, and a new feed item becomes answerable on the page
and in Slack without restarting anything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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


# ---------------------------------------------------------------- writers at once, kill -9 mid-poll

from test_live_index import KILLER, corpus, env_for, qa  # noqa: E402

WATCH_KILL_POINTS = {
    "after-rows-before-vectors": dict(module="store.index", owner="Store", name="add_vectors", nth=1, after=False),
    "after-bm25-before-commit": dict(module="store.index", owner="", name="write_stamp", nth=1, after=False),
    "before-feed-state": dict(module="sources.feeds", owner="Harvest", name="record", nth=1, after=False),
}


def _feed_of_towns(site: NewsSite, towns: list[str]) -> str:
    items = []
    for town in towns:
        slug = town.lower().replace(" ", "-")
        link = site.put_article(f"/t/{slug}.html", f"{town} council decision",
                                page_of(town, f"the {town} glassworks will reopen with ninety jobs"),
                                published="2025-03-03", site_name="Valley News")
        items.append(FeedItem(f"id-{slug}", link, f"{town} council decision", "2025-03-03", "Summary."))
    return site.set_feed("/t/feed.xml", items)


def _answers(index: Path, town: str) -> bool:
    from conftest import make_settings
    from qa.engine import Engine

    answer = Engine(make_settings(index)).ask(question(town))
    return not answer.abstained and any(f"{town} glassworks" in c.quote for c in answer.citations)


@pytest.mark.parametrize("point", list(WATCH_KILL_POINTS))
def test_qa_watch_killed_mid_poll_then_the_next_poll_finishes_and_check_passes(tmp_path: Path, point: str):
    index = tmp_path / "index"
    with NewsSite() as site:
        feed = _feed_of_towns(site, ["Quillby", "Sandmere"])
        assert qa(index, "watch", feed, "--once", "-q").returncode == 0
        feed = _feed_of_towns(site, ["Quillby", "Sandmere", "Tarnwick", "Ulverby"])
        killed = subprocess.run([sys.executable, "-c", KILLER.format(**WATCH_KILL_POINTS[point]), "watch", feed,
                                 "--once", "-q"], env=env_for(index, QA_INGEST_GROUP_CHUNKS="2"), cwd=ROOT,
                                capture_output=True, text=True, timeout=600)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert _answers(index, "Quillby")  # readers answer from the last commit
        rerun = qa(index, "watch", feed, "--once", "-q")
        assert rerun.returncode == 0, rerun.stderr
        check = qa(index, "check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert all(_answers(index, town) for town in ["Tarnwick", "Ulverby", "Sandmere"])


def test_qa_watch_and_qa_ingest_at_once_take_turns(tmp_path: Path):
    index = tmp_path / "index"
    folder = corpus(tmp_path / "c", ["Arlen", "Brisk"])
    with NewsSite() as site:
        feed = _feed_of_towns(site, ["Quillby", "Sandmere", "Tarnwick"])
        env = env_for(index)
        watch = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "watch", feed, "--once", "-q"], env=env,
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ingest = subprocess.Popen([sys.executable, "-m", "qa.faces.cli", "ingest", "-q", str(folder)], env=env,
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        outputs = [p.communicate(timeout=600) for p in (watch, ingest)]
        assert watch.returncode == 0 and ingest.returncode == 0, outputs
        assert qa(index, "check").returncode == 0
        assert all(_answers(index, town) for town in ["Quillby", "Sandmere", "Tarnwick"])
        from conftest import make_settings
        from qa.engine import Engine
        from test_live_index import answers_about

        assert answers_about(Engine(make_settings(index)), "Brisk")
