"""Render a local HTML file in headless Chromium and inspect it through the DevTools protocol.

Chromium is started with remote debugging on 127.0.0.1 (a random port) and a throw-away profile;
aiohttp's websocket client speaks the protocol. ``inspect_page`` loads the page, collects console
errors, exceptions and failed loads, evaluates a snippet that lists every link, what the first
screen shows (each table's headers and rows) and which elements are painted in the failure
colours, and how long the page took to its load event; saves a screenshot of the first screen;
then makes every image load (the report's figures are lazy: only those near the viewport load by
themselves), lists them, and saves a screenshot of the whole page.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
    "--hide-scrollbars",
)
VIEWPORT = {"width": 1280, "height": 900}
# The report's failure style (style.css: .gate-fail): background #fde2e1, text #8a1c14.
FAIL_COLOURS = ("rgb(253, 226, 225)", "rgb(138, 28, 20)")
PAGE_FACTS = """
(() => { const FAIL = FAIL_COLOURS_JSON; return {
  load_ms: performance.getEntriesByType('navigation')[0].loadEventStart,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  external: Array.from(document.querySelectorAll('[src],[href]'))
      .map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => /^(https?:)?\\/\\//i.test(u)),
  sections: Array.from(document.querySelectorAll('section > h2')).map(h => h.textContent),
  title: document.title,
  first_screen: Array.from(document.querySelectorAll('table')).filter(t => {
      const r = t.getBoundingClientRect();
      return r.top < window.innerHeight && r.bottom > 0;
    }).map(t => ({id: t.id, top: t.getBoundingClientRect().top,
                  headers: Array.from(t.querySelectorAll('th')).map(h => h.textContent.trim()),
                  rows: Array.from(t.rows).slice(1, 201).map(
                      r => Array.from(r.cells).map(c => c.textContent.trim()))})),
  fail_styled: Array.from(document.querySelectorAll('body *')).filter(e => {
      const s = getComputedStyle(e);
      return FAIL.includes(s.backgroundColor) || FAIL.includes(s.color);
    }).map(e => e.textContent.trim().slice(0, 80)),
}; })()
""".replace("FAIL_COLOURS_JSON", json.dumps(list(FAIL_COLOURS)))
# Lazy images load only near the viewport: make every one eager and wait for each to decode (or
# fail), then list them.
LOAD_IMAGES = """
(async () => {
  const images = Array.from(document.images);
  const lazy = images.map(i => i.getAttribute('loading') === 'lazy');
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  return images.map((i, n) => ({src: i.getAttribute('src').slice(0, 120), complete: i.complete,
                                width: i.naturalWidth, lazy: lazy[n]}));
})()
"""


@dataclass
class PageReport:
    load_ms: float  # navigation start to the load event
    links: list[str]
    ids: list[str]
    external: list[str]
    sections: list[str]
    title: str
    first_screen: list[dict]  # tables visible without scrolling: id, top, header and row texts
    fail_styled: list[str]  # text of every element painted in the failure colours
    images: list[dict] = field(default_factory=list)  # src, complete, width, lazy (as written)
    console_errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    first_screen_shot: Path | None = None
    probe: object = None  # what the caller's ``probe`` expression gave, evaluated last


def available() -> bool:
    return Path(CHROMIUM).exists()


class _Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="bayespipe-chromium-")
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ws_url = self._wait_for_endpoint()

    def _wait_for_endpoint(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                return match.group(1)
            if not line and self.process.poll() is not None:
                break
        self.close()
        raise RuntimeError("chromium did not open its DevTools endpoint")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class _Session:
    """One websocket to the browser; commands on a page target go through its sessionId."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    async def send(
        self, method: str, params: dict | None = None, session: str | None = None
    ) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self.ws.send_str(json.dumps(message))
        while True:
            reply = json.loads((await self.ws.receive()).data)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    async def wait_for(self, method: str, timeout: float) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(method)
            reply = json.loads((await asyncio.wait_for(self.ws.receive(), left)).data)
            self.events.append(reply)
            if reply.get("method") == method:
                return reply


def _console_errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            errors.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in args)
            )
        elif method == "Runtime.exceptionThrown":
            errors.append("exception: " + params.get("exceptionDetails", {}).get("text", ""))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed":
            errors.append(f"load failed: {params.get('errorText')}")
    return errors


async def _screenshot(cdp: _Session, sid: str, path: Path, clip: dict) -> Path:
    options = {"format": "png", "captureBeyondViewport": True, "clip": {**clip, "scale": 1}}
    shot = await cdp.send("Page.captureScreenshot", options, session=sid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


async def _inspect(
    html: Path, screenshot: Path, first_screen: Path | None, timeout: float, probe: str | None
) -> PageReport:
    import aiohttp

    browser = _Browser()
    try:
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(browser.ws_url, max_msg_size=0) as ws,
        ):
            cdp = _Session(ws)
            target = await cdp.send("Target.createTarget", {"url": "about:blank"})
            attached = await cdp.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )
            sid = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                await cdp.send(f"{domain}.enable", session=sid)
            await cdp.send(
                "Emulation.setDeviceMetricsOverride",
                {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False},
                session=sid,
            )
            await cdp.send("Page.navigate", {"url": html.resolve().as_uri()}, session=sid)
            await cdp.wait_for("Page.loadEventFired", timeout)
            facts = await cdp.send(
                "Runtime.evaluate",
                {"expression": PAGE_FACTS, "returnByValue": True},
                session=sid,
            )
            report = PageReport(**facts["result"]["value"])
            if first_screen is not None:  # what a reader sees before scrolling
                report.first_screen_shot = await _screenshot(
                    cdp, sid, first_screen, {"x": 0, "y": 0, **VIEWPORT}
                )
            loaded = await cdp.send(
                "Runtime.evaluate",
                {"expression": LOAD_IMAGES, "returnByValue": True, "awaitPromise": True},
                session=sid,
            )
            report.images = loaded["result"]["value"]
            metrics = await cdp.send("Page.getLayoutMetrics", session=sid)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            report.screenshot = await _screenshot(
                cdp,
                sid,
                screenshot,
                {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000)},
            )
            if probe is not None:
                result = await cdp.send(
                    "Runtime.evaluate",
                    {"expression": probe, "returnByValue": True, "awaitPromise": True},
                    session=sid,
                )
                report.probe = result["result"].get("value")
            report.console_errors = _console_errors(cdp.events)
            return report
    finally:
        browser.close()


def inspect_page(
    html: str | Path,
    screenshot: str | Path,
    first_screen: str | Path | None = None,
    timeout: float = 60,
    probe: str | None = None,
) -> PageReport:
    """Load ``html`` in headless Chromium and report what a reader sees.

    ``probe``: a JavaScript expression (a promise is awaited) run on the page after the rest; its
    value is ``PageReport.probe``.
    """
    first = Path(first_screen) if first_screen is not None else None
    return asyncio.run(_inspect(Path(html), Path(screenshot), first, timeout, probe))
