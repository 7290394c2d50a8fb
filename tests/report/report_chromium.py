"""A minimal Chrome DevTools Protocol client for the browser tests: real headless chromium, one tab per
page, console errors and uncaught exceptions collected from the protocol (not scraped from logs).

Why CDP rather than --dump-dom: it reports console errors, failed resource loads and exceptions as
structured events, lets a test wait until a single-page app has rendered, and screenshots exactly
what was checked.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--window-size=1200,900",
         # offline by construction: only loopback resolves, so a page that needs the internet shows it
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"]


def available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


class Page:
    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=30)
        self.events: list[dict[str, Any]] = []
        self._next = 0
        self._overrides: dict[str, tuple[bytes, str]] = {}
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60.0) -> dict[str, Any]:
        self._next += 1
        msg_id = self._next
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.01)))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict[str, Any]) -> None:
        self.events.append(msg)
        if msg.get("method") == "Fetch.requestPaused":
            p = msg["params"]
            hit = next((v for k, v in self._overrides.items() if k in p["request"]["url"]), None)
            if hit is None:
                self.send("Fetch.continueRequest", {"requestId": p["requestId"]})
            else:
                self.send("Fetch.fulfillRequest", {
                    "requestId": p["requestId"], "responseCode": 200,
                    "responseHeaders": [{"name": "Content-Type", "value": hit[1]}],
                    "body": base64.b64encode(hit[0]).decode("ascii")})

    def override(self, url_part: str, body: bytes, content_type: str = "application/json") -> None:
        """Answer requests whose URL contains `url_part` with `body` (the page never reaches the server)."""
        self._overrides[url_part] = (body, content_type)
        self.send("Fetch.enable", {"patterns": [{"urlPattern": f"*{k}*"} for k in self._overrides]})

    def pump(self, seconds: float) -> None:
        """Collect events (late console messages) for a while."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self._event(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return

    def goto(self, url: str, timeout: float = 60.0) -> None:
        seen = len(self.events)
        self.send("Page.navigate", {"url": url}, timeout)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events[seen:]):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{url}: no load event within {timeout}s")
            try:
                self._event(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                continue
        self.pump(0.3)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, timeout)
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate failed: {res['exceptionDetails'].get('text')}")
        return res.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, interval: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still falsy after {timeout}s")
            self.pump(interval)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far, as readable lines."""
        out = []
        for e in self.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + str(d.get("exception", {}).get("description") or d.get("text")))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                         for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        return out

    def screenshot(self, path: str | os.PathLike, full_page: bool = True) -> int:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        Path(path).write_bytes(data)
        return len(data)

    def close(self) -> None:
        self.ws.close()


class Browser:
    """One headless chromium with a fresh profile; `page()` opens a new tab."""

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.profile = tempfile.mkdtemp(prefix="report-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + startup_timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])
        self.pages: list[Page] = []

    def page(self) -> Page:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=30) as resp:
            target = json.loads(resp.read())
        page = Page(target["webSocketDebuggerUrl"])
        self.pages.append(page)
        return page

    def close(self) -> None:
        for p in getattr(self, "pages", []):
            try:
                p.close()
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
