"""SystemInfo.txt / systeminfo.exe in host profiles: the OS, domain role, install date, last
boot and time zone of a machine whose hives do not say them; a hive wins where both speak, and
SystemInfo's value is shown beside it."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from rdsla.analyzer.pipeline import analyze
from rdsla.parsers.base import ParseOptions
from rdsla.sample_data.forge.machine import Machine, software_tree, system_info_txt, system_tree
from rdsla.sample_data.forge.regf_writer import write_hive

NOW = datetime(2024, 11, 5, 10, 0, tzinfo=timezone.utc)
T0 = datetime(2023, 3, 1, 9, 0, tzinfo=timezone.utc)
RDSH = Machine(name="RDSH01", os="2019", domain="contoso.local", roles=frozenset({"session_host"}), installed=T0,
               policy_mode=4, policy_servers=["LS01"], certificate=True)


def _bundle(tmp_path, hives: tuple[str, ...], info: Machine):
    folder = tmp_path / "MSRD-Results-RDSH01"
    folder.mkdir()
    trees = {"SYSTEM": system_tree(RDSH, NOW), "SOFTWARE": software_tree(RDSH)}
    for hive in hives:
        write_hive(folder / f"RDSH01_{hive}.hiv", trees[hive], file_name=hive, timestamp=NOW)
    (folder / "RDSH01_SystemInfo.txt").write_bytes(system_info_txt(info, NOW.replace(tzinfo=None),
                                                                   (NOW - timedelta(days=3)).replace(tzinfo=None)))
    result = analyze([str(folder)], ParseOptions(), as_of=NOW, jobs=0)
    analysis = getattr(result, "analysis", result)
    return next(h for h in analysis.hosts if h.name == "RDSH01"), analysis


def test_without_software_hive_the_os_comes_from_systeminfo(tmp_path):
    host, analysis = _bundle(tmp_path, ("SYSTEM",), RDSH)
    kinds = set(analysis.frames["artifacts"]["kind"])
    assert "system_info" in kinds
    assert host.os_build.value == 17763 and host.os_build.origin == "system_info"
    assert host.os_version.value == "2019" and host.os_version.origin == "system_info"
    assert host.os_product.value == "Microsoft Windows Server 2019 Standard"
    assert host.os_build.evidence[0].source.endswith("RDSH01_SystemInfo.txt")
    assert host.domain_role.value == "member_server" and host.domain_role.origin == "system_info"
    assert host.install_date_local.value == T0.replace(tzinfo=None)
    assert host.last_boot.value == (NOW - timedelta(days=3)).replace(tzinfo=None)
    assert host.time_zone.value.startswith("(UTC)")
    assert host.to_dict(NOW)["domain_role"]["origin"] == "system_info"


def test_the_hive_wins_and_systeminfo_is_shown_beside_it(tmp_path):
    other = replace(RDSH, os="2022", domain="fabrikam.local")
    host, _ = _bundle(tmp_path, ("SYSTEM", "SOFTWARE"), other)
    assert host.os_build.value == 17763 and host.os_build.origin == "registry"
    assert host.os_version.value == "2019"
    notes = [e.note for e in host.os_build.evidence]
    assert any("SystemInfo says 20348" in n and "registry value 17763 stands" in n for n in notes)
    assert any("SystemInfo says" in e.note for e in host.os_product.evidence)
    assert host.domain.value == "contoso.local"
    assert any("SystemInfo says 'fabrikam.local'" in e.note for e in host.domain.evidence)


def test_agreeing_sources_add_nothing(tmp_path):
    host, _ = _bundle(tmp_path, ("SYSTEM", "SOFTWARE"), RDSH)
    assert host.os_build.origin == "registry"
    assert not any("SystemInfo says" in e.note for f in (host.os_build, host.os_product, host.domain) for e in f.evidence)


def test_the_domain_role_decides_membership_over_a_dns_suffix(tmp_path):
    """A workgroup machine may carry a DNS suffix (RDS_LICENSING.md 2.1): Win32_ComputerSystem's
    role "Standalone Server" says it is not joined."""
    host, _ = _bundle(tmp_path, ("SYSTEM",), replace(RDSH, domain=None))
    assert host.domain_role.value == "standalone_server"
    assert host.domain_joined.value is False and host.domain_joined.origin == "system_info"
