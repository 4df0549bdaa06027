"""The reviewers' notebook pages open offline: nothing is loaded from the network.

An evaluator's secure environment has no internet; nbconvert's "lab" page loads require.js,
MathJax and mermaid from a CDN unless told otherwise (render.NOTEBOOK_PAGE). Every page of a
run is parsed for references to the network, then opened in headless Chromium with the
network cut off: no request leaves the machine, no script error, every figure shows.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser

import pytest

CHROMIUM = shutil.which("chromium")
#: Attributes through which a page loads something.
LOADING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
           ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
           ("object", "data")}  # fmt: skip
#: A script module importing from the network, or CSS fetching a URL.
NETWORK_IN_CODE = re.compile(
    r"""import\(\s*["']https?://|@import\s+(url\()?["']?https?://|url\(\s*["']?https?://"""
)


class _Loads(HTMLParser):
    """Every URL a page would load (scripts, styles, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in LOADING and value:
                self.urls.append(value)


def _only_local(outside: list[str]):
    """A route handler: files and data URIs load, anything else is cut off and noted."""

    def handle(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    return handle


@pytest.fixture(scope="module")
def pages(finished_run):
    run, _ = finished_run
    found = sorted((run.run_dir / "notebooks").glob("*.html"))
    assert len(found) >= 6
    return found


def test_notebook_pages_reference_nothing_on_the_network(pages):
    for page in pages:
        text = page.read_text("utf-8")
        parser = _Loads()
        parser.feed(text)
        remote = [u for u in parser.urls if not u.startswith(("data:", "#"))]
        assert remote == [], f"{page.name} loads {remote}"
        assert not NETWORK_IN_CODE.search(text), f"{page.name} imports from the network"
        assert "jp-InputArea" in text, "reviewers' pages show the code"


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (make test installs it)"
)
def test_notebook_pages_in_headless_chromium_without_network(pages):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        context = browser.new_context(offline=True)
        for page_file in pages:
            page = context.new_page()
            problems: list[str] = []
            outside: list[str] = []

            page.route("**/*", _only_local(outside))
            page.on("console", lambda m, pr=problems: pr.append(m.text) if m.type == "error"
                    else None)  # fmt: skip
            page.on("pageerror", lambda e, pr=problems: pr.append(str(e)))
            page.goto(page_file.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => e.complete && e.naturalWidth > 0)"
            )
            code_cells = page.eval_on_selector_all(".jp-InputArea", "els => els.length")
            page.close()
            assert outside == [], f"{page_file.name} requested {outside}"
            assert problems == [], f"{page_file.name}: {problems}"
            assert code_cells > 0
            assert all(images), f"{page_file.name}: an image did not load"
        browser.close()
