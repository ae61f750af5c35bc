"""Rows of RD Licensing reports -> ``keypacks`` / ``issued`` rows and license-server facts.

Value codes live in ``parsers/data/licensing_codes.json`` (RDS_LICENSING.md 3.1-3.5: [S14]
Win32_TSLicenseKeyPack, [S15] Win32_TSIssuedLicense, [S16] Win32_TSLicenseServer, [S17]
Win32_TerminalServiceSetting, [S18] Win32_TSLicenseReport*). A row is recognized by the
fields it has, not by the file it came from, so every form (CSV, HTML, Format-Table,
Format-List, wmic, rds-lic-svr-chk) gives the same rows for the same data.

``keypacks.status`` is the KeyPackType name: retail, volume, concurrent, temporary, open,
builtin (type 6, "not supported" in [S14], seen on the built-in pack), type_7 (observed,
undocumented [S37]), unknown; ``builtin`` when the pack says so and KeyPackType is absent.
Counts (total / issued / available / unlimited) are normalized by :func:`core.cal_counts.normalize`:
the unlimited sentinels (4294967295, -1: RDS_LICENSING.md 3.1) give null total/available and
``unlimited`` True; a missing AvailableLicenses is derived as total - issued.
Locale date strings carry no zone: they are read as UTC; ``d/m/y`` is chosen for slash dates
when any slash date of the file has a first part above 12, else ``m/d/y``.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from rdsla.core import cal_counts
from rdsla.core import facts as F
from rdsla.core.os_builds import server_label_of_version
from rdsla.parsers.licensing_tables import Row

_DATA = Path(__file__).with_name("data") / "licensing_codes.json"


@lru_cache(maxsize=1)
def codes() -> dict:
    with open(_DATA, encoding="utf-8") as fh:
        return json.load(fh)


def norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def canonical_field(name: str) -> str:
    key = norm_name(name)
    return codes()["field_aliases"].get(key, key)


# Fields that make a line or cell a licensing column name (tables use it to find headers).
_KNOWN = {
    "keypackid", "description", "keypacktype", "producttype", "productversion", "productversionid",
    "totallicenses", "issuedlicenses", "availablelicenses", "expirationdate", "accessrights",
    "typeandmodel", "licenseid", "sissuedtouser", "sissuedtocomputer", "licensestatus", "issuedate",
    "sharewareid", "shardwareid", "pscomputername", "server", "class", "genus", "caltype", "user",
    "installedlicenses", "availability", "generationdatetime", "daysleft", "graceperioddays",
    "activationstatus", "islsintslsgroup", "ismember", "licenseserver", "islsavailable",
    "issuingcals", "howdiscovered", "version", "productid", "databasepath", "serverrole",
    "licensingtype", "specifiedlslist", "tstolsconnectivitystatus", "triedissuanceon", "returnvalue",
    "samaccountname", "distinguishedname", "objectclass", "name", "filename", "scope",
}


def is_known(name: str) -> bool:
    key = norm_name(name)
    return bool(key) and (key in _KNOWN or codes()["field_aliases"].get(key) is not None)


# --------------------------------------------------------------------------- values

def to_int(text: Any) -> Optional[int]:
    """Integer from a report cell; '' -> None; raises ValueError on garbage."""
    if text is None:
        return None
    s = str(text).strip().replace("\u00a0", "").replace(" ", "")
    if not s:
        return None
    if re.fullmatch(r"[+-]?\d{1,3}([.,']\d{3})+", s):             # 1,000 / 1.000 thousands
        s = re.sub(r"[.,']", "", s)
    return int(s)


_WMI_DT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$")
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_MS_JSON = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def slash_day_first(values: list[str]) -> bool:
    """True when a slash date of the file can only be d/m/y (first part above 12)."""
    for v in values:
        m = _SLASH.match(str(v).strip())
        if m and int(m.group(1)) > 12:
            return True
    return False


def to_utc(text: Any, day_first: bool = False) -> Optional[datetime]:
    """WMI DATETIME (``20380119031407.000000-000``, offset in minutes), locale strings
    (``01/01/2031 00:00:00``, ``19.01.2038 03:14:07``, AM/PM), ISO, ``/Date(ms)/``.
    None for ''; raises ValueError for text that is no date."""
    s = str(text or "").strip()
    if not s:
        return None
    m = _WMI_DT.match(s)
    if m:
        y, mo, d, h, mi, se, us, sign, off = m.groups()
        if y == "0000" or s.startswith("*"):
            return None
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(se), int(us))
        offset = timedelta(minutes=int(off)) * (1 if sign == "+" else -1)
        return (local - offset).replace(tzinfo=timezone.utc)
    m = _SLASH.match(s)
    if m:
        a, b, y, h, mi, se, ampm = m.groups()
        month, day = (int(b), int(a)) if day_first else (int(a), int(b))
        hour = int(h or 0)
        if ampm:
            hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
        return datetime(int(y), month, day, hour, int(mi or 0), int(se or 0), tzinfo=timezone.utc)
    m = _DOTTED.match(s)
    if m:
        d, mo, y, h, mi, se = m.groups()
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(se or 0), tzinfo=timezone.utc)
    m = _ISO.match(s)
    if m:
        y, mo, d, h, mi, se, tz = m.groups()
        dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(se or 0))
        if tz and tz != "Z":
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return dt.replace(tzinfo=timezone.utc)
    m = _MS_JSON.match(s)
    if m:
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=int(m.group(1)))
    raise ValueError(f"not a date: {s!r}")


def cal_version_of(pvid: Optional[int], product_version: str, description: str) -> tuple[Optional[str], bool]:
    """(cal_version, builtin) from ProductVersionID, else the (localized) ProductVersion
    string, else the Description code (``C50-10.01-S``)."""
    c = codes()
    if pvid is not None and str(pvid) in c["product_version_id"]:
        return c["product_version_id"][str(pvid)], pvid in c["builtin_product_version_ids"]
    pv = (product_version or "").strip()
    if pv:
        if pv.lower() in (b.lower() for b in c["builtin_product_versions"]):
            return None, True
        years = [y for y in re.findall(r"\b(\d{4})\b", pv) if y in c["product_version_years"]]
        if years:
            best = max(years)
            return c["product_version_years"][best], best == "2000"
    m = re.match(r"^([A-Z]\d{2})-(\d+\.\d+)", (description or "").strip(), re.I)
    if m and m.group(2) in c["description_version"]:
        return c["description_version"][m.group(2)], m.group(2) in c["builtin_description_versions"]
    return None, False


def cal_type_of(product_type: Optional[int], type_and_model: str, description: str, cal_type: str = "") -> Optional[str]:
    c = codes()
    if product_type is not None and str(product_type) in c["product_type"]:
        return c["product_type"][str(product_type)]
    for text in (type_and_model, cal_type):
        low = (text or "").lower()
        for kind in ("per_user", "per_device"):
            if any(s in low for s in c["type_and_model"][kind]):
                return kind
        if low in c["cal_type_names"]:
            return c["cal_type_names"][low]
    prefix = (description or "").strip()[:3].upper()
    return c["description_prefix"].get(prefix)


def truthy(text: Any) -> Optional[bool]:
    s = str(text or "").strip().lower()
    if s in ("true", "1", "yes", "ja", "oui", "$true"):
        return True
    if s in ("false", "0", "no", "nein", "non", "$false"):
        return False
    return None


# --------------------------------------------------------------------------- rows

class Normalizer:
    """Turns rows of one artifact into frame rows and facts; collects warnings."""

    def __init__(self, day_first: bool = False):
        self.day_first = day_first
        self.keypacks: list[dict] = []
        self.issued: list[dict] = []
        self.facts: list[dict] = []
        self.warnings: list[tuple[int, str]] = []
        self.computers: dict[str, int] = {}
        self.pack_kinds: dict[tuple[Optional[str], str], tuple] = {}

    # -- helpers
    def fact(self, name: str, value: Any, origin: str, locator: dict, detail: Any, host: Optional[str] = None) -> None:
        assert name in F.ALL, name
        self.facts.append({"host": host, "name": name, "value": value, "origin": origin,
                           "locator": locator, "detail": detail})

    def _int(self, f: dict, key: str, row: Row) -> Optional[int]:
        try:
            return to_int(f.get(key))
        except ValueError:
            self.warnings.append((row.line, f"bad number in {key}: {f.get(key)!r}"))
            return None

    def _date(self, f: dict, key: str, row: Row) -> Optional[datetime]:
        try:
            return to_utc(f.get(key), self.day_first)
        except ValueError:
            self.warnings.append((row.line, f"bad date in {key}: {f.get(key)!r}"))
            return None

    def _host(self, f: dict, row: Row) -> Optional[str]:
        name = (f.get("pscomputername") or f.get("__server") or "").strip()
        if name:
            self.computers[name] = self.computers.get(name, 0) + 1
            return name
        return row.section_host

    @staticmethod
    def locator(row: Row) -> dict:
        return {"row": row.line} if row.form == "html" else {"line": row.line}

    # -- dispatch
    def add(self, row: Row) -> bool:
        """Normalize one row; False when its fields are no licensing object."""
        f = {canonical_field(k): (v or "").strip() for k, v in row.fields.items() if k}
        cls = (f.get("class") or row.section or "").lower()
        host = self._host(f, row)
        loc = self.locator(row)
        if row.form == "preamble":
            return self._preamble(f, row, loc)
        if set(f) == {"name", "value"}:                  # a hashtable printed as Name/Value
            if norm_name(f["name"]) == "tstolsconnectivitystatus" and f["value"]:
                self.fact(F.CONNECTIVITY_STATUS, connectivity_name(f["value"]), "report", loc, row.fields)
                return True
            return False
        if "keypackid" in f and ({"totallicenses", "availablelicenses", "productversionid", "typeandmodel",
                                  "keypacktype"} & f.keys()) and "licenseid" not in f:
            self._keypack(f, row, host)
            return True
        if "licenseid" in f or "sissuedtocomputer" in f or ("sissuedtouser" in f and "licensestatus" in f):
            self._issued(f, row, host, per_user=False)
            return True
        if "triedissuanceon" in f:
            return True                                   # failed per-user issuance: read, not a CAL
        if "user" in f and ({"caltype", "productversion", "productversionid", "expirationdate"} & f.keys()):
            self._issued(f, row, host, per_user=True)
            return True
        if "sissuedtouser" in f and ({"productversion", "productversionid", "expirationdate"} & f.keys()):
            self._issued(f, row, host, per_user=True)
            return True
        if "installedlicenses" in f and ("issuedlicenses" in f or "availability" in f):
            self._summary(f, row, host, loc)
            return True
        used = False
        if "daysleft" in f or "graceperioddays" in f:
            days = self._int(f, "daysleft" if "daysleft" in f else "graceperioddays", row)
            if days is not None:
                self.fact(F.GRACE_DAYS_LEFT, days, "wmi_export", loc, row.fields, host)
            used = True
        if "activationstatus" in f:
            code = self._int(f, "activationstatus", row)
            name = codes()["activation_status"].get(str(code), "unknown") if code is not None else None
            if name:
                self.fact(F.ACTIVATION_STATUS, name, "wmi_export", loc, row.fields, host)
            used = True
        if "islsintslsgroup" in f or ("ismember" in f and "tsls" in cls.replace(" ", "").lower()):
            val = truthy(f.get("islsintslsgroup", f.get("ismember")))
            if val is not None:
                self.fact(F.IN_TSLS_GROUP, val, "wmi_export", loc, row.fields, host)
            used = True
        if "win32_tslicenseserver" in cls or ("version" in f and {"productid", "databasepath", "serverrole"} & f.keys()):
            label, build = server_label_of_version(f.get("version", ""))
            if label:
                self.fact(F.LS_VERSION, label, "wmi_export", loc, row.fields, host)
            if build:
                self.fact(F.LS_OS_BUILD, build, "wmi_export", loc, row.fields, host)
            used = True
        if "generationdatetime" in f:
            when = self._date(f, "generationdatetime", row)
            if when:
                self.fact(F.COLLECTED_AT, when, "report", loc, row.fields, host)
            used = True
        if "licenseserver" in f and ("islsavailable" in f or "issuingcals" in f):
            self.fact(F.LS_AVAILABLE, {"server": f["licenseserver"], "available": truthy(f.get("islsavailable")),
                                       "issuing_cals": truthy(f.get("issuingcals"))}, "wmi_export", loc, row.fields, None)
            used = True
        if "licensingtype" in f:
            mode = self._int(f, "licensingtype", row)
            if mode is not None:
                self.fact(F.LICENSING_MODE, mode, "wmi_export", loc, row.fields, host)
            used = True
        if "specifiedlslist" in f:
            servers = [s for s in re.split(r"[\s,;{}]+", f["specifiedlslist"]) if s]
            self.fact(F.LICENSE_SERVERS, servers, "wmi_export", loc, row.fields, host)
            used = True
        if "tstolsconnectivitystatus" in f:
            self.fact(F.CONNECTIVITY_STATUS, connectivity_name(f["tstolsconnectivitystatus"]), "wmi_export",
                      loc, row.fields, host)
            used = True
        return used

    def _preamble(self, f: dict, row: Row, loc: dict) -> bool:
        (key, value), = f.items()
        if key == "generationdatetime":
            try:
                when = to_utc(value, self.day_first)
            except ValueError:
                when = None
            if when:
                self.fact(F.COLLECTED_AT, when, "report", loc, row.fields)
                return True
        if key in ("licenseserver", "pscomputername", "__server") and value:
            self.computers[value] = self.computers.get(value, 0) + 1
            self.fact(F.COMPUTER_NAME, value, "report", loc, row.fields, value)
            return True
        return False

    def _keypack(self, f: dict, row: Row, host: Optional[str]) -> None:
        c = codes()
        pvid = self._int(f, "productversionid", row)
        ptype = self._int(f, "producttype", row)
        kptype = self._int(f, "keypacktype", row)
        total = self._int(f, "totallicenses", row)
        avail = self._int(f, "availablelicenses", row)
        issued = self._int(f, "issuedlicenses", row)
        tam = f.get("typeandmodel", "")
        desc = f.get("description", "")
        version, builtin = cal_version_of(pvid, f.get("productversion", ""), desc)
        builtin = builtin or any(s in tam.lower() for s in c["type_and_model"]["builtin"]) \
            or kptype in c["builtin_keypack_types"]
        if builtin:
            version = None
        status = c["keypack_type"].get(str(kptype), f"type_{kptype}") if kptype is not None else \
            ("builtin" if builtin else None)
        kind = (version, cal_type_of(ptype, tam, desc))
        self.pack_kinds[(host, f["keypackid"])] = kind
        self.keypacks.append({
            "license_server": host, "keypack_id": f["keypackid"], "cal_version": version,
            "cal_type": kind[1],
            **cal_counts.normalize(total, issued, avail),
            "builtin": bool(builtin), "temporary": kptype in c["temporary_keypack_types"],
            "expires": self._date(f, "expirationdate", row), "status": status,
        })

    def _issued(self, f: dict, row: Row, host: Optional[str], per_user: bool) -> None:
        c = codes()
        code = self._int(f, "licensestatus", row) if "licensestatus" in f else None
        status = c["license_status"].get(str(code), f"status_{code}") if code is not None else None
        pvid = self._int(f, "productversionid", row)
        version, _ = cal_version_of(pvid, f.get("productversion", ""), "")
        cal_type = cal_type_of(None, "", "", f.get("caltype", "")) if f.get("caltype") else None
        if per_user and cal_type is None:
            cal_type = "per_user"
        if version is None and cal_type is None and f.get("keypackid"):
            version, cal_type = self.pack_kinds.get((host, f["keypackid"]), (None, None))
        self.issued.append({
            "license_server": host, "keypack_id": f.get("keypackid") or None,
            "cal_version": version, "cal_type": cal_type,
            "issued_to": f.get("sissuedtocomputer") or f.get("sissuedtouser") or f.get("user") or None,
            "issued_on": self._date(f, "issuedate", row), "expires_on": self._date(f, "expirationdate", row),
            "status": status, "hardware_id": f.get("shardwareid") or None,
        })

    def _summary(self, f: dict, row: Row, host: Optional[str], loc: dict) -> None:
        pvid = self._int(f, "productversionid", row)
        version, _ = cal_version_of(pvid, f.get("productversion", ""), "")
        self.fact(F.REPORT_SUMMARY, {
            "cal_type": cal_type_of(None, "", "", f.get("caltype", "")),
            "cal_version": version,
            "installed": self._int(f, "installedlicenses", row),
            "issued": self._int(f, "issuedlicenses", row),
            "availability": f.get("availability") or None,
        }, "report", loc, row.fields, host)


def connectivity_name(value: str) -> str:
    """``6`` / ``LS_NOT_CONNECTABLE`` / ``LS_CONNECTABLE_VALID_LS`` -> ``NOT_CONNECTABLE`` / ``VALID_LS``."""
    v = value.strip()
    if re.fullmatch(r"\d+", v):
        return codes()["connectivity_status"].get(v, f"UNKNOWN_{v}")
    v = v.split(",")[0].split("=")[0].strip().upper()
    return re.sub(r"^LS_(CONNECTABLE_)?", "", v)
