"""Hostile zip uploads (issue 10, item 2): each hostile member gets a clear ledger entry and
the good artifact of the same bundle is still read (status ok), through the real CLI."""
from __future__ import annotations

import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.hostile.conftest import (ZIP_TIME, add_symlink_member, analyze_ok, inventory, keypacks_csv, make_zip, one,
                                    reg_text, warned, zip_bytes)

GOOD = "MSRD-Results-RDSH01/RDSH01_TS.reg"


@pytest.mark.parametrize("name,reason", [
    ("../RDSH01_evil.reg", ".."),
    ("a/../../RDSH01_evil.reg", ".."),
    ("..\\..\\RDSH01_evil.reg", ".."),
    ("/etc/RDSH01_evil.reg", "absolute"),
    ("C:/Windows/RDSH01_evil.reg", "drive-letter"),
    ("C:\\Windows\\RDSH01_evil.reg", "drive-letter"),
    ("c:RDSH01_evil.reg", "drive-letter"),
    ("\\\\fileserver\\share\\RDSH01_evil.reg", "UNC"),
    ("//fileserver/share/RDSH01_evil.reg", "UNC"),
])
def test_zip_slip_member_refused(tmp_path, capsys, name, reason):
    z = make_zip(tmp_path / "upload.zip", {GOOD: reg_text(), name: reg_text("EVIL")})
    rows = inventory(capsys, str(z))
    bad = [r for p, r in rows.items() if "evil" in p]
    assert len(bad) == 1, rows
    assert bad[0]["status"] == "failed" and warned(bad[0], "refused", reason), bad[0]
    good = one(rows, GOOD)
    assert good["status"] == "ok" and good["kind"] == "reg_export", good
    analyze_ok(capsys, tmp_path, str(z))
    assert sorted(p.name for p in tmp_path.rglob("*evil*")) == [], "a member was written to disk"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "upload.zip"]


def test_zip_bomb_ratio(tmp_path, capsys):
    bomb = b"\0" * (24 << 20)             # 24 MiB of zeros deflate to ~24 KiB: ratio ~1000:1
    z = make_zip(tmp_path / "upload.zip", {GOOD: reg_text(), "RDSH01_System.evtx": bomb})
    rows = inventory(capsys, str(z), "--max-ratio", "100")
    row = one(rows, "RDSH01_System.evtx")
    assert row["status"] == "failed" and warned(row, "compression ratio", "zip bomb"), row
    assert one(rows, GOOD)["status"] == "ok"
    analyze_ok(capsys, tmp_path, str(z), extra=("--max-ratio", "100"))


def test_zip_bomb_total_size(tmp_path, capsys):
    filler = {f"RDSH01_part{i}.reg": reg_text() + b"\0" * (300 << 10) for i in range(4)}
    z = make_zip(tmp_path / "upload.zip", {GOOD: reg_text(), **filler})
    rows = inventory(capsys, str(z), "--max-total-size", "700K")
    refused = [r for p, r in rows.items() if "part" in p and r["status"] == "failed"]
    assert len(refused) >= 2 and all(warned(r, "--max-total-size") for r in refused), rows
    assert one(rows, GOOD)["status"] == "ok"


def test_zip_member_lying_about_its_size(tmp_path, capsys):
    """A member whose headers declare 100 bytes but inflates to 4 MiB: the header is not trusted."""
    z = make_zip(tmp_path / "upload.zip", {GOOD: reg_text(), "RDSH01_liar.reg": reg_text() + b"\0" * (4 << 20)})
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("RDSH01_liar.reg")
        local = info.header_offset
    struct.pack_into("<I", data, local + 22, 100)                       # local header: uncompressed size
    central = data.find(b"PK\x01\x02" + data[local + 4:local + 8], 0)
    while central >= 0:
        n = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46:central + 46 + n] == b"RDSH01_liar.reg":
            struct.pack_into("<I", data, central + 24, 100)              # central directory: uncompressed size
        central = data.find(b"PK\x01\x02", central + 4)
    z.write_bytes(bytes(data))
    rows = inventory(capsys, str(z), "--max-file-size", "1M")
    liar = one(rows, "RDSH01_liar.reg")
    assert liar["status"] in ("failed", "partial") and liar["warnings"], liar
    assert one(rows, GOOD)["status"] == "ok"


def test_nested_zips_one_level_only(tmp_path, capsys):
    inner = zip_bytes({"RDSH03_TS.reg": reg_text("RDSH03")})
    middle = zip_bytes({"inner.zip": inner, "RDSH02_TS.reg": reg_text("RDSH02")})
    z = make_zip(tmp_path / "upload.zip", {"middle.zip": middle, GOOD: reg_text()})
    rows = inventory(capsys, str(z))
    deep = one(rows, "inner.zip")
    assert deep["status"] == "skipped" and warned(deep, "only one level of nesting"), deep
    assert one(rows, "RDSH02_TS.reg")["status"] == "ok"
    assert one(rows, GOOD)["status"] == "ok"
    assert not any("RDSH03" in p for p in rows)
    analyze_ok(capsys, tmp_path, str(z))


def _many_members_zip(path: Path, count: int, first: dict[str, bytes]) -> None:
    """A stored zip of ``count`` one-byte members, written directly (zipfile would take ~10 s)."""
    parts, central, offset = [], [], 0
    entries = [(n.encode(), d) for n, d in first.items()] + [(f"junk/{i:06d}.txt".encode(), b"x") for i in range(count)]
    dos_time, dos_date = (10 << 11) | (15 << 5), ((2024 - 1980) << 9) | (11 << 5) | 5
    for name, data in entries:
        crc = zlib.crc32(data)
        parts.append(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 0, dos_time, dos_date, crc, len(data), len(data),
                                 len(name), 0) + name + data)
        central.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 0, dos_time, dos_date, crc, len(data),
                                   len(data), len(name), 0, 0, 0, 0, 0, offset) + name)
        offset += len(parts[-1])
    cd = b"".join(central)
    n = len(entries)
    zip64_end = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(cd), offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, offset + len(cd), 1)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(b"".join(parts) + cd + zip64_end + locator + end)


def test_hundred_thousand_members(tmp_path, capsys):
    z = tmp_path / "upload.zip"
    t0 = time.monotonic()
    _many_members_zip(z, 100_000, {GOOD: reg_text(), "LS01_KeyPacks.csv": keypacks_csv()})
    rows = inventory(capsys, str(z), "--max-members", "300")
    cap = [r for p, r in rows.items() if warned(r, "--max-members")]
    assert len(cap) == 1 and warned(cap[0], "100,002 members", "only the first 300"), cap
    assert one(rows, GOOD)["status"] == "ok"
    assert one(rows, "LS01_KeyPacks.csv")["status"] == "ok"
    assert len(rows) < 400
    assert time.monotonic() - t0 < 120


def test_symlink_members_refused(tmp_path, capsys):
    z = make_zip(tmp_path / "upload.zip", {GOOD: reg_text()})
    add_symlink_member(z, "RDSH01_passwd.reg", "/etc/passwd")
    add_symlink_member(z, "linkdir", "../../")
    rows = inventory(capsys, str(z))
    for name in ("RDSH01_passwd.reg", "linkdir"):
        row = one(rows, name)
        assert row["status"] == "failed" and warned(row, "symbolic link"), row
    assert one(rows, GOOD)["status"] == "ok"


def test_non_utf8_member_names(tmp_path, capsys):
    """Names stored as raw cp437 / latin-1 bytes (no UTF-8 flag) are read; the artifact is analyzed."""
    z = make_zip(tmp_path / "upload.zip", {GOOD: reg_text(), "RDSH02_TS_PLACEHOLDER.reg": reg_text("RDSH02")})
    data = z.read_bytes().replace(b"PLACEHOLDER", b"caf\xe9\x82\xff\x80\x81\xfe\x9c\xa0")   # latin-1/cp437 bytes
    z.write_bytes(data)
    rows = inventory(capsys, str(z))
    odd = [r for p, r in rows.items() if p.startswith("upload.zip!/RDSH02_TS_")]
    assert len(odd) == 1 and odd[0]["status"] == "ok" and odd[0]["kind"] == "reg_export", rows
    assert one(rows, GOOD)["status"] == "ok"
    analyze_ok(capsys, tmp_path, str(z))


def test_utf8_flagged_member_name_with_invalid_bytes(tmp_path, capsys):
    """A member name flagged UTF-8 (bit 11) that is not UTF-8: a clear message, and the good
    artifact beside the zip is still analyzed."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    z = make_zip(bundle / "upload.zip", {"RDSH02_TS_XX.reg": reg_text("RDSH02")})
    data = bytearray(z.read_bytes().replace(b"_XX.reg", b"_\xff\xfe.reg"))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + flag_at, struct.unpack_from("<H", data, i + flag_at)[0] | 0x800)
    z.write_bytes(bytes(data))
    (bundle / "RDSH01_TS.reg").write_bytes(reg_text())
    rows = inventory(capsys, str(bundle))
    zrows = [r for p, r in rows.items() if "upload.zip" in p]
    assert zrows and all(r["status"] in ("failed", "skipped", "ok") and (r["warnings"] or r["status"] == "ok")
                         for r in zrows), zrows
    assert one(rows, "bundle/RDSH01_TS.reg")["status"] == "ok"
    analyze_ok(capsys, tmp_path, str(bundle))


def test_corrupt_member_and_truncated_zip(tmp_path, capsys):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    z = make_zip(bundle / "upload.zip", {"RDSH02_TS.reg": reg_text("RDSH02") * 3, "RDSH01_TS.reg": reg_text()})
    data = bytearray(z.read_bytes())
    data[60:80] = b"\xff" * 20                         # inside the first member's deflate stream
    z.write_bytes(bytes(data))
    (bundle / "cut.zip").write_bytes(zip_bytes({"RDSH03_TS.reg": reg_text("RDSH03")})[:-30])
    (bundle / "LS01_KeyPacks.csv").write_bytes(keypacks_csv())
    rows = inventory(capsys, str(bundle))
    assert one(rows, "upload.zip!/RDSH02_TS.reg")["status"] == "failed"
    assert one(rows, "upload.zip!/RDSH01_TS.reg")["status"] == "ok"
    cut = one(rows, "cut.zip")
    assert cut["status"] == "failed" and warned(cut, "unreadable zip"), cut
    assert one(rows, "LS01_KeyPacks.csv")["status"] == "ok"
