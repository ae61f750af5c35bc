"""End to end: the report in headless Chromium from a file:// URL, offline.

Uses Playwright's Python package driving the system Chromium (``/usr/bin/chromium``, or
``RDSLA_CHROMIUM``); never downloads a browser. Skips cleanly when either is missing.
Screenshots go to pytest's tmp_path and, with ``RDSLA_SCREENSHOT_DIR`` set, there too.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rdsla.reports.html import render
from tests.reports.test_html_data import hostile_analysis, multi_host_analysis, single_host_analysis

pytestmark = pytest.mark.browser

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-default-browser-check"]


def _chromium() -> str:
    path = os.environ.get("RDSLA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        yield b
        b.close()


class Page:
    """One report opened in a fresh, offline browser context, with its console and requests recorded."""

    def __init__(self, browser, path: Path):
        self.url = path.resolve().as_uri()
        self.console, self.requests, self.errors = [], [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True,
                                           java_script_enabled=True)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(self.url, wait_until="load")

    def close(self):
        self.context.close()


def _open(browser, tmp_path: Path, name: str, analysis) -> Page:
    path = tmp_path / f"{name}.html"
    path.write_text(render(analysis), encoding="utf-8")
    return Page(browser, path)


def _screenshots(page: Page, tmp_path: Path, name: str) -> None:
    targets = [tmp_path]
    if os.environ.get("RDSLA_SCREENSHOT_DIR"):
        targets.append(Path(os.environ["RDSLA_SCREENSHOT_DIR"]))
    for folder in targets:
        folder.mkdir(parents=True, exist_ok=True)
        page.page.screenshot(path=str(folder / f"{name}-first-screen.png"))
        page.page.screenshot(path=str(folder / f"{name}-full.png"), full_page=True)
        assert (folder / f"{name}-first-screen.png").stat().st_size > 1000


def _assert_clean(page: Page) -> None:
    assert page.requests == [page.url]
    assert not page.errors
    assert not [c for c in page.console if c[0] in ("error", "warning")]


@pytest.mark.parametrize("name, build, rule, host", [
    ("single-host", single_host_analysis, "RDSLIC-001", "RDSH01"),
    ("multi-host", multi_host_analysis, "RDSLIC-009", "RDSH01"),
])
def test_report_opens_offline_with_verdict_in_first_screen(browser, tmp_path, name, build, rule, host):
    page = _open(browser, tmp_path, name, build())
    try:
        _assert_clean(page)
        top = page.page.locator("#top-cause")
        assert top.get_attribute("data-rule") == rule and top.get_attribute("data-host") == host
        box = top.bounding_box()
        assert box and box["y"] + box["height"] <= 800, box  # the whole verdict card fits the first screen
        # At 1280 px nothing overflows the page horizontally.
        assert page.page.evaluate("document.documentElement.scrollWidth") <= 1280
        # The script ran: controls are shown, the ticket copy button is visible.
        assert page.page.locator("#events-controls").is_visible()
        assert page.page.locator("#copy-ticket").is_visible()
        _screenshots(page, tmp_path, name)
    finally:
        page.close()


def test_events_table_sorts_and_filters(browser, tmp_path):
    page = _open(browser, tmp_path, "sort-filter", multi_host_analysis())
    try:
        p = page.page
        ids = lambda: p.eval_on_selector_all(  # noqa: E731
            "#events-table tbody tr:not([hidden]) td:nth-child(4)", "tds => tds.map(td => Number(td.textContent))")
        before = ids()
        assert len(before) == 5 and before != sorted(before)     # 13 events, repeated ones grouped
        p.click("#events-table thead th:nth-child(4) button")
        assert ids() == sorted(before)
        assert p.get_attribute("#events-table thead th:nth-child(4)", "aria-sort") == "ascending"
        p.click("#events-table thead th:nth-child(4) button")
        assert ids() == sorted(before, reverse=True)
        p.fill("#events-filter", "rdsh02 50284")
        assert ids() == [50284]
        assert p.text_content("#events-count") == "1 of 5 rows shown"
        p.fill("#events-filter", "")
        p.select_option("#events-level", "warning")
        assert ids() == [22]
        _assert_clean(page)
    finally:
        page.close()


def test_hostile_report_runs_no_injected_script(browser, tmp_path):
    page = _open(browser, tmp_path, "hostile", hostile_analysis())
    try:
        p = page.page
        _assert_clean(page)
        assert p.evaluate("typeof window.__pwned") == "undefined"
        assert p.title().startswith("rdsla: RULE:") and "pwned" not in p.evaluate("document.title.slice(0, 12)")
        assert p.evaluate("document.scripts.length") == 1
        assert p.evaluate("document.images.length") == 0
        assert p.evaluate("document.querySelectorAll('iframe, object, embed').length") == 0
        _screenshots(page, tmp_path, "hostile")
        # Filtering hostile text works on the text, not as markup.
        p.fill("#events-filter", "<script>")
        assert p.text_content("#events-count") == "2 of 2 rows shown"     # 4 events, 2 groups
        assert p.evaluate("typeof window.__pwned") == "undefined"
    finally:
        page.close()


def _sample_bundles():
    from rdsla.sample_data.forge.scenarios import SCENARIOS
    root = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
    out = []
    for factory in SCENARIOS:
        s = factory()
        path = root / f"{s.name}.zip" if s.zipped else root / s.name
        out.append(pytest.param(path, s.root_causes, s.host, s.alt_hosts, id=s.name))
    return out


@pytest.mark.parametrize("bundle, causes, host, alt_hosts", _sample_bundles())
def test_every_sample_report_shows_its_expected_cause_in_the_first_screen(browser, tmp_path, bundle, causes,
                                                                           host, alt_hosts):
    """The real pipeline's report of each committed sample bundle (issue 8, "Done when")."""
    from tests.sample_data.test_bundles import _analysis       # one analysis per bundle for the whole run
    analysis = _analysis(bundle.name.removesuffix(".zip"))
    page = _open(browser, tmp_path, bundle.stem, analysis)
    try:
        _assert_clean(page)
        top = page.page.locator("#top-cause")
        if not causes:
            assert top.get_attribute("data-rule") == "" and "No root cause found" in top.inner_text()
        else:
            assert top.get_attribute("data-rule") in causes
            assert top.get_attribute("data-host") in [host, *alt_hosts]
        box = top.bounding_box()
        assert box and box["y"] < 800, box               # the verdict starts in the first screen
        # issue 23: the verdict says healthy / inconclusive / the cause, and the licensing path of
        # each session host follows it, its first row in the first screen
        state = {"healthy", "inconclusive"} if not causes else {None}
        assert top.get_attribute("data-state") in state
        rows = page.page.locator("#licensing-paths tbody tr")
        assert rows.count() == len([h for h in analysis.hosts if h.has_role("session_host")]) >= 1
        first = rows.first.bounding_box()
        assert first and first["y"] + first["height"] <= 800, first
        symbols = page.page.eval_on_selector_all("#licensing-paths tbody tr:first-child td.step > span:first-child",
                                                 "spans => spans.map(s => s.textContent)")
        assert symbols and set(symbols) <= {"✓", "✗", "?"}
        assert page.page.evaluate("document.documentElement.scrollWidth") <= 1280
        _screenshots(page, tmp_path, bundle.stem)
    finally:
        page.close()
