"""Hostile strings in every field type: escaped everywhere, nothing injected (HTML and Markdown)."""
from __future__ import annotations

import re

import pytest
from lxml import etree
from lxml import html as lhtml

from rdsla.reports.html import render, static_assets
from tests.reports.test_html_data import HOSTILE, PAYLOADS, hostile, hostile_analysis

# Tags of fields whose text the report must show (each went into one string field of the analysis).
SHOWN = ["HOST", "ALIAS", "FQDN", "DOMAIN", "OSPRODUCT", "BUILD", "OSVER", "ROLE", "MODE", "LSNAME", "CERT", "CONN",
         "ACT", "LSVER", "FACTSRC", "MESSAGE", "CHANNEL", "FILE", "DATAONLY", "KEY", "VALUE", "DATA", "HIVE",
         "LS", "CALVER", "CALTYPE", "STATUS", "KPFILE", "EVNOTE", "TIME", "EVCHANNEL", "EVID", "EVMSG", "EVRID",
         "LW", "ORIGIN", "LOCKEY", "COL", "CELL", "ROWNOTE", "RULE", "TITLE", "SUMMARY", "FIX1", "FIX2", "RELATED",
         "SYMRULE", "SYMTITLE", "EXPLAINS", "NCRULE", "NCTITLE", "COLLECT", "NDRULE", "NDTITLE", "RCTITLE",
         "RCSUMMARY", "RCRELATED", "RCSYMPTOM", "RULE2", "RC2TITLE", "KIND", "ARTSTATUS", "WARNING", "INPUT",
         "ASOFORIGIN", "RUNMESSAGE"]


@pytest.fixture(scope="module")
def page() -> str:
    return render(hostile_analysis())


@pytest.fixture(scope="module")
def doc(page):
    return lhtml.document_fromstring(page)


def test_no_payload_appears_unescaped(page):
    for payload in PAYLOADS:
        if "<" in payload or ">" in payload or '"' in payload:
            assert payload not in page, payload
    for needle in ("<script>document", "<img", "<iframe", "<svg onload", "</style><", "</title></textarea>", "</textarea>",
                   "onerror=\"window", "<!--"):
        assert needle not in page, needle


def test_no_element_or_attribute_is_injected(doc):
    css, js, _ = static_assets()
    scripts = doc.xpath("//script")
    assert len(scripts) == 1 and scripts[0].text == js and not scripts[0].attrib
    styles = doc.xpath("//style")
    assert len(styles) == 1 and styles[0].text == css
    assert not doc.xpath("//img | //iframe | //object | //embed | //link | //base | //form | //textarea")
    assert len(doc.xpath("//*[local-name()='svg']")) == 1
    for el in doc.iter(etree.Element):
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            assert name.lower() not in ("src", "style", "srcdoc", "formaction")
            if name.lower() in ("href", "xlink:href", "action"):
                assert value.startswith("#"), value
    assert doc.xpath("string(//title)").startswith("rdsla: RULE:")
    assert doc.xpath("count(//meta[@http-equiv='Content-Security-Policy'])") == 1


def test_every_string_field_is_shown_as_text(doc):
    text = doc.text_content()
    # an evidence source shows its file name; its full path is the cell's tooltip (issue 23 item 6)
    tooltips = " ".join(el.get("title") for el in doc.xpath("//td[@class='src-file'][@title]"))
    missing = [tag for tag in SHOWN if hostile(tag) not in text and hostile(tag) not in tooltips]
    assert not missing
    # The data-only event shows its data dict; key/value of event data appear in the events table.
    assert f"p={hostile('DATAONLY')}" in text
    # The hostile host name is the top cause's data attribute, as an inert attribute value.
    assert doc.get_element_by_id("top-cause").get("data-host") == hostile("HOST")
    # Inside the SVG too (host label tooltip and band label).
    svg_text = "".join(doc.xpath("//*[local-name()='svg']//*[local-name()='title']/text()"))
    assert hostile("HOST") in svg_text


def test_template_syntax_in_data_is_not_evaluated(doc):
    assert "{{ 7*7 }}" in doc.get_element_by_id("ticket-text").text_content()


def test_markdown_escapes_bundle_strings():
    from rdsla.reports.markdown import render as render_md
    out = render_md(hostile_analysis())
    for needle in ("*bold*", "_it_", "`code`", "| *"):
        assert needle not in out, needle
    # Markdown is plain text: no entity escapes; every <, > and & is backslash-escaped, which CommonMark
    # shows as the character and never reads as the start of a tag or an entity (issue 23 item 11)
    assert not re.search(r"(?<!\\)[<>&]", out)
    for esc in ("&lt;", "&gt;", "&amp;", "&#"):
        assert esc not in out.replace("\\&", ""), esc
    assert not re.search(r"(?<!\\)\]\(", out)  # no link syntax survives
    assert "\\<script\\>" in out and "\\[x\\](javascript:alert(1))" in out and "\\*bold\\*" in out
    # Every line of the hosts table keeps its six columns despite '|' in the data.
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows and all(line.replace("\\|", "").count("|") == 7 for line in rows)
    assert HOSTILE not in out
