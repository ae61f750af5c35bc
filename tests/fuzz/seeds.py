"""Seed inputs for the fuzzers, built in memory (nothing committed but the corpus).

EVTX: ``sample_data.forge.evtx_writer.write_evtx`` when it exists, else the small public files
in ../shared/realdata/evtx read in place (never copied). Hives: the forge's regf writer over a
small SYSTEM tree that has every cell kind (nk, vk, lh, ri, sk, db, value lists). ``.reg`` and
``reg query`` text: the forge's renderers over the same tree. Licensing: the parser fixtures.
"""
from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REALDATA = Path(os.environ.get("RDSLA_SHARED", REPO.parent / "shared")) / "realdata"
LICENSING_FIXTURES = REPO / "tests" / "parsers" / "fixtures" / "licensing"
WHEN = datetime(2024, 11, 5, 10, 15, tzinfo=timezone.utc)
SMALL_EVTX = 256 * 1024        # real files up to this size are used as seeds


def system_tree(computer: str = "RDSH01", servers=("LS01.contoso.com", "LS02"), many: int = 520, blob: int = 20480):
    """A small SYSTEM tree; ``many`` subkeys under one key force an ``ri`` index root."""
    from rdsla.sample_data.forge.regf_writer import (REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_QWORD,
                                               REG_SZ, system_skeleton)
    root = system_skeleton(WHEN)
    cs = root.key("ControlSet001")
    cs.key(r"Control\ComputerName\ComputerName").set("ComputerName", REG_SZ, computer)
    cs.key(r"Control\ProductOptions").set("ProductType", REG_SZ, "ServerNT")
    ts = cs.key(r"Control\Terminal Server")
    ts.set("fDenyTSConnections", REG_DWORD, 0).set("", REG_SZ, "default value")
    cs.key(r"Control\Terminal Server\RCM\Licensing Core").set("LicensingMode", REG_DWORD, 4)
    cs.key(r"Control\Terminal Server\RCM\GracePeriod").set("L$RTMTIMEBOMB_1320153D-8DA3-4e8e-B27B-0D888223A588",
                                                           REG_BINARY, (bytes(range(256)) * (blob // 256 + 1))[:blob])  # db big data
    params = cs.key(r"Services\TermService\Parameters")
    params.set("SpecifiedLicenseServers", REG_MULTI_SZ, list(servers))
    params.set("ImagePath", REG_EXPAND_SZ, r"%SystemRoot%\System32\svchost.exe -k NetworkService")
    params.set("Stamp", REG_QWORD, 133_000_000_000_000_000)
    ls = params.key("LicenseServers")
    for s in servers:
        ls.key(s).set("Flags", REG_DWORD, 1)
    svc = cs.key("Services")
    for i in range(many):
        svc.key(f"Svc{i:04d}")
    cs.key(r"Services\Tcpip\Parameters").set("Domain", REG_SZ, "contoso.com").set("Hostname", REG_SZ, computer)
    return root


@lru_cache(maxsize=None)
def hive_seeds() -> tuple[bytes, ...]:
    from rdsla.sample_data.forge.regf_writer import build_hive
    big, _ = build_hive(system_tree(), file_name="SYSTEM", timestamp=WHEN)
    small, _ = build_hive(system_tree("LS01", ("LS01",), many=3), file_name=r"\??\C:\Windows\System32\config\SYSTEM",
                          timestamp=WHEN)
    return (small, big)


@lru_cache(maxsize=None)
def reg_export_seeds() -> tuple[bytes, ...]:
    from rdsla.sample_data.forge.reg_text import render_reg_export
    utf16 = render_reg_export(system_tree(many=2, blob=48), r"HKEY_LOCAL_MACHINE\SYSTEM")
    text = utf16[2:].decode("utf-16-le")
    return (utf16, text.encode("utf-8"), text.replace("Windows Registry Editor Version 5.00", "REGEDIT4").encode("cp1252"))


@lru_cache(maxsize=None)
def reg_query_seeds() -> tuple[bytes, ...]:
    from rdsla.sample_data.forge.reg_text import render_reg_query
    text = render_reg_query(system_tree(many=2, blob=48), r"HKEY_LOCAL_MACHINE\SYSTEM")
    return (text.encode("utf-8"), b"\xff\xfe" + text.encode("utf-16-le"), text.encode("cp1252"))


@lru_cache(maxsize=None)
def system_info_seeds() -> tuple[bytes, ...]:
    """MSRD-Collect SystemInfo.txt as the forge writes it (UTF-16LE) and systeminfo.exe list
    output in English (UTF-8) and German (cp850, the console's OEM code page)."""
    from rdsla.sample_data.forge.machine import Machine, system_info_txt
    m = Machine(name="RDSH01", os="2022", domain="contoso.com", roles=frozenset({"session_host"}),
                installed=datetime(2023, 3, 1, 9, 0))
    en = ("Host Name:                 RDSH01\r\nOS Name:                   Microsoft Windows Server 2022 Standard\r\n"
          "OS Version:                10.0.20348 N/A Build 20348\r\nOS Configuration:          Member Server\r\n"
          "Original Install Date:     3/14/2024, 9:12:44 AM\r\nSystem Boot Time:          11/28/2024, 10:03:11 PM\r\n"
          "Time Zone:                 (UTC+01:00) Amsterdam, Berlin\r\nDomain:                    contoso.com\r\n")
    de = ("Hostname:                          RDSH02\r\nBetriebssystemname:                Microsoft Windows Server 2019\r\n"
          "Betriebssystemversion:             10.0.17763 Nicht zutreffend Build 17763\r\n"
          "Betriebssystemkonfiguration:       Mitgliedsserver\r\nUrsprüngliches Installationsdatum: 04.02.2023, 14:05:09\r\n"
          "Systemstartzeit:                   01.12.2024, 06:30:00\r\nZeitzone:                          (UTC+01:00) Berlin\r\n"
          "Domäne:                            contoso.de\r\n")
    return (system_info_txt(m, datetime(2024, 11, 5, 10, 0), datetime(2024, 11, 1, 7, 0)), en.encode("utf-8"),
            de.encode("cp850"))


@lru_cache(maxsize=None)
def licensing_seeds() -> tuple[tuple[str, bytes], ...]:
    """(file name, bytes) of every licensing fixture."""
    return tuple((p.name, p.read_bytes()) for p in sorted(LICENSING_FIXTURES.iterdir()) if p.is_file())


def _forge_evtx() -> list[bytes]:
    try:
        from rdsla.sample_data.forge.evtx_writer import write_evtx
        from rdsla.sample_data.forge.windows_events import noise_events, rcm_licensing_event
    except Exception:   # noqa: BLE001 - the writer is still being written by another engineer
        return []
    import random
    from datetime import timedelta
    out = []
    try:
        recs = noise_events(random.Random(7), "RDSH01.contoso.com", WHEN - timedelta(days=2), WHEN, 40)
        try:
            recs += [rcm_licensing_event(1128, WHEN - timedelta(hours=h), "RDSH01.contoso.com", 17763)
                     for h in range(1, 4)]
        except Exception:  # noqa: BLE001 - signature may differ; noise alone is a fine seed
            pass
        buf = io.BytesIO()
        write_evtx(buf, sorted(recs, key=lambda r: r.time))
        out.append(buf.getvalue())
    except Exception:  # noqa: BLE001
        return []
    return out


@lru_cache(maxsize=None)
def evtx_seeds(max_size: int = SMALL_EVTX) -> tuple[bytes, ...]:
    seeds = _forge_evtx()
    folder = REALDATA / "evtx"
    if folder.is_dir():
        for p in sorted(folder.glob("*.evtx")):
            if p.stat().st_size <= max_size:
                seeds.append(p.read_bytes())       # read in place, never copied
    return tuple(seeds)


def zip_seed() -> bytes:
    """A small upload: one of each text artifact, a hive, stored and deflated members, a nested zip."""
    import zipfile
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("LS01_KeyPacks.csv", dict(licensing_seeds()).get("keypacks_export.csv", b"KeyPackId,TotalLicenses,IssuedLicenses\n1,2,3\n"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("MSRD-Results-RDSH01/RDSH01_TS.reg", (2024, 11, 5, 10, 15, 0)),
                    reg_export_seeds()[0], zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo("RDSH01_query.txt", (2024, 11, 5, 10, 15, 0)), reg_query_seeds()[0],
                    zipfile.ZIP_STORED)
        zf.writestr(zipfile.ZipInfo("LS01_SYSTEM.hiv", (2024, 11, 5, 10, 15, 0)), hive_seeds()[0], zipfile.ZIP_DEFLATED)
        zf.writestr(zipfile.ZipInfo("inner.zip", (2024, 11, 5, 10, 15, 0)), inner.getvalue(), zipfile.ZIP_STORED)
    return buf.getvalue()
