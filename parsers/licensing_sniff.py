"""How an RD Licensing report looks from its first bytes, and its format entry.

A report is text that names fields of the RD Licensing WMI classes or of the collectors'
outputs (RDS_LICENSING.md 3.1-3.6): an HTML table (``licensing_html``), a delimited header
(``licensing_csv``), else text mentioning them (``licensing_text``: Format-List, wmic,
``rds-lic-svr-chk.txt``...). All three are read by :func:`parsers.licensing.parse`, which picks
the reader by content again. Apart from it so that recognizing a file imports no reader.
"""
from __future__ import annotations

import re
from typing import Optional

from rdsla.parsers.formats import LIKELY, WEAK, Format, Sniff
from rdsla.parsers.text import decode_head

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
# the look-ahead (a field's first letters) only lets the alternation skip positions where no
# field can start: the same matches, ~5x faster on text that holds fields
_FIELD_RE = re.compile("(?=[" + "".join(sorted({f[0].lower() for f in LICENSING_FIELDS})) + "])(?:"
                       + "|".join(re.escape(f) for f in LICENSING_FIELDS) + ")", re.IGNORECASE)
_FIELDS_LOWER = tuple(f.lower() for f in LICENSING_FIELDS)
# https://docs.python.org/3/library/re.html#re.IGNORECASE: [a-z] also matches these four
_FOLDS_TO_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")


def sniff(head: bytes) -> Optional[Sniff]:
    text = decode_head(head)
    if text is None:
        return None
    window = text[:65536]
    if not any(c in window for c in _FOLDS_TO_ASCII):
        # most files name no field; without the 4 non-ASCII letters that case-insensitive
        # matching equates with ASCII ones, a search of the lower-cased text finds the same
        low_window = window.lower()
        if not any(f in low_window for f in _FIELDS_LOWER):
            return None
    fields = {m.group(0).lower() for m in _FIELD_RE.finditer(window)}
    if not fields:
        return None
    low = text.lstrip("\ufeff \t\r\n")[:4096].lower()
    if ("<table" in low or "<html" in low or "<!doctype html" in low) and "<table" in text.lower():
        return Sniff("licensing_html", LIKELY, "HTML table with RD Licensing fields")
    if any(_is_delimited_header(line) for line in _data_lines(text, 10)):
        return Sniff("licensing_csv", LIKELY, "delimited header with RD Licensing fields")
    return Sniff("licensing_text", WEAK, "text with RD Licensing fields: " + ", ".join(sorted(fields)[:4]))


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


FORMAT = Format(kinds=("licensing_csv", "licensing_html", "licensing_text"), sniff=sniff,
                parse="rdsla.parsers.licensing:parse")
