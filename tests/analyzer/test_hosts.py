"""Host profiles: candidates per source and precedence, roles, grace period, several machines."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from rdsla.analyzer.cli import main
from rdsla.core.frames import make_frame
from rdsla.analyzer.hosts import build_profiles, os_label, parse_event_date
from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.registry import parse
from rdsla.sample_data.forge.machine import Machine, software_tree, system_tree
from rdsla.sample_data.forge.regf_writer import render_reg_export, render_reg_query, write_hive

T0 = datetime(2024, 1, 10, 8, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)

RDSH = Machine(name="RDSH01", os="2019", domain="contoso.local", roles=frozenset({"session_host"}), installed=T0,
               policy_mode=4, policy_servers=["LS01.contoso.local"], deployment_mode=2,
               deployment_servers=["LS09"], certificate=True, grace_start=T0)
LS = Machine(name="LS01", os="2016", domain="contoso.local", roles=frozenset({"licensing"}), installed=T0,
             ls_service_start=4, disable_workgroup_auth=1)


def _write(tmp_path, m: Machine, form: str):
    folder = tmp_path / m.name
    folder.mkdir()
    for hive, tree in (("SYSTEM", system_tree(m, NOW)), ("SOFTWARE", software_tree(m))):
        if form == "hive":
            write_hive(folder / hive, tree, file_name=hive, timestamp=NOW)
        elif form == "reg":
            (folder / f"{hive}.reg").write_bytes(render_reg_export(tree, f"HKEY_LOCAL_MACHINE\\{hive}"))
        else:
            (folder / f"{hive}.txt").write_text(render_reg_query(tree, f"HKEY_LOCAL_MACHINE\\{hive}"), encoding="utf-8")
    return folder


def _registry(folder, host):
    frames = []
    for path in sorted(folder.iterdir()):
        kind = {"": "hive", ".reg": "reg_export", ".txt": "reg_query"}[path.suffix]
        r = parse(Source(str(path), (str(path),), path.stat().st_size, kind), ParseOptions())
        f = r.frames["registry"].copy()
        f["host"], f["source"] = host, str(path)
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _event(host, eid, legacy, data, rid, when, provider="Microsoft-Windows-TerminalServices-RemoteConnectionManager"):
    return {"host": host, "channel": "x", "provider": provider, "source_name": None, "event_id": eid,
            "legacy_event_id": legacy, "time": when, "record_id": rid, "computer": f"{host.lower()}.contoso.local",
            "data": data, "source": f"{host}/Admin.evtx"}


@pytest.fixture()
def profiles(tmp_path):
    reg = pd.concat([_registry(_write(tmp_path, RDSH, "hive"), "RDSH01"),
                     _registry(_write(tmp_path, LS, "reg"), "LS01")], ignore_index=True)
    events = make_frame("events", [
        _event("RDSH01", 50281, 1129, {"param1": "5/20/2024"}, 11, NOW - timedelta(days=2)),
        _event("RDSH01", 50280, 1128, {}, 12, NOW - timedelta(days=1)),
        _event("LS01", 18, 18, {"param1": "LS01"}, 5, NOW, provider="Microsoft-Windows-TerminalServices-Licensing"),
    ])
    facts = [{"host": "RDSH01", "name": "grace_days_left", "value": 19, "origin": "wmi_export",
              "source": "RDSH01_rdsh_GracePeriod.txt", "locator": {"line": 3}, "detail": {"line": "DaysLeft = 19"}},
             {"host": "RDSH01", "name": "licensing_mode", "value": 5, "origin": "wmi_export", "source": "w.txt",
              "locator": {"line": 1}, "detail": {}},
             {"host": "LS01", "name": "activation_status", "value": "not_activated", "origin": "report",
              "source": "LS01/rds-lic-svr-chk.txt", "locator": {"line": 7}, "detail": {}}]
    frames = {"registry": make_frame("registry", reg), "events": events}
    out = build_profiles(frames, facts, {"RDSH01": set(), "LS01": {"ls01.contoso.local"}}, NOW)
    return {p.name: p for p in out}


def test_session_host_candidates_and_precedence(profiles):
    p = profiles["RDSH01"]
    assert [(c.origin, c.value) for c in p.licensing_mode_candidates] == [
        ("group_policy", 4), ("deployment", 2), ("wmi_export", 5)]
    assert p.licensing_mode.origin == "group_policy" and p.mode_name == "per_user"
    assert [(c.origin, c.value) for c in p.license_server_candidates] == [
        ("group_policy", ["LS01.contoso.local"]), ("deployment", ["LS09"])]
    assert p.license_servers.value == ["LS01.contoso.local"]
    ev = p.licensing_mode.evidence[0]
    assert ev.frame == "registry" and ev.locator["key"].endswith(r"Policies\Microsoft\Windows NT\Terminal Services")
    assert ev.source.endswith("SOFTWARE")


def test_session_host_identity_os_roles(profiles):
    p = profiles["RDSH01"]
    assert p.fqdn == "rdsh01.contoso.local" and p.domain.value == "contoso.local"
    assert p.domain_joined.value is True
    assert p.os_version.value == "2019" and p.os_build.value == 17763
    assert p.has_role("session_host") and not p.has_role("licensing")
    assert p.deny_ts_connections.value == 0
    assert p.licensing_certificate.value is True


def test_grace_period(profiles):
    g = profiles["RDSH01"].grace_period
    assert g.key_last_write == T0
    assert g.ends.value == datetime(2024, 5, 20, tzinfo=timezone.utc) and g.ends.origin == "event"
    assert [e.locator["record_id"] for e in g.expired_events] == [12]
    assert g.days_left(NOW) == 19 and g.days_left_reported.evidence[0].locator == {"line": 3}


def test_license_server(profiles):
    p = profiles["LS01"]
    assert p.has_role("licensing")
    assert p.roles["licensing"].origin == "registry"
    assert p.license_server.service_start_type.value == 4
    assert p.license_server.disable_workgroup_auth_enforcement.value == 1
    assert p.license_server.activation_status.value == "not_activated"
    assert p.license_server.version.value == "2016"
    assert "ls01.contoso.local" in p.aliases
    assert p.licensing_mode is None and not p.grace_period.expired_events


def test_os_labels_and_dates():
    assert os_label(7601, True) == "2008R2" and os_label(7601, False) == "Windows 7 SP1"
    assert os_label(26100, None) == "2025" and os_label(19045, True) == "Windows 10 22H2"
    assert parse_event_date("5/20/2024") == datetime(2024, 5, 20, tzinfo=timezone.utc)
    assert parse_event_date("2024-05-20T00:00:00Z") == datetime(2024, 5, 20, tzinfo=timezone.utc)
    assert parse_event_date("soon") is None


def test_subkey_form_of_specified_license_servers():
    rows = [{"hive": "SYSTEM", "key": k, "key_ccs": k, "value": None, "type": None, "data": None,
             "host": "H1", "source": "s.reg"}
            for k in (r"HKLM\SYSTEM\CurrentControlSet\Services\TermService\Parameters\LicenseServers\SpecifiedLicenseServers\LSA",
                      r"HKLM\SYSTEM\CurrentControlSet\Services\TermService\Parameters\LicenseServers\SpecifiedLicenseServers")]
    (p,) = build_profiles({"registry": make_frame("registry", rows)}, [], {}, NOW)
    assert p.license_server_candidates[0].value == ["LSA"] and p.license_servers.origin == "deployment"


@pytest.mark.parametrize("form", ["hive", "reg", "query"])
def test_rdsla_hosts_on_a_bundle(tmp_path, capsys, form):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    _write(bundle, RDSH, form)
    _write(bundle, LS, "hive")
    assert main(["hosts", str(bundle), "--jobs", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    hosts = {h["name"]: h for h in data["hosts"]}
    assert set(hosts) == {"RDSH01", "LS01"}
    r = hosts["RDSH01"]
    assert r["licensing_mode"]["value"] == 4 and r["licensing_mode"]["origin"] == "group_policy"
    assert [c["origin"] for c in r["license_server_candidates"]] == ["group_policy", "deployment"]
    assert r["os_version"]["value"] == "2019"
    assert hosts["LS01"]["roles"]["licensing"]["value"] is True
    assert main(["hosts", str(bundle), "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "RDSH01" in text and "per_user (4)" in text and "group_policy" in text and "LicensingMode" in text


def test_rdsla_hosts_on_real_hives(real_hives, capsys):
    assert main(["hosts", str(real_hives[0].parent), "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "DESKTOP-M3OSHQU" in text and "remote_admin (1)" in text and "GINEVRA" in text


def test_roles_are_inferred_once_by_the_profile_builder():
    """Issue 16 item 3: the profile decides who acts as session host or license server; the
    rules' target lists and the report read that one answer."""
    from rdsla.core.frames import empty_frame
    from rdsla.core.model import Analysis
    from rdsla.rules.api import Bundle, license_servers, session_hosts
    when = pd.Timestamp("2024-06-01T10:00:00Z")
    events = make_frame("events", pd.DataFrame([{
        "host": "RDSH02", "channel": "System", "provider": "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
        "source_name": "TermService", "event_id": 1131, "legacy_event_id": 1131, "level": 3, "time": when,
        "record_id": 7, "computer": "RDSH02.corp.example", "data": {"param1": "LS09"}, "source": "RDSH02_System.evtx"}]))
    issued = make_frame("issued", pd.DataFrame([{"license_server": "LS09", "cal_version": "2019", "cal_type": "per_user",
                                                 "issued_to": "alice", "status": 2, "source": "LS09_Issued.csv"}]))
    frames = {"events": events, "registry": empty_frame("registry"), "keypacks": empty_frame("keypacks"),
              "issued": issued, "artifacts": empty_frame("artifacts")}
    profiles = {p.name: p for p in build_profiles(frames, [], {}, when.to_pydatetime())}
    assert profiles["RDSH02"].roles["session_host"].value is True
    assert profiles["LS09"].roles["licensing"].value is True
    assert profiles["LS09"].roles["licensing"].origin == "inferred"
    analysis = Analysis(inputs=[], as_of=when.to_pydatetime(), as_of_origin="option", frames=frames,
                        hosts=list(profiles.values()))
    bundle = Bundle(analysis)
    assert [h.name for h in session_hosts(bundle)] == ["RDSH02"]
    assert [h.name for h in license_servers(bundle)] == ["LS09"]


def test_rows_of_a_host_are_the_rows_its_canonical_name_selects():
    """analyzer.hosts._rows_by_host (issue 20): one pass over the frame gives, for every machine,
    the rows (index labels, order, values) that comparing the mapped column would select."""
    from rdsla.analyzer.hosts import _rows_by_host
    from rdsla.core.evidence import records
    from rdsla.core.hostnames import canonical
    frame = make_frame("registry", [{"host": h, "key": "K", "value": str(i)} for i, h in enumerate(
        ["RDSH01", "rdsh01.contoso.com", None, "LS01", "\\\\ls01", "RDSH01", ""])]).iloc[1:]   # not from 0
    groups = _rows_by_host(frame, "host")
    for name in ("RDSH01", "LS01", "NOBODY"):
        expected = frame[frame["host"].map(canonical) == name]
        got = groups.get(name, [])
        assert [r.name for r in got] == list(expected.index)
        assert [dict(r) for r in got] == records(expected)
    assert [r["value"] for r in groups["RDSH01"]] == ["1", "5"]
