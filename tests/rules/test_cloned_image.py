"""RDSLIC-024: a session host younger than its grace period (deployed from an image whose
GracePeriod timebomb had run) and no working license server."""
from __future__ import annotations

from datetime import timedelta

from rdsla.core.coverage import Coverage
from rdsla.core.model import Evidence, Fact
from tests.rules.test_rules import AS_OF, detected, event, findings, license_server, make_analysis, session_host

RULE = "RDSLIC-024"
CV = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"


def _host(installed_days_ago=9.0, grace_days_ago=None, servers=None, certificate=False):
    h = session_host(servers=servers)
    when = AS_OF - timedelta(days=installed_days_ago)
    h.os_install_date = Fact(when, "registry", [Evidence("registry", "RDSH01/SOFTWARE", {"key": CV, "value": "InstallDate"},
                                                         {"key": CV, "value": "InstallDate", "data": int(when.timestamp())})])
    if grace_days_ago is not None:
        h.grace_period.key_last_write = AS_OF - timedelta(days=grace_days_ago)
    h.licensing_certificate = Fact(certificate, "registry", [])
    return h


def _expired(*days_ago):
    return [event("RDSH01", 1128, manifest=True, days_ago=d) for d in days_ago]


def test_grace_expired_days_after_installation():
    a = make_analysis([_host(), license_server()], events=_expired(8, 3, 1))
    (f,) = detected(RULE, a)
    assert f.severity == "error" and f.host == "RDSH01"
    assert "from " + (AS_OF - timedelta(days=8)).strftime("%Y-%m-%d") in f.summary   # first after install, history too
    assert "no license server serves it" in f.summary
    assert f.evidence[0].locator["value"] == "InstallDate"
    assert any("image" in step for step in f.remediation) and any("redeploy" in step for step in f.remediation)


def test_grace_key_older_than_installation():
    a = make_analysis([_host(grace_days_ago=200), license_server()], events=_expired(1))
    (f,) = detected(RULE, a)
    assert "GracePeriod key was written" in f.summary and f.severity == "error"
    # without current expiry events the old timebomb alone is a warning
    a = make_analysis([_host(grace_days_ago=200), license_server()], events=[event("RDSH01", 1143, days_ago=1)])
    (f,) = detected(RULE, a)
    assert f.severity == "warning" and "GracePeriod key was written" in f.summary


def test_an_old_host_whose_grace_ran_out_is_not_a_clone():
    a = make_analysis([_host(installed_days_ago=300, grace_days_ago=300), license_server()], events=_expired(2, 1))
    assert findings(RULE, a)[0].state == "not_detected"


def test_setup_writing_the_grace_key_the_same_day_is_no_image():
    a = make_analysis([_host(installed_days_ago=9, grace_days_ago=9.5), license_server()], events=[])
    assert findings(RULE, a)[0].state == "not_detected"


def test_working_license_server_makes_the_image_harmless():
    a = make_analysis([_host(grace_days_ago=200, servers=("LS01",), certificate=True), license_server()],
                      events=_expired(8))
    (f,) = findings(RULE, a)
    assert f.state == "not_detected" and "working license server" in f.summary


def test_expiry_only_before_the_window_is_history():
    a = make_analysis([_host(installed_days_ago=30), license_server()], events=_expired(25, 20))
    (f,) = findings(RULE, a)
    assert f.state == "not_detected" and f.history


def test_systeminfo_install_date_when_no_software_hive():
    """MSRD-Collect's SystemInfo.txt states the install date in the machine's local time (naive)."""
    from datetime import datetime
    h = _host()
    h.install_date_local = Fact(datetime(2024, 5, 23, 9, 30), "system_info",
                                [Evidence("artifacts", "RDSH01_SystemInfo.txt", {"line": 9}, {"line": "Install date"})])
    h.os_install_date = None
    a = make_analysis([h, license_server()], events=_expired(8, 1))
    (f,) = detected(RULE, a)
    assert "installed on 2024-05-23" in f.summary and "local time" in f.evidence[0].note


def test_install_date_not_collected_not_checked():
    h = _host()
    h.os_install_date = None
    h.coverage = Coverage(hives={"HKLM\\SYSTEM": ["s"]})
    a = make_analysis([h, license_server()], events=_expired(1))
    (f,) = findings(RULE, a)
    assert f.state == "not_checked" and any("SOFTWARE" in c for c in f.collect)


def test_outranks_001_in_the_verdict():
    from rdsla.analyzer.verdict import rank
    from rdsla.rules.engine import run_rules
    a = make_analysis([_host(grace_days_ago=200), license_server()],
                      events=[*_expired(3, 1), event("RDSH01", 1130, manifest=True, days_ago=1)])
    a.findings = run_rules(a)
    ids = [c.rule_id for c in rank(a)]
    assert ids[0] == RULE and "RDSLIC-001" in ids
