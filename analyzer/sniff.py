"""Recognize an artifact by its content, never by its name.

Only the first bytes are read. Kinds (DESIGN.md, inventory contract): evtx, hive, reg_export,
reg_query, licensing_csv, licensing_html, licensing_text, unknown; plus ``zip`` for containers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

EVTX_MAGIC = b"ElfFile\x00"
REGF_MAGIC = b"regf"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")

# Field names of the RD Licensing WMI classes and collector outputs (RDS_LICENSING.md 3.1-3.6).
LICENSING_FIELDS = (
    "KeyPackId", "TotalLicenses", "AvailableLicenses", "IssuedLicenses", "ProductVersionID",
    "TypeAndModel", "KeyPackType", "LicenseId", "sIssuedToUser", "sIssuedToComputer",
    "sHardwareId", "LicenseStatus", "TSCALType", "InstalledLicenses", "GenerationDateTime",
    "ActivationStatus", "GetActivationStatus", "DaysLeft", "GracePeriodDays", "IsLSinTSLSGroup",
    "Terminal Server License Servers", "activation status", "Grace period days left",
    "Per User CAL", "Per Device CAL", "CAL Type", "Installed CALs", "Issued CALs",
    "LicenseServerVersion", "Win32_TSLicenseServer", "Win32_TSLicenseKeyPack",
    "Win32_TSIssuedLicense", "Win32_TSLicenseReport", "DatabasePath", "IsLSAvailable", "HowDiscovered",
    "IssuingCals", "license connectivity status", "has x509 cert",
)
# Generic names that only count inside a delimited header next to a licensing field.
HEADER_FIELDS = ("VersionNumber", "ServerRole", "ProductId", "PSComputerName", "Description", "ExpirationDate")
_HEADER_RE = re.compile("|".join(re.escape(f) for f in LICENSING_FIELDS + HEADER_FIELDS), re.IGNORECASE)
_FIELD_RE = re.compile("|".join(re.escape(f) for f in LICENSING_FIELDS), re.IGNORECASE)
_REG_QUERY_KEY = re.compile(r"^HKEY_(LOCAL_MACHINE|CURRENT_USER|USERS|CLASSES_ROOT|CURRENT_CONFIG)\\|^HK(LM|CU|U|CR|CC)\\", re.M)
_REG_QUERY_VALUE = re.compile(r"^ {4}\S.*? {4}REG_[A-Z_]+( {4}|$)", re.M)


@dataclass(frozen=True)
class Sniffed:
    kind: str
    reason: str = ""


def decode_text(head: bytes) -> str | None:
    """Decode the head of a text file (UTF-16LE/BE with BOM, UTF-8 with or without BOM,
    UTF-16LE without BOM, cp1252 fallback); None when it looks binary."""
    if head.startswith(b"\xff\xfe"):
        return head[2:len(head) - (len(head) % 2)].decode("utf-16-le", "replace")
    if head.startswith(b"\xfe\xff"):
        return head[2:len(head) - (len(head) % 2)].decode("utf-16-be", "replace")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    sample = head[:4096]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) < len(sample) // 8:
        return head[:len(head) - (len(head) % 2)].decode("utf-16-le", "replace")
    if b"\x00" in sample:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:          # cut inside a multi-byte character
            return head[:exc.start].decode("utf-8", "replace")
        text = head.decode("cp1252", "replace")
        controls = sum(1 for ch in text[:4096] if ord(ch) < 9 or 13 < ord(ch) < 32)
        return None if controls > 8 else text


def sniff(head: bytes) -> Sniffed:
    """Kind of an artifact from its first bytes (64 KiB is plenty)."""
    if not head:
        return Sniffed("unknown", "empty file")
    if head.startswith(EVTX_MAGIC):
        return Sniffed("evtx", "ElfFile signature")
    if head.startswith(REGF_MAGIC):
        return Sniffed("hive", "regf signature")
    if head.startswith(ZIP_MAGICS):
        return Sniffed("zip", "zip signature")
    text = decode_text(head)
    if text is None:
        return Sniffed("unknown", f"binary content, signature {head[:8].hex()} not an EVTX, hive or zip")
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith("Windows Registry Editor Version 5.00") or stripped.startswith("REGEDIT4"):
        return Sniffed("reg_export", "reg export header")
    if stripped[:1] in "{[" and _is_json(head, text):
        return Sniffed("unknown", "JSON document")
    if _REG_QUERY_KEY.search(text) and _REG_QUERY_VALUE.search(text):
        return Sniffed("reg_query", "reg query key and value lines")
    fields = {m.group(0).lower() for m in _FIELD_RE.finditer(text[:65536])}
    if fields:
        low = stripped[:4096].lower()
        if "<table" in low or "<html" in low or "<!doctype html" in low:
            if "<table" in text.lower():
                return Sniffed("licensing_html", "HTML table with RD Licensing fields")
        if any(_is_delimited_header(line) for line in _data_lines(text, 10)):
            return Sniffed("licensing_csv", "delimited header with RD Licensing fields")
        return Sniffed("licensing_text", "text with RD Licensing fields: " + ", ".join(sorted(fields)[:4]))
    return Sniffed("unknown", "text without registry or RD Licensing content")


def _is_json(head: bytes, text: str) -> bool:
    """A whole JSON document (only checked when the head is the whole file)."""
    import json
    if len(head) >= 65536:
        return False
    try:
        json.loads(text.lstrip("\ufeff"))
    except ValueError:
        return False
    return True


def _data_lines(text: str, count: int) -> list[str]:
    """The first ``count`` non-blank lines, without ``#TYPE`` and Checkmk section lines."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#TYPE") and not s.startswith("<<<"):
            out.append(s)
            if len(out) == count:
                break
    return out


def _is_delimited_header(line: str) -> bool:
    for sep in (",", ";", "\t"):
        cells = [c.strip().strip('"') for c in line.split(sep)]
        if len(cells) >= 3 and any(_FIELD_RE.fullmatch(c) for c in cells) and \
                sum(1 for c in cells if _HEADER_RE.fullmatch(c)) >= 2:
            return True
    return False
