"""The .reg and `reg query /s` renderings must be byte-for-byte what regedit and reg.exe print,
because parsers recognize these files by their exact shape (expected texts written by hand from
regedit's rules: 77-column hex wrap with `\\` + two-space continuation, CRLF, UTF-16LE + BOM)."""
from __future__ import annotations

import random
from datetime import datetime, timezone

from rdsla.sample_data.forge.reg_text import render_reg_export, render_reg_query
from rdsla.sample_data.forge.regtree import (
    REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_NONE, REG_QWORD, REG_SZ, RegKey,
)

T = datetime(2024, 6, 1, 8, 0, tzinfo=timezone.utc)
MOUNT = r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server"


def terminal_server() -> RegKey:
    ts = RegKey("Terminal Server", T)
    ts.set("fDenyTSConnections", REG_DWORD, 0)
    ts.set("", REG_SZ, 'C:\\Temp "x"')
    ts.key("RCM").set("X509 Certificate", REG_BINARY, bytes(range(60)))
    ts.key(r"RCM\Licensing Core").set("LicensingMode", REG_DWORD, 4)
    ts.key("AddIns")  # no values: a bare header in both renderings
    lic = ts.key("Licensing")
    lic.set("SpecifiedLicenseServers", REG_MULTI_SZ, ["LS01", "LS02"])
    lic.set("Stamp", REG_QWORD, 0x01DAB3C4D5E6F708)
    lic.set("Path", REG_EXPAND_SZ, "%S%")
    lic.set("Empty", REG_NONE, b"")
    return ts


EXPECTED_REG = "\r\n".join([
    "Windows Registry Editor Version 5.00",
    "",
    r"[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server]",
    '"fDenyTSConnections"=dword:00000000',
    r'@="C:\\Temp \"x\""',
    "",
    r"[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\AddIns]",
    "",
    r"[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\Licensing]",
    '"SpecifiedLicenseServers"=hex(7):4c,00,53,00,30,00,31,00,00,00,4c,00,53,00,30,\\',
    "  00,32,00,00,00,00,00",
    '"Stamp"=hex(b):08,f7,e6,d5,c4,b3,da,01',
    '"Path"=hex(2):25,00,53,00,25,00,00,00',
    '"Empty"=hex(0):',
    "",
    r"[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\RCM]",
    '"X509 Certificate"=hex:00,01,02,03,04,05,06,07,08,09,0a,0b,0c,0d,0e,0f,10,11,\\',
    "  12,13,14,15,16,17,18,19,1a,1b,1c,1d,1e,1f,20,21,22,23,24,25,26,27,28,29,2a,\\",
    "  2b,2c,2d,2e,2f,30,31,32,33,34,35,36,37,38,39,3a,3b",
    "",
    r"[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\RCM\Licensing Core]",
    '"LicensingMode"=dword:00000004',
    "",
    "",
])

EXPECTED_QUERY = "\r\n".join([
    "",
    r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server",
    "    fDenyTSConnections    REG_DWORD    0x0",
    '    (Default)    REG_SZ    C:\\Temp "x"',
    "",
    r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\AddIns",
    "",
    r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\Licensing",
    "    SpecifiedLicenseServers    REG_MULTI_SZ    LS01\\0LS02",
    "    Stamp    REG_QWORD    0x1dab3c4d5e6f708",
    "    Path    REG_EXPAND_SZ    %S%",
    "    Empty    REG_NONE    ",
    "",
    r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\RCM",
    "    X509 Certificate    REG_BINARY    " + bytes(range(60)).hex().upper(),
    "",
    r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\RCM\Licensing Core",
    "    LicensingMode    REG_DWORD    0x4",
    "",
    "",
])


def test_reg_export_is_exactly_what_regedit_writes():
    assert render_reg_export(terminal_server(), MOUNT) == b"\xff\xfe" + EXPECTED_REG.encode("utf-16-le")


def test_reg_query_is_exactly_what_reg_exe_prints():
    assert render_reg_query(terminal_server(), MOUNT) == EXPECTED_QUERY


def test_queried_key_without_values_prints_no_header_but_subkeys_do():
    root = RegKey("SYSTEM", T)
    root.key("Select").set("Current", REG_DWORD, 1)
    assert render_reg_query(root, r"HKLM\SYSTEM") == "\r\nHKLM\\SYSTEM\\Select\r\n    Current    REG_DWORD    0x1\r\n\r\n"


def test_hex_lines_never_exceed_80_columns():
    rng = random.Random(5)
    root = RegKey("R", T)
    for n in range(1, 60):
        root.set("v" * n, REG_BINARY, bytes(rng.getrandbits(8) for _ in range(n * 7)))
    text = render_reg_export(root, r"HKEY_LOCAL_MACHINE\X")[2:].decode("utf-16-le")
    hex_lines = [line for line in text.split("\r\n") if "hex:" in line or line.startswith("  ")]
    assert hex_lines and max(len(line) for line in hex_lines) <= 80
    continued = [line for line in hex_lines if line.endswith("\\")]
    assert continued and all(len(line) >= 78 for line in continued)
