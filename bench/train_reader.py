"""Fine-tune the short-answer span reader (qa/answer/reader.py) on squad-v2-dev, outside the bench sample.

Training contexts are what the reader sees at run time: the quotes the engine cited for each calibration
question (bench/.cache/short_answer/calibration.jsonl, written by bench/calibrate_short_answer.py), joined;
plus, for each question, the sentence of its gold paragraph that holds the answer with the next one, and
(`--augment 2`, the default) with both its neighbours. Questions whose answer is in no context learn to
point at [CLS] ("no answer here"). Only the top `--top-layers` encoder layers (reader.TOP_LAYERS) and the
head learn; the frozen layers' outputs are computed once and cached in memory.

Two fold readers (each trained without one half of the questions, by a hash of the id) score the other
half for bench/calibrate_short_answer.py, so that the ranker and the gate learn from readings of
questions the reader never saw. The shipped reader (qa/data/reader.safetensors) is the fold reader trained
without fold 0, copied: what the gate was calibrated on is a reader trained on as many questions as the
one that runs.

    python bench/train_reader.py [--epochs 3] [--top-layers 6] [--augment 2] [--only folds|fold0|fold1|all]

`--only all` (the default) trains both folds and ships the first. Measured (held-out fold 0, 600
questions, the reader's best span alone; about 17 min a fold on 2 cores with 6 layers):

    top layers, epochs, augment   exact match   F1
    2, 2, 1   (the first reader)  0.320         0.417
    3, 2, 2                       0.405         0.508
    4, 3, 2                       0.455         0.557
    6, 3, 2   (shipped)           0.477         0.580    (21 MB fp16: every encoder layer, not the embeddings)

With its ranker and gate fitted on fold 0 alone (calibrate_short_answer.py --reader --fold 0), at the gate
threshold 0.5: shown 49 % / 52 % of the answered, exact match 0.73 / 0.72, F1 0.80 / 0.79 (4 / 6 layers).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import CACHE_DIR, benchmark_sample, emit, load_questions  # noqa: E402
from qa.answer.reader import TOP_LAYERS  # noqa: E402

READER_DIR = CACHE_DIR / "reader"
INPUTS = CACHE_DIR / "short_answer" / "calibration.jsonl"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")


def fold_of(question_id: str) -> int:
    return int(hashlib.md5(question_id.encode()).hexdigest(), 16) % 2


def locate(context: str, answers: list[str]) -> tuple[int, int] | None:
    """The first gold answer found in the context (exact case first), as characters."""
    for fold_case in (False, True):
        hay = context.lower() if fold_case else context
        found = []
        for a in answers:
            a = a.strip()
            if not a:
                continue
            k = hay.find(a.lower() if fold_case else a)
            if k >= 0:
                found.append((k, k + len(a)))
        if found:
            return min(found, key=lambda x: (x[1] - x[0], x[0]))  # the shortest: SQuAD's minimal answer
    return None


def examples(rows: list[dict], evidence: dict[str, str], augment: int) -> list[tuple[str, str, tuple | None]]:
    from qa.answer.reader import join_quotes

    out = []
    for r in rows:
        if r["sentences"]:
            context, _ = join_quotes(r["sentences"])
            out.append((r["question"], context, locate(context, r["answers"])))
        if augment and r["id"] in evidence:
            sentences = _SENTENCE.split(evidence[r["id"]])
            for k, s in enumerate(sentences):
                if locate(s, r["answers"]):
                    # the answer's sentence with the next, and (when there is one) between its two neighbours:
                    # the reader sees up to three quotes at run time, the answer not always first
                    windows = [sentences[k : k + 2]] + ([sentences[k - 1 : k + 2]] if k and augment > 1 else [])
                    for window in windows:
                        context = " ".join(window)
                        out.append((r["question"], context, locate(context, r["answers"])))
                    break
    return out


def tensors(tokenizer, items):
    """Token ids and the start/end labels (0: [CLS]) of each example, unpadded."""
    from qa.answer.reader import encode

    out = []
    for q, c, span in items:
        enc = encode(tokenizer, [q], [c], padding=False)
        seq = enc.sequence_ids(0)
        offsets = enc["offset_mapping"][0].tolist()
        s_label = e_label = 0
        if span is not None:
            a, b = span
            s_tok = [k for k, sid in enumerate(seq) if sid == 1 and offsets[k][0] <= a < offsets[k][1]]
            e_tok = [k for k, sid in enumerate(seq) if sid == 1 and offsets[k][0] < b <= offsets[k][1]]
            if s_tok and e_tok and e_tok[0] >= s_tok[0]:
                s_label, e_label = s_tok[0], e_tok[0]
        context_mask = [1 if sid == 1 or k == 0 else 0 for k, sid in enumerate(seq)]
        out.append((enc["input_ids"][0], enc["token_type_ids"][0], context_mask, s_label, e_label))
    return out


def batches(n_items: list[int], size: int, rng: random.Random):
    order = sorted(range(len(n_items)), key=lambda k: n_items[k])
    chunks = [order[k : k + size] for k in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def pad(seqs, value=0):
    import torch

    n = max(len(s) for s in seqs)
    return torch.tensor([list(s) + [value] * (n - len(s)) for s in seqs])


def train(items, args, label: str):
    """A reader trained on the given examples; returns the model and the seconds it took."""
    import torch
    from tqdm import tqdm

    from qa.answer.reader import build

    torch.manual_seed(0)
    model, _ = build(top_layers=args.top_layers)
    for p in model.encoder.parameters():
        p.requires_grad = False
    top = model.encoder.encoder.layer[model.n_frozen :]
    for layer in top:
        layer.train()
        for p in layer.parameters():
            p.requires_grad = True
    started = time.perf_counter()
    # The frozen bottom, once.
    cached = []
    with torch.inference_mode():
        for chunk in batches([len(x[0]) for x in items], 64, random.Random(0)):
            ids = pad([items[k][0].tolist() for k in chunk])
            types = pad([items[k][1].tolist() for k in chunk])
            att = pad([[1] * len(items[k][0]) for k in chunk])
            h = model.bottom(ids, types, att)
            for row, k in enumerate(chunk):
                cached.append((k, h[row, : len(items[k][0])].to(torch.float16).clone()))
    hidden = dict(cached)
    params = [{"params": [p for layer in top for p in layer.parameters()], "lr": args.lr},
              {"params": list(model.head.parameters()), "lr": args.head_lr}]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    rng = random.Random(1)
    plan = [batches([len(x[0]) for x in items], args.batch, rng) for _ in range(args.epochs)]
    steps = sum(len(p) for p in plan)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 30) * max(0.0, 1 - s / steps))
    bar = tqdm(total=steps, desc=f"train {label}", file=sys.stderr)
    for epoch in plan:
        for chunk in epoch:
            n = max(len(items[k][0]) for k in chunk)
            h = torch.zeros(len(chunk), n, hidden[chunk[0]].shape[1])
            for row, k in enumerate(chunk):
                h[row, : len(items[k][0])] = hidden[k].to(torch.float32)
            att = pad([[1] * len(items[k][0]) for k in chunk])
            allowed = pad([items[k][2] for k in chunk]).bool()
            logits = model.top(h, att).masked_fill(~allowed[:, :, None], -1e4)
            s_label = torch.tensor([items[k][3] for k in chunk])
            e_label = torch.tensor([items[k][4] for k in chunk])
            loss = (torch.nn.functional.cross_entropy(logits[:, :, 0], s_label)
                    + torch.nn.functional.cross_entropy(logits[:, :, 1], e_label)) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in params for p in g["params"]], 1.0)
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    for layer in top:
        layer.eval()
    return model, time.perf_counter() - started


def save(model, path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in model.delta().items()}, str(path))


def evaluate(path: Path, rows: list[dict]) -> dict:
    """The reader's best span alone on held-out questions (contexts as at run time)."""
    from qa.answer.reader import Reader, build
    from qa.evaluation import exact_match, token_f1
    from safetensors.torch import load_file

    model, tokenizer = build()
    model.load_delta(load_file(str(path)))
    reader = Reader(model, tokenizer)
    em, f1, started = [], [], time.perf_counter()
    for r in rows:
        reading, _ = reader.read(r["question"], r["sentences"])
        b = reading.best(8)
        text = reading.context[b[0] : b[1]] if b else ""
        em.append(exact_match(text, r["answers"]))
        f1.append(token_f1(text, r["answers"]))
    n = max(len(rows), 1)
    return {"questions": len(rows), "best_span_exact_match": round(sum(em) / n, 4),
            "best_span_f1": round(sum(f1) / n, 4), "ms_per_read": round((time.perf_counter() - started) * 1000 / n, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", choices=("folds", "fold0", "fold1", "all"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="train on this many questions only (a quick try)")
    parser.add_argument("--augment", type=int, choices=(0, 1, 2), default=2,
                        help="gold-paragraph contexts per question: 0 none (only the engine's cited quotes), 1 the "
                             "answer's sentence with the next, 2 also with both neighbours")
    parser.add_argument("--top-layers", type=int, default=TOP_LAYERS, help="encoder layers to fine-tune and ship")
    args = parser.parse_args()

    import torch

    from qa.answer.reader import DELTA_PATH, build

    torch.set_num_threads(args.threads)
    questions = load_questions()
    excluded = {q["id"] for q in benchmark_sample(questions)}
    evidence = {q["id"]: " ".join(q.get("evidence_text") or []) for q in questions}
    rows = [r for r in map(json.loads, INPUTS.open()) if r["id"] not in excluded and not r["abstained"]]
    if args.limit:
        rows = rows[: args.limit]
    _, tokenizer = build()
    result = {"questions": len(rows), "epochs": args.epochs, "threads": args.threads, "top_layers": args.top_layers,
              "augment": args.augment, "lr": args.lr}
    jobs = []
    folds = {"folds": (0, 1), "all": (0, 1), "fold0": (0,), "fold1": (1,)}.get(args.only, ())
    jobs += [(f"without_fold{f}", [r for r in rows if fold_of(r["id"]) != f], READER_DIR / f"without_fold{f}.safetensors",
              [r for r in rows if fold_of(r["id"]) == f]) for f in folds]
    for label, train_rows, path, held_out in jobs:
        items = tensors(tokenizer, examples(train_rows, evidence, args.augment))
        model, seconds = train(items, args, label)
        save(model, path)
        result[label] = {"examples": len(items), "with_answer": sum(x[3] > 0 for x in items),
                         "seconds": round(seconds, 1), "bytes": path.stat().st_size}
        if held_out:
            result[label]["held_out"] = evaluate(path, held_out[:600])
        print(json.dumps({label: result[label]}), file=sys.stderr)
    if args.only == "all":
        shutil.copyfile(READER_DIR / "without_fold0.safetensors", DELTA_PATH)
        result["shipped"] = f"{DELTA_PATH.relative_to(ROOT)}: the reader trained without fold 0"
    emit(result)


if __name__ == "__main__":
    main()
