"""The errors every interface turns into a clear message (CLI exit status, HTTP status, Slack reply).

Each carries the sentence a person should read; none of them is a bug, so none may surface as a traceback."""
from __future__ import annotations


class QAError(Exception):
    """Base class: `str(error)` is the message to show; `http_status` what the API answers."""

    http_status = 400
    exit_code = 2
    kind = "bad_request"  # the `error` field of the API's JSON answer

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputError(QAError, ValueError):
    """A question, filter or argument that cannot be used; names the field and the reason."""

    http_status = 422
    kind = "invalid_input"

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class IndexBusyError(QAError):
    """Another process holds the index's writer lock (and the caller chose not to wait)."""

    http_status = 409
    exit_code = 3
    kind = "index_busy"


class IndexDamagedError(QAError):
    """The index is inconsistent or unreadable; answering from it would be silently wrong."""

    http_status = 503
    exit_code = 4
    kind = "index_damaged"

    def __init__(self, problem: str, fix: str = "qa check --repair"):
        super().__init__(f"The index is damaged: {problem}. Run `{fix}` to fix it.")
        self.problem = problem
        self.fix = fix


class VectorStoreUnavailable(QAError):
    """The Chroma server named by QA_CHROMA_URL cannot be reached."""

    http_status = 503
    exit_code = 5
    kind = "vector_store_unavailable"

    def __init__(self, url: str, reason: str = "not reachable"):
        super().__init__(f"The Chroma server at {url} is {reason}; start it or fix QA_CHROMA_URL.")
        self.url = url


class LLMUnavailable(QAError):
    """The configured LLM cannot be used: its optional extra is not installed, a setting is missing, or the
    model file is absent or unreadable. The message says what to do."""

    http_status = 503
    exit_code = 6
    kind = "llm_unavailable"
