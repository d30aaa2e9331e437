"""A small Chrome DevTools Protocol client for the browser test (no selenium).

Chromium started with ``--remote-debugging-port=0`` writes the port it chose
into ``DevToolsActivePort`` in its user-data directory; each page then has a
websocket that takes JSON commands ``{"id", "method", "params"}`` and answers
``{"id", "result"}`` (or ``"error"``), mixed with events that carry no id.
The client here is synchronous: it owns a private asyncio loop and runs
tornado's websocket client on it, so a test reads top to bottom.

>>> proc, port = start_chromium("/usr/bin/chromium", tmp_dir)          # doctest: +SKIP
>>> page = Page.connect(port)                                          # doctest: +SKIP
>>> page.navigate("http://127.0.0.1:8888/lab")                         # doctest: +SKIP
>>> page.wait_for("!!window.jupyterapp", 30, "JupyterLab loaded")     # doctest: +SKIP
>>> page.screenshot(Path("build/browser/lab.png"))                     # doctest: +SKIP
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tornado.websocket import WebSocketClientConnection, websocket_connect

log = logging.getLogger(__name__)

__all__ = ["CDPError", "Page", "start_chromium", "stop_process"]

# Flags that keep a headless Chromium quiet and local: no first-run pages, no
# background fetches to Google services; anything that is not loopback goes to
# a proxy that does not exist, so the test never reaches the internet.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--metrics-recording-only", "--mute-audio",
    "--proxy-server=127.0.0.1:9", "--window-size=1280,1000",
]


class CDPError(RuntimeError):
    """A DevTools command failed, or something did not happen in time."""


def start_chromium(binary: str, user_data_dir: Path, timeout: float = 20.0
                   ) -> Tuple[subprocess.Popen, int]:
    """Start headless Chromium on ``about:blank``; return the process and its DevTools port."""
    user_data_dir.mkdir(parents=True, exist_ok=True)
    active = user_data_dir / "DevToolsActivePort"
    errlog = open(user_data_dir.parent / "chromium.log", "wb")
    # Caches and crash reports stay in the profile too, not in the user's home.
    env = dict(os.environ, XDG_CONFIG_HOME=str(user_data_dir / "xdg-config"),
               XDG_CACHE_HOME=str(user_data_dir / "xdg-cache"))
    proc = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", f"--user-data-dir={user_data_dir}", "about:blank"],
        env=env, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog, start_new_session=True)
    errlog.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CDPError(f"chromium exited with {proc.returncode} (see {errlog.name})")
        lines = active.read_text().split("\n") if active.exists() else []
        if lines and lines[0].strip().isdigit():
            return proc, int(lines[0])
        time.sleep(0.1)
    stop_process(proc)
    raise CDPError(f"chromium wrote no DevToolsActivePort within {timeout:.0f} s")


def stop_process(proc: Optional[subprocess.Popen], timeout: float = 10.0) -> None:
    """Terminate *proc* and its process group (started with ``start_new_session``)."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived their leader (renderers, a kernel) are in the same group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Page:
    """One browser tab, driven synchronously over its DevTools websocket."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ws: WebSocketClientConnection) -> None:
        self.loop = loop
        self.ws = ws
        self.next_id = 0
        self.events: List[Dict[str, Any]] = []

    @classmethod
    def connect(cls, port: int, timeout: float = 10.0) -> "Page":
        """Attach to the first page target of the Chromium listening on *port*."""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise CDPError(f"no page target among {targets!r}")
        url = pages[0]["webSocketDebuggerUrl"]

        async def open_ws() -> WebSocketClientConnection:
            # tornado binds the connection to the loop running when it is created
            return await asyncio.wait_for(
                websocket_connect(url, max_message_size=64 << 20), timeout)

        loop = asyncio.new_event_loop()
        try:
            ws = loop.run_until_complete(open_ws())
        except BaseException:
            loop.close()
            raise
        page = cls(loop, ws)
        page.call("Page.enable")
        page.call("Runtime.enable")
        # A headless tab never has the window focus; JupyterLab's "current
        # widget" (what Run commands act on) follows focus, so emulate it.
        page.call("Emulation.setFocusEmulationEnabled", enabled=True)
        return page

    def close(self) -> None:
        """Close the websocket and the private loop."""
        try:
            self.ws.close()
            self.loop.run_until_complete(asyncio.sleep(0))
        finally:
            self.loop.close()

    # -- commands ----------------------------------------------------------------
    async def _call(self, method: str, params: Dict[str, Any]) -> Dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        await self.ws.write_message(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            text = await self.ws.read_message()
            if text is None:
                raise CDPError(f"DevTools websocket closed during {method}")
            msg = json.loads(text)
            if msg.get("id") == ident:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg and len(self.events) < 1000:   # kept for diagnostics
                self.events.append(msg)

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> Dict[str, Any]:
        """Send one DevTools command and return its result (bounded by *timeout*)."""
        try:
            return self.loop.run_until_complete(
                asyncio.wait_for(self._call(method, params), timeout))
        except asyncio.TimeoutError:
            raise CDPError(f"{method} got no answer within {timeout:.0f} s") from None

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript failed: {text}\n  in: {expression[:300]}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float, what: str, interval: float = 0.25) -> Any:
        """Poll a JavaScript expression until it is truthy; its value, or CDPError naming *what*."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression, timeout=max(1.0, deadline - time.monotonic()))
            if value:
                return value
            self.loop.run_until_complete(asyncio.sleep(interval))
        raise CDPError(f"timed out after {timeout:.0f} s waiting for {what} (last value {value!r})")

    # -- user actions ------------------------------------------------------------
    def navigate(self, url: str) -> None:
        """Open *url* in the tab."""
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise CDPError(f"cannot open {url}: {result['errorText']}")

    def click(self, x: float, y: float) -> None:
        """A real left click (press and release) at viewport coordinates."""
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left",
                      clickCount=0 if kind == "mouseMoved" else 1)

    def type_text(self, text: str) -> None:
        """Type *text* into the focused element, as an input method would."""
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path) -> Path:
        """Save the visible part of the page as a PNG."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        log.info("screenshot %s", path)
        return path
