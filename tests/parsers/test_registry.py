"""Registry parser: the three input forms agree, text edge cases, dirty and damaged hives."""
from __future__ import annotations

import hashlib
import struct
from datetime import datetime, timezone

import pandas as pd
import pytest

from rdsla.parsers.base import ParseOptions, ParseResult, Source
from rdsla.parsers.registry import parse, wanted
from rdsla.sample_data.forge.machine import Machine, software_tree, system_tree
from rdsla.sample_data.forge.regf_writer import (REG_BINARY, REG_DWORD, REG_MULTI_SZ, REG_QWORD, REG_SZ, RegKey,
                                           build_hive, render_reg_export, render_reg_query, write_hive)

T0 = datetime(2024, 1, 10, 8, 0, tzinfo=timezone.utc)
COLLECTED = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def machine(**kw) -> Machine:
    base = dict(name="RDSH01", os="2019", domain="contoso.local", roles=frozenset({"session_host"}),
                installed=T0, policy_mode=4, policy_servers=["LS01.contoso.local", "LS02"], deployment_mode=2,
                deployment_servers=["LS09"], certificate=True, grace_start=T0)
    base.update(kw)
    return Machine(**base)


def src(path, kind, companions=()) -> Source:
    return Source(display=str(path), chain=(str(path),), size=path.stat().st_size, kind=kind,
                  companions=tuple(companions))


def run(path, kind, **opts) -> ParseResult:
    return parse(src(path, kind), ParseOptions(**opts))


def comparable(frame: pd.DataFrame) -> list[tuple]:
    cols = ["hive", "key", "key_ccs", "value", "type", "data"]
    rows = [tuple(None if (not isinstance(v, list) and pd.isna(v)) else (tuple(v) if isinstance(v, list) else v)
                  for v in r) for r in frame[cols].itertuples(index=False)]
    return sorted(rows, key=repr)


@pytest.fixture()
def three_forms(tmp_path):
    m = machine()
    out = {}
    for hive, tree in (("SYSTEM", system_tree(m, COLLECTED)), ("SOFTWARE", software_tree(m))):
        tree.key(r"Microsoft\Weird", T0).set('q"uote\\d', REG_SZ, 'a "b" \\c').set("", REG_SZ, "dflt") \
            .set("Q", REG_QWORD, 2**40).set("M", REG_MULTI_SZ, ["x", "y"]) if hive == "SOFTWARE" else None
        write_hive(tmp_path / f"{hive}.hiv", tree, file_name=f"\\??\\C:\\Windows\\System32\\config\\{hive}",
                   timestamp=COLLECTED)
        (tmp_path / f"{hive}.reg").write_bytes(render_reg_export(tree, f"HKEY_LOCAL_MACHINE\\{hive}"))
        (tmp_path / f"{hive}.txt").write_text(render_reg_query(tree, f"HKEY_LOCAL_MACHINE\\{hive}"), encoding="utf-8")
        out[hive] = (tmp_path / f"{hive}.hiv", tmp_path / f"{hive}.reg", tmp_path / f"{hive}.txt")
    return out


@pytest.mark.parametrize("hive", ["SYSTEM", "SOFTWARE"])
@pytest.mark.parametrize("full", [False, True])
def test_three_forms_give_the_same_rows(three_forms, hive, full):
    hiv, reg, txt = three_forms[hive]
    results = [run(hiv, "hive", full_registry=full), run(reg, "reg_export", full_registry=full),
               run(txt, "reg_query", full_registry=full)]
    for r in results:
        assert r.status == "ok", r.warnings
    rows = [comparable(r.frames["registry"]) for r in results]
    assert rows[0] == rows[1] == rows[2]
    assert len(rows[0]) > 10
    assert results[0].frames["registry"]["last_write"].notna().all()
    assert results[1].frames["registry"]["last_write"].isna().all()


def test_hive_rows_resolve_the_control_set_and_name_the_machine(three_forms):
    r = run(three_forms["SYSTEM"][0], "hive")
    f = r.frames["registry"]
    assert r.computers == {"RDSH01": 1}
    core = f[(f.value == "LicensingMode")]
    assert list(core.key) == [r"HKLM\SYSTEM\ControlSet001\Control\Terminal Server\RCM\Licensing Core"]
    assert list(core.key_ccs) == [r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\RCM\Licensing Core"]
    assert core.data.iloc[0] == 2
    servers = f[f.value == "SpecifiedLicenseServers"].data.iloc[0]
    assert servers == ["LS09"]
    cert = f[f.value == "X509 Certificate"].data.iloc[0]
    assert isinstance(cert, str) and len(cert) == 2 * 1180          # whole, not trimmed to 128 bytes
    assert not f.key.str.contains("W32Time|EventLog").any()       # targeted: only the listed keys
    assert not f.key.str.contains("ControlSet002").any()


def test_full_registry_reads_every_key(three_forms):
    f = run(three_forms["SYSTEM"][0], "hive", full_registry=True).frames["registry"]
    assert f.key.str.contains("W32Time").any() and f.key.str.contains("ControlSet002").any()
    cs2 = f[f.key.str.contains("ControlSet002")]
    assert (cs2.key == cs2.key_ccs).all()                        # only the current set is renamed


def test_software_hive_names_its_machine_from_the_gp_distinguished_name(three_forms):
    r = run(three_forms["SOFTWARE"][0], "hive")
    assert r.computers == {"RDSH01": 1}
    f = r.frames["registry"]
    assert set(f.hive) == {"SOFTWARE"}
    weird = f[f.key == r"HKLM\SOFTWARE\Microsoft\Weird"]
    assert weird.empty                                          # not a targeted key


REG4 = (
    "REGEDIT4\r\n\r\n"
    "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM\\Licensing Core]\r\n"
    '"LicensingMode"=dword:00000004\r\n'
    '"Ansi"=hex(2):25,53,79,73,00\r\n'
    '"Multi"=hex(7):61,00,62,63,00,00\r\n'
    "\r\n[-HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM]\r\n"
)

REG5 = (
    "Windows Registry Editor Version 5.00\n\n"
    "; hivexregedit style\n"
    "[HKEY_LOCAL_MACHINE\\OFFLINE_SYS\\ControlSet001\\Control\\Terminal Server]\n"
    '@="def"\n'
    '"Sz"=hex(1):4c,00,53,00,30,00,31,00,00,00\n'
    '"Bin"=hex(3):de,ad,\\\n  be,ef\n'
    '"Q"=hex(b):01,00,00,00,00,00,00,00\n'
    '"Esc\\"aped"="C:\\\\path \\"x\\""\n'
    '"Gone"=-\n'
    "[HKEY_LOCAL_MACHINE\\OFFLINE_SYS\\ControlSet001\\Services\\Unrelated]\n"
    '"X"=dword:1\n'
    "[HKEY_LOCAL_MACHINE\\OFFLINE_SYS\\Select]\n"
    '"Current"=dword:00000001\n'
)


def test_reg_export_edge_cases(tmp_path):
    p4 = tmp_path / "a.reg"
    p4.write_bytes(REG4.encode("cp1252"))
    r4 = run(p4, "reg_export")
    f4 = r4.frames["registry"].set_index("value")
    assert f4.loc["LicensingMode", "data"] == 4
    assert f4.loc["Ansi", "data"] == "%Sys" and f4.loc["Ansi", "type"] == "REG_EXPAND_SZ"
    assert f4.loc["Multi", "data"] == ["a", "bc"]
    assert any("deletion" in w for w in r4.warnings)
    assert f4.loc["LicensingMode", "key"] == f4.loc["LicensingMode", "key_ccs"]   # CurrentControlSet kept

    p5 = tmp_path / "b.reg"
    p5.write_bytes(b"\xef\xbb\xbf" + REG5.encode("utf-8"))
    r5 = run(p5, "reg_export")
    f5 = r5.frames["registry"].set_index("value")
    assert f5.loc["", "data"] == "def"
    assert f5.loc["Sz", "data"] == "LS01" and f5.loc["Sz", "type"] == "REG_SZ"
    assert f5.loc["Bin", "data"] == "deadbeef" and f5.loc["Bin", "type"] == "REG_BINARY"
    assert f5.loc["Q", "data"] == 1 and f5.loc["Q", "type"] == "REG_QWORD"
    assert f5.loc['Esc"aped', "data"] == 'C:\\path "x"'
    assert "Gone" not in f5.index and "X" not in f5.index
    assert f5.loc["Sz", "key"] == r"HKLM\SYSTEM\ControlSet001\Control\Terminal Server"
    assert f5.loc["Sz", "key_ccs"] == r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"
    assert any("OFFLINE_SYS" in w for w in r5.warnings)
    # UTF-16LE with BOM reads the same
    p16 = tmp_path / "c.reg"
    p16.write_bytes(b"\xff\xfe" + REG5.encode("utf-16-le"))
    assert comparable(run(p16, "reg_export").frames["registry"]) == comparable(r5.frames["registry"])


def test_reg_query_default_not_set_and_types(tmp_path):
    text = ("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services\r\n"
            "    (Default)    REG_SZ    (value not set)\r\n"
            "    LicenseServers    REG_SZ    LS01,LS02\r\n"
            "    LicensingMode    REG_DWORD    0x4\r\n"
            "    Empty    REG_SZ\r\n\r\nEnd of search: 3 match(es) found.\r\n")
    p = tmp_path / "q.txt"
    p.write_text(text, encoding="utf-8")
    f = run(p, "reg_query").frames["registry"].set_index("value")
    assert list(f.index) == ["LicenseServers", "LicensingMode", "Empty"]
    assert f.loc["LicensingMode", "data"] == 4 and f.loc["Empty", "data"] == ""


def test_key_list_wildcards():
    assert wanted("SOFTWARE", r"Microsoft\ServerManager\ServicingStorage\ServerComponentCache\RDS-Licensing")
    assert not wanted("SOFTWARE", r"Microsoft\ServerManager\ServicingStorage\ServerComponentCache\NetFx4")
    assert wanted("SYSTEM", r"ControlSet002\Services\TermService\Parameters\LicenseServers\SpecifiedLicenseServers\LS1")
    assert not wanted("SYSTEM", r"ControlSet001\Services\W32Time")


def _hvle_log(old: bytes, new: bytes, seq: int) -> bytes:
    """A one-block HvLE transaction log that turns hive ``old`` into ``new`` (same size)."""
    pages = [(o - 4096, new[o:o + 4096]) for o in range(4096, len(new), 4096) if old[o:o + 4096] != new[o:o + 4096]]
    refs = b"".join(struct.pack("<II", off, len(data)) for off, data in pages)
    body = b"".join(d for _, d in pages)
    size = 40 + len(refs) + len(body)
    header = struct.pack("<4sIIIIIQQ", b"HvLE", size, 0, seq, len(new) - 4096, len(pages), 0, 0)
    return new[:512] + header + refs + body


def test_dirty_hive_is_replayed_into_a_copy(tmp_path):
    def tree(name):
        return system_tree(machine(name=name), COLLECTED)
    old, _ = build_hive(tree("OLDNAME"), file_name="SYSTEM", timestamp=COLLECTED, dirty=True)
    new, _ = build_hive(tree("NEWNAME"), file_name="SYSTEM", timestamp=COLLECTED)
    assert len(old) == len(new)
    hive, log = tmp_path / "SYSTEM", tmp_path / "SYSTEM.LOG1"
    hive.write_bytes(old)
    log.write_bytes(_hvle_log(old, new, seq=struct.unpack_from("<I", old, 8)[0]))
    digest = hashlib.sha256(old).hexdigest()
    r = parse(src(hive, "hive", [src(log, "hive")]), ParseOptions())
    assert r.computers == {"NEWNAME": 1}
    assert any("replayed" in w for w in r.warnings)
    assert hashlib.sha256(hive.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["SYSTEM", "SYSTEM.LOG1"]
    # without its logs: the stale content, and a warning
    r2 = parse(src(hive, "hive"), ParseOptions())
    assert r2.computers == {"OLDNAME": 1} and r2.status == "partial"
    # a log that is garbage: read as it is, with a warning
    log.write_bytes(b"regf" + b"\0" * 508 + b"junk" * 64)
    r3 = parse(src(hive, "hive", [src(log, "hive")]), ParseOptions())
    assert r3.computers == {"OLDNAME": 1} and any("failed" in w for w in r3.warnings)


def test_damaged_hive_yields_what_it_can(tmp_path):
    data, _ = build_hive(system_tree(machine(), COLLECTED), file_name="SYSTEM", timestamp=COLLECTED)
    broken = bytearray(data)
    for off in range(8192, len(broken), 997):
        broken[off] ^= 0x5A
    p = tmp_path / "SYSTEM"
    p.write_bytes(bytes(broken))
    r = run(p, "hive")
    assert r.status in ("ok", "partial", "failed")
    p.write_bytes(data[:6000])
    assert run(p, "hive").status in ("partial", "failed")


def test_real_hives_never_crash(real_hives):
    seen = {}
    for path in real_hives:
        r = run(path, "hive")
        assert r.status in ("ok", "partial"), (path.name, r.warnings)
        seen[path.name] = r
    win10 = seen["Win10_dissect_SYSTEM"]
    assert win10.computers == {"DESKTOP-M3OSHQU": 1}
    f = win10.frames["registry"]
    mode = f[(f.key_ccs == r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\RCM\Licensing Core")
             & (f.value == "LicensingMode")]
    assert mode.data.tolist() == [1]
    assert seen["regipy_corrupted_system_hive"].computers == {"GINEVRA": 1}
    nt4 = seen["NT4_aiowinreg_SOFTWARE"].frames["registry"]
    assert set(nt4.hive) == {"SOFTWARE"}
    assert "1381" in nt4[nt4.value == "CurrentBuildNumber"].data.tolist()
