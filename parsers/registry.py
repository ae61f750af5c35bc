"""Registry artifacts -> the ``registry`` frame: binary hives, ``.reg`` exports, ``reg query /s``.

The three forms give the same rows for the same content (only binary hives have ``last_write``;
text forms carry no key times, so it stays NA there). Shared here: the targeted key list
(``core/data/registry_keys.txt``, the declared needs: ``core.registry_keys``), hive recognition, ``CurrentControlSet`` resolution
through ``SYSTEM\\Select\\Current`` and value normalization; the form modules only read.

Row conventions (DESIGN.md, "registry frame keys"):

* ``key`` = ``HKLM\\<HIVE>\\<path as stored>`` (a hive mounted elsewhere, e.g.
  ``HKLM\\OFFLINE_SYS``, is named by its hive); ``key_ccs`` = the same with the current
  control set written ``CurrentControlSet`` (text that already says so keeps it in both).
* ``value`` = "" for (Default); a key without values gives one row with ``value`` NA, so its
  existence (and last write) is evidence too (service keys, ``GracePeriod``, server subkeys).
* ``data``: str (REG_SZ/EXPAND_SZ up to the first NUL), int (DWORD/QWORD), list[str]
  (MULTI_SZ, empty strings dropped), lower-case hex str (binary and anything else).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from rdsla.core import facts as F
from rdsla.core import registry_keys
from rdsla.core.frames import make_frame
from rdsla.parsers.base import ParseOptions, ParseResult, Source, SourceTooLarge
from rdsla.parsers.text import decode_text

HIVES = ("SYSTEM", "SOFTWARE", "SECURITY", "SAM", "DEFAULT", "NTUSER", "COMPONENTS", "DRIVERS", "BCD")
ROOTS = {"HKEY_LOCAL_MACHINE": "HKLM", "HKLM": "HKLM", "HKEY_CURRENT_USER": "HKCU", "HKCU": "HKCU",
         "HKEY_USERS": "HKU", "HKU": "HKU", "HKEY_CLASSES_ROOT": "HKCR", "HKCR": "HKCR",
         "HKEY_CURRENT_CONFIG": "HKCC", "HKCC": "HKCC"}
# First key below the root of each hive: recognizes a hive mounted under another name.
_TOP_KEYS = {
    "SYSTEM": {"select", "mounteddevices", "driverdatabase", "hardwareconfig", "setup", "wpa", "rng"},
    "SOFTWARE": {"microsoft", "policies", "classes", "clients", "wow6432node", "registeredapplications"},
    "SECURITY": {"policy", "rxact", "cache"},
}
_CCS = re.compile(r"^(?:ControlSet\d{3}|CurrentControlSet)$", re.I)

TYPE_NAMES = {0: "REG_NONE", 1: "REG_SZ", 2: "REG_EXPAND_SZ", 3: "REG_BINARY", 4: "REG_DWORD",
              5: "REG_DWORD_BIG_ENDIAN", 6: "REG_LINK", 7: "REG_MULTI_SZ", 8: "REG_RESOURCE_LIST",
              9: "REG_FULL_RESOURCE_DESCRIPTOR", 10: "REG_RESOURCE_REQUIREMENTS_LIST", 11: "REG_QWORD"}
TYPE_NUMBERS = {v: k for k, v in TYPE_NAMES.items()}
_DECODED = {1, 2, 4, 5, 6, 7, 11}   # types with a typed form; the rest are hex


@dataclass
class Entry:
    """One value (or, ``value`` None, one key without values) as a reader found it."""

    hive: str
    path: str                      # below the hive root, as stored (ControlSet001 or CurrentControlSet)
    value: Optional[str]
    type: Optional[str]
    data: object
    last_write: Optional[datetime] = None


# --- the targeted key list -------------------------------------------------------------------

def key_patterns(options: Optional[ParseOptions] = None) -> registry_keys.Patterns:
    """The keys to read: what the pipeline passes (the declared needs), else the whole key list."""
    return registry_keys.patterns(options.registry if options is not None else None)


def wanted(hive: str, path: str, options: Optional[ParseOptions] = None) -> bool:
    """Is ``hive\\path`` one of the targeted keys (text forms filter with it)?"""
    return registry_keys.matches(hive, path, key_patterns(options))


# --- values ----------------------------------------------------------------------------------

def type_name(number: int) -> str:
    return TYPE_NAMES.get(number, f"REG_TYPE_0x{number:x}")


def decode_typed(number: int, raw: bytes, utf16: bool = True) -> object:
    """Data of type ``number`` from its raw bytes (``.reg`` ``hex(N):`` and hive fallbacks).

    REGEDIT4 files store strings in the ANSI code page, REGEDIT5 (and hivex) in UTF-16LE."""
    if number in (1, 2, 6, 7):
        text = _text(raw, utf16)
        if number == 7:
            return [s for s in text.split("\x00") if s]
        return text.split("\x00", 1)[0]
    if number == 4 and len(raw) >= 4:
        return int.from_bytes(raw[:4], "little")
    if number == 5 and len(raw) >= 4:
        return int.from_bytes(raw[:4], "big")
    if number == 11 and len(raw) >= 8:
        return int.from_bytes(raw[:8], "little")
    return raw.hex()


def _text(raw: bytes, utf16: bool) -> str:
    if utf16:
        return raw[: len(raw) - len(raw) % 2].decode("utf-16-le", "replace")
    return raw.decode("cp1252", "replace")


def normalize(type_: str, data: object) -> object:
    """One form for every reader: see the module docstring."""
    if isinstance(data, (bytes, bytearray)):
        number = TYPE_NUMBERS.get(type_, 3)
        return decode_typed(number, bytes(data)) if number in _DECODED else bytes(data).hex()
    if type_ in ("REG_SZ", "REG_EXPAND_SZ", "REG_LINK") and isinstance(data, str):
        return data.split("\x00", 1)[0]
    if type_ == "REG_MULTI_SZ" and isinstance(data, (list, tuple)):
        return [str(s) for s in data if s]
    if isinstance(data, datetime):
        return data.isoformat()
    return data


# --- hive names and control sets -------------------------------------------------------------

def hive_from_name(name: str) -> Optional[str]:
    """``\\??\\C:\\Windows\\System32\\config\\SYSTEM`` or a mount name such as ``OFFLINE_SOFTWARE``."""
    base = re.split(r"[\\/]", name.strip("\x00 ").rstrip("\\/"))[-1].upper()
    base = base.rsplit(".", 1)[0] if base.endswith((".HIV", ".DAT", ".REG")) else base
    if base in HIVES:
        return base
    for hive in ("SOFTWARE", "SECURITY", "SYSTEM"):   # SYSTEM last: "SYSTEM32" paths
        if hive in base:
            return hive
    return None


def hive_from_top_keys(names: Iterable[str]) -> Optional[str]:
    low = {n.lower() for n in names}
    if any(_CCS.match(n) for n in low):
        return "SYSTEM"
    for hive, keys in _TOP_KEYS.items():
        if low & keys:
            return hive
    return None


def split_text_key(full: str) -> tuple[str, str, str]:
    """``HKEY_LOCAL_MACHINE\\SYSTEM\\X`` -> ("HKLM", "SYSTEM", "X"): root, mount, rest."""
    parts = full.strip().strip("\\").split("\\")
    root = ROOTS.get(parts[0].upper(), parts[0])
    mount = parts[1] if len(parts) > 1 else ""
    return root, mount, "\\".join(parts[2:])


def current_control_set(entries: Iterable[Entry]) -> Optional[int]:
    for e in entries:
        if e.hive == "SYSTEM" and e.path.lower() == "select" and (e.value or "").lower() == "current" \
                and isinstance(e.data, int):
            return e.data
    return None


def full_key(hive: str, path: str, root: str = "HKLM") -> str:
    return f"{root}\\{hive}" + (f"\\{path}" if path else "")


def ccs_path(path: str, current: Optional[int]) -> str:
    if current is None:
        return path
    head, sep, rest = path.partition("\\")
    if head.lower() == f"controlset{current:03d}":
        return "CurrentControlSet" + sep + rest
    return path


def to_result(entries: list[Entry], result: ParseResult, current: Optional[int] = None,
              root_of: Optional[dict[str, str]] = None,
              covers: Optional[list[tuple[str, str]]] = None) -> ParseResult:
    """Rows, ``computers`` and counts from the entries of one artifact.

    ``covers``: the (hive, path) subtrees the artifact holds whole (a hive file: its hive; a
    text export: each key it exports), stated as the ``registry_coverage`` fact so that an
    absent value under them is known absent (core.coverage)."""
    if current is None:
        current = current_control_set(entries)
    if covers:
        keys = list(dict.fromkeys(
            full_key(h, ccs_path(p, current) if h == "SYSTEM" else p, (root_of or {}).get(h, "HKLM"))
            for h, p in covers))
        result.facts.append({"host": None, "name": F.REGISTRY_COVERAGE, "value": keys, "origin": "registry",
                             "locator": {}, "detail": {"covers": keys}})
    rows = []
    for e in entries:
        if not e.path and e.value is None:
            continue        # the hive root itself (reg query never prints it)
        root = (root_of or {}).get(e.hive, "HKLM")
        rows.append({
            "hive": e.hive, "key": full_key(e.hive, e.path, root),
            "key_ccs": full_key(e.hive, ccs_path(e.path, current) if e.hive == "SYSTEM" else e.path, root),
            "value": e.value, "type": e.type,
            "data": normalize(e.type, e.data) if e.type else e.data, "last_write": e.last_write,
        })
    result.frames["registry"] = make_frame("registry", rows)
    result.records_read = len(rows)
    name = computer_name(rows)
    if name:
        result.computers[name] = result.computers.get(name, 0) + 1
    return result


_NAME_SOURCES = (  # where a machine names itself, best first (RDS_LICENSING.md 2.1)
    (r"HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName", "ComputerName"),
    (r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters", "Hostname"),
    (r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters", "NV Hostname"),
)
_DN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Group Policy\State\Machine"


def computer_name(rows: list[dict]) -> Optional[str]:
    """The machine's own name: SYSTEM ComputerName, Tcpip Hostname, else the CN of the
    machine's Group Policy distinguished name (a SOFTWARE hive of a domain member)."""
    index = {(r["key_ccs"].lower(), (r["value"] or "").lower()): r["data"] for r in rows}
    for key, value in _NAME_SOURCES:
        data = index.get((key.lower(), value.lower()))
        if isinstance(data, str) and data.strip():
            return data.strip()
    dn = index.get((_DN_KEY.lower(), "distinguished-name"))
    if isinstance(dn, str):
        m = re.match(r"\s*CN=([^,]+),", dn, re.I)
        if m:
            return m.group(1).strip()
    return None


# --- dispatch --------------------------------------------------------------------------------

def parse(source: Source, options: ParseOptions) -> ParseResult:
    """Dispatch on ``source.kind`` (intake decided it from the content: parsers.registry_sniff)."""
    if source.kind == "hive":
        from rdsla.parsers.hive import parse_hive
        return parse_hive(source, options)
    if source.kind in ("reg_export", "reg_query"):
        if source.kind == "reg_export":
            from rdsla.parsers.reg_export import read_reg_text as read, FORM as form
        else:
            from rdsla.parsers.reg_query import read_reg_query as read, FORM as form
        result = ParseResult()
        try:
            text = decode_text(source.read_bytes())
        except (OSError, SourceTooLarge) as exc:
            return ParseResult.failed(f"{source.display}: unreadable: {exc}")
        return text_entries_to_result(read(text, result), result, options, form)
    return ParseResult.failed(f"{source.display}: not a registry artifact ({source.kind})")


def text_entries_to_result(raw: list[tuple[str, Optional[str], Optional[str], object]], result: ParseResult,
                           options: ParseOptions, form: str) -> ParseResult:
    """Text forms: (full key as written, value, type, data) -> entries, filtered by the key list.

    The hive is the mount name when it is one (``HKLM\\SYSTEM``), else guessed from the mount
    name (``OFFLINE_SOFTWARE``) or the keys below it (``ControlSet001`` -> SYSTEM)."""
    mounts: dict[tuple[str, str], set[str]] = {}
    for full, *_ in raw:
        root, mount, rest = split_text_key(full)
        mounts.setdefault((root, mount), set()).add(rest.split("\\", 1)[0] if rest else "")
    hive_of: dict[tuple[str, str], Optional[str]] = {}
    for (root, mount), tops in mounts.items():
        if root == "HKLM":
            hive = mount.upper() if mount.upper() in HIVES else (hive_from_name(mount) or hive_from_top_keys(tops))
            if hive and hive != mount.upper():
                result.warn(f"{form}: keys under HKLM\\{mount} read as the {hive} hive")
        elif root in ("HKCU", "HKU"):
            hive = "NTUSER"
        else:
            hive = None
        hive_of[(root, mount)] = hive
    entries: list[Entry] = []
    root_of: dict[str, str] = {}
    skipped = 0
    covers = exported_roots([(hive_of[split_text_key(full)[:2]], split_text_key(full)[2])
                             for full, *_ in raw if hive_of[split_text_key(full)[:2]] not in (None, "NTUSER")])
    for full, value, type_, data in raw:
        root, mount, rest = split_text_key(full)
        hive = hive_of[(root, mount)]
        if hive is None:
            skipped += 1
            continue
        if hive == "NTUSER":
            rest = "\\".join(p for p in (mount, rest) if p) if root == "HKCU" else rest
        root_of[hive] = root
        entries.append(Entry(hive, rest, value, type_, data))
    if skipped:
        result.warn(f"{form}: {skipped} line(s) under keys of no known hive ignored")
    current = current_control_set(entries)
    sets = {e.path.split("\\", 1)[0].lower() for e in entries if e.hive == "SYSTEM"
            and re.match(r"controlset\d{3}$", e.path.split("\\", 1)[0], re.I)}
    if current is None and len(sets) == 1:
        current = int(next(iter(sets))[-3:])
        result.warnings.append(f"{form}: no SYSTEM\\Select\\Current; the only control set, "
                               f"ControlSet{current:03d}, is taken as current")
    if not options.full_registry:
        # the same keys a hive read gives: the key list, and of the control sets the current one
        other_sets = {s for s in sets if current is None or s != f"controlset{current:03d}"} if current else set()
        entries = [e for e in entries if wanted(e.hive, e.path, options)
                   and not (e.hive == "SYSTEM" and e.path.split("\\", 1)[0].lower() in other_sets)]
    return to_result(entries, result, current, root_of, covers)


def exported_roots(keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The subtrees a text export holds whole: each key with no ancestor among the keys.

    ``reg export`` writes the exported key first, values or not; ``reg query /s`` prints the
    queried key only when it has values, so sibling tops under one parent stand for that
    parent (a whole hive queried from its root prints ``ControlSet001``, ``Select`` ...)."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for hive, path in keys:
        seen.setdefault((hive, path.lower()), (hive, path))
    tops = []
    for (hive, low), original in seen.items():
        parts = low.split("\\") if low else []
        if not any((hive, "\\".join(parts[:i])) in seen for i in range(len(parts))):
            tops.append(original)
    by_parent: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for hive, path in tops:
        by_parent.setdefault((hive, path.rsplit("\\", 1)[0] if "\\" in path else ""), []).append((hive, path))
    out = []
    for parent, children in by_parent.items():
        out += [parent] if len(children) > 1 else children
    return out
