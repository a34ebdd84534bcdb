"""Gold questions: our JSONL (single questions or multi-turn `turns`), CSV, and official SQuAD JSON."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from qa.sources.articles import jsonl_objects


class AnswerMode(str, Enum):
    ANY = "any"  # one of the gold answers suffices
    ALL = "all"  # the answer must contain every gold answer


class GoldFormatError(ValueError):
    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")


@dataclass
class GoldQuestion:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)  # empty: the articles do not answer it
    answer_mode: AnswerMode = AnswerMode.ANY
    evidence_article_ids: list[str] = field(default_factory=list)
    evidence_text: list[str] = field(default_factory=list)
    type: str | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def group(self) -> str:
        return self.type or ("answerable" if self.answerable else "unanswerable")


@dataclass
class GoldDialogue:
    """Questions asked in order in one conversation; a plain question is a one-turn dialogue."""

    id: str
    turns: list[GoldQuestion]


@dataclass
class GoldSet:
    dialogues: list[GoldDialogue]
    articles: list[dict] = field(default_factory=list)  # articles the file itself carries (SQuAD contexts)

    @property
    def questions(self) -> list[GoldQuestion]:
        return [turn for d in self.dialogues for turn in d.turns]


def load_gold(path: Path | str) -> GoldSet:
    path = Path(path)
    if not path.is_file():
        raise GoldFormatError(str(path), "no such file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _load_jsonl(path)
    if suffix == ".csv":
        return _load_csv(path)
    if suffix == ".json":
        return _load_squad(path)
    raise GoldFormatError(str(path), f"unsupported gold file type '{suffix}' (use .jsonl, .csv or SQuAD .json)")


def _str_list(value, where: str, name: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    raise GoldFormatError(where, f"'{name}' must be a string or a list of strings")


def _question(record: dict, where: str, default_id: str) -> GoldQuestion:
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise GoldFormatError(where, "missing 'question'")
    mode = record.get("answer_mode") or "any"
    try:
        answer_mode = AnswerMode(mode)
    except ValueError as exc:
        raise GoldFormatError(where, f"answer_mode must be 'any' or 'all', not {mode!r}") from exc
    return GoldQuestion(
        id=str(record.get("id") or default_id),
        question=question.strip(),
        answers=_str_list(record.get("answers"), where, "answers"),
        answer_mode=answer_mode,
        evidence_article_ids=_str_list(record.get("evidence_article_ids"), where, "evidence_article_ids"),
        evidence_text=_str_list(record.get("evidence_text"), where, "evidence_text"),
        type=record.get("type") or None,
    )


def _load_jsonl(path: Path) -> GoldSet:
    dialogues = []
    for where, record, problem in jsonl_objects(path, path.read_text(encoding="utf-8")):
        if record is None:
            raise GoldFormatError(where, problem)
        dialogue_id = str(record.get("id") or f"line{where.rsplit(':', 1)[1]}")
        if "turns" in record:
            turns = record["turns"]
            if not isinstance(turns, list) or not turns:
                raise GoldFormatError(where, "'turns' must be a non-empty list")
            questions = []
            for i, turn in enumerate(turns, start=1):
                if not isinstance(turn, dict):
                    raise GoldFormatError(where, f"turn {i} must be an object")
                merged = {"type": record.get("type"), **turn}
                questions.append(_question(merged, f"{where} turn {i}", f"{dialogue_id}#{i}"))
            dialogues.append(GoldDialogue(dialogue_id, questions))
        else:
            dialogues.append(GoldDialogue(dialogue_id, [_question(record, where, dialogue_id)]))
    return GoldSet(dialogues)


def _load_csv(path: Path) -> GoldSet:
    """Same columns as the JSONL; list columns hold a JSON list or values separated by '|'."""
    dialogues = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            record: dict = dict(row)
            for name in ("answers", "evidence_article_ids", "evidence_text"):
                raw = (record.get(name) or "").strip()
                if raw.startswith("["):
                    try:
                        record[name] = json.loads(raw)
                    except json.JSONDecodeError as exc:
                        raise GoldFormatError(f"{path}:{number}", f"column '{name}' is not a JSON list") from exc
                else:
                    record[name] = [v.strip() for v in raw.split("|") if v.strip()]
            question = _question(record, f"{path}:{number}", f"row{number}")
            dialogues.append(GoldDialogue(question.id, [question]))
    return GoldSet(dialogues)


def _load_squad(path: Path) -> GoldSet:
    """Official SQuAD v1.1 / v2.0 JSON; its contexts become the articles (one per title)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise GoldFormatError(str(path), "not a SQuAD JSON file (expected {'data': [...]})") from exc
    dialogues, articles = [], []
    for entry in entries:
        title = entry.get("title") or f"article{len(articles)}"
        contexts = [p["context"] for p in entry.get("paragraphs", [])]
        articles.append({"id": title, "title": title.replace("_", " "), "text": "\n\n".join(contexts)})
        for paragraph in entry.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                impossible = bool(qa.get("is_impossible"))
                answers = [] if impossible else [a["text"] for a in qa.get("answers", [])]
                question = GoldQuestion(
                    id=str(qa["id"]),
                    question=qa["question"],
                    answers=answers,
                    evidence_article_ids=[] if impossible else [title],
                    evidence_text=[paragraph["context"]],
                    type="unanswerable" if impossible or not answers else "answerable",
                )
                dialogues.append(GoldDialogue(question.id, [question]))
    return GoldSet(dialogues, articles)
