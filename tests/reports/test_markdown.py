"""The Markdown ticket summary: top cause, host, evidence lines, fix; escaping of bundle strings."""
from __future__ import annotations

from rdsla.reports.markdown import md, md_block, render
from tests.reports.test_html_data import multi_host_analysis, single_host_analysis


def test_summary_names_cause_host_evidence_and_fix():
    out = render(single_host_analysis())
    lines = out.splitlines()
    assert lines[0] == "## RDS licensing root cause: No license server configured"
    assert "**`RDSLIC-001` on RDSH01**, confidence 90% (high), severity critical" in out
    fix = lines.index("**Fix**")
    assert lines[fix + 2].startswith("1. Specify the license server")
    assert lines[fix + 3] == "2. Restart the Remote Desktop Services service."
    evidence = [line for line in lines if line.startswith("- event ") or line.startswith("- registry ")]
    # the source is the file name and record (issue 23 item 6); the full path is in the HTML report
    assert evidence[0].startswith("- event `50282` Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin "
                                  "at 2024-05-02 08:30:00Z, in RemoteConnectionManager-Admin.evtx #300:")
    assert any(line.startswith("- registry HKLM\\\\SYSTEM\\\\ControlSet001") and "value LicensingMode = 4" in line
               and "deployment (RCM / RDMS), in effect" in line for line in evidence)
    assert "- `RDSLIC-020` Grace period expired on RDSH01" in out
    # one ask-list by machine (issue 23 item 5): what the not-checked 005 needs, and for which check
    asks = out.split("**Ask the customer for**")[1]
    assert "  - System and TerminalServices-Licensing logs of the license server (for more checks: `RDSLIC-005`)" in asks
    assert "| RDSH01 | RD Session Host | 2019 | per user (4) (deployment (RCM / RDMS)) | none | 0 |" in out


def test_summary_lists_other_causes_and_hosts():
    out = render(multi_host_analysis())
    assert "- `RDSLIC-003` Group Policy overrides the deployment on RDSH01 (55%)" in out
    assert "Related hosts: LS01" in out
    assert "| LS01 | RD Licensing | 2016 |" in out
    assert "_8 file(s) read, 2 with problems;" in out


def test_escaping_helpers():
    assert md("a <b> & c") == "a \\<b\\> \\& c"          # backslash escapes, never entities
    assert md("*x* _y_ `z` [l](u) a|b ~s~ \\") == "\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u) a\\|b \\~s\\~ \\\\"
    assert md("line one\nline two\r\n") == "line one line two"
    assert md_block("# heading") == "\\# heading"
    assert md_block("1. item") == "1\\. item"
    assert md_block("- item") == "\\- item"
    assert md_block("plain - text") == "plain - text"
