"""The rule corrections of issues 17/18 (RDS_LICENSING.md 0a), each with a true positive and a true
negative; every true negative here was a detection of the logic before the correction."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd

from rdsla.core.coverage import Coverage, LogSpan
from rdsla.core.model import Fact
from tests.rules.test_rules import (AS_OF, BUILTIN, detected, event, findings, keypack, license_server, make_analysis,
                                    reg_fact, report_fact, session_host)

TS = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"
RCM = TS + r"\RCM"
POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
TERMSERVICE = r"HKLM\SYSTEM\CurrentControlSet\Services\TermService"


def _logs(*channels):
    return {c: LogSpan(c, AS_OF - timedelta(days=60), AS_OF, 500) for c in channels}


def system_only(**kw) -> Coverage:
    """A SYSTEM hive and the logs, no SOFTWARE: the policy key's values are unknown."""
    return Coverage(hives={"HKLM\\SYSTEM": ["RDSH01_SYSTEM.hiv"]},
                    logs=_logs("System", "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin"), **kw)


def full() -> Coverage:
    return Coverage(hives={"HKLM\\SYSTEM": ["s"], "HKLM\\SOFTWARE": ["w"]},
                    logs=_logs("System", "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin"))


def _cert(h, present=True):
    h.licensing_certificate = Fact(present, "registry", [])
    return h


def _days_left(h, n):
    h.grace_period.days_left_reported = report_fact(n, host=h.name)
    return h


# ------------------------------------------------------------------ 101 grace expired

def test_101_zero_days_on_a_licensed_host_is_normal():
    sh = _days_left(_cert(session_host()), 0)
    sh.coverage = full()
    assert not detected("RDSLIC-101", make_analysis([sh, license_server()]))


def test_101_zero_days_without_any_license_server_is_expired():
    sh = _days_left(session_host(servers=None), 0)
    sh.coverage = full()
    f = detected("RDSLIC-101", make_analysis([sh, license_server()]))
    assert f and "no license server is configured" in f[0].summary


def test_101_zero_days_without_the_certificate_is_expired():
    sh = _days_left(_cert(session_host(), False), 0)
    sh.coverage = full()
    assert detected("RDSLIC-101", make_analysis([sh, license_server()]))


def test_101_old_expiry_events_are_history():
    sh = _cert(session_host())
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1128, manifest=True, days_ago=40)])
    f = findings("RDSLIC-101", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "history" in f[0].history and "50280" in f[0].history
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1128, manifest=True, days_ago=1)])
    assert detected("RDSLIC-101", a)


def test_101_zero_days_with_unknown_configuration_is_not_checked():
    sh = _days_left(session_host(servers=None), 0)
    sh.coverage = Coverage(logs=_logs("System"))
    f = findings("RDSLIC-101", make_analysis([sh, license_server()]), host="RDSH01")
    assert [x.state for x in f] == ["not_checked"] and any(line.startswith("RDSH01: ") for line in f[0].collect)


# ------------------------------------------------------------------ 102 / 202

def test_102_skips_a_host_with_a_working_license_server():
    sh = _cert(session_host())
    sh.grace_period.ends = Fact(AS_OF + timedelta(days=10), "registry")
    assert not detected("RDSLIC-102", make_analysis([sh, license_server()], keypacks=[keypack()]))
    sh2 = session_host()                                  # certificate unknown: still warned
    sh2.grace_period.ends = Fact(AS_OF + timedelta(days=10), "registry")
    assert detected("RDSLIC-102", make_analysis([sh2, license_server()], keypacks=[keypack()]))


def test_102_text_export_without_key_times_is_not_checked():
    sh = session_host(servers=None)
    sh.coverage = Coverage(keys={TS: ["RDSH01_reg_System-CCS-Control-TerminalServer.txt"]}, logs=_logs("System"))
    f = findings("RDSLIC-102", make_analysis([sh]), host="RDSH01")
    assert [x.state for x in f] == ["not_checked"] and "no key times" in f[0].summary


def test_202_a_license_server_configured_after_expiry_is_a_fix_not_a_reset():
    sh = _cert(session_host())
    sh.grace_period.key_last_write = AS_OF - timedelta(days=5)
    a = make_analysis([sh, license_server()], keypacks=[keypack()], events=[event("RDSH01", 1128, days_ago=40)])
    f = findings("RDSLIC-202", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "fixed" in f[0].summary
    sh2 = _cert(session_host(servers=None), False)
    sh2.grace_period.key_last_write = AS_OF - timedelta(days=5)
    sh2.coverage = full()
    b = make_analysis([sh2], events=[event("RDSH01", 1128, days_ago=40)])
    assert detected("RDSLIC-202", b)


# ------------------------------------------------------------------ 001 / 002 coverage before absence

def test_001_unknown_policy_is_not_checked_not_absent():
    sh = session_host(servers=None, mode=4)
    sh.coverage = system_only()
    f = findings("RDSLIC-001", make_analysis([sh, license_server()]), host="RDSH01")
    assert [x.state for x in f] == ["not_checked"]
    assert any("SW-Policies-MS-WinNT-TerminalServices" in line for line in f[0].collect)
    sh.coverage = full()
    assert detected("RDSLIC-001", make_analysis([sh, license_server()]))


def test_001_current_1130_weighs_first():
    sh = session_host(servers=None)
    sh.coverage = system_only()
    a = make_analysis([sh], events=[event("RDSH01", 1130, manifest=True, days_ago=1)])
    f = detected("RDSLIC-001", a)
    assert f and "1130" in f[0].summary and all(e.frame == "events" for e in f[0].evidence)


def test_002_deployment_not_configured_with_unknown_policy_is_not_checked():
    sh = session_host(mode=5, servers=None)
    sh.coverage = system_only()
    f = findings("RDSLIC-002", make_analysis([sh]), host="RDSH01")
    assert [x.state for x in f] == ["not_checked"]
    sh.coverage = full()
    assert detected("RDSLIC-002", make_analysis([sh]))


def test_002_aad_per_user_is_a_configured_mode():
    sh = session_host(mode=6)
    assert not detected("RDSLIC-002", make_analysis([sh, license_server()]))
    assert detected("RDSLIC-002", make_analysis([session_host(mode=1), license_server()]))


# ------------------------------------------------------------------ 003 impact

def test_003_working_policy_over_stale_deployment_is_information():
    sh = _cert(session_host(mode=2, servers=("LS-OLD",), gp_mode=4, gp_servers=("LS01",)))
    a = make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack(cal_type="per_user")])
    f = detected("RDSLIC-003", a)
    assert [(x.kind, x.severity) for x in f] == [("info", "info")] and "information" in f[0].summary


def test_003_policy_naming_a_failing_license_server_is_a_cause():
    sh = session_host(mode=4, servers=("LS01",), gp_mode=4, gp_servers=("LS-OLD",))
    a = make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()],
                      events=[event("RDSH01", 1131, days_ago=1, data={"param1": "LS-OLD.contoso.com"})])
    f = detected("RDSLIC-003", a)
    assert [(x.kind, x.severity) for x in f] == [("cause", "error")] and "LS-OLD" in f[0].summary
    wrong_type = session_host(mode=2, servers=("LS02",), gp_mode=4, gp_servers=("LS01",))
    b = make_analysis([wrong_type, license_server()], keypacks=[BUILTIN, keypack(cal_type="per_device")])
    assert [x.kind for x in detected("RDSLIC-003", b)] == ["cause"]


# ------------------------------------------------------------------ 004 current, not followed by success

def test_004_a_patch_reboot_weeks_ago_is_history():
    a = make_analysis([session_host(), license_server()],
                      events=[event("RDSH01", 1131, days_ago=40, data={"param1": "LS01"})])
    f = findings("RDSLIC-004", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and f[0].history.startswith("1131 x1, ")
    assert f[0].to_dict()["history"] == f[0].history


def test_004_current_errors_followed_by_issuance_recovered():
    issued = [{"license_server": "LS01", "keypack_id": "3", "cal_version": "2019", "cal_type": "per_device",
               "issued_to": "PC-1", "issued_on": AS_OF - timedelta(hours=5), "expires_on": AS_OF + timedelta(days=60),
               "status": "active", "source": "LS01/issued.html"}]
    evs = [event("RDSH01", 1131, days_ago=2, data={"param1": "LS01"})]
    a = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")],
                      issued=issued, events=evs)
    f = findings("RDSLIC-004", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "recovered" in f[0].summary
    b = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")], events=evs)
    assert detected("RDSLIC-004", b)


def test_004_license_server_answering_at_collection_refutes_it():
    sh = session_host()
    sh.ls_available = [report_fact({"server": "LS01", "available": True, "issuing_cals": True}, host="RDSH01")]
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1131, days_ago=1, data={"param1": "LS01"})])
    assert not detected("RDSLIC-004", a)


# ------------------------------------------------------------------ 016 temporary CALs

def _temp(device, issued_days_ago, status="temporary"):
    when = AS_OF - timedelta(days=issued_days_ago)
    return {"license_server": "LS01", "keypack_id": "4", "cal_version": "2019", "cal_type": "per_device",
            "issued_to": device, "issued_on": when, "expires_on": when + timedelta(days=90), "status": status,
            "source": "LS01/issued.html"}


def test_016_expired_temporary_cals_of_devices_seen_once_are_normal():
    a = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")],
                      issued=[_temp("VISITOR-1", 130), _temp("VISITOR-2", 125)])
    f = findings("RDSLIC-016", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "did not come back" in f[0].summary


def test_016_a_device_that_came_back_after_expiry_is_detected():
    a = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")],
                      issued=[_temp("PC-7", 130), _temp("PC-7", 10)])
    assert detected("RDSLIC-016", a)
    b = make_analysis([session_host(mode=2), license_server()], events=[event("RDSH01", 1011, data={"param1": "PC7"})])
    assert detected("RDSLIC-016", b)


# ------------------------------------------------------------------ roles

def test_a_licensing_gpo_does_not_make_a_file_server_a_session_host():
    from rdsla.analyzer.hosts import build_profiles
    from rdsla.core.frames import FRAME_NAMES, empty_frame, make_frame
    rows = []
    for key, value, data in ((TS, "TSAppCompat", 0), (POLICY, "LicensingMode", 4),
                             (POLICY, "LicenseServers", "LS01"), (TS, "fDenyTSConnections", 0)):
        rows.append({"host": "FS01", "hive": key.split("\\")[1], "key": key, "key_ccs": key, "value": value,
                     "type": "REG_SZ", "data": data, "last_write": None, "source": "FS01_reg.txt"})
    frames = {n: empty_frame(n) for n in FRAME_NAMES}
    frames["registry"] = make_frame("registry", rows)
    (fs,) = build_profiles(frames, [], {}, AS_OF)
    assert fs.roles["session_host"].value is False and fs.licensing_mode.value == 4
    rows[0]["data"] = 1
    frames["registry"] = make_frame("registry", rows)
    (sh,) = build_profiles(frames, [], {}, AS_OF)
    assert sh.has_role("session_host")


def test_evidence_of_events_carries_its_age():
    f = detected("RDSLIC-004", make_analysis([session_host(), license_server()],
                                             events=[event("RDSH01", 1131, days_ago=2, data={"param1": "LS01"})]))
    ev = [e for e in f[0].evidence if e.frame == "events"]
    assert ev and ev[0].detail["age_days"] == 2.0 and ev[0].detail["current"] is True
    assert pd.Timestamp(ev[0].detail["time"]) == pd.Timestamp(AS_OF - timedelta(days=2))


# ------------------------------------------------------------------ 012 4105: compliance, membership proven

def test_012_4105_of_a_member_is_a_reporting_gap_not_a_cause():
    a = make_analysis([session_host(), license_server(in_tsls_group=True)], keypacks=[keypack()],
                      events=[event("LS01", 4105, family="ls", data={"param1": "CONTOSO\\adm-alice"})])
    f = detected("RDSLIC-012", a)
    assert [(x.kind, x.severity) for x in f] == [("compliance", "info")] and "permission" in f[0].summary


def test_012_non_membership_only_when_the_export_proves_it():
    proven = make_analysis([session_host(), license_server(in_tsls_group=False)], keypacks=[keypack()])
    f = detected("RDSLIC-012", proven)
    assert [(x.kind, x.severity) for x in f] == [("compliance", "warning")] and "is not in" in f[0].summary
    unknown = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                            events=[event("LS01", 4105, family="ls", data={"param1": "alice"})])
    f = detected("RDSLIC-012", unknown)
    assert f[0].kind == "compliance" and "unknown" in f[0].summary and "not in the" not in f[0].summary


# ------------------------------------------------------------------ 010 workgroup: compliance unless it fails

def _lsm(host, event_id, minutes_ago, session):
    from tests.rules.test_rules import AS_OF as now
    return {"host": host, "channel": "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
            "provider": "Microsoft-Windows-TerminalServices-LocalSessionManager", "source_name": None,
            "event_id": event_id, "legacy_event_id": event_id, "level": 4, "time": now - timedelta(minutes=minutes_ago),
            "record_id": 50000 + minutes_ago * 10 + event_id, "computer": host,
            "data": {"User": "RDSH01\\\\u1", "SessionID": str(session), "Address": "10.0.0.9"}, "message": "",
            "source": f"{host}/LSM.evtx"}


def test_010_per_user_in_a_workgroup_without_failures_is_compliance():
    a = make_analysis([session_host(mode=4, joined=False, domain=None), license_server(joined=False, domain=None)])
    f = detected("RDSLIC-010", a)
    assert [(x.kind, x.severity) for x in f] == [("compliance", "error")]


def test_010_hourly_disconnects_or_errors_make_it_the_cause():
    drops = []
    for i in range(4):
        start = 2000 - i * 300
        drops += [_lsm("RDSH01", 21, start, 10 + i), _lsm("RDSH01", 24, start - 60, 10 + i)]
    a = make_analysis([session_host(mode=4, joined=False, domain=None), license_server(joined=False, domain=None)],
                      events=drops)
    f = detected("RDSLIC-010", a)
    assert [(x.kind, x.severity) for x in f] == [("cause", "error")] and "60 minutes" in f[0].summary
    errors = make_analysis([session_host(mode=4, joined=False, domain=None), license_server(joined=False, domain=None)],
                           events=[event("RDSH01", 1128, manifest=True, days_ago=1)])
    assert [x.kind for x in detected("RDSLIC-010", errors)] == ["cause"]


# ------------------------------------------------------------------ 011 CVE-2024-38099 preconditions

def _ls_at(ubr, build=17763, **kw):
    ls = license_server(joined=False, domain=None, **kw)
    ls.os_build, ls.os_ubr = report_fact(build, host="LS01"), report_fact(ubr, host="LS01")
    return ls


def test_011_needs_a_license_server_patched_in_july_2024():
    wg = dict(mode=2, joined=False, domain=None)
    ev = [event("RDSH01", 1131, manifest=True, data={"param1": "LS01"})]
    assert detected("RDSLIC-011", make_analysis([session_host(**wg), _ls_at(6054)], events=ev))
    f = findings("RDSLIC-011", make_analysis([session_host(**wg), _ls_at(5936)], events=ev), host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "RDSLIC-004" in f[0].summary        # June 2024: a plain 1131
    unknown = license_server(joined=False, domain=None)
    f = findings("RDSLIC-011", make_analysis([session_host(**wg), unknown], events=ev), host="RDSH01")
    assert [x.state for x in f] == ["not_checked"] and f[0].collect[0].startswith("LS01: SOFTWARE hive")


def test_011_not_on_a_single_server_and_status_8_is_the_best_evidence():
    wg = dict(mode=2, joined=False, domain=None)
    own = session_host("RDSH01", servers=("RDSH01",), **wg)
    own.roles["licensing"] = Fact(True, "registry")
    own.os_build, own.os_ubr = report_fact(17763, host="RDSH01"), report_fact(6532, host="RDSH01")
    a = make_analysis([own], events=[event("RDSH01", 1131, manifest=True, data={"param1": "RDSH01"})])
    assert not detected("RDSLIC-011", a)
    denied = session_host(status="BUT_ACCESS_DENIED", **wg)
    f = detected("RDSLIC-011", make_analysis([denied, license_server(joined=False, domain=None)]))
    assert f and "BUT_ACCESS_DENIED" in f[0].summary


# ------------------------------------------------------------------ 017 full domains, events naming the other one

def test_017_child_domain_of_the_same_forest_is_no_trust_problem():
    a = make_analysis([session_host(domain="emea.contoso.com"), license_server(domain="contoso.com")],
                      keypacks=[keypack()], events=[event("RDSH01", 1128, manifest=True, days_ago=1)])
    f = findings("RDSLIC-017", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "same forest" in f[0].summary


def test_017_a_cause_only_when_events_name_the_other_domain():
    doms = dict(keypacks=[keypack()])
    hosts = [session_host(domain="fabrikam.com"), license_server(domain="contoso.com")]
    assert not detected("RDSLIC-017", make_analysis(hosts, events=[event("RDSH01", 1128, manifest=True)], **doms))
    f = detected("RDSLIC-017", make_analysis(hosts, events=[
        event("LS01", 4105, family="ls", days_ago=1, data={"param1": "FABRIKAM\\\\bob", "param2": "fabrikam.com"})], **doms))
    assert f and "another forest" in f[0].summary and "4105" in f[0].summary


# ------------------------------------------------------------------ 014 certificate: TermDD 50 + 1004, absent != corrupt

def _termdd(days_ago=1):
    row = event("RDSH01", 50, family="other", days_ago=days_ago, data={"param1": "X.224"})
    row.update(provider="TermDD", channel="System")
    return row


def test_014_protocol_errors_with_1004_and_a_present_certificate():
    sh = _cert(session_host())
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1004), _termdd()])
    f = detected("RDSLIC-014", a)
    assert f and "1004" in f[0].summary and "50" in f[0].summary
    assert not detected("RDSLIC-014", make_analysis([sh, license_server()], events=[event("RDSH01", 1004)]))


def test_014_no_certificate_after_grace_is_not_a_corrupt_one():
    sh = _days_left(_cert(session_host(), False), 0)
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1133, manifest=True), _termdd()])
    f = findings("RDSLIC-014", a, host="RDSH01")
    assert [x.state for x in f] == ["not_detected"] and "never reached a license server" in f[0].summary


def test_006_unknown_mode_is_judged_from_the_license_servers_events_only():
    sh = session_host(mode=None, os="2022")
    packs = [BUILTIN, keypack(version="2019", cal_type="per_user", total=100, issued=0)]
    f = findings("RDSLIC-006", make_analysis([sh, license_server(version="2022")], keypacks=packs), host="LS01")
    assert [x.state for x in f] == ["not_checked"]
    ev = [event("LS01", 22, family="ls", data={"param1": "LS01", "param2": "Windows Server 2022 - Per User CAL"})]
    f = detected("RDSLIC-006", make_analysis([sh, license_server(version="2022")], keypacks=packs, events=ev))
    assert [x.kind for x in f] == ["compliance"]
