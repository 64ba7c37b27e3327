"""A local OpenAI-compatible HTTP server for tests and benchmarks: real HTTP, scripted answers.

Each request to POST /v1/chat/completions takes the next scripted Reply (or the default one), and the server
records what it received, so tests can check the exact request body the real SDK sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD_EMAIL = {
    "subject": "We saved some new pieces for you",
    "preheader": "A few things your stylist picked out",
    "greeting": "Hi Test,",
    "paragraphs": [
        "It has been a while since your last order, and we wanted to say hello.",
        "Your stylist has been setting aside new pants and shirts we think you will like.",
    ],
    "call_to_action_label": "See your picks",
    "sign_off": "Warm regards, the Northwind Apparel team",
}


def completion(content: str | dict[str, Any], *, prompt_tokens: int = 420, completion_tokens: int = 180,
               finish_reason: str = "stop") -> dict[str, Any]:  # fmt: skip
    text = content if isinstance(content, str) else json.dumps(content)
    return {
        "id": "gen-test",
        "object": "chat.completion",
        "created": 1_795_000_000,
        "model": "openai/gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: completion(GOOD_EMAIL))
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the answer starts
    trickle: float = 0.0  # between each of ten pieces of the answer: every read is quick, the whole is slow
    content_type: str = "application/json"  # bytes bodies are sent as they are


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]


class FakeLLM:
    def __init__(self, default: Reply | None = None, latency: float = 0.0) -> None:
        self.default = default or Reply()
        self.latency = latency
        self.script: deque[Reply] = deque()
        self.received: list[Received] = []
        self.keys_accepted: set[str] | None = None  # None: any key
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 64})  # many calls at once
        self.server = server_class(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def then(self, *replies: Reply) -> FakeLLM:
        self.script.extend(replies)
        return self

    def requests_received(self, expected: int, *, wait_s: float = 5.0) -> int:
        """How many requests arrived, waiting up to wait_s for the expected number: a client that timed out may
        have moved on before the server thread has read its last request."""
        deadline = time.monotonic() + wait_s
        while len(self.received) < expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.received)

    def _next(self) -> Reply:
        with self._lock:
            return self.script.popleft() if self.script else self.default


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.fake
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        with fake._lock:
            fake.received.append(Received(body=body, headers={k.lower(): v for k, v in self.headers.items()}))
            fake.in_flight += 1
            fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
        try:
            key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            if fake.keys_accepted is not None and key not in fake.keys_accepted:
                reply = Reply(status=401, body={"error": {"message": "invalid key", "code": 401}})
            else:
                reply = fake._next()
            time.sleep(fake.latency + reply.delay)
            data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if reply.trickle:
                piece = -(-len(data) // 10)
                for start in range(0, len(data), piece):
                    self.wfile.write(data[start : start + piece])
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
        finally:
            with fake._lock:
                fake.in_flight -= 1


@contextmanager
def running(fake: FakeLLM) -> Iterator[FakeLLM]:
    thread = threading.Thread(target=fake.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
