"""Machine names: one canonical name per machine, and hints from collector file names.

A machine appears as ``LS01``, ``ls01`` and ``LS01.contoso.local``; all are one host whose
canonical name is the upper-case NetBIOS form. When content names no machine, collector
naming is the fallback: MSRD-Collect writes ``<HOST>_rdls_LicenseKeyPacks.html``, TSS writes
``<HOST>_<yyMMdd-HHmmss>_System.evtx``, and both put results in folders such as
``MSRD-Results-<HOST>`` or ``<HOST>_RDS``.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

_NETBIOS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,14}$")
# First tokens of file names that are never machine names.
_GENERIC = {
    "system", "software", "security", "sam", "default", "ntuser", "application", "setup",
    "microsoft", "windows", "msrd", "tss", "rdls", "rdsh", "rdcb", "rds", "sw", "reg", "ms",
    "acl", "evtx", "eventlogs", "eventlog", "logs", "log", "export", "output", "results",
    "report", "reports", "licensing", "license", "keypacks", "issued", "win32", "hklm",
    "termservlicensing", "terminalservices", "remotedesktopservices", "lsm", "rcm", "cal",
    "data", "bundle", "upload", "customer", "case", "sample", "test", "tmp", "temp", "new",
    "copy", "file", "files", "hives", "hive", "config", "collect", "msrdc", "gpresult",
    "regipy", "python", "plaso", "hayabusa", "velociraptor", "omerbenamram",
}
_FOLDER_PATTERNS = (
    re.compile(r"^MSRD-Results-(?P<host>[A-Za-z0-9-]{1,15})$", re.I),
    re.compile(r"^TSS_(?P<host>[A-Za-z0-9-]{1,15})_", re.I),
    re.compile(r"^(?P<host>[A-Za-z0-9-]{1,15})_(RDS|EventLogs|Registry|Reg|Logs|Licensing|Networking|System)$", re.I),
)


def canonical(name: Optional[str]) -> Optional[str]:
    """Upper-case NetBIOS form of a machine name (FQDN -> first label)."""
    if not isinstance(name, str) or not name:
        return None
    name = name.strip().strip("\\").strip()
    if not name or name in {"-", "?", "localhost", "."}:
        return None
    short = name.split(".", 1)[0]
    return short.upper() or None


def plausible(name: str) -> bool:
    return bool(_NETBIOS.match(name)) and name.lower() not in _GENERIC and not name.isdigit()


def hint_from_file_name(file_name: str) -> Optional[str]:
    """``LS01_rdls_LicenseKeyPacks.html`` -> ``LS01``; ``System.evtx`` -> None."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    if "_" not in stem:
        return None
    first = stem.split("_", 1)[0]
    return first.upper() if plausible(first) else None


def hint_from_folders(parts: Iterable[str]) -> Optional[str]:
    """The nearest folder that names a machine (``MSRD-Results-RDSH01``, ``LS01_RDS``, ``LS01``)."""
    for part in reversed(list(parts)):
        for pattern in _FOLDER_PATTERNS:
            match = pattern.match(part)
            if match and plausible(match.group("host")):
                return match.group("host").upper()
        if _NETBIOS.match(part) and plausible(part) and any(c.isdigit() for c in part) and "-" not in part[:1]:
            return part.upper()
    return None


class HostResolver:
    """Collects every spelling seen and maps each to one canonical host."""

    def __init__(self) -> None:
        self.aliases: dict[str, set[str]] = {}

    def add(self, name: Optional[str]) -> Optional[str]:
        key = canonical(name)
        if key is None:
            return None
        self.aliases.setdefault(key, set())
        if name and name.strip().upper() != key:
            self.aliases[key].add(name.strip())
        return key

    def resolve(self, name: Optional[str]) -> Optional[str]:
        return canonical(name)

    def hosts(self) -> list[str]:
        return sorted(self.aliases)


def split_server_list(value) -> list[str]:
    """A license-server setting as the names it holds, as written: a list (REG_MULTI_SZ, one
    subkey per server) or text separated by commas, semicolons or white space (the Group Policy
    ``LicenseServers`` REG_SZ is comma-separated; exports and reports vary)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple, set)) else re.split(r"[,;\s]+", str(value))
    return [str(s).strip() for s in items if s is not None and str(s).strip()]


def license_server_names(value) -> list[str]:
    """The canonical machine names of a license-server setting, first occurrence kept."""
    out: list[str] = []
    for item in split_server_list(value):
        name = canonical(item)
        if name and name not in out:
            out.append(name)
    return out
