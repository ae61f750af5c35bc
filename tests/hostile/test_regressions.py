"""Whole-run crashes found while building the hostile corpus (issue 10). Each test fails until
the bug it names is fixed; each is a minimal reproduction through the CLI."""
from __future__ import annotations

import os

from tests.hostile.conftest import inventory, one, reg_text


def test_issued_licenses_table_without_a_license_server_column(tmp_path, capsys):
    """analyzer/pipeline.py _assemble: ``frame["license_server"].map(canonical).fillna(host)`` raises
    pyarrow ArrowInvalid "Invalid null value" when every license_server is NA (pandas 3, Arrow
    strings), so a plain issued-licenses export stops ``inventory`` and ``analyze`` of the bundle."""
    b = tmp_path / "b"
    b.mkdir()
    (b / "LS01_rdls_IssuedLicenses.html").write_text(
        "<html><body><table><tr><th>KeyPackId</th><th>LicenseId</th><th>sIssuedToUser</th><th>sIssuedToComputer</th>"
        "<th>LicenseStatus</th></tr><tr><td>3</td><td>1</td><td>alice</td><td>PC1</td><td>2</td></tr></table></body></html>",
        encoding="utf-8")
    (b / "RDSH01_TS.reg").write_bytes(reg_text())
    rows = inventory(capsys, str(b))
    assert one(rows, "LS01_rdls_IssuedLicenses.html")["status"] in ("ok", "partial")
    assert one(rows, "RDSH01_TS.reg")["status"] == "ok"


def test_file_name_that_is_not_utf8(tmp_path, capsys):
    """analyzer/bundle.py keeps os.walk's surrogate-escaped names as ``display``; pyarrow cannot
    store lone surrogates, so ``_assemble`` raises UnicodeEncodeError and the whole run stops."""
    b = tmp_path / "b"
    b.mkdir()
    fd = os.open(os.fsencode(b) + b"/RDSH02_caf\xe9.reg", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, reg_text("RDSH02"))
    os.close(fd)
    (b / "RDSH01_TS.reg").write_bytes(reg_text())
    rows = inventory(capsys, str(b))
    assert one(rows, "RDSH01_TS.reg")["status"] == "ok"
    assert len(rows) == 2


def test_one_member_name_flagged_utf8_but_invalid_loses_only_that_member(tmp_path, capsys):
    """zipfile decodes every name flagged UTF-8 (bit 11) in ZipFile(): one invalid name raises
    UnicodeDecodeError there, analyzer/bundle.py reports the whole zip "unreadable zip" and its
    good members are lost - against "hostile member names ... are refused member by member and
    the rest of the bundle goes on" (analyzer/bundle.py)."""
    import struct

    from tests.hostile.conftest import make_zip
    z = make_zip(tmp_path / "upload.zip", {"RDSH02_TS_XX.reg": reg_text("RDSH02"), "RDSH01_TS.reg": reg_text()})
    data = bytearray(z.read_bytes().replace(b"_XX.reg", b"_\xff\xfe.reg"))
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + flag_at, struct.unpack_from("<H", data, i + flag_at)[0] | 0x800)
    z.write_bytes(bytes(data))
    rows = inventory(capsys, str(z))
    assert one(rows, "upload.zip!/RDSH01_TS.reg")["status"] == "ok", rows
