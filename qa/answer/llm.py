"""The LLM backends, through LangChain's chat-model interface (QA_LLM):

- `openai`: any OpenAI-compatible server (QA_LLM_BASE_URL, QA_LLM_MODEL, QA_LLM_API_KEY): OpenAI, vLLM,
  LM Studio, Ollama's /v1, llama.cpp's `python -m llama_cpp.server`; via langchain-openai's ChatOpenAI.
- `local`: a GGUF file (QA_LLM_MODEL_PATH; `qa llm install` assembles one) run in this process by
  llama-cpp-python; via langchain-community's ChatLlamaCpp.

Both live in the optional extra `article-qa[llm]`; without it, asking for one raises LLMUnavailable naming the
install command. Generation is greedy (temperature 0): the same question over the same passages gets the
same answer. A local model is one llama.cpp context, which is not thread-safe: its calls are serialised."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

from qa.config import LLMBackend, Settings
from qa.errors import LLMUnavailable

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

INSTALL = "pip install 'article-qa[llm]'"


class LLMFailed(RuntimeError):
    """The call failed (server down or refusing, timeout, bad response): the answer falls back to the
    extractive one, saying why."""


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user"
    content: str


def _messages(messages: Sequence[Message]):
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(m.content) if m.role == "system" else HumanMessage(m.content) for m in messages]


class LLM:
    """One configured chat model: `stream(messages)` yields text pieces, `complete(messages)` the whole reply."""

    def __init__(self, model: "BaseChatModel", backend: LLMBackend, name: str, serialise: bool):
        self.model = model
        self.backend = backend
        self.name = name
        self._lock = threading.Lock() if serialise else None

    def stream(self, messages: Sequence[Message], max_tokens: int | None = None) -> Iterator[str]:
        kwargs = {"max_tokens": max_tokens} if max_tokens else {}
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            for chunk in self.model.stream(_messages(messages), **kwargs):
                text = chunk.content if isinstance(chunk.content, str) else "".join(
                    part.get("text", "") for part in chunk.content if isinstance(part, dict))
                if text:
                    yield text
        except (LLMUnavailable, GeneratorExit):
            raise
        except Exception as exc:  # the server's or the library's error, whatever its class
            raise LLMFailed(f"{self.backend.value} model {self.name}: {type(exc).__name__}: {exc}"[:500]) from exc
        finally:
            if lock is not None:
                lock.release()

    def complete(self, messages: Sequence[Message], max_tokens: int | None = None) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens))


def build(settings: Settings) -> LLM | None:
    """The chat model the settings name; None for QA_LLM=none."""
    backend = LLMBackend(settings.llm)
    if backend is LLMBackend.NONE:
        return None
    if backend is LLMBackend.OPENAI:
        if not settings.llm_base_url:
            raise LLMUnavailable("QA_LLM=openai needs QA_LLM_BASE_URL (e.g. http://127.0.0.1:8080/v1)")
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise LLMUnavailable(f"QA_LLM=openai needs langchain-openai: {INSTALL}") from None
        model = ChatOpenAI(base_url=settings.llm_base_url, model=settings.llm_model,
                           api_key=settings.llm_api_key or "not-needed", temperature=0.0,
                           max_tokens=settings.llm_max_tokens, timeout=settings.llm_timeout, max_retries=1,
                           streaming=True)
        return LLM(model, backend, settings.llm_model, serialise=False)
    path = settings.llm_model_path
    if path is None:
        raise LLMUnavailable("QA_LLM=local needs QA_LLM_MODEL_PATH, a GGUF file (qa llm install NAME makes one)")
    if not path.is_file():
        raise LLMUnavailable(f"QA_LLM_MODEL_PATH: {path} is not a file (qa llm install NAME makes one)")
    try:
        import llama_cpp  # noqa: F401
        from langchain_community.chat_models import ChatLlamaCpp
    except ImportError:
        raise LLMUnavailable(f"QA_LLM=local needs llama-cpp-python: {INSTALL}") from None
    try:
        model = ChatLlamaCpp(model_path=str(path), n_ctx=settings.llm_context_tokens, n_batch=512,
                             n_threads=settings.llm_threads, max_tokens=settings.llm_max_tokens, temperature=0.0,
                             top_k=1, repeat_penalty=1.0, seed=0, verbose=False, streaming=True)
    except Exception as exc:  # llama.cpp refuses a damaged or foreign file with a ValueError
        raise LLMUnavailable(f"QA_LLM_MODEL_PATH: {path} could not be loaded: {exc}") from exc
    return LLM(model, backend, path.name, serialise=True)
