"""MSRD-Collect ``<HOST>_SystemInfo.txt`` and ``systeminfo.exe`` output -> host facts.

What a machine says of itself when no SOFTWARE hive came with it: OS product and build, domain
and domain role, install date, last boot, time zone. The layouts and labels are
:mod:`parsers.systeminfo_sniff`'s. Dates are written in the machine's culture: systeminfo.exe
uses the display locale (en-US ``3/14/2024, 9:12:44 AM``, de-DE ``14.03.2024, 09:12:44``),
MSRD-Collect concatenates a PowerShell DateTime, which renders in the invariant culture
(``03/14/2024 09:12:44``). They are local times of the machine (its zone is the ``time_zone``
fact), kept as such. A value that cannot be read is a warning naming the file and line.

References: systeminfo (learn.microsoft.com/windows-server/administration/windows-commands/
systeminfo); Win32_ComputerSystem.DomainRole; MSRDC-Core.psm1 (SystemInfo.txt).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from rdsla.core import facts as F
from rdsla.parsers.base import ParseOptions, ParseResult, Source
from rdsla.parsers.systeminfo_sniff import (MSRD_LABELS, MSRD_LINE, SYSTEMINFO_LABELS, SYSTEMINFO_LINE, field_of,
                                            layout)
from rdsla.parsers.text import decode_text

# Win32_ComputerSystem.DomainRole names (MSRD-Collect) and systeminfo's "OS Configuration"
# values (English, German) -> one name each. Matched by words, in this order.
_ROLE_WORDS = (
    ("primary_domain_controller", ("primary domain controller", "prim{U}rer dom{U}nencontroller")),
    ("backup_domain_controller", ("backup domain controller", "sicherungsdom{U}nencontroller",
                                  "zus{U}tzlicher dom{U}nencontroller")),
    ("member_server", ("member server", "mitgliedsserver")),
    ("member_workstation", ("member workstation", "mitgliedsarbeitsstation", "mitglied arbeitsstation")),
    ("standalone_server", ("standalone server", "eigenst{U}ndiger server")),
    ("standalone_workstation", ("standalone workstation", "eigenst{U}ndige arbeitsstation")),
)
_U = r"(?:[äöüÄÖÜ]|.{1,2})"
_ROLE_PATTERNS = tuple((role, re.compile("|".join(w.replace("{U}", _U) for w in words), re.IGNORECASE))
                       for role, words in _ROLE_WORDS)
# what each layout always writes: a file without one of them was cut short
EXPECTED = {"msrd": ("host", "os_name", "os_version", "time_zone", "install_date", "last_boot", "domain", "domain_role"),
            "systeminfo": ("host", "os_name", "os_version", "domain_role", "install_date", "last_boot", "time_zone",
                           "domain")}
JOINED_ROLES = {"member_server", "member_workstation", "primary_domain_controller", "backup_domain_controller"}

_DATE = re.compile(r"(?P<a>\d{1,4})[./-](?P<b>\d{1,2})[./-](?P<c>\d{1,4})\.?,?\s*"
                   r"(?:(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>AM|PM|vorm\.|nachm\.)?)?",
                   re.IGNORECASE)


def domain_role(text: str) -> Optional[str]:
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(text or ""):
            return role
    return None


def parse_local_time(text: str, month_first: Optional[bool]) -> Optional[datetime]:
    """A date (and time) as Windows wrote it in a culture: ``Y-M-D``, ``D.M.Y``, ``M/D/Y``
    (``month_first``) or ``D/M/Y``; 12-hour times with AM/PM. None when it is not a date."""
    m = _DATE.search(text or "")
    if m is None:
        return None
    a, b, c = int(m["a"]), int(m["b"]), int(m["c"])
    sep = text[m.start("a") + len(m["a"])]
    if len(m["a"]) == 4:
        year, month, day = a, b, c
    elif sep == ".":
        day, month, year = a, b, c
    elif month_first is None:
        month, day, year = (a, b, c) if (m["ampm"] or a <= 12 < b) else (b, a, c)
    else:
        month, day, year = (a, b, c) if month_first else (b, a, c)
    hour, minute, second = int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0)
    ampm = (m["ampm"] or "").lower()
    if ampm in ("pm", "nachm.") and hour < 12:
        hour += 12
    elif ampm in ("am", "vorm.") and hour == 12:
        hour = 0
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def parse_build(text: str) -> tuple[Optional[int], Optional[int]]:
    """The build (and update revision) of ``10.0.20348 N/A Build 20348`` (systeminfo),
    ``10.0.20348.2849`` or ``6.9600.17415`` (MSRD-Collect: major.build.revision before 2016)."""
    m = re.search(r"\bBuild\s+(\d{4,5})\b", text or "", re.IGNORECASE)
    if m:
        return int(m.group(1)), None
    parts = re.findall(r"\d+", (text or "").split()[0] if (text or "").split() else "")
    builds = [i for i, p in enumerate(parts) if 4 <= len(p) <= 5]
    if not builds:
        return None, None
    i = builds[0]
    ubr = int(parts[i + 1]) if i + 1 < len(parts) else None
    return int(parts[i]), ubr


def parse(source: Source, options: ParseOptions) -> ParseResult:
    try:
        data = source.read_bytes()
    except Exception as exc:  # noqa: BLE001 - size limit, unreadable member: the ledger names it
        return ParseResult.failed(f"{source.display}: not read: {exc}")
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    kind = layout(text)
    if kind is None:
        return ParseResult.failed(f"{source.display}: no host, OS or domain lines of SystemInfo.txt or systeminfo output")
    line_re, labels = (MSRD_LINE, MSRD_LABELS) if kind == "msrd" else (SYSTEMINFO_LINE, SYSTEMINFO_LABELS)
    what = "MSRD-Collect SystemInfo.txt" if kind == "msrd" else "systeminfo output"
    values: dict[str, tuple[str, int, str]] = {}      # field -> (value, line number, the line)
    for m in line_re.finditer(text):
        name = field_of(m.group("label"), labels)
        if name and name not in values:
            line = text.count("\n", 0, m.start()) + 1
            values[name] = (m.group("value").strip(), line, m.group(0).strip())
    result = ParseResult(records_read=len(values))
    host = values.get("host", ("",))[0] or values.get("dns_host", ("",))[0]
    host = host.split(".")[0].strip() or None
    if host:
        result.computers[host] = 1

    def fact(name: str, value, field: str, note: str = "") -> None:
        _, line, raw = values[field]
        detail = {"line": raw, "layout": what}
        if note:
            detail["note"] = note
        result.facts.append({"host": host, "name": name, "value": value, "origin": "system_info",
                             "locator": {"line": line}, "detail": detail})

    def warn(field: str, why: str) -> None:
        _, line, raw = values[field]
        result.warn(f"{source.display}: line {line}: {why}: {raw!r}")

    if host:
        fact(F.COMPUTER_NAME, host, "host" if "host" in values else "dns_host")
    if values.get("os_name", ("",))[0]:      # MSRD-Collect appends the architecture to the caption
        fact(F.OS_PRODUCT, re.sub(r"\s+(?:64|32)-?(?:bit|Bit)$", "", values["os_name"][0]), "os_name")
    if "os_version" in values:
        build, ubr = parse_build(values["os_version"][0])
        if build is None:
            warn("os_version", "no build number")
        else:
            fact(F.OS_BUILD, build, "os_version")
            if ubr is not None and kind == "msrd":
                fact(F.OS_UBR, ubr, "os_version")
    if "installation_type" in values and values["installation_type"][0]:
        fact(F.INSTALLATION_TYPE, values["installation_type"][0], "installation_type")
    role = None
    if "domain_role" in values:
        role = domain_role(values["domain_role"][0])
        if role is None:
            warn("domain_role", "unknown domain role")
        else:
            fact(F.DOMAIN_ROLE, role, "domain_role")
    if values.get("domain", ("",))[0]:
        dom = values["domain"][0].strip().lower()
        # a workgroup's name stands where a domain would: only a joined machine's domain is one
        if role in JOINED_ROLES or (role is None and "." in dom):
            fact(F.DOMAIN, dom, "domain")
    if values.get("time_zone", ("",))[0]:
        fact(F.TIME_ZONE, values["time_zone"][0], "time_zone")
    month_first = True if kind == "msrd" else None      # PowerShell's invariant culture: MM/dd/yyyy
    for field, name in (("install_date", F.INSTALL_DATE), ("last_boot", F.LAST_BOOT)):
        if field in values and values[field][0]:
            when = parse_local_time(values[field][0], month_first)
            if when is None:
                warn(field, "date not read")
                continue
            fact(name, when, field, "local time of the machine")
            if month_first is None and _ambiguous(values[field][0]):
                warn(field, "day and month could be either way round; read as day first (24-hour clock)")
    missing = [f for f in EXPECTED[kind] if f not in values]
    if missing:
        result.warn(f"{source.display}: no {', '.join(missing)} line (a truncated or partial {what}?)")
    if not result.facts:
        result.warn(f"{source.display}: no value read from the {what}")
    return result


def _ambiguous(text: str) -> bool:
    m = _DATE.search(text)
    return bool(m and len(m["a"]) < 4 and text[m.start("a") + len(m["a"])] == "/" and not m["ampm"]
                and m["a"] != m["b"] and int(m["a"]) <= 12 and int(m["b"]) <= 12)
