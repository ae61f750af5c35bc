"""RDSLIC-026: Entra ID (AAD) Per User licensing failing: RCM 50214-50216, judged with the
licensing mode whose number Microsoft does not confirm (RDS_LICENSING.md 2.2)."""
from __future__ import annotations

from tests.rules.test_rules import detected, event, findings, license_server, make_analysis, session_host

RULE = "RDSLIC-026"


def _aad(manifest_id, days_ago=1):
    return event("RDSH01", manifest_id - 0xC000, manifest=True, days_ago=days_ago, data={"param1": "0x80072ee7"})


def test_aad_mode_and_lookup_failures_is_an_error():
    a = make_analysis([session_host(mode=6, mode_origin="group_policy"), license_server()],
                      events=[_aad(50214, 2), _aad(50215), _aad(50216)])
    (f,) = detected(RULE, a)
    assert f.severity == "error" and f.kind == "cause" and f.host == "RDSH01"
    assert "AAD Per User" in f.summary and "Group Policy" in f.summary and "50214" in f.summary
    assert f.evidence[0].note.startswith("licensing mode 6")
    assert any("dsregcmd /status" in step for step in f.remediation)


def test_events_without_the_aad_mode_stay_a_warning_naming_the_evidence():
    a = make_analysis([session_host(mode=4), license_server()], events=[_aad(50216)])
    (f,) = detected(RULE, a)
    assert f.severity == "warning" and "licensing mode is 4 (per_user), not 6" in f.summary
    a = make_analysis([session_host(mode=None), license_server()], events=[_aad(50214)])
    (f,) = detected(RULE, a)
    assert f.severity == "warning" and "mode is unknown" in f.summary


def test_aad_mode_without_failures_is_healthy():
    a = make_analysis([session_host(mode=6), license_server()], events=[event("RDSH01", 1143, days_ago=1)])
    assert findings(RULE, a)[0].state == "not_detected"


def test_old_failures_are_history():
    a = make_analysis([session_host(mode=6), license_server()], events=[_aad(50214, days_ago=20)])
    (f,) = findings(RULE, a)
    assert f.state == "not_detected" and "history" in f.history
