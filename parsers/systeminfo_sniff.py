"""How a machine's system information looks from its first bytes, and its format entry.

Two layouts name the same facts (OS, build, domain, domain role, install date, last boot, time
zone): MSRD-Collect's ``<HOST>_SystemInfo.txt`` (MSRDC-Core.psm1 writes ``Label.PadRight(27) +
" : " + value`` lines: "Computer name", "Operating System", "Build Number", "Domain role" ...)
and the list output of ``systeminfo.exe`` (``Host Name:``, ``OS Name:``, ``OS Version:`` ... in
the machine's display language; English and German here). Both are read by
:func:`parsers.systeminfo.parse`. Apart from it so that recognizing a file imports no reader;
only the standard library, :mod:`parsers.formats` and :mod:`parsers.text`.
"""
from __future__ import annotations

import re
from typing import Optional

from rdsla.parsers.formats import LIKELY, Format, Sniff
from rdsla.parsers.text import decode_head

# A character a wrong code page may have turned into one or two others (ä in cp850 read as
# cp1252, UTF-8 read as cp1252): labels are matched with this in place of the umlaut.
U = r"(?:[äöüÄÖÜ]|.{1,2})"

# label (regex, matched at the start of a line, before the colon) -> field
MSRD_LABELS = {
    r"Computer name": "host",
    r"Operating System": "os_name",
    r"Build Number": "os_version",
    r"Installation type": "installation_type",
    r"Time zone": "time_zone",
    r"Install date": "install_date",
    r"Last boot time": "last_boot",
    r"Local time": "local_time",
    r"DNS Hostname": "dns_host",
    r"DNS Domain name": "domain",
    r"NetBIOS Domain name": "netbios_domain",
    r"Domain role": "domain_role",
}
SYSTEMINFO_LABELS = {
    # English (systeminfo.exe /fo list, the default)
    r"Host Name": "host",
    r"OS Name": "os_name",
    r"OS Version": "os_version",
    r"OS Configuration": "domain_role",
    r"Original Install Date": "install_date",
    r"System Boot Time": "last_boot",
    r"Time Zone": "time_zone",
    r"Domain": "domain",
    # German
    r"Hostname": "host",
    r"Betriebssystemname": "os_name",
    r"Betriebssystemversion": "os_version",
    r"Betriebssystemkonfiguration": "domain_role",
    rf"Urspr{U}ngliches Installationsdatum": "install_date",
    r"Systemstartzeit": "last_boot",
    r"Zeitzone": "time_zone",
    rf"Dom{U}ne": "domain",
}
# "Label      : value" (MSRD, PadRight 27) and "Label:      value" (systeminfo.exe)
MSRD_LINE = re.compile(r"^(?P<label>(?:" + "|".join(MSRD_LABELS) + r"))\s* : ?(?P<value>.*)$",
                       re.IGNORECASE | re.MULTILINE)
SYSTEMINFO_LINE = re.compile(r"^(?P<label>(?:" + "|".join(SYSTEMINFO_LABELS) + r")):\s*(?P<value>.*)$",
                             re.IGNORECASE | re.MULTILINE)
# the fields that make a file one of these layouts: a name, an OS and one more
_CORE_FIELDS = {"host", "os_name", "os_version"}


def field_of(label: str, labels: dict[str, str]) -> Optional[str]:
    for pattern, name in labels.items():
        if re.fullmatch(pattern, label.strip(), re.IGNORECASE):
            return name
    return None


def layout(text: str) -> Optional[str]:
    """``"msrd"`` or ``"systeminfo"`` when at least three labels of that layout, a host or OS
    among them, start lines of ``text``; else None."""
    for name, line, labels in (("msrd", MSRD_LINE, MSRD_LABELS), ("systeminfo", SYSTEMINFO_LINE, SYSTEMINFO_LABELS)):
        fields = {field_of(m.group("label"), labels) for m in line.finditer(text)}
        if len(fields) >= 3 and fields & _CORE_FIELDS:
            return name
    return None


def sniff(head: bytes) -> Optional[Sniff]:
    text = decode_head(head)
    if text is None:
        return None
    found = layout(text[:65536].replace("\r\n", "\n"))
    if found is None:
        return None
    what = "MSRD-Collect SystemInfo.txt" if found == "msrd" else "systeminfo.exe output"
    return Sniff("system_info", LIKELY, f"{what}: host, OS and domain labels")


FORMAT = Format(kinds=("system_info",), sniff=sniff, parse="rdsla.parsers.systeminfo:parse")
