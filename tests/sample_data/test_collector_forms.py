"""The forge writes what collectors write (issue 17 item 1): MSRD-Collect's per-key reg exports,
GracePeriod.txt and TSLSMembership.txt with msrdRunCommands' header, log file names, policy keys
only when a policy is set, DaysLeft 0 on licensed hosts, temporary CALs of new Per Device
devices, 2008 R2 packs as ProductVersionID 2; and the parsers read each form."""
from __future__ import annotations

from datetime import timedelta

import pytest

from rdsla.core import facts as F
from rdsla.parsers.licensing import parse_bytes
from rdsla.sample_data.forge.build import grace_days_left, machine_files
from rdsla.sample_data.forge.exports import CAL_VERSION_ID, KeyPack, grace_period_txt, keypacks_html, tsls_membership
from rdsla.sample_data.forge.machine import PER_DEVICE, PER_USER, software_tree
from rdsla.sample_data.forge.scenarios import COLLECTED, DOMAIN, LS, SH, LicenseServerState, Scenario, machine


def _scenario(*machines, states=None, collector="msrd") -> Scenario:
    return Scenario("t", "test", list(machines), states or {}, [], None, collector=collector)


def _rdsh(**kw):
    base = dict(deployment_mode=PER_USER, deployment_servers=[f"LS01.{DOMAIN}"], certificate=True,
                grace_start=COLLECTED - timedelta(days=300), registry_form="msrd")
    base.update(kw)
    return machine("RDSH01", "2019", {SH}, **base)


def test_msrd_per_key_exports_are_utf16_reg_files_named_as_msrd_collect_does():
    files = machine_files(_scenario(_rdsh()), _rdsh())
    regs = sorted(p for p in files if "_RegistryKeys/" in p)
    assert regs == [f"MSRD-Results-RDSH01/RDSH01_RegistryKeys/RDSH01_reg_{n}.txt" for n in
                    ("System-CCS-Control-TerminalServer", "System-CCS-Svc-Tcpip", "System-CCS-Svc-TermService")]
    for p in regs:
        data = files[p]
        assert data.startswith(b"\xff\xfe") and data[2:].decode("utf-16-le").startswith(
            "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\")


def test_the_policy_key_exists_only_when_a_policy_is_set():
    assert software_tree(_rdsh()).key(r"Policies\Microsoft").child("Windows NT") is None
    gp = _rdsh(policy_mode=PER_DEVICE, policy_servers=["LS01"])
    tree = software_tree(gp)
    assert tree.key(r"Policies\Microsoft\Windows NT\Terminal Services").get("LicensingMode").data == PER_DEVICE
    assert any(p.endswith("RDSH01_reg_SW-Policies-MS-WinNT-TerminalServices.txt") for p in machine_files(_scenario(gp), gp))


def test_log_file_names_follow_the_collector():
    m = _rdsh()
    msrd = [p for p in machine_files(_scenario(m), m) if p.endswith(".evtx")]
    assert "MSRD-Results-RDSH01/RDSH01_EventLogs/RDSH01_TerminalServicesLocalSessionManager-Operational.evtx" in msrd
    assert "MSRD-Results-RDSH01/RDSH01_EventLogs/RDSH01_TerminalServicesRemoteConnectionManager-Admin.evtx" in msrd
    tss = [p for p in machine_files(_scenario(m, collector="tss"), m) if p.endswith(".evtx")]
    assert any(p.endswith("_Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx") for p in tss)


def test_days_left_is_zero_once_a_license_server_is_configured():
    assert grace_days_left(_rdsh()) == 0
    assert grace_days_left(_rdsh(deployment_servers=None)) == 0                      # 300 days: over
    young = _rdsh(deployment_servers=None, grace_start=COLLECTED - timedelta(days=100))
    assert grace_days_left(young) == 20
    assert grace_days_left(_rdsh(deployment_mode=5, grace_start=COLLECTED - timedelta(days=100))) == 20


def test_grace_period_txt_with_msrd_header_is_read():
    data = grace_period_txt("RDSH01", 0, COLLECTED - timedelta(seconds=40))
    text = data.decode("utf-16")
    assert text.startswith("======================================\r\n2024/11/05 10:14:20.000 : cmd /c 'wmic ")
    result = parse_bytes(data)
    assert [(f["name"], f["value"]) for f in result.facts if f["name"] == F.GRACE_DAYS_LEFT] == [(F.GRACE_DAYS_LEFT, 0)]
    assert result.computers == {"RDSH01": 1}


@pytest.mark.parametrize("members, inside", [(["LS01"], True), (["LS-OLD"], False), ([], False)])
def test_tsls_membership_net_localgroup_domain_is_read(members, inside):
    data = tsls_membership("contoso.local", members, COLLECTED)
    assert data.startswith(b"\xff\xfe")
    result = parse_bytes(data, host_hint="LS01")
    got = {f["name"]: f for f in result.facts}
    assert got[F.TSLS_GROUP_MEMBERS]["value"] == [m + "$" for m in members]
    assert got[F.TSLS_GROUP_MEMBERS]["detail"]["domain"] == "contoso.local"
    assert got[F.IN_TSLS_GROUP]["value"] is inside


def test_a_session_hosts_membership_export_does_not_make_it_a_license_server():
    from rdsla.analyzer.hosts import build_profiles
    from rdsla.core.frames import FRAME_NAMES, empty_frame
    facts = [dict(f, host="RDSH01", source="RDSH01_TSLSMembership.txt")
             for f in parse_bytes(tsls_membership("contoso.local", ["LS01"], COLLECTED), host_hint="RDSH01").facts]
    facts.append({"host": "LS01", "name": F.DOMAIN, "value": "contoso.local", "origin": "report", "source": "x"})
    facts.append({"host": "LS01", "name": F.ACTIVATION_STATUS, "value": "activated", "origin": "report", "source": "y"})
    profiles = {p.name: p for p in build_profiles({n: empty_frame(n) for n in FRAME_NAMES}, facts, {}, COLLECTED)}
    assert not profiles["RDSH01"].has_role("licensing")
    assert profiles["LS01"].license_server.in_tsls_group.value is True           # from RDSH01's export


def test_new_per_device_devices_hold_temporary_cals_and_2008r2_packs_say_2():
    from rdsla.sample_data.forge.scenarios import new_devices
    state = LicenseServerState(packs=[KeyPack(3, "2019", "per_device", 40, 12)])
    new_devices(state, "2019", 3, 4, first=20)
    assert [lic.status for lic in state.issued] == [1, 1, 1]
    assert all(lic.expires - lic.issued == timedelta(days=90) and lic.expires > COLLECTED for lic in state.issued)
    assert state.packs[-1].keypack_type == 4 and state.packs[-1].issued == 3
    assert CAL_VERSION_ID["2008R2"] == 2
    rows = parse_bytes(keypacks_html("LS01", [KeyPack(5, "2008R2", "per_device", 20, 3)])).frames["keypacks"]
    assert list(rows["cal_version"]) == ["2008R2"]


def test_every_session_host_gets_grace_period_txt_and_domain_hosts_tsls_membership():
    rdsh, ls = _rdsh(), machine("LS01", "2019", {LS})
    s = _scenario(rdsh, ls, states={"LS01": LicenseServerState(tsls_members=["LS01"])})
    rdsh_files, ls_files = machine_files(s, rdsh), machine_files(s, ls)
    assert "MSRD-Results-RDSH01/RDSH01_RDS/RDSH01_rdsh_GracePeriod.txt" in rdsh_files
    assert "MSRD-Results-RDSH01/RDSH01_RDS/RDSH01_TSLSMembership.txt" in rdsh_files
    assert "MSRD-Results-LS01/LS01_RDS/LS01_TSLSMembership.txt" in ls_files
    assert not any("GracePeriod" in p for p in ls_files)
    wg = machine("RDSH02", "2019", {SH}, domain=None)
    assert not any("TSLSMembership" in p for p in machine_files(_scenario(wg, ls, states=s.license_servers), wg))
