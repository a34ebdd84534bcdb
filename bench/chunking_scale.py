"""How Chunker.split scales with article size: seconds and peak extra memory per synthetic article, as JSON.

    .venv/bin/python bench/chunking_scale.py        # 1, 4, 16, 50 MB of prose, then two adversarial cases
    .venv/bin/python bench/chunking_scale.py --cases prose_1mb,prose_4mb --timeout 120 --tracemalloc

Each case runs in a fresh process (the real tokenizer, Chunker(count_tokens, 256, 256)).
- `seconds`: wall time of split() alone; `cpu_seconds`: its CPU time, all threads (the tokenizer's too),
  steadier than wall time on a busy machine.
- `peak_extra_mb`: resident-set peak during split() above the resident set just before it (the article
  itself excluded; the kernel's peak counter is reset first).
- `retained_mb`: what is still resident after it, mostly the chunks returned (their text is a copy of the
  article's). Peak equal to retained means no transient memory beyond the result.
- `tracemalloc_peak_mb` (with --tracemalloc, which slows the run): Python's own allocation peak.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_WORDS = (
    "the council said on Tuesday that harbor cranes ferries would resume service after months of repairs "
    "officials expect record crowds while engineers inspect the bridge and residents voiced concerns about "
    "prices rising percent in the region economy budget vote library school hospital minister agreed to "
    "review report according statement spokesperson declined comment police investigation weather storm"
).split()
_NAMES = ["Mr. Smith", "Dr. Lee", "J. R. Hartley", "the U.S. Senate", "Prof. Ortiz", "Gov. Brown", "Ms. Kim"]


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 28))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(_NAMES))
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), f"{rng.randint(1, 99)}.{rng.randint(0, 9)}")
    text = " ".join(words)
    text = text[0].upper() + text[1:]
    end = rng.choice([".", ".", ".", ".", "!", "?"])
    if rng.random() < 0.15:
        return f"“{text},” she said."
    return text + end


def prose(n_bytes: int, seed: int = 0) -> str:
    """Realistic-looking news prose: paragraphs of 1-8 sentences, abbreviations, initials, quotes, numbers."""
    rng = random.Random(seed)
    pool = [" ".join(_sentence(rng) for _ in range(rng.randint(1, 8))) for _ in range(4000)]
    parts: list[str] = []
    size = 0
    while size < n_bytes:
        paragraph = rng.choice(pool)
        parts.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(parts)


def no_sentence_end(n_bytes: int, seed: int = 1) -> str:
    """One paragraph of words with no sentence end and no line break."""
    rng = random.Random(seed)
    words = []
    size = 0
    while size < n_bytes:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def no_whitespace(n_bytes: int, seed: int = 2) -> str:
    """One line with no whitespace at all: words glued by punctuation (minified or scraped junk)."""
    rng = random.Random(seed)
    words = []
    size = 0
    while size < n_bytes:
        word = rng.choice(_WORDS) + rng.choice(",-/.;:_")
        words.append(word)
        size += len(word)
    return "".join(words)


CASES = {
    "prose_1mb": lambda: prose(1 << 20),
    "prose_4mb": lambda: prose(4 << 20),
    "prose_16mb": lambda: prose(16 << 20),
    "prose_50mb": lambda: prose(50 << 20),
    "one_paragraph_no_sentence_end_5mb": lambda: no_sentence_end(5 << 20),
    "one_line_no_whitespace_5mb": lambda: no_whitespace(5 << 20),
}


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run_case(name: str, use_tracemalloc: bool) -> dict:
    import gc

    from qa.chunking import Chunker
    from qa.config import get_settings
    from qa.embedding import get_encoder
    from qa.schema import Article

    encoder = get_encoder(get_settings().embedding_model)
    chunker = Chunker(encoder.count_tokens, 256, 256)
    chunker.split(Article(text="Warm up the tokenizer. It loads lazily.", title="Warm up"))
    text = CASES[name]()
    article = Article(text=text, title="A synthetic article", published="2024-01-02")
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident-set counter
    except OSError:
        pass
    before = _rss_kb("VmRSS")
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    chunks = chunker.split(article)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    result = {
        "case": name,
        "chars": len(text),
        "chunks": len(chunks),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_extra_mb": round((_rss_kb("VmHWM") - before) / 1024, 1),
        "retained_mb": round((_rss_kb("VmRSS") - before) / 1024, 1),
        "max_chunk_chars": max(len(c.text) for c in chunks),
    }
    if use_tracemalloc:
        import tracemalloc

        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per case")
    parser.add_argument("--tracemalloc", action="store_true", help="also measure Python's allocation peak")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_case(args.child, args.tracemalloc)))
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    results = []
    for name in args.cases.split(","):
        command = [sys.executable, __file__, "--child", name] + (["--tracemalloc"] if args.tracemalloc else [])
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env)
        except subprocess.TimeoutExpired:
            results.append({"case": name, "seconds": None, "error": f"did not finish in {args.timeout:.0f} s"})
        else:
            if done.returncode == 0:
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            else:
                results.append({"case": name, "error": done.stderr.strip().splitlines()[-1:]})
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"bench": "chunking_scale", "results": results}, indent=2))


if __name__ == "__main__":
    main()
