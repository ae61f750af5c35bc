"""MSRD-Collect SystemInfo.txt and systeminfo.exe output (English, German): recognized, read
into host facts, and what cannot be read is a warning naming the file."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rdsla.core import facts as F
from rdsla.parsers import recognize
from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.systeminfo import domain_role, parse, parse_build, parse_local_time
from rdsla.sample_data.forge.machine import Machine, system_info_txt

EN = """
Host Name:                 RDSH01
OS Name:                   Microsoft Windows Server 2022 Standard
OS Version:                10.0.20348 N/A Build 20348
OS Manufacturer:           Microsoft Corporation
OS Configuration:          Member Server
OS Build Type:             Multiprocessor Free
Original Install Date:     3/14/2024, 9:12:44 AM
System Boot Time:          11/28/2024, 10:03:11 PM
Time Zone:                 (UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna
Domain:                    contoso.com
Logon Server:              \\\\DC01
"""
DE = """
Hostname:                                  RDSH02
Betriebssystemname:                        Microsoft Windows Server 2019 Standard
Betriebssystemversion:                     10.0.17763 Nicht zutreffend Build 17763
Betriebssystemhersteller:                  Microsoft Corporation
Betriebssystemkonfiguration:               Mitgliedsserver
Ursprüngliches Installationsdatum:         04.02.2023, 14:05:09
Systemstartzeit:                           01.12.2024, 06:30:00
Zeitzone:                                  (UTC+01:00) Amsterdam, Berlin, Bern, Rom, Stockholm, Wien
Domäne:                                    contoso.de
"""
WORKGROUP = EN.replace("Member Server", "Standalone Server").replace("contoso.com", "WORKGROUP")


def _parse(tmp_path, data: bytes, name: str = "RDSH01_SystemInfo.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    assert recognize(data[:65536]).kind == "system_info"
    return parse(Source(str(path), (str(path),), len(data), "system_info"), ParseOptions())


def _facts(result) -> dict:
    return {f["name"]: f["value"] for f in result.facts}


def test_english_systeminfo_in_utf16(tmp_path):
    r = _parse(tmp_path, b"\xff\xfe" + EN.replace("\n", "\r\n").encode("utf-16-le"))
    assert r.status == "ok" and r.warnings == [] and r.computers == {"RDSH01": 1}
    assert _facts(r) == {F.COMPUTER_NAME: "RDSH01", F.OS_PRODUCT: "Microsoft Windows Server 2022 Standard",
                         F.OS_BUILD: 20348, F.DOMAIN_ROLE: "member_server", F.DOMAIN: "contoso.com",
                         F.TIME_ZONE: "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
                         F.INSTALL_DATE: datetime(2024, 3, 14, 9, 12, 44),
                         F.LAST_BOOT: datetime(2024, 11, 28, 22, 3, 11)}
    line = next(f for f in r.facts if f["name"] == F.OS_BUILD)
    assert line["origin"] == "system_info" and line["locator"] == {"line": 4}
    assert "Build 20348" in line["detail"]["line"]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "cp850"])
def test_german_systeminfo_in_any_code_page(tmp_path, encoding):
    """systeminfo > file writes the console's OEM code page (cp850 on German Windows): the
    umlaut labels are still found."""
    r = _parse(tmp_path, DE.encode(encoding), "RDSH02_systeminfo.txt")
    facts = _facts(r)
    assert r.warnings == []
    assert facts[F.OS_BUILD] == 17763 and facts[F.DOMAIN_ROLE] == "member_server"
    assert facts[F.DOMAIN] == "contoso.de"
    assert facts[F.INSTALL_DATE] == datetime(2023, 2, 4, 14, 5, 9)
    assert facts[F.LAST_BOOT] == datetime(2024, 12, 1, 6, 30)


def test_a_workgroup_is_no_domain(tmp_path):
    facts = _facts(_parse(tmp_path, WORKGROUP.encode("utf-8")))
    assert facts[F.DOMAIN_ROLE] == "standalone_server" and F.DOMAIN not in facts


def test_msrd_collect_systeminfo_as_the_forge_writes_it(tmp_path):
    installed, boot, now = datetime(2023, 5, 2, 8, 0), datetime(2024, 11, 3, 1, 2, 3), datetime(2024, 11, 5, 10, 0)
    m = Machine(name="LS01", os="2012R2", domain="corp.example", roles=frozenset({"licensing"}), installed=installed)
    data = system_info_txt(m, now, boot)
    assert data.startswith(b"\xff\xfe")         # Out-File: UTF-16LE with a BOM
    r = _parse(tmp_path, data, "LS01_SystemInfo.txt")
    facts = _facts(r)
    assert r.warnings == []
    assert facts[F.OS_PRODUCT] == "Microsoft Windows Server 2012 R2 Standard"     # architecture cut off
    assert facts[F.OS_BUILD] == 9600 and F.OS_UBR not in facts
    assert facts[F.INSTALL_DATE] == installed and facts[F.LAST_BOOT] == boot
    assert facts[F.DOMAIN] == "corp.example" and facts[F.DOMAIN_ROLE] == "member_server"
    m2 = Machine(name="RDSH01", os="2022", domain=None, roles=frozenset({"session_host"}), installed=installed)
    facts = _facts(_parse(tmp_path, system_info_txt(m2, now, boot), "RDSH01_SystemInfo.txt"))
    assert facts[F.OS_BUILD] == 20348 and facts[F.OS_UBR] == 2849
    assert facts[F.DOMAIN_ROLE] == "standalone_server" and F.DOMAIN not in facts


def test_unreadable_values_are_warnings_naming_the_file_and_line(tmp_path):
    text = EN.replace("3/14/2024, 9:12:44 AM", "yesterday").replace("Member Server", "Mystery Box")
    r = _parse(tmp_path, text.encode("utf-8"), "odd_systeminfo.txt")
    assert r.status == "partial"
    assert any("odd_systeminfo.txt: line 8: date not read" in w for w in r.warnings)
    assert any("odd_systeminfo.txt: line 6: unknown domain role" in w for w in r.warnings)
    assert F.INSTALL_DATE not in _facts(r) and _facts(r)[F.OS_BUILD] == 20348


def test_a_truncated_file_keeps_what_it_has_and_says_what_is_missing(tmp_path):
    cut = EN[:EN.index("Original Install Date")]
    r = _parse(tmp_path, cut.encode("utf-8"), "cut_systeminfo.txt")
    assert r.status == "partial" and _facts(r)[F.OS_BUILD] == 20348
    assert any(w.startswith(str(tmp_path / "cut_systeminfo.txt")) and "install_date" in w and "truncated" in w
               for w in r.warnings)


def test_garbage_is_not_recognized_and_fails_with_the_file_name(tmp_path):
    junk = b"Host Name: x\r\n\x00\x01\x02 not systeminfo at all\r\n" * 3
    assert recognize(junk).kind != "system_info"
    path = tmp_path / "junk.txt"
    path.write_bytes(junk)
    r = parse(Source(str(path), (str(path),), len(junk), "system_info"), ParseOptions())
    assert r.status == "failed" and str(path) in r.warnings[0]


@pytest.mark.parametrize("text,month_first,expected", [
    ("3/14/2024, 9:12:44 AM", None, datetime(2024, 3, 14, 9, 12, 44)),
    ("12/1/2024, 12:05:00 AM", None, datetime(2024, 12, 1, 0, 5)),
    ("12/1/2024, 12:05:00 PM", None, datetime(2024, 12, 1, 12, 5)),
    ("14/03/2024, 21:12:44", None, datetime(2024, 3, 14, 21, 12, 44)),       # en-GB
    ("14.03.2024, 09:12:44", None, datetime(2024, 3, 14, 9, 12, 44)),        # de-DE
    ("2024-03-14 09:12:44", None, datetime(2024, 3, 14, 9, 12, 44)),
    ("03/04/2024 09:12:44", True, datetime(2024, 3, 4, 9, 12, 44)),          # PowerShell invariant
    ("31/31/2024", None, None), ("n/a", None, None),
])
def test_local_times_in_the_cultures_windows_writes(text, month_first, expected):
    assert parse_local_time(text, month_first) == expected


def test_builds_and_roles():
    assert parse_build("10.0.20348 N/A Build 20348") == (20348, None)
    assert parse_build("10.0.17763.6532") == (17763, 6532)
    assert parse_build("6.9600.21620") == (9600, 21620)
    assert parse_build("unknown") == (None, None)
    assert domain_role("Primary Domain Controller") == "primary_domain_controller"
    assert domain_role("Primärer Domänencontroller") == "primary_domain_controller"
    assert domain_role("Eigenständiger Server") == "standalone_server"
    assert domain_role("Member Workstation") == "member_workstation"
    assert domain_role("something else") is None
