"""Test helpers for the crawl tests: a scripted HTTP server on 127.0.0.1 and archive builders."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import tarfile
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "ok"  # ok | truncate (promise more bytes than sent) | stall (sleep before body) | reset
    delay: float = 0.0


class ScriptedServer:
    """Routes map a path to a queue of replies; the last reply of a queue repeats forever."""

    def __init__(self) -> None:
        self.routes: dict[str, deque[Reply]] = defaultdict(deque)
        self.log: list[tuple[str, dict[str, str]]] = []
        self.dynamic: dict[str, Callable[[str, dict[str, str]], Reply]] = {}  # path -> f(full path, headers)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                server.log.append((self.path, dict(self.headers)))
                route = self.path.split("?")[0]
                if route in server.dynamic:
                    queue = deque([server.dynamic[route](self.path, dict(self.headers))])
                else:
                    queue = server.routes.get(route)
                if not queue:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                reply = queue.popleft() if len(queue) > 1 else queue[0]
                if reply.mode == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(reply.status)
                length = len(reply.body) * (2 if reply.mode == "truncate" else 1)
                self.send_header("Content-Length", str(length))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if reply.mode == "stall":
                    time.sleep(reply.delay)
                try:
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                except OSError:
                    pass
                if reply.mode == "truncate":
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def add(self, path: str, *replies: Reply) -> None:
        self.routes[path].extend(replies)

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.log if p.split("?")[0] == path)


def make_tar(files: dict[str, bytes], *, mode: str = "w:gz") -> bytes:
    """A tar archive of regular files (name -> bytes) with fixed metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def git(repo: str | os.PathLike, *args: str, date: str | None = None) -> str:
    """Run git in `repo` with a fixed identity and no user/system config; its stdout, stripped."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@x", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def git_repo_with(root: Path, files: dict[str, bytes], *, symlinks: dict[str, str] | None = None,
                  executable: tuple[str, ...] = ()) -> tuple[Path, str]:
    """A one-commit repository at `root` holding `files` (+ symlinks name -> target); (path, commit sha)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        if name in executable:
            (root / name).chmod(0o755)
    for name, target in (symlinks or {}).items():
        os.symlink(target, root / name)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "snapshot", date="2022-06-01T12:00:00+00:00")
    return root, git(root, "rev-parse", "HEAD")
