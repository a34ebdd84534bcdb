"""👍/👎 on answers, from the web page and Slack, kept in SQLite beside the index; 👎 answers export as
gold-question candidates for `qa eval`."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from qa.schema import Answer
from qa.store import sqlite_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, rating TEXT NOT NULL, channel TEXT NOT NULL,
    user TEXT, question TEXT NOT NULL, answer TEXT NOT NULL, abstained INTEGER NOT NULL,
    citations TEXT NOT NULL, answer_json TEXT NOT NULL);
"""


class Rating(str, Enum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    created: float
    rating: Rating
    channel: str
    user: str | None
    question: str
    answer: str
    abstained: bool
    citations: list[dict]


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = path
        self._conn = sqlite_wal.connect(path, lambda conn: conn.executescript(_SCHEMA))
        self._lock = threading.Lock()

    def record(self, answer: Answer | dict, rating: Rating, channel: str, user: str | None = None) -> int:
        data = answer.to_dict() if isinstance(answer, Answer) else answer
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO feedback(created, rating, channel, user, question, answer, abstained, citations, "
                "answer_json) VALUES (?,?,?,?,?,?,?,?,?)",
                (time.time(), Rating(rating).value, channel, user, data["question"], data["answer"],
                 int(bool(data["abstained"])), json.dumps(data.get("citations", []), ensure_ascii=False),
                 json.dumps(data, ensure_ascii=False)),
            )
            return int(cursor.lastrowid)

    def records(self, rating: Rating | None = None) -> list[FeedbackRecord]:
        query = "SELECT id, created, rating, channel, user, question, answer, abstained, citations FROM feedback"
        params: tuple = ()
        if rating is not None:
            query, params = query + " WHERE rating = ?", (Rating(rating).value,)
        rows = self._conn.execute(query + " ORDER BY id", params).fetchall()
        return [FeedbackRecord(r[0], r[1], Rating(r[2]), r[3], r[4], r[5], r[6], bool(r[7]), json.loads(r[8]))
                for r in rows]

    def export_gold_candidates(self, rating: Rating | None = Rating.DOWN) -> list[dict]:
        """One `qa eval` JSONL record per distinct question: answers left empty for a person to fill in
        (an empty list means "unanswerable" to qa eval, so review before use)."""
        seen: set[str] = set()
        candidates = []
        for record in self.records(rating):
            key = record.question.strip().lower()
            if key in seen:
                continue
            seen.add(key)
            candidates.append({
                "id": f"feedback-{record.id}",
                "question": record.question,
                "answers": [],
                "evidence_article_ids": sorted({c["article_id"] for c in record.citations}),
                "type": "feedback",
                "feedback": {"rating": record.rating.value, "channel": record.channel, "user": record.user,
                             "bot_answer": record.answer, "abstained": record.abstained,
                             "quotes": [c["quote"] for c in record.citations]},
            })
        return candidates
