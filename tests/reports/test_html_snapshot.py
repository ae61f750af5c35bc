"""Structural snapshots of the HTML report (normalized structure, not bytes)."""
from __future__ import annotations

import base64
import hashlib
import re

import pytest
from lxml import html as lhtml

from rdsla.reports.html import render
from rdsla.reports.view_format import EVENT_ROW_CAP
from tests.reports.test_html_data import big_analysis, multi_host_analysis, single_host_analysis


def _compat_available() -> bool:
    try:
        import rules.compat  # noqa: F401
    except ImportError:
        return False
    return True


def _texts(nodes) -> list[str]:
    return [" ".join(n.text_content().split()) for n in nodes]


def structure(doc) -> dict:
    """The report's structure, normalized for comparison."""
    top = doc.get_element_by_id("top-cause")
    return {
        "sections": [s.get("id") for s in doc.xpath("//main/section")],
        "top": (top.get("data-rule"), top.get("data-host")),
        "others": _texts(doc.xpath("//ul[@class='others']/li/span[@class='rule']")),
        "symptoms": _texts(doc.xpath("//ul[@class='symptoms']/li/span[@class='rule']")),
        "findings": [(a.get("data-rule"), a.get("data-state"),
                      [t.get("class").split()[-1] for t in a.xpath(".//table")])
                     for a in doc.xpath("//section[@id='findings']/article")],
        "not_detected": _texts(doc.xpath("//table[@class='not-detected']//td[@class='rule']")),
        "hosts": [(" ".join(h.xpath("string(h3)").split()), " ".join(h.xpath("string(.//dd[@class='roles'])").split()))
                  for h in doc.xpath("//section[@id='hosts']//article[@class='host']")],
        "keypack_rows": len(doc.xpath("//table[@class='keypacks']/tbody/tr")),
        "timeline_bands": len(doc.xpath("//section[@id='timeline']//*[local-name()='g'][@class='band']")),
        "event_rows": len(doc.xpath("//table[@id='events-table']/tbody/tr")),
        "artifacts": [(" ".join(r.xpath("string(td[1])").split()), r.xpath("string(td[4])"))
                      for r in doc.xpath("//table[@class='artifacts']/tbody/tr")],
        "not_checked": _texts(doc.xpath("//table[@class='not-checked']//td[@class='rule']")),
    }


def matrix_marks(doc) -> list[tuple]:
    """(matrix title, row label, column label) of every highlighted cell."""
    out = []
    for fig in doc.xpath("//figure[@class='compat']"):
        cols = _texts(fig.xpath(".//thead/tr/th"))[1:]
        for tr in fig.xpath(".//tbody/tr"):
            for i, td in enumerate(tr.xpath("td")):
                if "mark" in td.get("class", "").split():
                    out.append((fig.xpath("string(h3)"), tr.xpath("string(th)"), cols[i]))
    return out


@pytest.fixture(scope="module")
def single():
    return lhtml.document_fromstring(render(single_host_analysis()))


@pytest.fixture(scope="module")
def multi():
    return lhtml.document_fromstring(render(multi_host_analysis()))


SECTIONS = ["verdict", "ask", "findings", "hosts", "cal-pool", "timeline", "events", "ingest"]


def test_single_host_structure(single):
    assert structure(single) == {
        "sections": SECTIONS,
        "top": ("RDSLIC-001", "RDSH01"),
        "others": [],
        "symptoms": ["RDSLIC-020"],
        "findings": [("RDSLIC-001", "detected", ["ev-events", "ev-registry"]),
                     ("RDSLIC-020", "detected", ["ev-events"])],      # not checked: a collapsed list
        "not_detected": ["RDSLIC-002"],
        "hosts": [("RDSH01", "RD Session Host")],
        "keypack_rows": 0,
        "timeline_bands": 1,
        "event_rows": 3,                # 14 events: repeated ones are one row (view_event_groups)
        "artifacts": [("notes/readme.txt", "skipped"), ("RDSH01/RemoteConnectionManager-Admin.evtx", "ok"),
                      ("RDSH01/SYSTEM", "ok")],
        "not_checked": ["RDSLIC-005"],
    }


def test_single_host_details(single):
    verdict = single.get_element_by_id("verdict")
    assert verdict.xpath("string(.//h3)") == "No license server configured"
    assert "confidence 90% (high)" in verdict.text_content()
    assert _texts(verdict.xpath(".//ol[@class='fix']/li"))[0].startswith("Specify the license server")
    ticket = single.get_element_by_id("ticket-text").text_content()
    assert "Root cause: RDSLIC-001 No license server configured on RDSH01 (confidence 90%, high)" in ticket
    assert "Fix:\n  1. Specify the license server" in ticket
    # The evidence event without details is filled from the events frame (record 300).
    rows = single.xpath("//article[@data-rule='RDSLIC-001']//table[contains(@class,'ev-events')]/tbody/tr")
    assert [" ".join(r.xpath("string(td[6])").split()) for r in rows] == ["300", "200"]
    assert "license server specified" in rows[0].xpath("string(td[5])")
    # Grace days left are computed at as_of (ended 10 days before collection -> 0), not the wall clock.
    assert "0 day(s) left at 2024-05-02 09:30:00Z" in " ".join(single.xpath("string(//dd[@class='grace'])").split())
    # Registry evidence says which configuration source it belongs to and whether it won.
    reg = single.xpath("//article[@data-rule='RDSLIC-001']//table[contains(@class,'ev-registry')]/tbody/tr")[0]
    assert "deployment" in reg.xpath("string(td[5])") and "in effect" in reg.xpath("string(td[5])")
    # Cited events are marked in the events table.
    assert len(single.xpath("//table[@id='events-table']/tbody/tr[contains(@class,'cited')]")) == 2


def test_multi_host_structure(multi):
    assert structure(multi) == {
        "sections": SECTIONS,
        "top": ("RDSLIC-009", "RDSH01"),
        "others": ["RDSLIC-003"],
        "symptoms": ["RDSLIC-021"],
        "findings": [("RDSLIC-009", "detected", ["ev-events", "ev-report"]),
                     ("RDSLIC-003", "detected", ["ev-registry"]),
                     ("RDSLIC-021", "detected", ["ev-events"])],
        "not_detected": ["RDSLIC-012"],
        "hosts": [("RDSH01", "RD Session Host"), ("RDSH02", "RD Session Host"), ("LS01", "RD Licensing")],
        "keypack_rows": 3,
        "timeline_bands": 3,
        "event_rows": 5,                # 13 events
        "artifacts": [("../evil.evtx", "refused"), ("RDSH02/RCM-Admin.evtx", "partial"),
                      ("LS01/System.evtx", "ok"), ("LS01/issued.html", "ok"), ("LS01/keypacks.html", "ok"),
                      ("RDSH01/RCM-Admin.evtx", "ok"), ("RDSH01/SOFTWARE", "ok"), ("RDSH01/SYSTEM", "ok")],
        "not_checked": [],
    }


def test_multi_host_precedence_and_pool(multi):
    reg = multi.xpath("//article[@data-rule='RDSLIC-003']//table[contains(@class,'ev-registry')]/tbody/tr")
    configured = [" ".join(r.xpath("string(td[5])").split()) for r in reg]
    assert configured == ["Group Policy — in effect", "deployment (RCM / RDMS) — overridden by Group Policy"]
    kp = [[" ".join(td.text_content().split()) for td in tr.xpath("td")][:7]
          for tr in multi.xpath("//table[@class='keypacks']/tbody/tr")]
    assert kp == [["LS01", "built-in", "per device", "1", "unlimited", "0", "unlimited"],
                  ["LS01", "2016", "per user", "1", "50", "50", "0"],
                  ["LS01", "2019", "per user", "1", "25", "3", "22"]]
    assert multi.xpath("//table[@class='keypacks']/tbody/tr[2]/@class") == ["exhausted"]
    cands = multi.xpath("(//article[@class='host'])[1]//dd[@class='ls']//li")
    assert cands[0].text_content().startswith("LS01") and "in effect" in cands[0].text_content()
    assert cands[1].text_content().startswith("LS02") and "overridden" in cands[1].text_content()
    assert "12 day(s) left" in multi.xpath("string((//dd[@class='grace'])[1])")
    # The partial artifact's warning and the refused one are listed first.
    assert "chunk 3: bad checksum" in multi.get_element_by_id("ingest").text_content()


@pytest.mark.skipif(not _compat_available(), reason="rules.compat does not exist yet")
def test_matrices_highlight_bundle_versions(multi):
    from rdsla.rules.compat import compat_document
    doc = compat_document()
    marks = matrix_marks(multi)
    expected = [("Session host accepts CAL", "2022", c) for c in ("2016", "2019")
                if c in next(iter(doc["session_host"].values()))]
    expected += [("License server can issue CAL", "2016", c) for c in ("2016", "2019")
                 if c in next(iter(doc["license_server"].values()))]
    assert marks == expected
    # Cell values come from the rules' table, not a copy.
    cell = multi.xpath("//figure[@class='compat'][1]//tr[th='2022']/td[contains(@class,'mark')]")
    assert [c.text_content() for c in cell] == ["Yes" if doc["session_host"]["2022"][v] else "No" for v in ("2016", "2019")]


def test_csp_pins_the_exact_inline_style_and_script(multi):
    meta = multi.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    style, script = multi.xpath("//style")[0].text, multi.xpath("//script")[0].text

    def h(s):
        return "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
    assert meta.startswith("default-src 'none'; ")
    assert f"style-src {h(style)};" in meta and f"script-src {h(script)};" in meta
    assert "img-src data:" in meta
    assert not re.search(r"https?:|'unsafe-|\*", meta)
    # Nothing in the document loads from anywhere.
    assert not multi.xpath("//*[@src] | //link | //*[@style] | //iframe | //object | //embed")
    assert all(h_.startswith("#") for h_ in multi.xpath("//a/@href"))


def test_events_table_is_capped_and_says_so():
    """Repeated events are one row each (host, id, template, named server); the rows are capped,
    cited groups first, and the note says what was left out."""
    from rdsla.reports.html import render_view
    from rdsla.reports.view import build
    analysis = big_analysis(n_events=EVENT_ROW_CAP + 1500, n_hosts=3, n_findings=6)
    doc = lhtml.document_fromstring(render(analysis))
    rows = doc.xpath("//table[@id='events-table']/tbody/tr")
    assert len(rows) == 3 * 6                                   # 3 hosts x 6 event ids, one server
    assert sum(int(r.xpath("string(td[5])")) for r in rows) == EVENT_ROW_CAP + 1500
    # capped at 10 rows: the note says so; every shown row holds a cited event; errors first
    view = build(analysis, event_cap=10)
    assert view["events"]["groups_shown"] == 10 and view["events"]["groups_omitted"] == 8
    doc = lhtml.document_fromstring(render_view(view))
    rows = doc.xpath("//table[@id='events-table']/tbody/tr")
    assert len(rows) == 10
    note = " ".join(doc.get_element_by_id("events").xpath("string(p)").split())
    assert f"{EVENT_ROW_CAP + 1500} event(s) in 18 row(s)" in note
    assert "Showing the 10 most relevant rows" in note and "8 row(s) with" in note
    assert all("cited" in r.get("class") for r in rows)
    levels = [r.get("data-level") for r in rows]
    assert levels.count("info") < levels.count("error") + levels.count("warning")