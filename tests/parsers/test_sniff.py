"""Artifacts are recognized by content, whatever their names (parsers.recognize, through intake)."""
import pytest

from rdsla.analyzer.bundle import classify as sniff
from rdsla.parsers.text import decode_head as decode_text

REG5 = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n"
REG_QUERY = ("\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\RCM\\Licensing Core\r\n"
             "    LicensingMode    REG_DWORD    0x4\r\n\r\n")


CASES = [
    (b"ElfFile\x00" + b"\x00" * 120, "evtx"),
    (b"regf" + b"\x00" * 508, "hive"),
    (b"PK\x03\x04" + b"\x00" * 26, "zip"),
    (b"\xff\xfe" + REG5.encode("utf-16-le"), "reg_export"),
    (REG5.encode("utf-8"), "reg_export"),
    (b"\xef\xbb\xbf" + REG5.encode("utf-8"), "reg_export"),
    (b"REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE]\r\n", "reg_export"),
    (REG_QUERY.encode("utf-8"), "reg_query"),
    (b"\xff\xfe" + REG_QUERY.encode("utf-16-le"), "reg_query"),
    (b'#TYPE Microsoft.Management.Infrastructure.CimInstance#root/cimv2/Win32_TSLicenseKeyPack\r\n'
     b'"KeyPackId","Description","ProductVersionID","TotalLicenses"\r\n"4","C50-6.02-S","4","300"\r\n', "licensing_csv"),
    (b"KeyPackId;Description;ProductVersionID;TotalLicenses\r\n4;C50-6.02-S;4;300\r\n", "licensing_csv"),
    (b"<html><body><table><tr><th>PSComputerName</th><th>KeyPackId</th></tr></table></body></html>", "licensing_html"),
    (b"KeyPackId         : 4\r\nTotalLicenses     : 300\r\n", "licensing_text"),
    (b'"PSComputerName","Name","ProductId","Version","VersionNumber","ServerRole","DatabasePath"\r\n', "licensing_csv"),
    (b"LicenseServer:LS01\r\nHowDiscovered:Manual\r\nIsLSAvailable:True\r\n", "licensing_text"),
    (b"", "unknown"),
    (b"\x00\x01\x02\x03binary", "unknown"),
    (b"just some notes about the customer\n", "unknown"),
]


@pytest.mark.parametrize("head,kind", CASES)
def test_kind_from_content(head, kind):
    assert sniff(head).kind == kind


def test_name_does_not_matter(tmp_path):
    """A .evtx name with registry content is a registry export (never trust names)."""
    from rdsla.analyzer.bundle import open_bundle
    (tmp_path / "System.evtx").write_bytes(REG5.encode("utf-8"))
    (tmp_path / "notes.txt").write_bytes(b"ElfFile\x00" + b"\x00" * 4088)
    intake = open_bundle([str(tmp_path)])
    kinds = {s.name: s.kind for s in intake.sources}
    assert kinds == {"System.evtx": "reg_export", "notes.txt": "evtx"}


def test_utf16_without_bom_is_text():
    assert decode_text("HKEY_LOCAL_MACHINE\\SYSTEM".encode("utf-16-le")).startswith("HKEY_LOCAL_MACHINE")


def test_json_notes_mentioning_cals_are_not_reports():
    doc = b'{"notes": "only Per User CAL packs; KeyPackId 4 has TotalLicenses 0"}'
    assert sniff(doc).kind == "unknown" and sniff(doc).reason == "JSON document"


def test_json_nested_past_the_decoder_depth_is_unknown_not_a_crash(tmp_path):
    """50,000 '[' made json.loads raise RecursionError: rdsla inventory died with a traceback."""
    from rdsla.analyzer.bundle import open_bundle
    from rdsla.parsers.text import sniff_json
    (tmp_path / "deep.json").write_bytes(b"[" * 50000)
    assert sniff_json(b"[" * 50000) is None
    found = sniff(b"[" * 50000)
    assert found.kind == "unknown" and "raised" not in found.reason
    intake = open_bundle([str(tmp_path)])
    assert not intake.sources and len(intake.ledger) == 1
    assert "not an RDS licensing artifact" in intake.ledger[0].warnings[0]
