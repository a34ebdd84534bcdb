"""A local stand-in for Slack's Web API (the real one is unreachable from tests): it speaks the same
protocol (form or JSON bodies, bearer tokens, `ok`/`error` envelopes, message timestamps) and records
every call so tests can assert what the bot posted."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

BOT_USER_ID, BOT_ID, TEAM_ID = "UBOT", "BBOT", "T0001"


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.times: list[float] = []  # time.monotonic() of each call, as received
        self.messages: dict[str, dict[str, dict]] = {}  # channel → ts → message
        self._clock = 1_700_000_100
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(raw).items()}
                for key in ("blocks", "attachments"):
                    if isinstance(params.get(key), str):
                        params[key] = json.loads(params[key])
                if self.path.startswith("/response/"):
                    fake._record("response_url", params)
                    return self._reply({"ok": True})
                method = self.path.rsplit("/", 1)[-1]
                if not (self.headers.get("Authorization") or "").startswith("Bearer xoxb-"):
                    return self._reply({"ok": False, "error": "not_authed"})
                self._reply(fake.handle(method, params))

            def _reply(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    def _record(self, method: str, params: dict) -> None:
        with self._lock:
            self.calls.append((method, params))
            self.times.append(time.monotonic())

    def next_ts(self) -> str:
        with self._lock:
            self._clock += 1
            return f"{self._clock}.000100"

    def add_user_message(self, channel: str, ts: str, text: str, user: str = "U1", thread_ts: str | None = None):
        """What a person wrote in Slack (the tests send the matching event to the bot)."""
        message = {"type": "message", "user": user, "text": text, "ts": ts}
        if thread_ts:
            message["thread_ts"] = thread_ts
        self.messages.setdefault(channel, {})[ts] = message

    def handle(self, method: str, params: dict) -> dict:
        self._record(method, params)
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.test/", "team": "Test", "user": "qa-bot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
        channel = params.get("channel", "")
        if method == "chat.postMessage":
            ts = self.next_ts()
            message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": params.get("text", ""),
                       "ts": ts, "blocks": params.get("blocks", [])}
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.messages.setdefault(channel, {})[ts] = message
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            message = self.messages.get(channel, {}).get(params.get("ts", ""))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            message.update(text=params.get("text", ""), blocks=params.get("blocks", []))
            return {"ok": True, "channel": channel, "ts": params["ts"], "text": message["text"], "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method == "conversations.replies":
            root = params.get("ts")
            thread = [m for m in self.messages.get(channel, {}).values()
                      if m["ts"] == root or m.get("thread_ts") == root]
            return {"ok": True, "messages": sorted(thread, key=lambda m: float(m["ts"])), "has_more": False}
        return {"ok": False, "error": "unknown_method"}

    # ---------------------------------------------------------------- assertions
    def times_of(self, method: str) -> list[float]:
        """When each call to `method` arrived (time.monotonic())."""
        with self._lock:
            return [at for (name, _), at in zip(self.calls, self.times) if name == method]

    def calls_to(self, method: str) -> list[dict]:
        with self._lock:
            return [params for name, params in self.calls if name == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 60.0) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = self.calls_to(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} call(s) to {method}, got {len(self.calls_to(method))}")
