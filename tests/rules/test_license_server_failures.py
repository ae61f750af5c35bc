"""RDSLIC-021 (Per Device CALs leaking), 022 (license server running but failing), 025 (license
upgrade prevented): true positives and true negatives from small frames and profiles."""
from __future__ import annotations

from datetime import timedelta

from rdsla.core.model import Fact
from rdsla.analyzer.verdict import rank
from rdsla.rules.engine import run_rules
from tests.rules.test_rules import (AS_OF, BUILTIN, POL, detected, event, findings, keypack, license_server,
                                    make_analysis, reg_fact, session_host)


def cal(name, n, *, status="active", hw=None, days_ago=30, ls="LS01", version="2019"):
    issued = AS_OF - timedelta(days=days_ago, hours=n)
    return {"license_server": ls, "keypack_id": "3", "cal_version": version, "cal_type": "per_device",
            "issued_to": name, "issued_on": issued, "expires_on": issued + timedelta(days=90 if status == "temporary" else 120),
            "status": status, "hardware_id": hw if hw is not None else f"0x{n:08x}-0x5f3a2c1d-0x0a0b0c0d-0x00000003",
            "source": f"{ls}/{ls}_rdls_IssuedLicenses.html"}


def leaking_cals(name="KIOSK-01", count=6, start=0, **kw):
    return [cal(name, start + i, **kw) for i in range(count)]


def normal_cals(count=10):
    return [cal(f"PC-{i:04d}", 500 + i) for i in range(count)]


# ------------------------------------------------------------------ RDSLIC-021

def test_021_one_name_many_hardware_ids_with_pool_exhausted_is_the_cause():
    iss = normal_cals(14) + leaking_cals("KIOSK-01", 6)
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(cal_type="per_device", total=20, issued=20)], issued=iss,
                      events=[event("LS01", 21, family="ls", days_ago=1,
                                    data={"param1": "LS01", "param2": "Windows Server 2019 - Per Device CAL"})])
    f = detected("RDSLIC-021", a)
    assert len(f) == 1 and f[0].host == "LS01" and f[0].severity == "error" and "RDSH01" in f[0].related_hosts
    assert "KIOSK-01 x6 (6 hardware ids)" in f[0].summary and "all 20 permanent Per Device CALs issued" in f[0].summary
    assert "hardware id" in f[0].summary and any("MSLicensing" in s for s in f[0].remediation)
    assert {e.frame for e in f[0].evidence} >= {"issued", "keypacks", "events"}
    # it explains the exhausted pool better than 006 (DESIGN "Ranking of the new causes")
    a.findings = run_rules(a)
    assert [c.rule_id for c in rank(a)][:2] == ["RDSLIC-021", "RDSLIC-006"]


def test_021_many_temporary_rows_for_one_name_same_hardware_id():
    iss = normal_cals(5) + leaking_cals("THIN-07", 4, status="temporary", hw="0x00000001-0x0-0x0-0x0")
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(cal_type="per_device", total=10, issued=5)], issued=iss)
    f = detected("RDSLIC-021", a)
    assert f and "THIN-07 x4 (4 temporary)" in f[0].summary and "temporary CAL is never upgraded" in f[0].summary
    # half the pool free, no 20/21: it drains, nobody refused yet -> a warning, never an error
    assert f[0].severity == "warning"


def test_021_names_the_web_client_when_the_cals_carry_the_gateway_name():
    gw = license_server("RDGW01", activated=None)
    gw.roles = {"gateway": Fact(True, "registry")}
    iss = normal_cals(8) + leaking_cals("RDGW01", 12)
    a = make_analysis([session_host(mode=2), license_server(), gw],
                      keypacks=[BUILTIN, keypack(cal_type="per_device", total=21, issued=20)], issued=iss)
    f = detected("RDSLIC-021", a)
    assert f and f[0].severity == "error" and "web client" in f[0].summary and "RDGW01" in f[0].summary
    assert any("Per User" in s for s in f[0].remediation)


def test_021_true_negatives():
    # every device one CAL; a PC re-imaged once holds two (below the threshold); revoked rows do not count
    iss = normal_cals(10) + leaking_cals("PC-REIMAGED", 2) + leaking_cals("OLD-PC", 5, start=40, status="revoked")
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(cal_type="per_device", total=12, issued=12)], issued=iss)
    assert not detected("RDSLIC-021", a)
    # Per User CALs issued to one user name are not device CALs
    pu = [dict(r, cal_type="per_user") for r in leaking_cals("CONTOSO\\alice", 5)]
    assert not detected("RDSLIC-021", make_analysis([session_host(), license_server()], keypacks=[keypack()], issued=pu))
    # no issued-licenses export: not checked, naming what to collect
    nc = findings("RDSLIC-021", make_analysis([session_host(), license_server()], artifacts=[]), "not_checked")
    assert nc and any("LS01" in c for c in nc[0].collect)


# ------------------------------------------------------------------ RDSLIC-022

def ls_event(i, days_ago=1, **kw):
    return event("LS01", i, family="ls", days_ago=days_ago, **kw)


def crash(days_ago=1, service="Remote Desktop Licensing", eid=7031):
    return event("LS01", eid, family="scm", days_ago=days_ago,
                 data={"param1": service, "param2": "3", "param3": "60000", "param4": "1",
                       "param5": "Restart the service"})


def test_022_init_error_and_crashes_with_session_host_waiting():
    a = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")], events=[
        ls_event(9, days_ago=2), ls_event(12, days_ago=2), ls_event(12, days_ago=1), crash(1.5),
        event("RDSH01", 20497, days_ago=0.5), event("RDSH01", 20497, days_ago=0.2)])
    f = detected("RDSLIC-022", a)
    assert len(f) == 1 and f[0].host == "LS01" and f[0].severity == "error" and f[0].related_hosts == ["RDSH01"]
    assert "12 x2" in f[0].summary and "database file not valid" in f[0].summary and "7031 x1" in f[0].summary
    assert "RDSH01 logged 20497 x2" in f[0].summary
    # 019 (service stopped) does not fire: the service was restarted and runs
    assert not detected("RDSLIC-019", a)


def test_022_outranks_019_when_both_are_detected():
    ls = license_server()
    a = make_analysis([session_host(mode=2), ls], keypacks=[keypack(cal_type="per_device")], events=[
        crash(2), ls_event(12, days_ago=2), event("LS01", 7036, family="scm", days_ago=1,
                                                   data={"param1": "Remote Desktop Licensing", "param2": "stopped"})])
    a.findings = run_rules(a)
    assert {"RDSLIC-019", "RDSLIC-022"} <= {f.rule_id for f in a.findings if f.state == "detected"}
    assert rank(a)[0].rule_id == "RDSLIC-022"


def test_022_only_session_hosts_waiting_is_a_warning():
    a = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")],
                      events=[event("RDSH01", 20497, days_ago=0.5), ls_event(4, days_ago=200)])
    f = detected("RDSLIC-022", a)
    assert f and f[0].severity == "warning" and "no failure" in f[0].summary


def test_022_true_negatives():
    # another service crashing, and an init error 40 days ago (history, not today's cause)
    a = make_analysis([session_host(mode=2), license_server()], keypacks=[keypack(cal_type="per_device")], events=[
        crash(1, service="Print Spooler"), crash(1, service="Remote Desktop Services"), ls_event(12, days_ago=40)])
    assert not detected("RDSLIC-022", a)
    nd = findings("RDSLIC-022", a, "not_detected")
    assert nd and "history" in nd[0].history and "12 x1" in nd[0].history


# ------------------------------------------------------------------ RDSLIC-025

def prevent_upgrade(value=1):
    return reg_fact(value, "group_policy", POL, "fPreventLicenseUpgrade", "LS01")


def upgrade_case(policy=1, packs=None, events=(), issued=None, sh_os="2016"):
    sh = session_host(mode=2, os=sh_os)
    ls = license_server(version="2022", prevent_license_upgrade=prevent_upgrade(policy) if policy is not None else None)
    packs = packs if packs is not None else [BUILTIN, keypack(version="2022", cal_type="per_device", total=50, issued=10)]
    if issued is None:
        issued = [cal(f"PC-T{i}", i, status="temporary", days_ago=20, version="2016") for i in range(3)]
    return make_analysis([sh, ls], keypacks=packs, issued=issued, events=list(events))


def test_025_policy_on_only_newer_packs_temporary_cals_and_1011():
    a = upgrade_case(events=[event("RDSH01", 1011, days_ago=1, data={"param1": "PC-T0"})])
    f = detected("RDSLIC-025", a)
    assert len(f) == 1 and f[0].host == "LS01" and f[0].severity == "error" and f[0].related_hosts == ["RDSH01"]
    assert "fPreventLicenseUpgrade = 1" in f[0].summary and "2016" in f[0].summary and "2022" in f[0].summary
    assert "3 temporary CAL(s)" in f[0].summary and "RDSH01 logged 1011 x1" in f[0].summary
    assert f[0].evidence[0].frame == "registry"
    a.findings = run_rules(a)
    order = [c.rule_id for c in rank(a)]
    assert order[0] == "RDSLIC-025" and "RDSLIC-016" in order


def test_025_without_impact_yet_is_a_warning():
    f = detected("RDSLIC-025", upgrade_case(issued=[]))
    assert f and f[0].severity == "warning"


def test_025_true_negatives():
    # policy off or absent; the LS holds CALs of the host's own version; the host is as new as the CALs
    assert not detected("RDSLIC-025", upgrade_case(policy=0))
    assert not detected("RDSLIC-025", upgrade_case(policy=None))
    own = [BUILTIN, keypack(version="2016", cal_type="per_device", total=20, issued=3),
           keypack(version="2022", cal_type="per_device", total=50, issued=10)]
    assert not detected("RDSLIC-025", upgrade_case(packs=own))
    assert not detected("RDSLIC-025", upgrade_case(sh_os="2022"))
    # the policy key was not collected: not checked where it would matter
    a = upgrade_case(policy=None)
    a.hosts[1].coverage = __import__("rdsla.core.coverage", fromlist=["Coverage"]).Coverage()
    nc = findings("RDSLIC-025", a, "not_checked")
    assert nc and "not collected" in nc[0].summary


def test_025_an_own_version_pack_that_is_exhausted_still_needs_the_upgrade():
    own_full = [BUILTIN, keypack(version="2016", cal_type="per_device", total=20, issued=20),
                keypack(version="2022", cal_type="per_device", total=50, issued=10)]
    f = detected("RDSLIC-025", upgrade_case(packs=own_full))
    assert f and "2022" in f[0].summary
