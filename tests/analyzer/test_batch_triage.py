"""Batch rows for triage (issue 23 item 8): the top cause's host, severity and summary, counts per
severity with critical apart, and the verdict state, read from the analysis of real sample bundles."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdsla.analyzer.batch_task import COLUMNS, summary_row
from rdsla.analyzer.pipeline import analyze
from rdsla.parsers.base import ParseOptions

BUNDLES = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
DESIGN_COLUMNS = ("bundle", "status", "hosts", "os", "licensing_mode", "license_servers", "grace_days_left",
                  "top_rule_id", "top_title", "confidence", "findings_error", "findings_warning", "error")


def test_design_columns_come_first_and_stay():
    assert COLUMNS[:len(DESIGN_COLUMNS)] == DESIGN_COLUMNS
    assert {"top_host", "top_severity", "top_summary", "findings_critical", "findings_info", "verdict",
            "report"} <= set(COLUMNS)


@pytest.mark.parametrize("name", ["cals-exhausted", "healthy-per-user-domain.zip"])
def test_row_names_the_host_and_summary_of_the_top_cause(name):
    path = BUNDLES / name
    analysis = analyze([str(path)], ParseOptions(), jobs=0)
    row = summary_row(analysis, name)
    detected = [f for f in analysis.findings if f.state == "detected"]
    assert row["findings_critical"] == sum(f.severity == "critical" for f in detected)
    assert row["findings_info"] == sum(f.severity == "info" for f in detected)
    assert row["findings_critical"] + sum(f.severity == "error" for f in detected) == row["findings_error"]
    if (path / "expected.json").exists():
        expected = json.loads((path / "expected.json").read_text())
    else:
        import zipfile
        with zipfile.ZipFile(path) as zf:
            expected = json.loads(zf.read("expected.json"))
    if expected["root_causes"]:
        top = analysis.root_causes[0]
        assert row["top_host"] == top.host and row["top_host"] in [expected["host"], *expected["alt_hosts"]]
        assert row["top_summary"] == top.summary and row["top_summary"]
        assert row["top_severity"] in ("warning", "error", "critical")
    else:
        assert row["top_host"] is None and row["top_summary"] is None and row["top_severity"] is None
    assert row["verdict"] == (analysis.verdict or {}).get("state")
