"""A scripted OpenAI-compatible chat completions server for tests: real HTTP on 127.0.0.1, a free
port, a daemon thread. No network, no model.

Which reply a request gets, in this order:
1. the next reply of `server.queue` (a FIFO shared by all requests: for retry scripts);
2. `server.rules`: the first (marker, replies) whose marker occurs in the request's messages; its
   replies are served in order and the last one repeats (per-seed scripts that hold under concurrency);
3. `server.default(request) -> Reply` (by default a well-formed answer).

A Reply is a completion (`content`, `finish_reason`, token counts) or a failure: any `status`,
extra `headers` (e.g. Retry-After), `mode="reset"` (connection closed with RST, no response),
`mode="stall"` (headers and body only after `delay` seconds), or a raw `body`.

`server.requests` counts every request received (failures included); `server.bodies` keeps their
JSON bodies and `server.auth` their Authorization headers.

Usage:
    with OpenAIServer() as server:
        server.queue.append(Reply(status=429, headers={"Retry-After": "1"}))
        client_base_url = server.base_url  # http://127.0.0.1:<port>/v1
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = ("/v1/chat/completions", "/chat/completions")


@dataclass
class Reply:
    content: str | None = None  # the assistant message (status 200)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "ok"  # ok | reset | stall
    delay: float = 0.0  # stall: seconds before anything is sent
    finish_reason: str = "stop"
    prompt_tokens: int = 100
    completion_tokens: int = 50
    body: bytes | None = None  # sent as is instead of a completion (malformed bodies, error payloads)


def completion_body(reply: Reply, model: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content or ""},
                     "finish_reason": reply.finish_reason}],
        "usage": {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                  "total_tokens": reply.prompt_tokens + reply.completion_tokens},
    }).encode()


def well_formed(problem: str = "Write a function `add(a, b)` that returns the sum of two integers.",
                code: str = "def add(a, b):\n    return a + b", tag: str = "python", tests: str | None = None) -> str:
    """An answer in the OSS-Instruct format."""
    text = f"[Problem Description]\n{problem}\n\n[Solution]\n```{tag}\n{code}\n```\n"
    if tests is not None:
        text += f"\n[Tests]\n```{tag}\n{tests}\n```\n"
    return text


def request_text(request: dict[str, Any]) -> str:
    """All message contents of a chat request, joined."""
    return "\n".join(str(m.get("content", "")) for m in request.get("messages") or [] if isinstance(m, dict))


class OpenAIServer:
    def __init__(self, default: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.queue: deque[Reply] = deque()
        self.rules: list[tuple[str, deque[Reply]]] = []
        self.default = default or (lambda request: Reply(well_formed()))
        self.requests = 0
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    request = json.loads(raw or b"{}")
                except ValueError:
                    request = {}
                reply = server._next(request, self.headers.get("Authorization"))
                if self.path.split("?")[0] not in PATHS:
                    reply = Reply(status=404, body=b'{"error": {"message": "not found"}}')
                server._send(self, reply, str(request.get("model", "")))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ------------------------------------------------------------------ scripting
    def on(self, marker: str, *replies: Reply) -> None:
        """Requests whose messages contain `marker` get `replies` in order (the last one repeats)."""
        self.rules.append((marker, deque(replies)))

    def _next(self, request: dict[str, Any], auth: str | None) -> Reply:
        with self._lock:
            self.requests += 1
            self.bodies.append(request)
            self.auth.append(auth)
            if self.queue:
                return self.queue.popleft()
            text = request_text(request)
            for marker, replies in self.rules:
                if marker in text:
                    return replies.popleft() if len(replies) > 1 else replies[0]
        return self.default(request)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply, model: str) -> None:
        if reply.mode == "reset":
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            handler.close_connection = True
            handler.connection.close()
            return
        if reply.mode == "stall":
            time.sleep(reply.delay)
        body = reply.body if reply.body is not None else (
            completion_body(reply, model) if reply.status == 200 else
            json.dumps({"error": {"message": f"scripted {reply.status}"}}).encode())
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for k, v in reply.headers.items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(body)
            handler.wfile.flush()
        except OSError:  # the client gave up (timeout) and closed the connection
            handler.close_connection = True

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> OpenAIServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
