"""Synthetic analyses for the report tests and the benchmark (built directly, no parsing)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from rdsla.core.frames import make_frame
from rdsla.core.model import (Analysis, Evidence, Fact, Finding, GracePeriod, HostProfile,
                            LicenseServerFacts, RootCause)

AS_OF = datetime(2024, 5, 2, 9, 30, tzinfo=timezone.utc)
RCM_ADMIN = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin"
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
POLICY_KEY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
RCM_KEY = r"HKLM\SYSTEM\ControlSet001\Control\Terminal Server\RCM\Licensing Core"
MSG_50280 = ("The grace period for the Remote Desktop Session Host server has expired, but the RD Session Host "
             "server hasn't been configured with any license servers.")


def _event(host, event_id, level, when, record_id, source, message, channel=RCM_ADMIN, data=None):
    return {"host": host, "channel": channel, "provider": RCM, "source_name": None, "event_id": event_id,
            "qualifiers": None, "legacy_event_id": event_id - 49152 if event_id >= 49152 else event_id,
            "level": level, "time": when, "record_id": record_id, "computer": host, "user_sid": None,
            "data": data or {}, "message": message, "source": source}


def _artifacts(rows):
    return make_frame("artifacts", rows)


def _frames(events=(), registry=(), keypacks=(), issued=(), artifacts=()):
    return {"events": make_frame("events", list(events)), "registry": make_frame("registry", list(registry)),
            "keypacks": make_frame("keypacks", list(keypacks)), "issued": make_frame("issued", list(issued)),
            "artifacts": _artifacts(list(artifacts))}


def single_host_analysis() -> Analysis:
    """Grace expired on a 2019 session host that has no license server configured."""
    src_evtx = "RDSH01/RemoteConnectionManager-Admin.evtx"
    src_hive = "RDSH01/SYSTEM"
    events = [_event("RDSH01", 50281, 3, AS_OF - timedelta(days=20, hours=h), 100 + h, src_evtx,
                     "The grace period is about to expire on 4/20/2024.") for h in range(3)]
    events += [_event("RDSH01", 50280, 2, AS_OF - timedelta(days=d), 200 + d, src_evtx, MSG_50280) for d in range(10)]
    events.append(_event("RDSH01", 50282, 3, AS_OF - timedelta(hours=1), 300, src_evtx,
                         "The RD Session Host server does not have a Remote Desktop license server specified."))
    registry = [{"host": "RDSH01", "hive": "SYSTEM", "key": RCM_KEY, "key_ccs": RCM_KEY.replace("ControlSet001", "CurrentControlSet"),
                 "value": "LicensingMode", "type": "REG_DWORD", "data": 4, "last_write": AS_OF - timedelta(days=130),
                 "source": src_hive}]
    ev_grace = Evidence("events", src_evtx, {"record_id": 200}, {"time": (AS_OF).isoformat(), "channel": RCM_ADMIN,
                                                                 "event_id": 50280, "message": MSG_50280, "record_id": 200})
    ev_nols = Evidence("events", src_evtx, {"record_id": 300}, {})  # details filled from the frame
    ev_mode = Evidence("registry", src_hive, {"key": RCM_KEY, "value": "LicensingMode"},
                       {"key": RCM_KEY, "value": "LicensingMode", "data": 4, "last_write": AS_OF - timedelta(days=130)})
    host = HostProfile(
        name="RDSH01", aliases={"rdsh01.contoso.local"}, fqdn="rdsh01.contoso.local",
        domain=Fact("contoso.local", "registry"), os_product=Fact("Windows Server 2019 Datacenter", "registry"),
        os_build=Fact("17763", "registry"), os_version=Fact("2019", "registry"),
        roles={"session_host": Fact(True, "registry"), "licensing": Fact(False, "registry")},
        domain_joined=Fact(True, "registry"),
        licensing_mode_candidates=[mode := Fact(4, "deployment", [ev_mode])], licensing_mode=mode,
        license_server_candidates=[], license_servers=None,
        licensing_certificate=Fact(False, "registry"),
        grace_period=GracePeriod(key_last_write=AS_OF - timedelta(days=130),
                                 ends=Fact(AS_OF - timedelta(days=10), "event"), expired_events=[ev_grace]),
        artifacts=[src_evtx, src_hive])
    findings = [
        Finding("RDSLIC-001", "detected", "critical", "cause", "No license server configured", "RDSH01",
                "The grace period has expired and RDSH01 has no license server configured (no policy, no deployment value).",
                [ev_nols, ev_grace, ev_mode],
                ["Specify the license server: Group Policy 'Use the specified Remote Desktop license servers' or "
                 "Edit Deployment Properties > RD Licensing.", "Restart the Remote Desktop Services service."]),
        Finding("RDSLIC-020", "detected", "error", "symptom", "Grace period expired", "RDSH01",
                "Event 50280 says the 120-day grace period is over.", [ev_grace], [], explains=["RDSLIC-001"]),
        Finding("RDSLIC-005", "not_checked", "error", "cause", "License server not activated", None,
                "No license server data in the bundle.", [], [],
                collect=["System and TerminalServices-Licensing logs of the license server",
                         "Win32_TSLicenseKeyPack export (MSRD-Collect rdls_LicenseKeyPacks.html)"]),
        Finding("RDSLIC-002", "not_detected", "error", "cause", "Licensing mode not configured", "RDSH01"),
    ]
    causes = [RootCause("RDSLIC-001", "RDSH01", 0.9, "No license server configured", findings[0].summary,
                        symptoms=["RDSLIC-020"])]
    artifacts = [{"path": src_evtx, "kind": "evtx", "host": "RDSH01", "status": "ok", "records_read": 14,
                  "records_lost": 0, "warnings": [], "size": 69632},
                 {"path": src_hive, "kind": "hive", "host": "RDSH01", "status": "ok", "records_read": 1,
                  "records_lost": 0, "warnings": [], "size": 11 << 20},
                 {"path": "notes/readme.txt", "kind": "unknown", "host": None, "status": "skipped",
                  "records_read": 0, "records_lost": 0, "warnings": ["not a recognized artifact"], "size": 120}]
    return Analysis(inputs=["/cases/4711/bundle.zip"], as_of=AS_OF, as_of_origin="newest event",
                    frames=_frames(events, registry, artifacts=artifacts), hosts=[host], findings=findings,
                    root_causes=causes)


def multi_host_analysis() -> Analysis:
    """Two 2022 session hosts, a 2016 license server with 2016/2019 CALs; GPO overrides deployment."""
    as_of = AS_OF
    ls_src = "LS01/System.evtx"
    events, rid = [], 1
    for host in ("RDSH01", "RDSH02"):
        src = f"{host}/RCM-Admin.evtx"
        for d in range(5):
            events.append(_event(host, 50284, 2, as_of - timedelta(days=d, hours=3), rid, src,
                                 "The Remote Desktop license server LS01 does not support the version of the operating "
                                 "system running on the RD Session Host server.", data={"param1": "LS01"}))
            rid += 1
        events.append(_event(host, 1130, 4, as_of - timedelta(days=6), rid, src, "informational", channel="System"))
        rid += 1
    events.append(_event("LS01", 22, 3, as_of - timedelta(days=1), 5000, ls_src,
                         "The Remote Desktop license server does not have any RDS CALs installed for product "
                         "Windows Server 2022.", channel="System"))
    registry = [
        {"host": "RDSH01", "hive": "SOFTWARE", "key": POLICY_KEY, "value": "LicenseServers", "type": "REG_SZ",
         "data": "LS01", "last_write": as_of - timedelta(days=40), "source": "RDSH01/SOFTWARE"},
        {"host": "RDSH01", "hive": "SYSTEM", "key": r"HKLM\SYSTEM\ControlSet001\Services\TermService\Parameters\LicenseServers",
         "value": "SpecifiedLicenseServers", "type": "REG_MULTI_SZ", "data": ["LS02"], "last_write": as_of - timedelta(days=90),
         "source": "RDSH01/SYSTEM"},
    ]
    keypacks = [
        {"license_server": "LS01", "keypack_id": "1", "cal_version": None, "cal_type": "per_device", "total": None,
         "issued": 0, "available": None, "unlimited": True, "builtin": True, "temporary": False, "status": "active", "source": "LS01/keypacks.html"},
        {"license_server": "LS01", "keypack_id": "2", "cal_version": "2016", "cal_type": "per_user", "total": 50,
         "issued": 50, "available": 0, "builtin": False, "temporary": False, "status": "active", "source": "LS01/keypacks.html"},
        {"license_server": "LS01", "keypack_id": "3", "cal_version": "2019", "cal_type": "per_user", "total": 25,
         "issued": 3, "available": 22, "builtin": False, "temporary": False, "expires": as_of + timedelta(days=300),
         "status": "active", "source": "LS01/keypacks.html"},
    ]
    issued = [{"license_server": "LS01", "cal_version": "2016", "cal_type": "per_user", "issued_to": f"user{i}",
               "issued_on": as_of - timedelta(days=i), "expires_on": as_of + timedelta(days=60 - i), "status": "active",
               "source": "LS01/issued.html"} for i in range(5)]
    ev_ver = Evidence("events", "RDSH01/RCM-Admin.evtx", {"record_id": 1}, {})
    ev_kp = Evidence("keypacks", "LS01/keypacks.html", {"keypack_id": "3"},
                     {"cal_version": "2019", "cal_type": "per_user", "available": 22})
    gp = Evidence("registry", "RDSH01/SOFTWARE", {"key": POLICY_KEY, "value": "LicenseServers"},
                  {"key": POLICY_KEY, "value": "LicenseServers", "data": "LS01", "last_write": as_of - timedelta(days=40)})
    dep = Evidence("registry", "RDSH01/SYSTEM", {"key": registry[1]["key"], "value": "SpecifiedLicenseServers"},
                   {"key": registry[1]["key"], "value": "SpecifiedLicenseServers", "data": ["LS02"],
                    "last_write": as_of - timedelta(days=90)})

    def rdsh(name):
        host = HostProfile(
            name=name, os_product=Fact("Windows Server 2022 Standard", "registry"), os_build=Fact("20348", "registry"),
            os_version=Fact("2022", "registry"), roles={"session_host": Fact(True, "registry")},
            domain=Fact("contoso.local", "registry"), domain_joined=Fact(True, "registry"),
            licensing_mode_candidates=[Fact(4, "group_policy"), Fact(2, "deployment")], licensing_mode=Fact(4, "group_policy"),
            license_server_candidates=[Fact(["LS01"], "group_policy", [gp]), Fact(["LS02"], "deployment", [dep])],
            license_servers=Fact(["LS01"], "group_policy", [gp]), licensing_certificate=Fact(True, "registry"),
            grace_period=GracePeriod(ends=Fact(as_of + timedelta(days=12), "event")))
        # the effective values are the winning candidates themselves, as the profile builder sets them
        host.licensing_mode, host.license_servers = host.licensing_mode_candidates[0], host.license_server_candidates[0]
        return host
    ls01 = HostProfile(
        name="LS01", os_version=Fact("2016", "registry"), os_build=Fact("14393", "registry"),
        roles={"licensing": Fact(True, "registry")}, domain_joined=Fact(True, "registry"),
        license_server=LicenseServerFacts(activation_status=Fact("activated", "report"),
                                          service_state=Fact("running", "event"), version=Fact("2016", "report"),
                                          service_start_type=Fact(2, "registry")))
    findings = [
        Finding("RDSLIC-009", "detected", "error", "cause", "License server too old for the session hosts", "RDSH01",
                "LS01 runs Windows Server 2016 and cannot issue CALs to 2022 session hosts.", [ev_ver, ev_kp],
                ["Upgrade LS01 to Windows Server 2022 or later.", "Install RDS 2022 CALs on it."], related_hosts=["LS01"]),
        Finding("RDSLIC-003", "detected", "warning", "cause", "Group Policy overrides the deployment", "RDSH01",
                "Group Policy points at LS01 while the deployment points at LS02.", [gp, dep],
                ["Align the GPO with the deployment or remove it."]),
        Finding("RDSLIC-021", "detected", "warning", "symptom", "Unsupported OS version events", "RDSH02",
                "50284 on RDSH02.", [Evidence("events", "RDSH02/RCM-Admin.evtx", {"record_id": 7}, {})], [],
                explains=["RDSLIC-009"]),
        Finding("RDSLIC-012", "not_detected", "warning", "cause", "Per User in a workgroup", "RDSH01"),
    ]
    causes = [RootCause("RDSLIC-009", "RDSH01", 0.8, findings[0].title, findings[0].summary, related_hosts=["LS01"],
                        symptoms=["RDSLIC-021"]),
              RootCause("RDSLIC-003", "RDSH01", 0.55, findings[1].title, findings[1].summary)]
    artifacts = [{"path": p, "kind": k, "host": h, "status": s, "records_read": n, "records_lost": lost,
                  "warnings": w, "size": 1000}
                 for p, k, h, s, n, lost, w in (
                     ("RDSH01/RCM-Admin.evtx", "evtx", "RDSH01", "ok", 6, 0, []),
                     ("RDSH02/RCM-Admin.evtx", "evtx", "RDSH02", "partial", 6, 12, ["chunk 3: bad checksum, 12 records lost"]),
                     ("RDSH01/SOFTWARE", "hive", "RDSH01", "ok", 10, 0, []),
                     ("RDSH01/SYSTEM", "hive", "RDSH01", "ok", 10, 0, []),
                     ("LS01/System.evtx", "evtx", "LS01", "ok", 1, 0, []),
                     ("LS01/keypacks.html", "licensing_html", "LS01", "ok", 3, 0, []),
                     ("LS01/issued.html", "licensing_html", "LS01", "ok", 5, 0, []),
                     ("../evil.evtx", "unknown", None, "refused", 0, 0, ["zip member path escapes the bundle"]))]
    return Analysis(inputs=["/cases/4712"], as_of=as_of, as_of_origin="newest event",
                    frames=_frames(events, registry, keypacks, issued, artifacts),
                    hosts=[rdsh("RDSH01"), rdsh("RDSH02"), ls01], findings=findings, root_causes=causes,
                    messages=["../evil.evtx: refused, path escapes the bundle"])


def big_analysis(n_events: int = 200_000, n_hosts: int = 12, n_findings: int = 120, seed: int = 7) -> Analysis:
    """A large synthetic bundle for the benchmark and the size cap test."""
    base = multi_host_analysis()
    rng = np.random.default_rng(seed)
    hosts = [f"RDSH{i:02d}" for i in range(n_hosts)]
    t = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(0, 90 * 86400, n_events), unit="s")
    frame = pd.DataFrame({
        "host": np.array(hosts, dtype=object)[rng.integers(0, n_hosts, n_events)],
        "channel": RCM_ADMIN, "provider": RCM, "source_name": "TermService",
        "event_id": rng.choice([50280, 50281, 50282, 50283, 1130, 1131], n_events),
        "qualifiers": None, "legacy_event_id": None,
        "level": rng.choice([2, 3, 4, 4, 4], n_events), "time": t, "record_id": np.arange(n_events) + 1,
        "computer": None, "user_sid": None, "data": [{"param1": "LS01"}] * n_events,
        "message": "The Remote Desktop Session Host server could not contact the Remote Desktop license server LS01. "
                   "Ensure that the Remote Desktop Licensing service is running on the license server.",
    })
    frame["source"] = frame["host"] + "/RCM-Admin.evtx"
    base.frames["events"] = make_frame("events", frame)
    findings = list(base.findings)
    for i in range(n_findings):
        host = hosts[i % n_hosts]
        picks = rng.integers(0, n_events, 40)
        evs = [Evidence("events", str(frame["source"].iat[r]), {"record_id": int(frame["record_id"].iat[r])}, {})
               for r in picks]
        findings.append(Finding(f"RDSLIC-{100 + i:03d}", "detected" if i % 3 else "not_checked", "warning",
                                "symptom", f"Synthetic finding {i}", host, "Synthetic.", evs, ["Do something."],
                                collect=["More logs."]))
    base.findings = findings
    base.hosts = base.hosts + [HostProfile(name=h, os_version=Fact("2022", "registry"),
                                           roles={"session_host": Fact(True, "registry")}) for h in hosts]
    art = [{"path": f"{h}/RCM-Admin.evtx", "kind": "evtx", "host": h, "status": "ok",
            "records_read": n_events // n_hosts, "records_lost": 0, "warnings": [], "size": 1 << 20} for h in hosts]
    base.frames["artifacts"] = _artifacts(base.frames["artifacts"].to_dict("records") + art)
    return base


PAYLOADS = (
    '<script>document.title="pwned";window.__pwned=1</script>',
    '"><img src=x onerror="window.__pwned=1">',
    "javascript:alert(1)",
    "</style><script>window.__pwned=2</script>",
    "]]><svg onload=\"window.__pwned=3\">",
    "'><iframe src=javascript:alert(1)></iframe>",
    "</title></textarea><!-- {{ 7*7 }} ${7*7}",
    "&lt;b&gt; | *bold* _it_ [x](javascript:alert(1)) `code` # h",
)
HOSTILE = " ".join(PAYLOADS)


def hostile(tag: str) -> str:
    """One field's hostile string: every payload, tagged with the field it went into."""
    return f"{tag}:{HOSTILE}"


def hostile_analysis() -> Analysis:
    """Every string field type the report shows carries every payload."""
    h = hostile
    host_name = h("HOST")
    src = h("FILE") + ".evtx"
    events = [_event(host_name, 50280, 2, AS_OF - timedelta(hours=i), 10 + i, src, h("MESSAGE"),
                     channel=h("CHANNEL"), data={h("DATAKEY"): h("DATAVALUE")}) for i in range(3)]
    events.append(_event(host_name, 50283, 3, AS_OF - timedelta(hours=5), 20, src, None, data={"p": h("DATAONLY")}))
    registry = [{"host": host_name, "hive": "SOFTWARE", "key": POLICY_KEY + "\\" + h("KEY"), "value": h("VALUE"),
                 "type": "REG_SZ", "data": h("DATA"), "last_write": AS_OF, "source": h("HIVE")}]
    keypacks = [{"license_server": h("LS"), "keypack_id": h("KPID"), "cal_version": h("CALVER"), "cal_type": h("CALTYPE"),
                 "total": 5, "issued": 5, "available": 0, "builtin": False, "temporary": False,
                 "status": h("STATUS"), "source": h("KPFILE")}]
    ev_event = Evidence("events", src, {"record_id": 10}, {"note": h("NOTE")}, note=h("EVNOTE"))
    ev_event2 = Evidence("events", src, {"record_id": 11},
                         {"time": h("TIME"), "channel": h("EVCHANNEL"), "event_id": h("EVID"), "message": h("EVMSG"),
                          "record_id": h("EVRID")})
    ev_reg = Evidence("registry", h("HIVE"), {"key": registry[0]["key"], "value": h("VALUE")},
                      {"key": registry[0]["key"], "value": h("VALUE"), "data": h("DATA"), "last_write": h("LW"),
                       "origin": h("ORIGIN")})
    ev_row = Evidence("keypacks", h("KPFILE"), {h("LOCKEY"): h("LOCVAL")}, {h("COL"): h("CELL")}, note=h("ROWNOTE"))
    fact_ev = [Evidence("registry", h("FACTSRC"))]
    host = HostProfile(
        name=host_name, aliases={h("ALIAS")}, fqdn=h("FQDN"), domain=Fact(h("DOMAIN"), h("DOMORIGIN"), fact_ev),
        os_product=Fact(h("OSPRODUCT"), "registry"), os_build=Fact(h("BUILD"), "registry"),
        os_version=Fact(h("OSVER"), "registry"),
        roles={"session_host": Fact(True, "registry"), h("ROLE"): Fact(True, "registry")},
        domain_joined=Fact(False, "registry"),
        licensing_mode_candidates=[Fact(h("MODE"), h("MODEORIGIN"), fact_ev)], licensing_mode=Fact(h("MODE"), "group_policy"),
        license_server_candidates=[Fact([h("LSNAME")], "group_policy", fact_ev)],
        license_servers=Fact([h("LSNAME")], "group_policy", fact_ev),
        licensing_certificate=Fact(h("CERT"), "registry"), connectivity_status=Fact(h("CONN"), "wmi_export"),
        grace_period=GracePeriod(ends=Fact(AS_OF + timedelta(days=3), "event"),
                                 days_left_reported=None),
        license_server=LicenseServerFacts(activation_status=Fact(h("ACT"), "report"), version=Fact(h("LSVER"), "report")),
        artifacts=[src])
    findings = [
        Finding(h("RULE"), "detected", "critical", "cause", h("TITLE"), host_name, h("SUMMARY"),
                [ev_event, ev_event2, ev_reg, ev_row], [h("FIX1"), h("FIX2")], related_hosts=[h("RELATED")]),
        Finding(h("SYMRULE"), "detected", "warning", "symptom", h("SYMTITLE"), host_name, h("SYMSUMMARY"),
                [ev_event], explains=[h("EXPLAINS")]),
        Finding(h("NCRULE"), "not_checked", "error", "cause", h("NCTITLE"), None, h("NCSUMMARY"), collect=[h("COLLECT")]),
        Finding(h("NDRULE"), "not_detected", "info", "info", h("NDTITLE"), host_name),
    ]
    causes = [RootCause(h("RULE"), host_name, 0.7, h("RCTITLE"), h("RCSUMMARY"), related_hosts=[h("RCRELATED")],
                        symptoms=[h("RCSYMPTOM")]),
              RootCause(h("RULE2"), host_name, 0.3, h("RC2TITLE"), h("RC2SUMMARY"))]
    artifacts = [{"path": src, "kind": h("KIND"), "host": host_name, "status": h("ARTSTATUS"), "records_read": 4,
                  "records_lost": 1, "warnings": [h("WARNING")], "size": 1}]
    return Analysis(inputs=[h("INPUT")], as_of=AS_OF, as_of_origin=h("ASOFORIGIN"),
                    frames=_frames(events, registry, keypacks, artifacts=artifacts), hosts=[host], findings=findings,
                    root_causes=causes, messages=[h("RUNMESSAGE")])


def test_builders_make_typed_frames():
    for analysis in (single_host_analysis(), multi_host_analysis(), hostile_analysis()):
        assert str(analysis.frames["events"]["time"].dtype) == "datetime64[ns, UTC]"
        assert analysis.root_causes and analysis.findings
