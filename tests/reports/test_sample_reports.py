"""The reports of every sample bundle as a support engineer reads them (issue 23 items 5, 6, 11):
Markdown without HTML escapes or empty fields, one ask-list that never asks for what the bundle
holds nor anything from a retired or unreachable license server, short evidence sources."""
from __future__ import annotations

import re

import pytest
from lxml import html as lhtml

from tests.sample_data.test_bundles import NAMES, _analysis, bundle_path  # one analysis per bundle per run

ESCAPES = ("&lt;", "&gt;", "&amp;", "&#", "&quot;")
# A field printed without its value: "last write ,", "= (", "()", ", ,", "x=," or an empty table cell.
EMPTY_FIELDS = [re.compile(p) for p in (r"last write\s*[,)]", r"=\s*[,)]", r"=\s*$", r"\(\s*[,)]", r",\s*[,)]", r"\|\s+\|",
                                        r":\s*$", r"\bin [:,]", r"\bon [:,]")]




@pytest.mark.parametrize("name", NAMES)
def test_markdown_has_no_html_escapes_and_no_empty_fields(name):
    from rdsla.reports.markdown import render
    out = render(_analysis(name))
    for esc in ESCAPES:
        assert esc not in out, (name, esc)
    for line in out.splitlines():
        if line.startswith("|") and set(line) <= set("|- "):
            continue                        # the table's header rule
        for pattern in EMPTY_FIELDS:
            if pattern.pattern == r":\s*$" and line.lstrip().startswith("- on "):
                continue                    # "- on HOST:" heads the host's ask items
            assert not pattern.search(line), (name, pattern.pattern, line)
    assert "Not checked: collect next" not in out and "**Collect next**" not in out   # one ask-list only


@pytest.mark.parametrize("name", NAMES)
def test_ask_list_never_asks_for_what_the_bundle_holds(name):
    from rdsla.core.coverage import BY_ID
    from rdsla.reports.view_asks import asks, not_asked_servers
    analysis = _analysis(name)
    skipped = not_asked_servers(analysis)
    seen = set()
    for group in asks(analysis):
        assert group["host"] not in skipped, (name, group["host"])
        host = analysis.host(group["host"])
        for item in group["items"]:
            key = (group["host"], item["item"] or item["label"])
            assert key not in seen, (name, key)             # each thing asked once
            seen.add(key)
            if item["item"] is None:
                continue
            assert item["command"] == BY_ID[item["item"]].command.format(host=group["host"])
            if host is not None and host.coverage is not None:
                assert not host.coverage.has(item["item"]), (name, key)
                # independently of coverage: no file of this host carries the name the command writes
                written = re.findall(r"\b" + re.escape(group["host"]) + r"_[\w.-]+\.(?:txt|evtx|csv|hiv)", item["command"])
                held = {p.replace("\\", "/").rsplit("/", 1)[-1].lower() for p in host.artifacts}
                assert not (set(w.lower() for w in written[:1]) & held), (name, key)


def test_the_policy_export_is_all_a_gpo_host_without_it_needs():
    from rdsla.reports.view_asks import asks
    groups = asks(_analysis("healthy-gpo-without-policy-export"))
    needed = [(g["host"], i["item"]) for g in groups for i in g["items"] if i["needed"]]
    assert needed == [("RDSH01", "key.policy")]
    assert [g["host"] for g in groups] == ["RDSH01"]          # nothing from LS01, which sent its exports


@pytest.mark.parametrize("name", ["gpo-overrides-deployment", "healthy-gpo-over-stale-deployment"])
def test_nothing_is_asked_from_a_stale_or_unreachable_license_server(name):
    from rdsla.reports.markdown import render
    from rdsla.reports.view_asks import asks, not_asked_servers
    analysis = _analysis(name)
    assert "LS-OLD" in not_asked_servers(analysis)
    assert "LS-OLD" not in [g["host"] for g in asks(analysis)]
    md = render(analysis)
    asked = md.split("**Ask the customer for**")[1].split("\n\n")[1] if "**Ask the customer for**" in md else ""
    assert "LS-OLD" not in asked
    # the omission is said where something would have been asked (005/006/019... of LS-OLD in the GPO sample)
    assert ("Not asked from: LS-OLD (unreachable from RDSH01" in md) == (name == "gpo-overrides-deployment")


@pytest.mark.parametrize("name", ["gpo-overrides-deployment", "healthy-gpo-without-policy-export"])
def test_report_shows_short_sources_one_ask_block_and_collapsed_not_checked(name):
    from rdsla.reports.html import render
    analysis = _analysis(name)
    doc = lhtml.document_fromstring(render(analysis))
    assert len(doc.xpath("//section[@id='ask']")) == 1
    # not-checked rules: a collapsed list without severity badges, never a card
    assert not doc.xpath("//article[@data-state='not_checked']")
    for row in doc.xpath("//details[contains(@class,'unchecked')]//table[@class='not-checked']/tbody/tr"):
        assert not row.xpath(".//*[contains(@class,'sev-')]")
    # not-detected rules show their reason
    reasons = [r.xpath("string(td[4])") for r in doc.xpath("//table[@class='not-detected']/tbody/tr")]
    assert reasons and all(reasons)
    # evidence: the file name (and record) in the cell, the full path in its tooltip and the ingest section
    cells = doc.xpath("//article[contains(@class,'finding')]//td[@class='src-file']")
    full_paths = {r.xpath("string(td[1])") for r in doc.xpath("//table[@class='artifacts']/tbody/tr")}
    for cell in cells:
        full = cell.get("title")
        shown = cell.text_content().split(" (")[0].split(" #")[0]          # a note may follow
        assert "/" not in shown and full.endswith(shown) and full in full_paths, (full, shown)


@pytest.mark.parametrize("name, host, servers", [
    ("no-license-server-grace-expired", "RDSH01", "none"),              # keys collected, nothing set
    ("healthy-gpo-without-policy-export", "RDSH01", "unknown"),         # the policy key was not collected
    ("healthy-gpo-without-policy-export", "LS01", "—"),                 # no session host: does not apply
])
def test_none_unknown_and_not_applicable_mean_one_thing_each(name, host, servers):
    from rdsla.reports.markdown import render
    hosts_table = render(_analysis(name)).split("**Hosts**")[1]
    rows = [line for line in hosts_table.splitlines() if line.startswith(f"| {host} |")]
    assert len(rows) == 1 and rows[0].split(" | ")[4] == servers, rows


def test_the_paths_table_says_none_or_unknown_for_a_missing_license_server():
    """'—' means 'does not apply' in the hosts table; a session host's path always applies."""
    from rdsla.reports.view_paths import paths_view
    rows = {r["host"]: r for r in paths_view(_analysis("no-license-server-grace-expired"))}
    assert rows["RDSH01"]["license_server"] == "none"
    for name in NAMES:
        assert all(r["license_server"] != "—" for r in paths_view(_analysis(name))), name
