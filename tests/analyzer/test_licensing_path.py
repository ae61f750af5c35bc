"""The licensing path per session host (issue 23 item 2), the healthy / inconclusive verdict it
feeds (item 3), the specific first fix step (item 4): true positives and negatives on small
profiles and frames."""
from __future__ import annotations

from datetime import timedelta

from rdsla.analyzer import specific_fix
from rdsla.analyzer.licensing_path import licensing_paths
from rdsla.analyzer.verdict import chain, conclude, rank
from rdsla.core.coverage import Coverage, LogSpan
from rdsla.core.model import Evidence, Fact
from rdsla.rules.engine import run_rules
from tests.rules.test_rules import AS_OF, BUILTIN, event, keypack, license_server, make_analysis, session_host


def analyse(a):
    a.findings = run_rules(a)
    a.root_causes = rank(a)
    a.licensing_paths = licensing_paths(a)
    specific_fix.apply(a)
    a.verdict = conclude(a)
    return a


def path_of(a, host="RDSH01"):
    return next(p for p in a.licensing_paths if p.host == host)


def valid(name="RDSH01", **kw):
    return session_host(name, status="VALID", **kw)


def test_a_working_path_is_ok_step_by_step_and_the_verdict_says_why():
    a = analyse(make_analysis([valid(), license_server()], keypacks=[BUILTIN, keypack(total=50, issued=10)]))
    p = path_of(a)
    d = p.to_dict()
    assert (d["license_server"], d["source"], d["mode"]) == ("LS01", "deployment", "per_user")
    assert [d[s] for s in ("reachable", "ls_running", "ls_activated", "cals_ok", "ok")] == [True] * 5
    assert d["cals_free"] == 40 and d["cals_total"] == 50
    assert "GetTStoLSConnectivityStatus" in d["evidence"]["reachable"]["note"]
    assert d["evidence"]["cals_ok"]["evidence"][0]["frame"] == "keypacks"
    assert a.verdict["state"] == "healthy"
    assert "RDSH01 -> LS01 (deployment, Per User)" in a.verdict["summary"]
    assert "40 of 50 Per User CALs free" in a.verdict["summary"]


def test_unreachable_license_server_fails_the_path_with_the_events():
    sh = session_host(mode=2)
    a = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack(cal_type="per_device")],
                              events=[event("RDSH01", 1131, manifest=True, days_ago=d) for d in (1, 2)]))
    p = path_of(a)
    assert p.reachable.value is False and p.ok is False
    assert any(e.frame == "events" for e in p.reachable.evidence)
    assert "could not contact" in p.reachable.note


def test_activation_from_status_then_from_permanent_cals_else_unknown():
    issued = [{"license_server": "LS01", "keypack_id": "3", "cal_version": "2019", "cal_type": "per_device",
               "issued_to": f"PC-{i}", "issued_on": AS_OF - timedelta(days=20), "expires_on": AS_OF + timedelta(days=60),
               "status": status, "source": "LS01/LS01_rdls_IssuedLicenses.html"} for i, status in enumerate(["active"])]
    sh = valid(mode=2)
    not_activated = analyse(make_analysis([sh, license_server(activated=False)], keypacks=[BUILTIN]))
    assert path_of(not_activated).ls_activated.value is False and path_of(not_activated).ok is False
    by_issue = analyse(make_analysis([sh, license_server(activated=None)], keypacks=[BUILTIN], issued=issued))
    assert path_of(by_issue).ls_activated.value is True
    assert "permanent CAL" in path_of(by_issue).ls_activated.note
    temporary = [dict(issued[0], status="temporary")]
    only_temporary = analyse(make_analysis([sh, license_server(activated=None)], keypacks=[BUILTIN], issued=temporary))
    assert path_of(only_temporary).ls_activated.value is None


def test_no_license_server_where_the_keys_were_collected_fails_the_path():
    a = analyse(make_analysis([session_host(servers=None), license_server()], keypacks=[BUILTIN, keypack()],
                              events=[event("RDSH01", 1130, days_ago=1)]))
    p = path_of(a)
    assert (p.source, p.license_server, p.configured.value, p.ok) == ("none", None, False, False)


def test_no_license_server_where_the_policy_key_was_not_collected_is_unknown():
    sh = session_host(servers=None)
    sh.coverage = Coverage(hives={"HKLM\\SYSTEM": ["s"]}, logs={"System": LogSpan("System", AS_OF - timedelta(days=9),
                                                                                   AS_OF, 40)})
    a = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()]))
    p = path_of(a)
    assert p.source is None and p.configured.value is None and p.ok is None
    assert a.verdict["state"] == "inconclusive"


def test_full_per_user_pool_still_gives_usable_cals():
    a = analyse(make_analysis([valid(), license_server()], keypacks=[BUILTIN, keypack(total=50, issued=50)]))
    p = path_of(a)
    assert p.cals_ok.value is True and str(p.free) == "0" and p.ok is True
    assert "not enforced" in a.verdict["summary"]


def test_clean_logons_are_reachability_only_where_the_licensing_log_was_collected():
    sh = session_host()
    sh.logon_times = [AS_OF - timedelta(hours=h) for h in (30, 5)]
    sh.last_logon = Fact(sh.logon_times[-1], "event", [Evidence("events", "RDSH01/LSM.evtx", {"record_id": 7},
                                                                 {"event_id": 21}, "Remote Desktop logon")])
    a = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()]))
    assert path_of(a).reachable.value is True and "logon" in path_of(a).reachable.note
    sh.coverage = Coverage(hives={"HKLM\\SYSTEM": ["s"], "HKLM\\SOFTWARE": ["s"]})     # no log of RDSH01
    b = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()]))
    assert path_of(b).reachable.value is None and path_of(b).ok is None
    assert b.verdict["state"] == "inconclusive" and "RDSH01" in b.verdict["summary"]


def test_fix_names_the_working_license_server_another_host_uses():
    a = analyse(make_analysis([valid("RDSH01", mode=2), session_host("RDSH02", mode=2, servers=("LS02",)),
                               license_server(), license_server("LS02")],
                              keypacks=[BUILTIN, keypack(cal_type="per_device"), keypack("LS02", cal_type="per_device")],
                              events=[event("RDSH02", 1131, manifest=True, days_ago=1,
                                            data={"param1": "LS02"}, message="could not contact LS02")]))
    f = next(f for f in a.findings if f.rule_id == "RDSLIC-004" and f.state == "detected")
    assert f.host == "RDSH02"
    assert f.remediation[0].startswith("Point RDSH02 at LS01, which RDSH01 uses successfully")
    assert len(f.remediation) > 1                 # the general steps follow


def test_fix_names_the_policy_and_its_current_value():
    sh = session_host(servers=("LS01",), gp_servers=("LS-OLD.contoso.com",))
    a = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()],
                              events=[event("RDSH01", 1131, days_ago=1, data={"param1": "LS-OLD.contoso.com"},
                                            message="could not contact LS-OLD.contoso.com")]))
    f = next(f for f in a.findings if f.rule_id == "RDSLIC-003" and f.state == "detected")
    assert "from LicenseServers = LS-OLD.contoso.com" in f.remediation[0] and "LS01" in f.remediation[0]


def test_chain_links_the_cause_the_top_one_explains_and_their_symptoms():
    sh = session_host(servers=("LS01",), gp_servers=("LS-OLD.contoso.com",))
    a = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()],
                              events=[event("RDSH01", 1131, days_ago=1, data={"param1": "LS-OLD.contoso.com"},
                                            message="could not contact LS-OLD.contoso.com"),
                                      event("RDSH01", 1128, days_ago=1)]))
    links = chain(a)
    assert [c["rule_id"] for c in links if c["kind"] == "cause"] == ["RDSLIC-003", "RDSLIC-004"]
    assert {c["rule_id"] for c in links if c["kind"] == "symptom"} >= {"RDSLIC-101"}


def test_a_server_found_by_discovery_is_the_path_of_a_host_that_names_none():
    sh = session_host(servers=None)
    sh.ls_available = [Fact({"server": "LS01.contoso.com", "available": True, "issuing_cals": True}, "wmi_export",
                            [Evidence("artifacts", "RDSH01/rds-lic-svr-chk.txt", {"line": 4}, {"line": "IsLSAvailable:True"})])]
    a = analyse(make_analysis([sh, license_server()], keypacks=[BUILTIN, keypack()]))
    p = path_of(a)
    assert (p.source, p.license_server, p.configured.value, p.reachable.value) == ("discovery", "LS01", True, True)
    assert p.ok is True and "FindLicenseServers" in p.reachable.note


def test_the_days_logged_are_those_of_the_log_holding_the_licensing_events():
    """A 2016 session host writes its licensing events to System: a longer LocalSessionManager log
    must not make the healthy verdict claim more days than System covers."""
    from rdsla.analyzer.licensing_path import span_days
    sh = session_host()
    sh.os_version = Fact("2016", "registry")
    lsm = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
    sh.coverage = Coverage(logs={"System": LogSpan("System", AS_OF - timedelta(days=7), AS_OF),
                                 lsm: LogSpan(lsm, AS_OF - timedelta(days=14), AS_OF)})
    assert span_days(sh) == 7
    sh.os_version = Fact("2022", "registry")          # RCM/Admin from 2019: not collected here
    assert span_days(sh) is None


def test_purchased_packs_by_license_server_are_read_once_in_frame_order():
    """specific_fix.purchased_packs (issue 20): each license server's purchased packs (no
    built-in, no temporary one), by canonical name, as the fields of every cause read them."""
    a = make_analysis([valid(), license_server()],
                      keypacks=[BUILTIN, keypack(version="2022", kid="2"), keypack("ls01.contoso.com", kid="3"),
                                keypack("LS02", cal_type="per_device", kid="4"), keypack(kid="5", temporary=True)])
    packs = specific_fix.purchased_packs(a)
    assert {k: [r["keypack_id"] for r in v] for k, v in packs.items()} == {"LS01": ["2", "3"], "LS02": ["4"]}
    assert specific_fix._packs(packs, "LS01") == "2022 Per User, 2019 Per User"
    assert specific_fix._packs(packs, "NOBODY") == ""
