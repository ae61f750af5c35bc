"""The report tells apart what it found (issue 18 items 2, 3, 5; issue 21 item 3):

- the verdict's states (a cause, healthy, inconclusive) and the compliance section are separate
  elements with their own classes and their own colours in the stylesheet, and in Chromium
  their borders differ from a cause's (skips without Chromium / Playwright);
- the timeline marks the collection time and sets the current window off from the history
  before it (and from events newer than an ``--as-of``) on sample bundles.
"""
from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pytest
from lxml import html as lhtml

from rdsla import api
from rdsla.reports.html import render

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "sample_data" / "bundles"
CSS = (REPO / "reports" / "static" / "report.css").read_text(encoding="utf-8")
STATES = {"cause": "cals-exhausted", "healthy": "healthy-days-left-zero.zip",
          "inconclusive": "healthy-system-hive-only.zip", "compliance": "ls-not-in-tsls-group.zip"}


@lru_cache(maxsize=None)
def _analysis(bundle: str, as_of=None):
    return api.analyze(str(BUNDLES / bundle), jobs=0, as_of=as_of).analysis


@lru_cache(maxsize=None)
def _html(state: str) -> str:
    return render(_analysis(STATES[state]))


def _rule(selector: str) -> str:
    """The declarations of a selector's rule in report.css (first rule outside @media)."""
    m = re.search(r"(?m)^" + re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert m, f"report.css has no rule for {selector}"
    return m.group(1)


def test_each_verdict_state_is_its_own_element():
    for state, cls in (("cause", "verdict"), ("healthy", "verdict healthy"), ("inconclusive", "verdict inconclusive")):
        doc = lhtml.document_fromstring(_html(state))
        top = doc.get_element_by_id("top-cause")
        assert top.get("class") == cls, (state, top.get("class"))
    assert "not enough collected" in lhtml.document_fromstring(_html("inconclusive")).get_element_by_id(
        "top-cause").text_content()


def test_compliance_is_rendered_apart_from_causes():
    doc = lhtml.document_fromstring(_html("compliance"))
    section = doc.get_element_by_id("compliance")
    assert "compliance" in section.get("class").split()
    assert "RDSLIC-012" in section.text_content()
    top = doc.get_element_by_id("top-cause")
    assert section not in top.iterdescendants() and "RDSLIC-012" not in top.text_content()
    others = doc.xpath("//ul[@class='others']")
    assert not others or "RDSLIC-012" not in others[0].text_content()      # never listed as another cause
    card = doc.xpath("//article[@data-rule='RDSLIC-012']")[0]
    assert "kind-compliance" in card.get("class").split()
    assert not lhtml.document_fromstring(_html("cause")).xpath("//*[@id='compliance']")


def test_the_stylesheet_gives_each_state_its_own_look():
    cause = _rule(".verdict")
    assert "var(--error)" in cause
    inconclusive, healthy = _rule(".verdict.inconclusive"), _rule(".verdict.healthy")
    assert "var(--warning)" in inconclusive and "dashed" in inconclusive and "var(--ok)" in healthy
    compliance = _rule(".compliance")
    assert "var(--compliance)" in compliance and "var(--error)" not in compliance
    assert "var(--compliance)" in _rule(".finding.state-detected.kind-compliance")
    assert re.search(r"--compliance:\s*#[0-9a-f]{6}", CSS)


def test_in_chromium_the_states_and_compliance_borders_differ_from_a_cause(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = os.environ.get("RDSLA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium is not installed")
    colours = {}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(offline=True).new_page()
            for state in STATES:
                path = tmp_path / f"{state}.html"
                path.write_text(_html(state), encoding="utf-8")
                page.goto(path.as_uri(), wait_until="load")
                style = "e => { const s = getComputedStyle(e); return [s.borderTopColor, s.borderTopStyle, s.borderLeftColor]; }"
                colours[state] = page.eval_on_selector("#top-cause", style)
                if state == "compliance":
                    colours["compliance section"] = page.eval_on_selector("#compliance", style)
                    colours["compliance card"] = page.eval_on_selector("article.kind-compliance", style)
                if state == "cause":
                    colours["cause card"] = page.eval_on_selector("article.state-detected.kind-cause", style)
        finally:
            browser.close()
    looks = [tuple(colours[s][:2]) for s in ("cause", "healthy", "inconclusive")]
    assert len(set(looks)) == 3, colours
    assert colours["compliance section"][2] not in (colours["cause"][0], colours["cause card"][2]), colours
    assert colours["compliance card"][2] != colours["cause card"][2], colours


# ------------------------------------------------------------------ timeline

def _svg(analysis):
    doc = lhtml.document_fromstring(render(analysis))
    return doc.get_element_by_id("timeline")


def _x(el, attr="x"):
    return float(el.get(attr))


def test_timeline_marks_collection_time_and_sets_current_apart_from_history():
    analysis = _analysis("healthy-ls-patch-reboot-history")       # 1131s 40 days ago, clean since
    svg = _svg(analysis)
    asof = svg.xpath(".//line[@class='asof']")[0]
    assert asof.xpath("string(title)").startswith("collected ") and svg.xpath(".//text[starts-with(., 'collected ')]")
    band = svg.xpath(".//rect[@class='current']")[0]
    assert _x(band, "width") > 0 and abs(_x(band) + _x(band, "width") - _x(asof, "x1")) < 1
    history = svg.xpath(".//rect[@class='history']")[0]
    start = svg.xpath(".//line[@class='window-start']")[0]
    assert abs(_x(history) + _x(history, "width") - _x(band)) < 1 and abs(_x(start, "x1") - _x(band)) < 1
    legend = svg.getparent().xpath("string(.//p[@class='legend'])")
    ev = analysis.frames["events"]
    since = pd.Timestamp(analysis.as_of) - pd.Timedelta(days=7)
    n_history = int((ev["time"] < since).sum())
    assert n_history > 0 and f"history ({n_history} event(s))" in legend
    assert "newer than the collection time" not in legend


def test_timeline_counts_events_after_an_earlier_as_of_apart():
    from rdsla.reports import timeline_svg
    base = _analysis("healthy-ls-patch-reboot-history")
    ev = base.frames["events"]
    early = (pd.Timestamp(base.as_of) - timedelta(days=3)).isoformat()
    analysis = _analysis("healthy-ls-patch-reboot-history", as_of=early)
    t = timeline_svg.layout(analysis)
    c = t["current"]
    after = int((ev["time"] > pd.Timestamp(early)).sum())
    assert after > 0 and c["after"] == after
    assert c["events"] + c["history"] + c["after"] == t["events"]
    assert t["x0"] <= t["as_of"]["x"] <= t["x1"]
    assert f"{after} event(s) newer than the collection time" in _svg(analysis).getparent().xpath(
        "string(.//p[@class='legend'])")


def test_timeline_without_history_on_the_scale_draws_no_boundary():
    from rdsla.reports import timeline_svg
    analysis = _analysis("healthy-ls-patch-reboot-history")
    first = analysis.frames["events"]["time"].min()
    late_window = (pd.Timestamp(analysis.as_of) - first).days + 2       # the window reaches past the first event
    t = timeline_svg.layout(api.analyze(str(BUNDLES / "healthy-ls-patch-reboot-history"), jobs=0,
                                        window=late_window).analysis)
    assert t["current"]["boundary"] is None and t["current"]["history"] == 0 and t["current"]["x"] == t["x0"]
