"""A headless Chromium for tests, driven over the DevTools protocol (one websocket).

``Browser`` starts ``chromium --headless=new`` with its own profile and port, opens pages,
collects what their console said (errors, warnings, uncaught exceptions), evaluates
JavaScript and takes screenshots.  Nothing sleeps: every wait polls with a deadline.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """``$PEGASUS_LITE_CHROMIUM``, else the first Chromium on PATH."""
    named = os.environ.get("PEGASUS_LITE_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(Exception):
    pass


class Page:
    """One tab: its console messages and the protocol calls the tests need."""

    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session
        self.console: list[tuple[str, str]] = []  # (level, text)

    def call(self, method: str, timeout: float = 30.0, **params: object) -> dict:
        return self.browser.call(method, params, self.session, timeout)

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.console if level in ("error", "exception")]

    def goto(self, url: str, timeout: float = 60.0) -> None:
        """Load a page and wait for its load event."""
        self.browser.events.clear()
        self.call("Page.navigate", url=url)
        self.browser.wait_event("Page.loadEventFired", self.session, timeout)

    def evaluate(self, expression: str, timeout: float = 30.0) -> object:
        reply = self.call(
            "Runtime.evaluate",
            timeout,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in reply:
            raise BrowserError("%s: %s" % (expression, reply["exceptionDetails"]))
        return reply.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> object:
        """Poll a JavaScript expression until it is truthy; its last value on timeout is
        in the error."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            self.browser.pump(0.1)  # console events arrive meanwhile
        raise BrowserError(
            "timed out after %.0f s waiting for %s (last: %r)" % (timeout, expression, value)
        )

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            height = min(int(size["height"]), 16000)  # Chromium's texture limit
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": int(size["width"]),
                "height": height,
                "scale": 1,
            }
            params["captureBeyondViewport"] = True
        data = self.call("Page.captureScreenshot", 120.0, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


class Browser:
    """A Chromium process and the websocket to it; use as a context manager."""

    def __init__(self, executable: str, width: int = 1400, height: int = 900):
        self.executable = executable
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="chromium-test-")
        self.proc: subprocess.Popen | None = None
        self.ws = None
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        self.pages: dict[str, Page] = {}

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, timeout: float = 60.0) -> None:
        import websocket  # websocket-client

        argv = [
            self.executable,
            "--headless=new",
            "--remote-debugging-port=0",
            "--user-data-dir=" + self.profile,
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--allow-file-access-from-files",
            "--window-size=%d,%d" % (self.width, self.height),
            "about:blank",
        ]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        port_file = Path(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while True:
            if port_file.is_file():
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    break
            if self.proc.poll() is not None:
                raise BrowserError(
                    "chromium exited with %s before listening" % self.proc.returncode
                )
            if time.monotonic() > deadline:
                raise BrowserError("chromium did not start within %.0f s" % timeout)
            time.sleep(0.05)  # polling the port file, bounded by the deadline
        url = "ws://127.0.0.1:%s%s" % (lines[0], lines[1])
        self.ws = websocket.create_connection(url, timeout=timeout, suppress_origin=True)

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.call("Browser.close", {}, None, 10.0)
            except Exception:
                pass
            self.ws.close()
            self.ws = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        shutil.rmtree(self.profile, ignore_errors=True)

    # -------------------------------------------------------------- protocol

    def _receive(self, timeout: float) -> dict | None:
        import websocket

        self.ws.settimeout(max(timeout, 0.01))
        try:
            message = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in message:
            self._on_event(message)
        return message

    def _on_event(self, message: dict) -> None:
        self.events.append(message)
        page = self.pages.get(message.get("sessionId", ""))
        if page is None:
            return
        method, params = message["method"], message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            page.console.append((params.get("type", "log"), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            page.console.append(("exception", text))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            page.console.append((entry.get("level", "info"), entry.get("text", "")))

    def call(self, method: str, params: dict, session: str | None, timeout: float = 30.0) -> dict:
        ident = next(self.ids)
        message: dict = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._receive(deadline - time.monotonic())
            if reply is not None and reply.get("id") == ident:
                if "error" in reply:
                    raise BrowserError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
        raise BrowserError("no reply to %s within %.0f s" % (method, timeout))

    def pump(self, seconds: float) -> None:
        """Read events for up to ``seconds`` (returns early when none come)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._receive(deadline - time.monotonic()) is None:
                return

    def wait_event(self, method: str, session: str | None, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for event in self.events[seen:]:
                if event["method"] == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self._receive(min(1.0, deadline - time.monotonic()))
        raise BrowserError("no %s within %.0f s" % (method, timeout))

    def new_page(self) -> Page:
        target = self.call("Target.createTarget", {"url": "about:blank"}, None)["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, None)[
            "sessionId"
        ]
        page = self.pages[session] = Page(self, session)
        for domain in ("Page", "Runtime", "Log"):
            page.call(domain + ".enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page
