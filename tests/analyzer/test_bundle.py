"""Bundle intake: folders, zips, nested zips, hostile members, host hints, real files."""
from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from rdsla.analyzer.bundle import open_bundle
from rdsla.core.limits import Limits

REG = ("Windows Registry Editor Version 5.00\r\n\r\n"
       "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\ComputerName\\ComputerName]\r\n"
       "\"ComputerName\"=\"RDSH01\"\r\n").encode("utf-16-le")
REG = b"\xff\xfe" + REG
EVTX_HEAD = b"ElfFile\x00" + b"\x00" * 4088


def _zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _by_path(intake):
    rows = {e.path: e for e in intake.ledger}
    return rows, {s.display: s for s in intake.sources}


def test_folder_recursive_and_unknown_listed(tmp_path):
    (tmp_path / "b" / "MSRD-Results-LS01").mkdir(parents=True)
    (tmp_path / "b" / "MSRD-Results-LS01" / "SYSTEM-export.reg").write_bytes(REG)
    (tmp_path / "b" / "readme.txt").write_text("hello")
    intake = open_bundle([str(tmp_path / "b")])
    ledger, sources = _by_path(intake)
    assert list(sources) == ["b/MSRD-Results-LS01/SYSTEM-export.reg"]
    src = sources["b/MSRD-Results-LS01/SYSTEM-export.reg"]
    assert (src.kind, src.host_hint, src.hint_origin) == ("reg_export", "LS01", "folder name")
    assert ledger["b/readme.txt"].status == "skipped"
    assert "not an RDS licensing artifact" in ledger["b/readme.txt"].warnings[0]


def test_zip_members_read_in_memory(tmp_path):
    z = _zip(tmp_path / "upload.zip", {"RDSH01_reg.reg": REG, "logs/System.evtx": EVTX_HEAD})
    intake = open_bundle([str(z)])
    _, sources = _by_path(intake)
    assert set(sources) == {"upload.zip!/RDSH01_reg.reg", "upload.zip!/logs/System.evtx"}
    assert sources["upload.zip!/RDSH01_reg.reg"].read_bytes() == REG
    assert sources["upload.zip!/RDSH01_reg.reg"].host_hint == "RDSH01"
    assert list(tmp_path.iterdir()) == [z], "nothing may be extracted next to the input"


@pytest.mark.parametrize("name,why", [
    ("../evil.reg", "climbs out"),
    ("a/../../evil.reg", "climbs out"),
    ("/etc/evil.reg", "absolute"),
    ("C:/Windows/evil.reg", "drive-letter"),
    ("C:\\Windows\\evil.reg", "drive-letter"),
    ("\\\\server\\share\\evil.reg", "UNC"),
])
def test_zip_slip_refused_rest_goes_through(tmp_path, name, why):
    z = _zip(tmp_path / "hostile.zip", {name: REG, "good.reg": REG})
    intake = open_bundle([str(z)])
    ledger, sources = _by_path(intake)
    assert "hostile.zip!/good.reg" in sources
    refused = ledger[f"hostile.zip!/{name}"]
    assert refused.status == "failed" and why in refused.warnings[0]
    assert not any(str(s.display).endswith("evil.reg") for s in intake.sources)


def test_zip_symlink_member_refused(tmp_path):
    z = _zip(tmp_path / "links.zip", {"good.reg": REG}, symlinks={"link.reg": "/etc/passwd"})
    ledger, sources = _by_path(open_bundle([str(z)]))
    assert "links.zip!/good.reg" in sources
    assert "symbolic link" in ledger["links.zip!/link.reg"].warnings[0]


def test_zip_bomb_by_ratio_and_by_size(tmp_path):
    z = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\x00" * (4 << 20), "good.reg": REG})
    limits = Limits(max_ratio=50, ratio_floor_bytes=1 << 20)
    ledger, sources = _by_path(open_bundle([str(z)], limits))
    assert "bomb.zip!/good.reg" in sources
    assert "zip bomb" in ledger["bomb.zip!/zeros.bin"].warnings[0]
    ledger, _ = _by_path(open_bundle([str(z)], Limits(max_file_bytes=1 << 20)))
    assert "per-file limit" in ledger["bomb.zip!/zeros.bin"].warnings[0]
    ledger, _ = _by_path(open_bundle([str(z)], Limits(max_total_bytes=1 << 20)))
    assert "total uncompressed size" in ledger["bomb.zip!/zeros.bin"].warnings[0]


def test_lying_zip_header_is_capped_while_reading(tmp_path):
    """A member whose real size exceeds what the limit allows is cut off by the reader."""
    from rdsla.parsers.base import Source, SourceTooLarge
    z = _zip(tmp_path / "big.zip", {"a.reg": REG + b"\x00" * 10000})
    src = Source(display="big.zip!/a.reg", chain=(str(z), "a.reg"), size=10, max_bytes=100)
    with pytest.raises(SourceTooLarge):
        src.read_bytes()


def test_nested_zip_one_level(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("LS01_reg.reg", REG)
        deeper = io.BytesIO()
        with zipfile.ZipFile(deeper, "w") as dz:
            dz.writestr("deep.reg", REG)
        zf.writestr("deeper.zip", deeper.getvalue())
    z = _zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue()})
    ledger, sources = _by_path(open_bundle([str(z)]))
    src = sources["outer.zip!/inner.zip!/LS01_reg.reg"]
    assert src.read_bytes() == REG and src.host_hint == "LS01"
    assert "only one level" in ledger["outer.zip!/inner.zip!/deeper.zip"].warnings[0]


def test_many_members_capped(tmp_path):
    z = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(60)})
    intake = open_bundle([str(z)], Limits(max_members=25))
    assert sum(1 for e in intake.ledger if e.path.startswith("many.zip!/f")) == 25
    assert any("more than the limit of 25" in w for e in intake.ledger for w in e.warnings)


def test_corrupt_zip_is_a_ledger_entry(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04" + os.urandom(200))
    (tmp_path / "ok.reg").write_bytes(REG)
    intake = open_bundle([str(bad), str(tmp_path / "ok.reg")])
    ledger, sources = _by_path(intake)
    assert "ok.reg" in sources
    assert ledger["broken.zip"].status == "failed"


def test_symlinks_and_fifo_in_folder_not_followed(tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    outside = tmp_path / "secret.reg"
    outside.write_bytes(REG)
    (bundle / "link.reg").symlink_to(outside)
    (bundle / "dirlink").symlink_to(tmp_path)
    os.mkfifo(bundle / "pipe")
    (bundle / "real.reg").write_bytes(REG)
    ledger, sources = _by_path(open_bundle([str(bundle)]))
    assert list(sources) == ["b/real.reg"]
    assert "symbolic link" in ledger["b/link.reg"].warnings[0]
    assert "symbolic link to a folder" in ledger["b/dirlink"].warnings[0]
    assert "FIFO" in ledger["b/pipe"].warnings[0]


def test_missing_input_is_a_message(tmp_path):
    intake = open_bundle([str(tmp_path / "nope")])
    assert intake.inputs_opened == 0 and "cannot open" in intake.messages[0]


def test_locale_metadata_is_a_companion(tmp_path):
    (tmp_path / "LocaleMetaData").mkdir()
    (tmp_path / "System.evtx").write_bytes(EVTX_HEAD)
    (tmp_path / "LocaleMetaData" / "System_1033.MTA").write_bytes(EVTX_HEAD)
    intake = open_bundle([str(tmp_path)])
    assert [s.name for s in intake.sources] == ["System.evtx"]
    assert [c.name for c in intake.sources[0].companions] == ["System_1033.MTA"]


def test_real_files_recognized(realdata):
    intake = open_bundle([str(realdata)])
    kinds = {s.name: s.kind for s in intake.sources}
    for p in (realdata / "evtx").glob("*.evtx"):
        assert kinds[p.name] == "evtx", p.name
    for p in (realdata / "hives").iterdir():
        assert kinds[p.name] == "hive", p.name
    assert {e.path.rsplit("/", 1)[-1] for e in intake.ledger} == {"SOURCES.md"}
