"""index.html of a batch: grouped by root cause, escaped, strict CSP (reports/batch_index.py)."""
from __future__ import annotations

import base64
import hashlib
import re

from rdsla.analyzer.batch_task import COLUMNS, blank_row
from rdsla.reports.batch_index import render


def _row(bundle, rule=None, title=None, status="ok", error="", **extra):
    r = blank_row(bundle, status, error)
    r.update(top_rule_id=rule, top_title=title, confidence=0.9 if rule else None, **extra)
    return r


def _bundles_in_order(page):
    body = page[page.index('<table class="sortable" id="bundles">'):]
    return re.findall(r'<tr data-state="[^"]*" data-status="[^"]*">\n<td class="num" data-v="\d+">\d+</td>\n<td>(.*?)</td>',
                      body)


def test_one_table_most_severe_first_with_links_and_escaping():
    rows = [_row("b1", "RDSLIC-010", "Mode not configured", top_severity="error", findings_error=1),
            _row("b2", "RDSLIC-010", "Mode not configured", top_severity="error", findings_error=2),
            _row("b3", "RDSLIC-005", "<script>alert(1)</script>", top_severity="critical", findings_critical=1,
                 findings_error=1, top_host="LS01", top_summary="LS01 <b>not</b> activated",
                 report="b3-0123456789/report.html"),
            _row("b4", verdict="healthy"), _row("b7", verdict="inconclusive"),
            _row("<img src=x onerror=alert(1)>", status="failed", error="</td><script>x</script>"),
            _row("b6", status="timeout", error="too slow"),
            _row("b8", "RDSLIC-006", "x", top_severity="warning", report="javascript:alert(1)")]
    links = {"b1": "b1-0123456789/report.html", "<img src=x onerror=alert(1)>": "img-0/report.html"}
    page = render(rows, links)
    assert set(COLUMNS) <= set(rows[0])
    assert "<script>alert" not in page and "<img" not in page and "</td><script>" not in page and "<b>not" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "LS01 &lt;b&gt;not&lt;/b&gt; activated" in page
    assert page.count('<table class="sortable"') == 1
    assert _bundles_in_order(page) == ["b3", "b2", "b1", "b8", "&lt;img src=x onerror=alert(1)&gt;", "b6", "b7", "b4"]
    assert 'href="b1-0123456789/report.html"' in page and 'href="b3-0123456789/report.html"' in page
    assert "img-0/report.html" not in page                   # a failed bundle has no report to link
    assert "javascript:" not in page                         # only report paths the batch wrote
    assert "RDSLIC-010 Mode not configured: 2" in page       # the top causes counted


def test_counts_keep_critical_apart():
    page = render([_row("b1", "RDSLIC-005", "t", top_severity="critical", findings_critical=2, findings_error=3)])
    cells = re.findall(r'<td class="num" data-v="(\d+)">', page)
    assert cells[:3] == ["0", "2", "1"]          # order, critical, error without the critical ones


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
