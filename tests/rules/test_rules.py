"""Every rule of the pack with a true-positive and a true-negative fixture built here
(HostProfile objects and small frames; no parser involved)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rdsla.core.frames import FRAME_NAMES, empty_frame, make_frame
from rdsla.core.model import Analysis, Evidence, Fact, HostProfile
from rdsla.rules.engine import run_rule, run_rules
from rdsla.rules.api import Bundle
from rdsla.rules.registry import get_rule, load_rules

AS_OF = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
LSP = "Microsoft-Windows-TerminalServices-Licensing"
RCM_ADMIN = RCM + "/Admin"
POL = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
CORE = r"HKLM\SYSTEM\ControlSet001\Control\Terminal Server\RCM\Licensing Core"
SPEC = r"HKLM\SYSTEM\ControlSet001\Services\TermService\Parameters\LicenseServers"

_rid = iter(range(1000, 10**6))


# ------------------------------------------------------------------ builders

def event(host, legacy, *, family="rcm", manifest=False, classic_name=False, days_ago=1, data=None,
          message="", record_id=None):
    """One events-frame row. manifest=True gives the 2019+ form (50280 in RCM/Admin)."""
    if family == "rcm":
        provider, source_name = (None, "TermService") if classic_name else (RCM, None)
        event_id = legacy + 0xC000 if manifest else legacy
        channel = RCM_ADMIN if manifest else "System"
    elif family == "ls":
        provider, source_name, event_id, channel = LSP, None, legacy, "System"
    else:
        provider, source_name, event_id, channel = "Service Control Manager", None, legacy, "System"
    return {"host": host, "channel": channel, "provider": provider, "source_name": source_name,
            "event_id": event_id, "legacy_event_id": legacy, "level": 3,
            "time": AS_OF - timedelta(days=days_ago), "record_id": record_id or next(_rid), "computer": host,
            "data": data or {}, "message": message, "source": f"{host}/System.evtx"}


def reg_fact(value, origin, key, name, host="RDSH01"):
    ev = Evidence(frame="registry", source=f"{host}/SOFTWARE" if origin == "group_policy" else f"{host}/SYSTEM",
                  locator={"key": key, "value": name},
                  detail={"key": key, "value": name, "data": value, "last_write": AS_OF - timedelta(days=30)})
    return Fact(value, origin, [ev])


def report_fact(value, origin="wmi_export", host="LS01"):
    return Fact(value, origin, [Evidence(frame="artifacts", source=f"{host}/export.txt", locator={"line": 3},
                                         detail={"line": str(value)})])


def session_host(name="RDSH01", *, mode=4, mode_origin="deployment", servers=("LS01",), ls_origin="deployment",
                 os="2019", joined=True, domain="contoso.com", gp_mode=None, gp_servers=None, status=None):
    h = HostProfile(name=name)
    h.roles["session_host"] = Fact(True, "registry")
    h.os_version = reg_fact(os, "registry", r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "CurrentBuild", name)
    if joined is not None:
        h.domain_joined = reg_fact(joined, "registry", "HKLM\\SECURITY\\Policy\\PolPrDmN", "(default)", name)
    if domain:
        h.domain = reg_fact(domain, "registry", r"HKLM\SYSTEM\ControlSet001\Services\Tcpip\Parameters", "Domain", name)
    if mode is not None:
        key = POL if mode_origin == "group_policy" else CORE
        h.licensing_mode_candidates.append(reg_fact(mode, mode_origin, key, "LicensingMode", name))
    if gp_mode is not None:
        h.licensing_mode_candidates.insert(0, reg_fact(gp_mode, "group_policy", POL, "LicensingMode", name))
    if servers is not None:
        key, val = (POL, "LicenseServers") if ls_origin == "group_policy" else (SPEC, "SpecifiedLicenseServers")
        h.license_server_candidates.append(reg_fact(list(servers), ls_origin, key, val, name))
    if gp_servers is not None:
        h.license_server_candidates.insert(0, reg_fact(list(gp_servers), "group_policy", POL, "LicenseServers", name))
    h.licensing_mode = h.licensing_mode_candidates[0] if h.licensing_mode_candidates else None
    h.license_servers = h.license_server_candidates[0] if h.license_server_candidates else None
    if status:
        h.connectivity_status = report_fact(status, host=name)
    return h


def license_server(name="LS01", *, activated=True, version="2019", joined=True, domain="contoso.com", **lsf):
    h = HostProfile(name=name)
    h.roles["licensing"] = Fact(True, "registry")
    h.os_version = reg_fact(version, "registry", r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion", "CurrentBuild", name)
    h.domain_joined = reg_fact(joined, "registry", "HKLM\\SECURITY\\Policy\\PolPrDmN", "(default)", name)
    if domain:
        h.domain = reg_fact(domain, "registry", r"HKLM\SYSTEM\ControlSet001\Services\Tcpip\Parameters", "Domain", name)
    h.license_server.version = report_fact(version, host=name)
    if activated is not None:
        h.license_server.activation_status = report_fact("activated" if activated else "not_activated", host=name)
    for k, v in lsf.items():
        setattr(h.license_server, k, v if isinstance(v, Fact) or v is None else report_fact(v, host=name))
    return h


def keypack(ls="LS01", version="2019", cal_type="per_user", total=50, issued=10, builtin=False, temporary=False,
            kid=None, unlimited=False):
    """A keypacks row as the parser gives it (core.cal_counts.normalize): total=None is a pack
    without counts (unknown) unless unlimited=True (the sentinel)."""
    avail = None if total is None else total - issued
    return {"license_server": ls, "keypack_id": kid or str(next(_rid)), "cal_version": version, "cal_type": cal_type,
            "total": None if unlimited else total, "issued": issued, "available": None if unlimited else avail,
            "unlimited": True if unlimited else (None if total is None else False),
            "builtin": builtin, "temporary": temporary,
            "status": "active", "source": f"{ls}/{ls}_rdls_LicenseKeyPacks.html"}


BUILTIN = {"license_server": "LS01", "keypack_id": "2", "cal_version": None, "cal_type": "per_device",
           "total": None, "issued": 0, "available": None, "unlimited": True, "builtin": True, "temporary": False,
           "status": "active", "source": "LS01/LS01_rdls_LicenseKeyPacks.html"}


def registry_row(host, key=r"HKLM\SYSTEM\ControlSet001\Control\Terminal Server", value="fDenyTSConnections", data=0):
    return {"host": host, "hive": "SYSTEM", "key": key, "key_ccs": key.replace("ControlSet001", "CurrentControlSet"),
            "value": value, "type": "REG_DWORD", "data": data, "last_write": AS_OF - timedelta(days=2),
            "source": f"{host}/SYSTEM"}


def artifact(path, kind, host, status="ok", lost=0):
    return {"path": path, "kind": kind, "host": host, "status": status, "records_read": 10, "records_lost": lost,
            "warnings": [], "size": 100}


def make_analysis(hosts, events=(), keypacks=(), issued=(), registry=(), artifacts=None, as_of=AS_OF):
    frames = {n: empty_frame(n) for n in FRAME_NAMES}
    if events:
        frames["events"] = make_frame("events", list(events))
    if keypacks:
        frames["keypacks"] = make_frame("keypacks", list(keypacks))
    if issued:
        frames["issued"] = make_frame("issued", list(issued))
    regs = list(registry) + [registry_row(h.name) for h in hosts]
    frames["registry"] = make_frame("registry", regs)
    if artifacts is None:  # by default every host gave logs and the LS gave reports
        artifacts = []
        for h in hosts:
            artifacts.append(artifact(f"{h.name}/System.evtx", "evtx", h.name))
            artifacts.append(artifact(f"{h.name}/SYSTEM", "hive", h.name))
            if h.has_role("licensing"):
                artifacts.append(artifact(f"{h.name}/{h.name}_rdls_LicenseKeyPacks.html", "licensing_html", h.name))
    frames["artifacts"] = make_frame("artifacts", artifacts) if artifacts else empty_frame("artifacts")
    return Analysis(inputs=["test"], as_of=as_of, as_of_origin="test", frames=frames, hosts=list(hosts))


def findings(rule_id, analysis, state=None, host=None):
    out = run_rule(get_rule(rule_id), Bundle(analysis))
    # the engine turns a crash into a not-checked "Rule error" finding: a true negative must not
    # pass because the check raised on the very input it names
    crashed = [f.summary for f in out if f.summary.startswith("Rule error")]
    assert not crashed, crashed
    if state:
        out = [f for f in out if f.state == state]
    if host:
        out = [f for f in out if f.host == host]
    return out


def detected(rule_id, analysis):
    return findings(rule_id, analysis, "detected")


def healthy():
    """Domain, Per User, LS01 2019 activated with free 2019 Per User CALs, no errors."""
    return make_analysis([session_host(), license_server()], keypacks=[BUILTIN, keypack()],
                         events=[event("LS01", 4, family="ls", days_ago=300)])


# ------------------------------------------------------------------ pack and engine

def test_pack_has_every_required_id_in_order():
    ids = [r.meta.id for r in load_rules()]
    required = [f"RDSLIC-{n:03d}" for n in list(range(1, 20)) + [101, 102, 103, 201, 202, 203]]
    assert ids == sorted(ids)
    assert set(required) <= set(ids)
    kinds = {r.meta.id: r.meta.kind for r in load_rules()}
    assert all(kinds[f"RDSLIC-{n:03d}"] == "cause" for n in range(1, 20) if n != 12)
    assert kinds["RDSLIC-012"] == "compliance"          # 4105: Per User usage unreported, logons succeed
    assert all(kinds[i] == "symptom" for i in ("RDSLIC-101", "RDSLIC-102", "RDSLIC-103"))
    assert all(kinds[i] == "info" for i in ("RDSLIC-201", "RDSLIC-202", "RDSLIC-203"))


def test_rule_meta_is_frozen_and_validated():
    from dataclasses import FrozenInstanceError
    from rdsla.rules.api import RuleMeta
    meta = get_rule("RDSLIC-001").meta
    with pytest.raises(FrozenInstanceError):
        meta.title = "x"
    with pytest.raises(ValueError):
        RuleMeta(id="X", title="t", severity="fatal", kind="cause")
    d = meta.to_dict()
    assert d["id"] == "RDSLIC-001" and d["references"] and d["requires"]


def test_healthy_bundle_has_no_detected_cause_or_symptom():
    fs = run_rules(healthy())
    bad = [f.rule_id for f in fs if f.state == "detected" and f.kind in ("cause", "symptom")]
    assert bad == []
    assert {f.state for f in fs} <= {"detected", "not_detected", "not_checked"}


def test_a_rule_that_raises_becomes_not_checked():
    from rdsla.rules.api import Rule, RuleMeta

    def boom(ctx):
        raise RuntimeError("kaboom")
    r = Rule(RuleMeta(id="RDSLIC-999", title="t", severity="error", kind="cause"), boom)
    out = run_rules(healthy(), rules=[r])
    assert [(f.state, f.rule_id) for f in out] == [("not_checked", "RDSLIC-999")]
    assert "kaboom" in out[0].summary


def test_missing_artifacts_give_not_checked_with_collect():
    a = make_analysis([license_server(activated=None)], artifacts=[], keypacks=[])
    a.frames["registry"] = empty_frame("registry")
    a.hosts[0].roles.clear()
    a.hosts[0].license_server.version = None
    # no session host at all
    out = findings("RDSLIC-004", a)
    assert out and out[0].state == "not_checked" and out[0].collect
    # bare license server named by a session host: what to collect from it
    sh = session_host(servers=["LS09"])
    a = make_analysis([sh])
    out = findings("RDSLIC-005", a, host="LS09")
    assert out[0].state == "not_checked"
    assert any("TerminalServices-Licensing/Admin" in c for c in out[0].collect)


# ------------------------------------------------------------------ configuration

def test_001_no_license_server_both_deployment_types():
    # with a broker: nothing in SpecifiedLicenseServers nor policy, and 50282 (manifest form)
    sh = session_host(servers=None)
    soft = dict(registry_row("RDSH01", key=r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion", value="CurrentBuild"),
                hive="SOFTWARE", source="RDSH01/SOFTWARE")
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1130, manifest=True)], registry=[soft])
    f = detected("RDSLIC-001", a)
    by_value = {e.locator.get("value"): e.source for e in f[0].evidence if e.frame == "registry"}
    assert by_value == {"LicenseServers": "RDSH01/SOFTWARE", "SpecifiedLicenseServers": "RDSH01/SYSTEM"}
    assert len(f) == 1 and f[0].host == "RDSH01"
    assert {e.frame for e in f[0].evidence} == {"registry", "events"}
    assert any(e.locator.get("value") == "SpecifiedLicenseServers" for e in f[0].evidence)
    assert any(e.locator.get("record_id") for e in f[0].evidence)
    assert f[0].remediation and not any("delete the gracePeriod" in s.lower() and "do not" not in s.lower()
                                        for s in f[0].remediation)
    # by Group Policy only: configured -> not detected
    ok = make_analysis([session_host(servers=["LS01"], ls_origin="group_policy", mode_origin="group_policy"),
                        license_server()])
    assert not detected("RDSLIC-001", ok)
    assert findings("RDSLIC-001", ok)[0].state == "not_detected"


def test_001_legacy_event_with_classic_source_name_and_no_registry():
    # the role as the profile builder infers it from the event (analyzer.hosts owns roles)
    sh = HostProfile(name="RDSH01", roles={"session_host": Fact(True, "event", [])})
    a = make_analysis([sh], events=[event("RDSH01", 1130, classic_name=True)], artifacts=[])
    a.frames["registry"] = empty_frame("registry")
    f = detected("RDSLIC-001", a)
    assert f and f[0].evidence[0].detail["event_id"] == 1130


def test_002_mode_not_configured():
    a = make_analysis([session_host(mode=5), license_server()], events=[event("RDSH01", 1068)])
    f = detected("RDSLIC-002", a)
    assert f and "5" in f[0].summary and {e.frame for e in f[0].evidence} == {"registry", "events"}
    assert not detected("RDSLIC-002", healthy())


def test_003_gpo_overrides_deployment():
    sh = session_host(servers=["LS02"], gp_servers=["LS01.contoso.com"])
    a = make_analysis([sh, license_server()])
    f = detected("RDSLIC-003", a)
    assert f and "LS01" in f[0].summary and "LS02" in f[0].summary
    notes = [e.note for e in f[0].evidence]
    assert any("wins" in n for n in notes) and any("ignored" in n for n in notes)
    assert any(e.detail.get("winner") is True and e.detail.get("value_origin") == "group_policy" for e in f[0].evidence)
    # same values from both sources (FQDN vs NetBIOS spelling) -> no finding
    same = make_analysis([session_host(servers=["LS01"], gp_servers=["ls01.contoso.com"]), license_server()])
    assert not detected("RDSLIC-003", same)


def test_003_mode_mismatch():
    a = make_analysis([session_host(mode=2, gp_mode=4), license_server()])
    f = detected("RDSLIC-003", a)
    assert f and "per_user" in f[0].summary and "per_device" in f[0].summary


def test_a_windows_client_with_rcm_defaults_is_not_a_session_host():
    """Every Windows has RCM\\Licensing Core\\LicensingMode = 1 (Remote Desktop for
    Administration); that alone must not make rules diagnose it (realdata Win10 SYSTEM hive)."""
    from rdsla.core.model import HostProfile
    client = HostProfile(name="DESKTOP-M3OSHQU")
    client.licensing_mode_candidates.append(reg_fact(1, "deployment", CORE, "LicensingMode", client.name))
    client.licensing_mode = client.licensing_mode_candidates[0]
    a = make_analysis([client])
    assert not detected("RDSLIC-001", a) and not detected("RDSLIC-002", a)


def test_003_gpo_only_server_with_unset_deployment_is_not_an_override():
    """Seed article, deployment without a broker: Group Policy alone configures licensing and
    RCM\\Licensing Core keeps 5 (not configured); nothing is overridden."""
    a = make_analysis([session_host(mode=5, gp_mode=2, servers=[], gp_servers=["LS01"]), license_server()])
    assert not detected("RDSLIC-003", a)


# ------------------------------------------------------------------ reachability

@pytest.mark.parametrize("manifest", [False, True])
def test_004_unreachable(manifest):
    a = make_analysis([session_host(), license_server()],
                      events=[event("RDSH01", 1131, manifest=manifest, data={"param1": "LS01.contoso.com"})])
    f = detected("RDSLIC-004", a)
    assert f and f[0].host == "RDSH01" and f[0].related_hosts == ["LS01"]
    assert f[0].evidence[0].detail["event_id"] == (50283 if manifest else 1131)
    assert not detected("RDSLIC-004", healthy())


def test_004_not_checked_without_session_host_logs():
    a = make_analysis([session_host(), license_server()], artifacts=[])
    assert findings("RDSLIC-004", a, host="RDSH01")[0].state == "not_checked"


def test_004_names_the_server_the_errors_name_even_when_another_is_configured():
    """1131s naming LS-OLD while LS01 is configured: LS-OLD could not be contacted, not LS01."""
    a = make_analysis([session_host(), license_server()],
                      events=[event("RDSH01", 1131, days_ago=1, data={"param1": "LS-OLD"})])
    f = detected("RDSLIC-004", a)
    assert f and "could not contact LS-OLD" in f[0].summary and f[0].related_hosts == ["LS-OLD"]


def test_018_ad_lookup_failed():
    a = make_analysis([session_host(), license_server()], events=[event("RDSH01", 1061, manifest=True)])
    assert detected("RDSLIC-018", a)
    assert not detected("RDSLIC-018", healthy())


# ------------------------------------------------------------------ license server

def test_005_not_activated():
    ls = license_server(activated=False)
    a = make_analysis([session_host(), ls], events=[event("LS01", 18, family="ls")],
                      issued=[{"license_server": "LS01", "cal_version": "2019", "cal_type": "per_device",
                               "issued_to": "PC1", "status": "temporary", "source": "LS01/issued.html"}])
    f = detected("RDSLIC-005", a)
    assert f and f[0].host == "LS01" and "RDSH01" in f[0].related_hosts
    assert {e.frame for e in f[0].evidence} >= {"events", "issued"}
    assert not detected("RDSLIC-005", healthy())


def test_005_event_18_superseded_by_later_activation():
    ls = license_server(activated=None)
    a = make_analysis([session_host(), ls], keypacks=[keypack()],
                      events=[event("LS01", 18, family="ls", days_ago=20), event("LS01", 4, family="ls", days_ago=10)])
    assert not detected("RDSLIC-005", a)


def test_020_license_server_certificate_corrupt():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("LS01", 17, family="ls", data={"param1": "LS01"})])
    f = detected("RDSLIC-020", a)
    assert f and f[0].host == "LS01" and "RDSH01" in f[0].related_hosts
    assert [e.frame for e in f[0].evidence] == ["events"] and any("Reactivate" in r for r in f[0].remediation)
    assert not detected("RDSLIC-020", healthy())
    reactivated = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                                events=[event("LS01", 17, family="ls", days_ago=20), event("LS01", 4, family="ls", days_ago=5)])
    assert not detected("RDSLIC-020", reactivated)


def test_012_not_in_tsls_group():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("LS01", 4105, family="ls", data={"param1": "alice", "param2": "contoso"})])
    f = detected("RDSLIC-012", a)
    assert f and f[0].host == "LS01" and f[0].kind == "compliance" and f[0].collect    # membership unknown
    member = make_analysis([session_host(), license_server(in_tsls_group=True)], keypacks=[keypack()])
    assert not detected("RDSLIC-012", member)


def test_013_not_in_security_group_both_sides():
    a = make_analysis([session_host(), license_server(secure_licensing=1)], keypacks=[keypack()],
                      events=[event("LS01", 4141, family="ls", data={"param1": "RDSH01"}),
                              event("RDSH01", 1043, manifest=True, data={"param1": "LS01"})])
    f = detected("RDSLIC-013", a)
    assert f and f[0].host == "LS01" and f[0].related_hosts == ["RDSH01"]
    assert {e.detail.get("host") for e in f[0].evidence if e.frame == "events"} == {"LS01", "RDSH01"}
    assert not detected("RDSLIC-013", healthy())


def test_019_service_disabled_and_stopped():
    ls = license_server(service_start_type=4)
    a = make_analysis([session_host(), ls], keypacks=[keypack()],
                      events=[event("LS01", 0, family="ls", days_ago=9), event("LS01", 3, family="ls", days_ago=5)])
    f = detected("RDSLIC-019", a)
    assert f and f[0].host == "LS01" and "disabled" in f[0].summary and "stopped" in f[0].summary


def test_019_scm_7036_stopped_and_role_missing():
    ls = license_server()
    ls.roles["licensing"] = Fact(False, "registry")
    a = make_analysis([session_host(), ls], events=[
        event("LS01", 7036, family="scm", data={"param1": "Remote Desktop Licensing", "param2": "stopped"})])
    f = detected("RDSLIC-019", a)
    assert f and "role is not installed" in f[0].summary and "stopped" in f[0].summary
    # other services stopping are not ours; a restart after the stop is fine
    ok = make_analysis([session_host(), license_server()], keypacks=[keypack()], events=[
        event("LS01", 7036, family="scm", data={"param1": "Print Spooler", "param2": "stopped"}),
        event("LS01", 3, family="ls", days_ago=6), event("LS01", 0, family="ls", days_ago=5)])
    assert not detected("RDSLIC-019", ok)


# ------------------------------------------------------------------ CAL pool and versions

def test_006_exhausted():
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(total=20, issued=20, cal_type="per_device")],
                      events=[event("LS01", 21, family="ls")])
    f = detected("RDSLIC-006", a)
    assert f and f[0].host == "LS01" and "RDSH01" in f[0].related_hosts and f[0].kind == "cause"
    assert {e.frame for e in f[0].evidence} == {"keypacks", "events"}
    assert f[0].evidence[0].locator["keypack_id"]
    assert not detected("RDSLIC-006", healthy())


def test_006_per_user_pool_full_is_compliance_not_a_cause():
    """RDS_LICENSING.md 0a: Per User CALs are not enforced; a full pool refuses nobody (today's
    logic called it an error cause)."""
    a = make_analysis([session_host(mode=4), license_server()], keypacks=[BUILTIN, keypack(total=20, issued=20)],
                      events=[event("LS01", 21, family="ls")])
    f = detected("RDSLIC-006", a)
    assert [(x.kind, x.severity) for x in f] == [("compliance", "warning")]
    assert "not enforced" in f[0].summary


def test_006_per_device_exhausted_without_refusal_is_a_warning():
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(total=20, issued=20, cal_type="per_device")])
    f = detected("RDSLIC-006", a)
    assert [(x.kind, x.severity) for x in f] == [("cause", "warning")] and "temporary" in f[0].summary
    refused = make_analysis([session_host(mode=2), license_server()],
                            keypacks=[BUILTIN, keypack(total=20, issued=20, cal_type="per_device")],
                            events=[event("RDSH01", 1011, data={"param1": "PC7"})])
    assert [x.severity for x in detected("RDSLIC-006", refused)] == ["error"]
    old = make_analysis([session_host(mode=2), license_server()],
                        keypacks=[BUILTIN, keypack(total=20, issued=20, cal_type="per_device")],
                        events=[event("LS01", 21, family="ls", days_ago=30)])       # history only
    assert [x.severity for x in detected("RDSLIC-006", old)] == ["warning"]


def test_006_judges_each_session_host_by_its_own_version():
    """A 2016 host's 2016 CALs stay usable for it although a 2019 host cannot use them."""
    hosts = [session_host("RDSH01", mode=2, os="2016"), session_host("RDSH02", mode=2, os="2019"), license_server()]
    packs = [BUILTIN, keypack(version="2016", cal_type="per_device", total=20, issued=5),
             keypack(version="2019", cal_type="per_device", total=10, issued=2)]
    assert not detected("RDSLIC-006", make_analysis(hosts, keypacks=packs))
    f = detected("RDSLIC-006", make_analysis(hosts, keypacks=packs[:2]))
    assert f and "RDSH02" in f[0].summary and "RDSH01" not in f[0].summary.split(":", 1)[1]


def test_006_only_builtin_pack_cites_it():
    a = make_analysis([session_host(), license_server()], keypacks=[BUILTIN])
    f = detected("RDSLIC-006", a)
    assert f and [e.locator["keypack_id"] for e in f[0].evidence] == ["2"]


def test_006_counts_unknown_is_not_checked_never_exhausted():
    """A pack without TotalLicenses/AvailableLicenses: no count, so no claim of exhaustion (bug 3)."""
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(total=None, kid="9", cal_type="per_device")])
    f = findings("RDSLIC-006", a, host="LS01")
    assert [x.state for x in f] == ["not_checked"]
    assert "unknown" in f[0].summary and "key pack 9" in f[0].summary and f[0].collect


def test_006_counts_unknown_with_event_21_is_detected_from_the_event():
    a = make_analysis([session_host(mode=2), license_server()],
                      keypacks=[BUILTIN, keypack(total=None, kid="9", cal_type="per_device")],
                      events=[event("LS01", 21, family="ls")])
    f = detected("RDSLIC-006", a)
    assert f and "unknown" in f[0].summary and "21" in f[0].summary
    assert [e.note for e in f[0].evidence if e.frame == "keypacks"] == ["usable pack, count unknown"]


def test_006_a_known_free_pack_outweighs_an_unknown_one():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack(total=None), keypack(total=20, issued=5)])
    f = findings("RDSLIC-006", a, host="LS01")
    assert [x.state for x in f] == ["not_detected"] and "count of some packs is unknown" in f[0].summary


def test_006_unlimited_usable_pack_is_free_and_exhausted_pool_counts_as_derived():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack(unlimited=True, issued=7)])
    f = findings("RDSLIC-006", a, host="LS01")
    assert [x.state for x in f] == ["not_detected"] and "unlimited CALs" in f[0].summary
    no_available = dict(keypack(total=30, issued=30), available=None)      # derived: 30 - 30 = 0
    f = detected("RDSLIC-006", make_analysis([session_host(), license_server()], keypacks=[BUILTIN, no_available]))
    assert f and "all 30 usable Per User CALs are issued" in f[0].summary


def test_007_type_mismatch():
    a = make_analysis([session_host(mode=4), license_server()],
                      keypacks=[BUILTIN, keypack(cal_type="per_device")], events=[event("RDSH01", 1004)])
    f = detected("RDSLIC-007", a)
    assert f and f[0].host == "RDSH01" and f[0].related_hosts == ["LS01"] and "Per User" in f[0].summary
    assert not detected("RDSLIC-007", healthy())


def test_008_cal_too_old_for_session_host():
    a = make_analysis([session_host(os="2019"), license_server()], keypacks=[BUILTIN, keypack(version="2016")])
    f = detected("RDSLIC-008", a)
    assert f and "2016" in f[0].summary and f[0].related_hosts == ["LS01"]
    newer = make_analysis([session_host(os="2019"), license_server(version="2022")],
                          keypacks=[BUILTIN, keypack(version="2022")])
    assert not detected("RDSLIC-008", newer)


def test_009_license_server_too_old():
    a = make_analysis([session_host(os="2019"), license_server(version="2016")], keypacks=[keypack(version="2016")],
                      events=[event("RDSH01", 1132, manifest=True)])
    f = detected("RDSLIC-009", a)
    assert f and f[0].host == "RDSH01" and f[0].related_hosts == ["LS01"]
    assert {e.frame for e in f[0].evidence} >= {"events", "registry"}
    assert not detected("RDSLIC-009", healthy())


def test_016_temporary_cal_expired():
    a = make_analysis([session_host(mode=2), license_server()], events=[event("RDSH01", 1011, data={"param1": "PC7"})],
                      issued=[{"license_server": "LS01", "cal_version": "2019", "cal_type": "per_device",
                               "issued_to": "PC7", "status": "temporary", "expires_on": AS_OF - timedelta(days=3),
                               "source": "LS01/issued.html"}])
    f = detected("RDSLIC-016", a)
    assert f and f[0].host == "LS01" and "RDSH01" in f[0].related_hosts
    assert not detected("RDSLIC-016", healthy())


# ------------------------------------------------------------------ workgroup

def test_010_per_user_in_workgroup():
    a = make_analysis([session_host(mode=4, joined=False, domain=None), license_server(joined=False, domain=None)])
    assert detected("RDSLIC-010", a)
    per_device = make_analysis([session_host(mode=2, joined=False, domain=None), license_server()])
    assert not detected("RDSLIC-010", per_device)
    assert not detected("RDSLIC-010", healthy())


def _patched_ls(**kw):
    """A 2019 license server at the July 2024 update (17763.6054) or later: CVE-2024-38099 enforced."""
    ls = license_server(**kw)
    ls.os_build = report_fact(17763, host=ls.name)
    ls.os_ubr = report_fact(6054, host=ls.name)
    return ls


def test_011_workgroup_auth_enforcement():
    a = make_analysis([session_host(mode=2, joined=False, domain=None), _patched_ls(joined=False, domain=None)],
                      events=[event("RDSH01", 1131, manifest=True, data={"param1": "LS01"})])
    f = detected("RDSLIC-011", a)
    assert f and f[0].host == "RDSH01" and f[0].related_hosts == ["LS01"]
    disabled = make_analysis([session_host(mode=2, joined=False, domain=None),
                              _patched_ls(joined=False, domain=None, disable_workgroup_auth_enforcement=1)],
                             events=[event("RDSH01", 1131, manifest=True)])
    assert not detected("RDSLIC-011", disabled)
    # a domain-joined host with the same event is not this cause
    dom = make_analysis([session_host(), license_server()], events=[event("RDSH01", 1131)])
    assert not detected("RDSLIC-011", dom)


def test_017_cross_domain():
    a = make_analysis([session_host(domain="fabrikam.com"), license_server(domain="contoso.com")],
                      keypacks=[keypack()], events=[event("RDSH01", 1131, manifest=True,
                                                          data={"param1": "LS01.contoso.com"})])
    f = detected("RDSLIC-017", a)
    assert f and f[0].related_hosts == ["LS01"]
    quiet = make_analysis([session_host(domain="fabrikam.com"), license_server(domain="contoso.com")],
                          keypacks=[keypack()])
    assert not detected("RDSLIC-017", quiet)


# ------------------------------------------------------------------ certificates

def test_014_bad_rdsh_certificate():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("RDSH01", 1133, manifest=True)])
    assert detected("RDSLIC-014", a)[0].host == "RDSH01"
    steps = " ".join(detected("RDSLIC-014", a)[0].remediation)
    assert "X509 Certificate" in steps and "export" in steps.lower()
    assert not detected("RDSLIC-014", healthy())


def test_015_bad_client_store():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("RDSH01", 1003, data={"param1": "LAPTOP9"})])
    f = detected("RDSLIC-015", a)
    assert f and f[0].related_hosts == ["LAPTOP9"] and "MSLicensing" in " ".join(f[0].remediation)
    assert not detected("RDSLIC-015", healthy())


# ------------------------------------------------------------------ grace period and symptoms

@pytest.mark.parametrize("manifest", [False, True])
def test_101_grace_expired_both_forms(manifest):
    a = make_analysis([session_host(servers=None)], events=[event("RDSH01", 1128, manifest=manifest)])
    f = detected("RDSLIC-101", a)
    assert f and f[0].severity == "critical"
    assert not any("delete" in s.lower() and "not" not in s.lower() for s in f[0].remediation)
    assert not detected("RDSLIC-101", healthy())


def test_101_days_left_reported_wins():
    sh = session_host()
    sh.grace_period.days_left_reported = report_fact(30, host="RDSH01")
    a = make_analysis([sh, license_server()], events=[event("RDSH01", 1128, days_ago=200)])
    assert not detected("RDSLIC-101", a)


def test_102_uses_collection_time_not_wall_clock():
    sh = session_host()
    sh.grace_period.ends = Fact(AS_OF + timedelta(days=10), "event")
    a = make_analysis([sh, license_server()], keypacks=[keypack()])
    f = detected("RDSLIC-102", a)
    assert f and "10 day" in f[0].summary
    # the same bundle analysed as of 30 days earlier: 40 days left, not detected
    early = make_analysis([sh, license_server()], keypacks=[keypack()], as_of=AS_OF - timedelta(days=30))
    assert not detected("RDSLIC-102", early)


def test_102_from_1129_event_date():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("RDSH01", 1129, manifest=True, data={"param1": (AS_OF + timedelta(days=5)).isoformat()})])
    assert detected("RDSLIC-102", a)


def test_103_session_host_errors():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("RDSH01", 1131), event("RDSH01", 1128, manifest=True), event("RDSH01", 1128)])
    f = detected("RDSLIC-103", a)
    assert f and "3 licensing event" in f[0].summary
    assert not detected("RDSLIC-103", healthy())


def test_201_benign_noise():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("LS01", 44, family="ls"), event("LS01", 16, family="ls")])
    f = detected("RDSLIC-201", a)
    assert f and f[0].kind == "info"
    assert not detected("RDSLIC-201", healthy())


def test_202_grace_reset():
    sh = session_host()
    sh.grace_period.key_last_write = AS_OF - timedelta(days=5)
    a = make_analysis([sh, license_server()], keypacks=[keypack()], events=[event("RDSH01", 1128, days_ago=40)])
    assert detected("RDSLIC-202", a)
    sh2 = session_host()
    sh2.grace_period.key_last_write = AS_OF - timedelta(days=100)
    b = make_analysis([sh2, license_server()], keypacks=[keypack()], events=[event("RDSH01", 1128, days_ago=40)])
    assert not detected("RDSLIC-202", b)


def test_203_bundle_incomplete():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      artifacts=[artifact("RDSH01/System.evtx", "evtx", "RDSH01", status="partial", lost=12),
                                 artifact("RDSH01/SYSTEM", "hive", "RDSH01")])
    f = detected("RDSLIC-203", a)
    assert f and f[0].host is None and f[0].collect
    assert "LS01: license server logs" in f[0].summary and "12 record" in f[0].summary
    assert not detected("RDSLIC-203", healthy())
