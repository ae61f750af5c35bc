"""The diff page of each sample pair in headless Chromium, offline, like the report
(tests/reports/test_browser.py: same browser, same checks; skips without Chromium)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports.test_browser import Page, _assert_clean, _screenshots, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

PAIRS = Path(__file__).resolve().parents[2] / "sample_data" / "pairs"
PAIR_NAMES = sorted(p.name for p in PAIRS.iterdir() if (p / "expected_diff.json").is_file())


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_diff_page_of_each_pair_opens_offline_with_the_outcome_first(browser, tmp_path, name):  # noqa: F811
    import json

    from rdsla.diff import diff
    expected = json.loads((PAIRS / name / "expected_diff.json").read_text())
    result = diff(str(PAIRS / name / "before"), str(PAIRS / name / "after"), jobs=0)
    path = tmp_path / f"{name}.html"
    result.to_html(path)
    page = Page(browser, path)
    try:
        _assert_clean(page)                      # only the file itself requested; no error, no CSP violation
        p = page.page
        outcome = p.locator("#diff-outcome")
        assert outcome.get_attribute("data-exit") == str(expected["exit_code"])
        box = outcome.bounding_box()
        assert box and box["y"] + box["height"] <= 800, box          # the outcome fits the first screen
        assert p.evaluate("document.documentElement.scrollWidth") <= 1280
        assert p.evaluate("document.scripts.length") == 0
        for category in ("resolved", "new", "persisting"):
            shown = p.eval_on_selector_all(f"#causes-{category} article.change",
                                           "els => els.map(e => [e.dataset.rule, e.dataset.host])")
            for x in expected[category]:
                assert [x["rule_id"], x["host"]] in shown, (category, shown)
        # the styles applied (inline CSS allowed by its hash): the outcome box has its border
        assert p.evaluate("getComputedStyle(document.getElementById('diff-outcome')).borderTopWidth") == "2px"
        _screenshots(page, tmp_path, f"diff-{name}")
    finally:
        page.close()
