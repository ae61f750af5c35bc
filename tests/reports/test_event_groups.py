"""Repeated events as one row (issue 21 item 3): in the findings' evidence, the events section
and the Markdown summary; the timeline's collection time and current window."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from lxml import html as lhtml

from rdsla.core.frames import make_frame
from rdsla.reports.view_event_groups import EventGroups, group_key, section_rows

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "sample_data" / "bundles"
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
T0 = pd.Timestamp("2024-11-05 10:15:00", tz="UTC")


def _scenarios():
    from rdsla.sample_data.forge.scenarios import SCENARIOS
    out = []
    for factory in SCENARIOS:
        s = factory()
        out.append(pytest.param(BUNDLES / f"{s.name}.zip" if s.zipped else BUNDLES / s.name, id=s.name))
    return out


def _row_text(tr) -> str:
    """A table row's text without the records listed under it (its <details>)."""
    tr = lhtml.fromstring(lhtml.tostring(tr))
    for d in tr.xpath(".//details"):
        d.getparent().remove(d)
    return " ".join(tr.text_content().split())


@pytest.mark.parametrize("bundle", _scenarios())
def test_no_two_identical_event_rows_in_a_finding_or_the_events_section(bundle):
    from rdsla.reports.html import render
    from rdsla.reports.markdown import render as render_md
    from tests.sample_data.test_bundles import _analysis       # one analysis per bundle for the whole run
    analysis = _analysis(bundle.name.removesuffix(".zip"))
    doc = lhtml.document_fromstring(render(analysis))
    for article in doc.xpath("//article[contains(@class,'finding')]"):
        rows = [_row_text(tr) for tr in article.xpath(".//table[contains(@class,'ev-events')]/tbody/tr")]
        assert len(rows) == len(set(rows)), (article.get("data-rule"), rows)
        # a row is (event id, message start, the server(s) it names): LS 21 naming "RDSH01" and
        # "RDSH02" are two rows whose messages differ only past the first 200 characters
        keys = [(tr.xpath("string(td[3])"), tr.xpath("string(td[5])")[:200],
                 tr.xpath("string(td[5]//strong)"))
                for tr in article.xpath(".//table[contains(@class,'ev-events')]/tbody/tr")]
        assert len(keys) == len(set(keys)), (article.get("data-rule"), keys)
    rows = [_row_text(tr) for tr in doc.xpath("//table[@id='events-table']/tbody/tr")]
    assert len(rows) == len(set(rows))
    total = sum(int(tr.xpath("string(td[5])")) for tr in doc.xpath("//table[@id='events-table']/tbody/tr"))
    assert total == len(analysis.frames["events"])          # every event is counted in one row
    lines = [line for line in render_md(analysis).splitlines() if line.startswith("- event ")]
    assert len(lines) == len(set(lines))


def test_the_gpo_sample_reads_like_a_case_note():
    """'1131 x270, first ..., last ..., naming LS-OLD' instead of 270 rows."""
    from rdsla.analyzer.pipeline import analyze
    from rdsla.reports.html import render
    from rdsla.reports.markdown import render as render_md
    analysis = analyze([str(BUNDLES / "gpo-overrides-deployment.zip")], jobs=0)
    doc = lhtml.document_fromstring(render(analysis))
    card = doc.xpath("//article[@data-rule='RDSLIC-004']")[0]
    rows = card.xpath(".//table[contains(@class,'ev-events')]/tbody/tr")
    assert len(rows) == 1
    text = _row_text(rows[0])
    assert "x270, first 2024-09-21 10:15:00Z, last 2024-11-05 06:15:00Z, naming LS-OLD.contoso.local" in text
    assert "(5 cited)" in text
    assert len(rows[0].xpath(".//details/ol/li")) == 5                 # the cited records, expandable
    section = [tr for tr in doc.xpath("//table[@id='events-table']/tbody/tr") if tr.xpath("string(td[4])") == "1131"]
    assert len(section) == 1 and section[0].xpath("string(td[5])") == "270"
    assert len(section[0].xpath(".//details/ol/li")) == 20             # raw records capped
    assert "20 record(s) of 270" in section[0].xpath("string(.//details/summary)")
    assert "cited" in section[0].get("class")
    # the Markdown summary of a bundle whose top cause cites repeated events: one line per group
    import re
    md = render_md(analyze([str(BUNDLES / "license-server-unreachable")], jobs=0))
    assert re.search(r"^- event `50283` x\d+ \S+, first [^,]+, last [^,]+, naming LS01\.contoso\.local, in ", md, re.M)


def _events(rows):
    return make_frame("events", [{"host": h, "channel": "System", "provider": RCM, "source_name": "TermService",
                                  "event_id": eid, "legacy_event_id": eid, "level": lvl, "time": T0 - timedelta(hours=k),
                                  "record_id": k, "data": {f"param{i + 1}": v for i, v in enumerate(params)},
                                  "message": msg, "source": f"{h}/System.evtx"}
                                 for k, (h, eid, lvl, params, msg) in enumerate(rows, 1)])


def test_groups_by_host_id_template_and_named_server():
    frame = _events([
        ("RDSH01", 1131, 2, ["LS-OLD"], "could not contact LS-OLD"),
        ("RDSH01", 1131, 2, ["ls-old"], "could not contact ls-old"),      # same server, any case
        ("RDSH01", 1131, 2, ["LS01"], "could not contact LS01"),          # another server: another row
        ("RDSH02", 1131, 2, ["LS-OLD"], "could not contact LS-OLD"),      # another host
        ("RDSH01", 1028, 2, ["PC-1"], "client PC-1 disconnected"),        # a client is no server:
        ("RDSH01", 1028, 2, ["PC-2"], "client PC-2 disconnected"),        # one row, two messages
        ("RDSH01", 9999, 4, [], "unknown A"),                              # not in the catalog:
        ("RDSH01", 9999, 4, [], "unknown A"),                              # grouped by message
        ("RDSH01", 9999, 4, [], "unknown B"),
    ])
    g = EventGroups(frame, cited={("RDSH01/System.evtx", 2)})
    by = {(s["host"], s["event_id"], s["server"].upper(), s["message"][:9]): s for s in g.stats}
    assert len(g) == 6
    s = by[("RDSH01", "1131", "LS-OLD", "could not")]
    assert s["count"] == 2 and s["cited"] == 1 and s["first"] == T0 - timedelta(hours=2) and s["last"] == T0 - timedelta(hours=1)
    assert by[("RDSH01", "1028", "", "client PC")]["variants"] == 2
    assert sorted(s["count"] for s in g.stats if s["event_id"] == "9999") == [1, 2]
    raw = g.raw(s["gid"])
    assert [r["record_id"] for r in raw] == ["2", "1"] and raw[0]["cited"]        # cited first, then newest
    rows, left_out = section_rows(g, cap=3)
    assert len(rows) == 3 and left_out == 3 and any(r["cited"] for r in rows)
    # an evidence detail finds its group by the same key
    key = group_key("rdsh01", RCM, "TermService", 1131, {"param1": "LS-OLD"}, "x")
    assert g.group_of_key(key) == s["gid"]


def test_timeline_marks_the_collection_time_and_the_current_window():
    from rdsla.analyzer.pipeline import analyze
    from rdsla.reports import timeline_svg
    analysis = analyze([str(BUNDLES / "gpo-overrides-deployment.zip")], jobs=0)
    t = timeline_svg.layout(analysis)
    c = t["current"]
    assert c["days"] == "7" and c["events"] + c["history"] == t["events"] and c["history"] > 0 < c["events"]
    assert abs((c["x"] + c["width"]) - t["as_of"]["x"]) < 1                 # the window ends at the collection time
    from rdsla.reports.html import render
    doc = lhtml.document_fromstring(render(analysis))
    svg = doc.get_element_by_id("timeline")
    assert svg.xpath(".//rect[@class='current']") and svg.xpath(".//line[@class='asof']")
    assert "history" in svg.text_content() and "current" in svg.text_content()
