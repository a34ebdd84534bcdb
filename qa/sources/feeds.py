"""Polling URLs: which pages to fetch, from a feed's items as last seen, and the articles they hold.

`Harvester.collect(urls)` runs *outside* the index's writer lock (network time never holds up another
writer): a feed is fetched with its validators (an unchanged one costs a 304); its new items, changed
items (a new fingerprint: link, title, date or text) and items whose page failed last time have their
pages fetched, a few at a time, and read as full articles (never the feed's summary). The result, a
`Harvest`, is then ingested and recorded under the lock (`record`), so a crash in between only means
fetching again."""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable

from qa.schema import Article
from qa.sources.articles import ArticleError, FeedEntry
from qa.sources.web import Fetcher, FetchError, Response, feed_items, page_article
from qa.store.catalog import Catalog, FeedItemState, ItemState, RemoteState


class RemoteKind(str, Enum):
    FEED = "feed"
    PAGE = "page"


@dataclass
class Document:
    """Articles read from one URL, ready to be ingested as the source `key`."""

    key: str
    articles: list[Article]


@dataclass
class Harvest:
    documents: list[Document] = field(default_factory=list)
    errors: list[ArticleError] = field(default_factory=list)
    remote: list[RemoteState] = field(default_factory=list)
    items: dict[str, tuple[list[FeedItemState], list[str]]] = field(default_factory=dict)  # feed → (seen, gone)
    gone_sources: list[str] = field(default_factory=list)  # pages of items that left their feed
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    pages_fetched: int = 0
    pages_not_modified: int = 0  # article URLs answered 304
    items_new: int = 0
    items_changed: int = 0
    items_gone: int = 0

    def record(self, catalog: Catalog) -> None:
        """Remember validators and items (under the writer lock, after the documents are stored)."""
        for state in self.remote:
            catalog.set_remote(state)
        for feed, (seen, gone) in self.items.items():
            catalog.set_feed_items(feed, seen, gone)


class Harvester:
    def __init__(self, catalog: Catalog, fetcher: Fetcher, workers: int = 4):
        self.catalog = catalog
        self.fetcher = fetcher
        self.workers = workers

    def collect(self, urls: Iterable[str]) -> Harvest:
        harvest = Harvest()
        for url in dict.fromkeys(urls):
            known = self.catalog.remote(url)
            try:
                response = self.fetcher.get(url, *(known.etag, known.last_modified) if known else (None, None))
            except FetchError as exc:
                harvest.errors.append(exc)
                if known:
                    harvest.remote.append(dataclasses.replace(known, checked=time.time(), status=exc.reason))
                continue
            if response.not_modified:
                kind = known.kind if known else RemoteKind.PAGE
                harvest.remote.append(RemoteState(url, kind, known.etag if known else None,
                                                  known.last_modified if known else None, time.time(), "not-modified"))
                if kind == RemoteKind.FEED:
                    harvest.feeds_polled += 1
                    harvest.feeds_not_modified += 1
                    self._retry_failed(url, harvest)
                else:
                    harvest.pages_not_modified += 1
                continue
            if response.is_feed:
                self._feed(url, response, harvest)
            else:
                self._page(url, response, harvest)
        return harvest

    def _validators(self, url: str, response: Response, kind: str, status: str = "ok") -> RemoteState:
        return RemoteState(url, kind, response.etag, response.last_modified, time.time(), status)

    @staticmethod
    def _unreadable(url: str, kind: str, error: FetchError, harvest: Harvest) -> None:
        """Fetched but not readable: reported, and fetched in full next time (no validators kept)."""
        harvest.errors.append(error)
        harvest.remote.append(RemoteState(url, kind, None, None, time.time(), error.reason))

    def _page(self, url: str, response: Response, harvest: Harvest) -> None:
        harvest.pages_fetched += 1
        try:
            article = page_article(response)
        except FetchError as exc:
            return self._unreadable(url, RemoteKind.PAGE, exc, harvest)
        harvest.documents.append(Document(url, [article]))
        harvest.remote.append(self._validators(url, response, RemoteKind.PAGE))

    def _feed(self, url: str, response: Response, harvest: Harvest) -> None:
        harvest.feeds_polled += 1
        try:
            entries = feed_items(response)
        except FetchError as exc:
            return self._unreadable(url, RemoteKind.FEED, exc, harvest)
        known = self.catalog.feed_items(url)
        todo: list[FeedEntry] = []
        current: dict[str, FeedEntry] = {}
        for entry in entries:
            key = entry.key
            if key is None or key in current:  # an item with neither guid nor link, or listed twice
                continue
            current[key] = entry
            before = known.get(key)
            if before is None:
                harvest.items_new += 1
                todo.append(entry)
            elif before.fingerprint != entry.fingerprint:
                harvest.items_changed += 1
                todo.append(entry)
            elif before.state is ItemState.FAILED:
                todo.append(entry)
        gone = [key for key in known if key not in current]
        harvest.items_gone += len(gone)
        harvest.gone_sources += [known[key].link or f"{url}#{key}" for key in gone]
        unchanged = [known[key] for key in current if key in known and current[key] not in todo]
        seen = unchanged + self._fetch_items(url, todo, harvest)
        harvest.items[url] = (seen, gone)
        harvest.remote.append(self._validators(url, response, RemoteKind.FEED))

    def _retry_failed(self, url: str, harvest: Harvest) -> None:
        """An unchanged feed: only the items whose page failed last time are fetched again."""
        failed = [item for item in self.catalog.feed_items(url).values() if item.state is ItemState.FAILED]
        if not failed:
            return
        entries = [FeedEntry(guid=item.key, link=item.link, title=None, published=None, author=None, text="")
                   for item in failed]
        fingerprints = {item.key: item.fingerprint for item in failed}
        states = self._fetch_items(url, entries, harvest)
        harvest.items[url] = ([dataclasses.replace(s, fingerprint=fingerprints[s.key]) for s in states], [])

    def _fetch_items(self, feed: str, entries: list[FeedEntry], harvest: Harvest) -> list[FeedItemState]:
        """Fetch each item's page (a few at a time) and read its full article, the feed's metadata filling
        what the page lacks. An item without a link keeps the feed's own text."""
        def one(entry: FeedEntry) -> Document | FetchError:
            if not entry.link:
                if not entry.text:
                    return FetchError(f"{feed}#{entry.key}", "the feed item has no link and no text")
                return Document(f"{feed}#{entry.key}", [_from_entry(feed, entry)])
            try:
                page = page_article(self.fetcher.get(entry.link))
            except FetchError as exc:
                return exc
            return Document(entry.link, [_merge(page, entry)])

        states = []
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            results = list(pool.map(one, entries))
        now = time.time()
        for entry, result in zip(entries, results):
            harvest.pages_fetched += bool(entry.link)
            if isinstance(result, FetchError):
                harvest.errors.append(result)
                state = ItemState.FAILED
            else:
                harvest.documents.append(result)
                state = ItemState.DONE
            states.append(FeedItemState(entry.key, entry.link, entry.fingerprint, state, now))
        return states


def _merge(page: Article, entry: FeedEntry) -> Article:
    """The page's article with the feed's metadata: the feed's date is the publisher's structured one
    (a page's date is read by heuristics), the title and author fill what the page lacks."""
    return dataclasses.replace(
        page,
        title=page.title or entry.title,
        published=entry.published or page.published,
        author=page.author or entry.author,
        external_id=entry.key,
    )


def _from_entry(feed: str, entry: FeedEntry) -> Article:
    return Article(text=entry.text, title=entry.title, published=entry.published, source=f"{feed}#{entry.key}",
                   url=None, author=entry.author, external_id=entry.key)
