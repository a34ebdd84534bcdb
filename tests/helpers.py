"""Small builders for test inputs (a real PDF, feeds) made without network or extra packages, and the
servers the tests start (the real app.py, a process behind a URL, an ASGI app in a thread)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(proc: subprocess.Popen, url: str, log_path: Path | None = None, *, timeout: float = 120,
                  what: str = "server", data: bytes | None = None) -> None:
    """Poll `url` (POSTing `data` when given) until the server started as `proc` answers it. Any HTTP answer
    counts, an error status too: the server is up, behind a login or refusing an unsigned call. Fails the
    test, showing the log, if the process exits or `timeout` seconds pass (the process is then killed)."""
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(request, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if proc.poll() is not None:
                problem = f"exited with status {proc.returncode}"
                break
            if time.monotonic() >= deadline:
                problem = f"did not answer within {timeout:g} s"
                break
            time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    message = f"{what} {problem} ({url})"
    if log_path is not None:
        message += f"; its log, {log_path}:\n" + (log_path.read_text(errors="replace") if log_path.exists() else "")
    pytest.fail(message)


def start_app(tmp_path: Path, env: dict[str, str], cwd: Path = ROOT,
              timeout: float = 180) -> tuple[subprocess.Popen, str, Path]:
    """The real app.py, started on a free port with `env` over this process's environment (it must name
    QA_INDEX_DIR and QA_EXAMPLES_DIR, so no test touches a real index) and its output in
    tmp_path/server.log; returned once /openapi.json answers. Stop it with `stop(proc)`."""
    missing = {"QA_INDEX_DIR", "QA_EXAMPLES_DIR"} - set(env)
    if missing:
        raise ValueError(f"start_app needs {', '.join(sorted(missing))} in env")
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:  # the server writes to its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=cwd, env={**os.environ, **env, "QA_PORT": str(port)},
                                stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/openapi.json", log_path, timeout=timeout, what="app.py")
    return proc, url, log_path


def serve_in_thread(app, timeout: float = 10):
    """An ASGI app served by uvicorn in a daemon thread of this process: (server, url). Stop it with
    `server.should_exit = True`."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() >= deadline:
            raise RuntimeError("in-process server did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server started by a test, killing it if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def minimal_pdf(lines: list[str], title: str | None = None) -> bytes:
    """A valid one-page PDF whose text pypdf can extract."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    info = f"<< /Title ({escape(title)}) >>" if title else "<< >>"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info,
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Harbor News</title><link>http://example.test/</link>
<item><title>Ferry service resumes</title><link>http://example.test/ferry</link>
<guid>ferry-1</guid><pubDate>Tue, 04 Mar 2025 10:00:00 GMT</pubDate>
<description>&lt;p&gt;The harbor ferry resumed service on Monday after a two-week strike.&lt;/p&gt;&lt;p&gt;Captain Lina Ortiz said the crews had agreed to a new contract.&lt;/p&gt;</description></item>
<item><title>Lighthouse repainted</title><link>http://example.test/lighthouse</link>
<pubDate>Wed, 05 Mar 2025 09:00:00 GMT</pubDate>
<description>The old lighthouse was repainted red and white by volunteers.</description></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Valley Gazette</title><id>urn:valley</id>
<updated>2024-11-02T12:00:00Z</updated>
<entry><title>Orchard wins award</title><id>urn:valley:orchard</id><link href="http://example.test/orchard"/>
<published>2024-11-01T08:30:00Z</published><updated>2024-11-02T12:00:00Z</updated>
<author><name>Sam Reed</name></author>
<content type="html">&lt;p&gt;The Miller orchard won the regional apple award for its late-harvest cider.&lt;/p&gt;</content></entry>
</feed>
"""


def start_chroma(path: Path, timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """A real Chroma server on 127.0.0.1 (the `chroma` CLI that ships with chromadb), storing under `path`."""
    import sys

    chroma = Path(sys.executable).parent / "chroma"
    port = free_port()
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_until_up(proc, f"{url}/api/v2/heartbeat", timeout=timeout, what="chroma server")
    return proc, url


def forced(url: str, *texts: str):
    """An LLM (qa.answer.llm.LLM) on the real llama.cpp server at `url`, made to write exactly `texts[0]` on
    its first call, `texts[1]` on the next, ... (the last one from then on): a GBNF grammar of that one
    string, generated and streamed token by token by the model."""
    from langchain_openai import ChatOpenAI

    from qa.answer.llm import LLM
    from qa.config import LLMBackend

    class Forced(LLM):
        def __init__(self):
            super().__init__(None, LLMBackend.OPENAI, "smollm2 (grammar)", serialise=False)
            self.texts = list(texts)

        def stream(self, messages, max_tokens=None):
            text = self.texts.pop(0) if len(self.texts) > 1 else self.texts[0]
            literal = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            self.model = ChatOpenAI(base_url=url, model="smollm2", api_key="none", temperature=0.0, max_tokens=400,
                                    timeout=60, max_retries=0, streaming=True,
                                    extra_body={"grammar": f'root ::= "{literal}"'})
            return super().stream(messages, max_tokens=None)

    return Forced()


def llm_sources(engine, question: str, **request) -> list:
    """The numbered sentences `engine` gives its LLM for `question` (the steps of Engine._generate)."""
    from qa.answer.generate import choose_sources

    state = engine._prepare({"question": question, **request})
    draft = engine._draft(state, engine._retrieve(state, None))
    return choose_sources(draft.candidates, draft.sentences, engine.settings.llm_context_words)
