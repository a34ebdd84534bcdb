"""Turning an Answer into what people see. Article text is untrusted: always escaped, never markup."""
from __future__ import annotations

import html
import re

from qa.schema import Answer, Citation, Passage

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_MARKER = re.compile(r" ?\[(\d+)\]")


def printable(text: object, limit: int | None = None) -> str:
    """Text that can always be encoded and shown: a lone surrogate (valid in JSON, not in UTF-8) becomes a
    visible escape instead of failing the reply that carries it; `limit` clips it."""
    text = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def problem_markdown(message: object) -> str:
    """A refused question or a failure, for the chat: the message as literal text after a warning sign."""
    return f"⚠️ {html.escape(printable(message, 2000), quote=False)}"


def escape_markdown(text: str) -> str:
    """Literal text inside Markdown: HTML entities for <, > and &, backslashes before Markdown syntax."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def citation_label(citation: Citation | Passage) -> str:
    """Title, else the file name, else the article id: an article without a parsed title still has a name."""
    if citation.title:
        return citation.title
    if citation.source:
        return citation.source.replace("\\", "/").rsplit("/", 1)[-1]
    return citation.article_id


def also_published_by(citation: Citation, limit: int = 5) -> str:
    """"Also published by AP, Reuters and 2 more" (plain text, to be escaped by each face), or ""."""
    names = list(dict.fromkeys(copy.publisher for copy in citation.also_published_by))
    if not names:
        return ""
    shown = names[:limit]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + (" and " if not more else ", ") + shown[-1]
    return f"also published by {listed}{more}"


def safe_href(url: str | None) -> str | None:
    """An article's URL as a link target, only if it is plain http(s) (never javascript: or data:)."""
    if url and re.match(r"https?://[^\s\"'<>]+$", url, re.IGNORECASE):
        return url
    return None


def searched_for(answer: Answer) -> str | None:
    """What was searched when it is not the question as asked (a misspelt name corrected, a follow-up made
    standalone), for the faces to show above the answer; None otherwise."""
    query = (answer.query or "").strip()
    return query if query and " ".join(query.split()) != " ".join(answer.question.split()) else None


def answer_markdown(answer: Answer) -> str:
    """Chat text: the short answer in bold, then the answer whose [n] markers link to the sources panel;
    above them, what was searched when it differs from the question."""
    query = searched_for(answer)
    searched = f"<sub>Searched for: {escape_markdown(query)}</sub>\n\n" if query else ""
    return searched + _answer_body(answer)


def _answer_body(answer: Answer) -> str:
    if answer.abstained:
        return f"> ℹ️ *{escape_markdown(answer.text)}*"
    parts = []
    pieces = _MARKER.split(answer.text)  # text, n, text, n, ...
    for i, piece in enumerate(pieces):
        if i % 2:
            parts.append(f" [\\[{piece}\\]](#source-{piece})")
        else:
            parts.append(escape_markdown(piece))
    body = "".join(parts).strip()
    if answer.short_answer:
        return f"**{escape_markdown(answer.short_answer)}**\n\n{body}"
    return body


def _passage_for(citation: Citation, passages: list[Passage]) -> Passage | None:
    for passage in passages:
        chunk = passage.chunk
        if (passage.article_id == citation.article_id and chunk.section == citation.section
                and chunk.start <= citation.start and citation.end <= chunk.end):
            return passage
    return None


def passages_html(passages: list[Passage], note: str, limit: int = 3, clip: int | None = 300) -> str:
    """Passages without an answer: for an abstention (the closest ones, clipped) or the passages-only mode."""
    esc = html.escape

    def shown(text: str) -> str:
        return esc(text) if clip is None or len(text) <= clip else esc(text[:clip]) + "…"

    items = "".join(
        f"<li><b>{esc(citation_label(p))}</b>{' — ' + esc(p.published) if p.published else ''}: "
        f'<span class="qa-passage">{shown(p.chunk.text)}</span></li>'
        for p in passages[:limit]
    )
    return f'<div class="qa-sources qa-abstained"><p><b>{esc(note)}</b></p><ul>{items}</ul></div>'


def sources_html(answer: Answer) -> str:
    """The sources panel: per citation, title and date, and its passage with the quote highlighted."""
    esc = html.escape
    if answer.abstained or not answer.citations:
        note = "No passage answers this question. Closest passages:" if answer.abstained else "No sources."
        return passages_html(answer.passages, note)
    blocks = []
    for c in answer.citations:
        passage = _passage_for(c, answer.passages)
        if passage is not None:
            text, offset = passage.chunk.text, passage.chunk.start
            a, b = c.start - offset, c.end - offset
            body = f"{esc(text[:a])}<mark>{esc(text[a:b])}</mark>{esc(text[b:])}"
        else:
            body = f"<mark>{esc(c.quote)}</mark>"
        date = f" — {esc(c.published)}" if c.published else ""
        where = "photo caption" if c.section.value == "caption" else "body"
        label = esc(citation_label(c))
        if href := safe_href(c.url):
            label = f'<a href="{esc(href)}" target="_blank" rel="noopener noreferrer nofollow">{label}</a>'
        copies = ""
        if c.also_published_by:
            links = []
            for copy in c.also_published_by:
                name = esc(copy.publisher)
                href = safe_href(copy.url)
                links.append(f'<a href="{esc(href)}" target="_blank" rel="noopener noreferrer nofollow">{name}</a>'
                             if href else name)
            copies = f'<p class="qa-copies">Also published by {", ".join(dict.fromkeys(links))}</p>'
        blocks.append(
            f'<details open id="source-{c.n}" class="qa-source"><summary><b>[{c.n}]</b> {label}'
            f"{date}</summary><p class=\"qa-passage\">{body}</p>"
            f"<p class=\"qa-offsets\">{where}, characters {c.start}–{c.end}</p>{copies}</details>"
        )
    return '<div class="qa-sources">' + "".join(blocks) + "</div>"
