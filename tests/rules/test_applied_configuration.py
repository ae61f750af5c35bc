"""RDSLIC-023: a licensing change written after the last start of Remote Desktop Services while
licensing errors go on naming the old values (RDS_LICENSING.md 0a)."""
from __future__ import annotations

from datetime import timedelta

from rdsla.core.coverage import Coverage, LogSpan
from rdsla.core.model import Evidence, Fact
from tests.rules.test_rules import AS_OF, POL, detected, event, findings, license_server, make_analysis, session_host

RULE = "RDSLIC-023"


def _changed_host(days_ago=2.0, last_write=True, servers=("LS01",)):
    """RDSH01 whose licensing GPO now names ``servers``, the policy key written ``days_ago``."""
    h = session_host(mode=4, mode_origin="group_policy", servers=servers, ls_origin="group_policy")
    when = AS_OF - timedelta(days=days_ago) if last_write else None
    for fact in [*h.licensing_mode_candidates, *h.license_server_candidates]:
        for ev in fact.evidence:
            ev.detail["last_write"] = when
    return h


def _start(days_ago, service="Remote Desktop Services"):
    return event("RDSH01", 7036, family="scm", days_ago=days_ago, data={"param1": service, "param2": "running"})


def _boot(days_ago):
    row = event("RDSH01", 6009, family="scm", days_ago=days_ago, data={"param1": "10.00.", "param2": "17763"})
    row["provider"] = "EventLog"
    return row


def _old_ls_errors(*days_ago, server="LS-OLD.contoso.com"):
    return [event("RDSH01", 1131, manifest=True, days_ago=d, data={"param1": server}) for d in days_ago]


def test_change_after_last_start_with_errors_naming_the_old_server():
    a = make_analysis([_changed_host(), license_server()],
                      events=[_start(20), *_old_ls_errors(5, 1, 0.5)])
    (f,) = detected(RULE, a)
    assert f.host == "RDSH01" and f.severity == "error" and f.kind == "cause"
    assert "LS-OLD" in f.summary and "LS01" in f.summary and "has not restarted" in f.summary
    notes = [e.note for e in f.evidence]
    assert notes[0].startswith("key written") and f.evidence[0].locator["key"] == POL
    assert any("last start" in n for n in notes)
    # only the errors after the change are cited as naming the old value
    cited = [e.detail["time"] for e in f.evidence if "naming the old value" in e.note]
    assert len(cited) == 2 and all(t > AS_OF - timedelta(days=2) for t in cited)
    assert any("gpupdate /force" in step for step in f.remediation)
    assert any("Restart-Service TermService" in step for step in f.remediation)


def test_a_start_of_another_service_is_no_restart():
    a = make_analysis([_changed_host(), license_server()],
                      events=[_start(20), _start(1, "Print Spooler"), *_old_ls_errors(1)])
    assert len(detected(RULE, a)) == 1


def test_restart_after_the_change_means_applied():
    for restart in (_start(1.5), _boot(1.5)):
        a = make_analysis([_changed_host(), license_server()], events=[_start(20), restart, *_old_ls_errors(1)])
        (f,) = findings(RULE, a)
        assert f.state == "not_detected" and "started again" in f.summary


def test_errors_naming_the_new_server_are_not_this_cause():
    a = make_analysis([_changed_host(), license_server()],
                      events=[_start(20), *_old_ls_errors(1, server="LS01.contoso.com")])
    (f,) = findings(RULE, a)
    assert f.state == "not_detected"


def test_errors_only_before_the_change_or_outside_the_window():
    a = make_analysis([_changed_host(days_ago=20), license_server()], events=[_boot(30), *_old_ls_errors(15, 10)])
    assert findings(RULE, a)[0].state == "not_detected"
    a = make_analysis([_changed_host(days_ago=1), license_server()], events=[_start(20), *_old_ls_errors(3)])
    assert findings(RULE, a)[0].state == "not_detected"


def test_no_server_event_after_a_server_was_configured():
    a = make_analysis([_changed_host(), license_server()],
                      events=[_start(20), event("RDSH01", 1130, manifest=True, days_ago=1)])
    (f,) = detected(RULE, a)
    assert "no license server is specified" in f.summary


def test_text_exports_carry_no_key_times_not_checked():
    a = make_analysis([_changed_host(last_write=False), license_server()], events=[_start(20), *_old_ls_errors(1)])
    (f,) = findings(RULE, a)
    assert f.state == "not_checked"
    assert any("SYSTEM hive" in c for c in f.collect) and "LastWrite" in f.summary


def test_system_log_not_reaching_the_change_not_checked():
    h = _changed_host(days_ago=5)
    h.coverage = Coverage(hives={"HKLM\\SYSTEM": ["s"], "HKLM\\SOFTWARE": ["s"]},
                          logs={"System": LogSpan("System", first=AS_OF - timedelta(days=2), last=AS_OF, records=9)})
    a = make_analysis([h, license_server()], events=_old_ls_errors(1))
    (f,) = findings(RULE, a)
    assert f.state == "not_checked" and "does not reach back" in f.summary


def test_nothing_configured_in_the_registry_not_detected():
    h = session_host(mode=None, servers=None)
    h.license_server_candidates = [Fact(["LS01"], "wmi_export", [Evidence("artifacts", "x.txt", {"line": 1})])]
    h.license_servers = h.license_server_candidates[0]
    a = make_analysis([h, license_server()], events=_old_ls_errors(1))
    assert findings(RULE, a)[0].state == "not_detected"


def test_outranks_004_in_the_verdict():
    from rdsla.analyzer.verdict import rank
    from rdsla.rules.engine import run_rules
    a = make_analysis([_changed_host(), license_server()], events=[_start(20), *_old_ls_errors(5, 3, 1, 0.5)])
    a.findings = run_rules(a)
    ids = [c.rule_id for c in rank(a)]
    assert ids[0] == RULE and "RDSLIC-004" in ids
