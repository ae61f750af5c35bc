"""index.html of a batch: grouped by root cause, escaped, strict CSP (reports/batch_index.py)."""
from __future__ import annotations

import base64
import hashlib
import re

from rdsla.analyzer.batch_task import COLUMNS, blank_row
from rdsla.reports.batch_index import render


def _row(bundle, rule=None, title=None, status="ok", error=""):
    r = blank_row(bundle, status, error)
    r.update(top_rule_id=rule, top_title=title, confidence=0.9 if rule else None)
    return r


def test_groups_with_counts_links_and_escaping():
    rows = [_row("b1", "RDSLIC-010", "Mode not configured"), _row("b2", "RDSLIC-010", "Mode not configured"),
            _row("b3", "RDSLIC-005", "<script>alert(1)</script>"), _row("b4"),
            _row("<img src=x onerror=alert(1)>", status="failed", error="</td><script>x</script>"),
            _row("b6", status="timeout", error="too slow")]
    links = {"b1": "b1-0123456789/report.html", "b3": "b3-0123456789/report.html",
             "<img src=x onerror=alert(1)>": "img-0/report.html"}
    page = render(rows, links)
    assert set(COLUMNS) <= set(rows[0])
    assert "<script>alert" not in page and "<img" not in page and "</td><script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    heads = re.findall(r"<h2>(.*?) \(<span", page)
    assert heads[0].startswith("RDSLIC-010") and "(<span class=\"shown\">2</span> of 2)" in page
    assert heads[-2:] == ["Failed bundles", "Timeout bundles"] and "No root cause found" in heads
    assert 'href="b1-0123456789/report.html"' in page and 'href="b3-0123456789/report.html"' in page
    assert "img-0/report.html" not in page                   # a failed bundle has no report to link


def test_csp_admits_only_the_inline_style_and_script_by_hash():
    page = render([_row("b1")])
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.count("<script>") == 1 and page.count("<style>") == 1
    assert re.search(r"<[a-z]+[^>]*\son[a-z]+=", page) is None            # no inline event handlers
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S).group(1)
        assert f"{directive} 'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" in csp
    assert "http://" not in page and "https://" not in page


def test_empty_batch_renders():
    assert "0 bundles" in render([])
