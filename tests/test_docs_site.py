"""The documentation site: generated reference pages are current, `mkdocs build
--strict` passes, every built page renders in headless Chromium (a title, an
article, no script error), every internal link and anchor resolves and no page
loads anything from the network.

Chromium is driven over the DevTools protocol: one browser for every page. Where
no Chromium is installed (a user's fresh machine) the rendering test is skipped
with the reason; the build and link checks still run.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", ROOT / "docs" / "gen_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_reference_pages_are_current() -> None:
    stale = _generator().stale()
    assert not stale, f"stale: {stale}; run python docs/gen_reference.py"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")
    pytest.importorskip("material", reason="mkdocs-material is in the test extra")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.remote_assets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id":
                self.ids.add(value)
            elif (name == "href" and tag in {"a", "link"}) or (
                name == "src" and tag in {"script", "img"}
            ):
                self.links.append(value)
                if tag != "a" and re.match(r"(https?:)?//", value):
                    self.remote_assets.append(value)


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if p.name != "404.html")


def test_every_internal_link_and_anchor_resolves(site: Path) -> None:
    parsed = {page: _parse(page) for page in pages(site)}
    assert len(parsed) >= 15
    broken = []
    for page, found in parsed.items():
        # the site is read offline: no stylesheet, script, font or image from the network
        broken += [f"{page.relative_to(site)}: loads {url}" for url in found.remote_assets]
        for link in found.links:
            if re.match(r"[a-z][a-z0-9+.-]*:", link) or link.startswith("//"):
                continue  # external, mailto:, data:, javascript:
            target, _, anchor = link.partition("#")
            target = target.split("?", 1)[0]
            path = (page.parent / target).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(site)}: {link}")
            elif anchor and path.suffix == ".html":
                ids = parsed[path].ids if path in parsed else _parse(path).ids
                if anchor not in ids:
                    broken.append(f"{page.relative_to(site)}: {link} (no such anchor)")
    assert not broken, "\n".join(broken)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _DevTools:
    """The few DevTools protocol calls the test needs, over one websocket."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, max_size=None)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=deadline - time.monotonic())))

    def close(self) -> None:
        self.ws.close()


RENDERED = """JSON.stringify({
  title: document.title,
  h1: (document.querySelector("article h1") || {}).textContent || "",
  text: ((document.querySelector("article") || {}).innerText || "").length,
  styled: getComputedStyle(document.body).fontFamily
})"""


def test_every_page_renders_in_headless_chromium(site: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    pytest.importorskip("websockets", reason="websockets is in the test extra")
    # Served over real HTTP: the theme's search runs in a web worker, which file:// forbids.
    handler_cls = type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler_cls, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    proc = subprocess.Popen(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Chromium writes its DevTools port to this file once it listens.
        active = tmp_path / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.exists() and active.read_text().strip()):
            assert time.monotonic() < deadline, "Chromium did not start its DevTools endpoint"
            assert proc.poll() is None, f"Chromium exited with {proc.returncode}"
            time.sleep(0.1)
        port = active.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        tools = _DevTools(page_ws)
        tools.call("Page.enable")
        tools.call("Runtime.enable")
        problems = []
        for page in pages(site):
            tools.events.clear()
            tools.call("Page.navigate", url=f"{base}/{page.relative_to(site).as_posix()}")
            tools.wait_for("Page.loadEventFired")
            got = json.loads(
                tools.call("Runtime.evaluate", expression=RENDERED, returnByValue=True)["result"][
                    "value"
                ]
            )
            name = str(page.relative_to(site))
            errors = [e for e in tools.events if e.get("method") == "Runtime.exceptionThrown"]
            if errors:
                details = errors[0]["params"]["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                problems.append(f"{name}: script error: {str(text)[:300]}")
            if "huddle_ai" not in got["title"] or not got["h1"].strip():
                problems.append(f"{name}: title {got['title']!r}, heading {got['h1']!r}")
            if got["text"] < 200:
                problems.append(f"{name}: only {got['text']} characters of text")
            if "Roboto" not in got["styled"] and "sans" not in got["styled"]:
                problems.append(f"{name}: the theme's stylesheet did not apply ({got['styled']})")
        tools.close()
        assert not problems, "\n".join(problems)
    finally:
        server.shutdown()
        server.server_close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
