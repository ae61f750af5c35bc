"""The report on paper (issue 21 item 4): every sample bundle's report printed to PDF by headless
Chromium on A4 (and on Letter for four of them): a reasonable number of pages, the root cause (or "no root cause
found") on page 1; the print stylesheet hides navigation and controls, keeps a finding on one
page where it fits and wraps tables to the page width.

Needs Chromium (the browser tests' fixture: skips without it); page text needs ``pdftotext``
(poppler-utils: skips without it); the page count is read with ``pdfinfo`` when installed, else
from the PDF's page objects.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.reports.test_browser import Page, _chromium, browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "sample_data" / "bundles"
MAX_PAGES = 20          # the longest sample report prints on 14 Letter pages
A4_WIDTH_PX = 794       # 210 mm at 96 px per inch
BOTH_PAPERS = {"gpo-overrides-deployment", "license-server-unreachable", "healthy-per-user-domain", "cals-exhausted"}


def _scenarios():
    from rdsla.sample_data.forge.scenarios import SCENARIOS
    out = []
    for factory in SCENARIOS:
        s = factory()
        out.append(pytest.param(BUNDLES / f"{s.name}.zip" if s.zipped else BUNDLES / s.name, id=s.name))
    return out


def pages(pdf: Path) -> int:
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60).stdout
        return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    return len(re.findall(rb"/Type\s*/Page(?![a-z])", pdf.read_bytes()))


def page_text(pdf: Path, page: int) -> str:
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed (apt-get install -y poppler-utils)")
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                         capture_output=True, text=True, timeout=60)
    return " ".join(out.stdout.split())


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Each sample bundle's report.html, rendered once."""
    from rdsla.reports.html import render
    from tests.sample_data.test_bundles import _analysis       # one analysis per bundle for the whole run
    folder = tmp_path_factory.mktemp("print")
    out = {}
    for param in _scenarios():
        bundle = param.values[0]
        analysis = _analysis(bundle.name.removesuffix(".zip"))
        path = folder / f"{param.id}.html"
        path.write_text(render(analysis), encoding="utf-8")
        top = analysis.root_causes[0] if analysis.root_causes else None
        out[param.id] = (path, top)
    return out


@pytest.mark.parametrize("bundle", _scenarios())
def test_every_sample_report_prints_with_the_root_cause_on_page_one(browser, reports, tmp_path, bundle):  # noqa: F811
    path, top = reports[bundle.name.removesuffix(".zip")]
    page = Page(browser, path)
    try:
        for paper in ("A4", "Letter") if bundle.name.removesuffix(".zip") in BOTH_PAPERS else ("A4",):
            pdf = tmp_path / f"{paper}.pdf"
            page.page.pdf(path=str(pdf), format=paper, print_background=True)
            n = pages(pdf)
            assert 1 <= n <= MAX_PAGES, (paper, n)
            first = page_text(pdf, 1)
            assert "RDS licensing root-cause report" in first
            if top is None:
                assert "No root cause found" in first
            else:
                assert top.rule_id in first and top.host in first, first[:400]
                title = " ".join(top.title.split()[:4])            # the headline may wrap after it
                assert title in first, (title, first[:400])
            assert "Verdict" in first and "Findings Hosts CAL pool" not in first      # no navigation printed
    finally:
        page.close()


def test_print_stylesheet_hides_controls_keeps_findings_whole_and_wraps_tables(browser, reports):  # noqa: F811
    path, _ = reports["gpo-overrides-deployment"]
    page = Page(browser, path)
    try:
        p = page.page
        p.set_viewport_size({"width": A4_WIDTH_PX, "height": 1123})
        p.emulate_media(media="print")
        style = lambda sel, prop: p.evaluate(  # noqa: E731
            f"getComputedStyle(document.querySelector({sel!r})).getPropertyValue({prop!r})")
        assert style("nav.toc", "display") == "none"
        assert style("#events-controls", "display") == "none"
        assert style("#copy-ticket", "display") == "none"
        assert style("article.finding.state-detected", "break-inside") == "avoid"
        assert style(".verdict", "break-inside") == "avoid"
        assert style(".table-wrap", "overflow-x") == "visible"
        assert style("details.raw-records ol", "display") == "none"      # grouped rows print their counts
        # nothing wider than the page: tables wrap
        assert p.evaluate("document.documentElement.scrollWidth") <= A4_WIDTH_PX
        widest = p.evaluate("Math.max(...[...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right))")
        assert widest <= A4_WIDTH_PX
    finally:
        page.close()


def test_chromium_print_to_pdf_command_line(reports, tmp_path):
    """What an engineer runs by hand: ``chromium --headless --print-to-pdf`` of the report file."""
    exe = _chromium()
    path, top = reports["license-server-unreachable"]
    pdf = tmp_path / "report.pdf"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", path.resolve().as_uri()], capture_output=True, timeout=120)
    if not pdf.exists():
        pytest.skip("this chromium build cannot print to PDF from the command line")
    assert 1 <= pages(pdf) <= MAX_PAGES
    assert top.rule_id in page_text(pdf, 1)
