"""Frames + facts -> one :class:`HostProfile` per machine: what it is and how it is configured.

Every value keeps where it came from (a registry row, an event record, an export line), and
settings that can come from several places keep each candidate plus the effective one:
Group Policy beats the deployment (RDMS/WMI) values, which beat what a WMI export reports
(RDS_LICENSING.md 2.2 "Precedence", Microsoft "Remote Desktop licensing mode is not configured").
Registry lookups use ``key_ccs`` so only the current control set counts.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Optional

import pandas as pd

from rdsla.core import catalog, registry_keys
from rdsla.core import facts as F
from rdsla.core.needs import Needs, UndeclaredNeed
from rdsla.core.os_builds import os_label
from rdsla.core.frames import empty_frame
from rdsla.core.evidence import Row, event_evidence, export_evidence, present, records, registry_evidence
from rdsla.core.evidence import rows as frame_rows
from rdsla.core.hostnames import canonical, split_server_list
from rdsla.core.coverage import HIVE_ROOTS, Coverage, LogSpan
from rdsla.core.model import (SOURCE_DEPLOYMENT, SOURCE_GROUP_POLICY, SOURCE_WMI, Evidence, Fact, GracePeriod,
                            HostProfile)


SYS = r"HKLM\SYSTEM\CurrentControlSet"
TS = SYS + r"\Control\Terminal Server"
RCM = TS + r"\RCM"
POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
CURRENT_VERSION = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
TCPIP = SYS + r"\Services\Tcpip\Parameters"
LICENSE_SERVERS = SYS + r"\Services\TermService\Parameters\LicenseServers"
LS_SERVICE = SYS + r"\Services\TermServLicensing"
GP_STATE = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Group Policy\State\Machine"
SECURITY_POLICY = r"HKLM\SECURITY\Policy"
COMPONENT_CACHE = r"HKLM\SOFTWARE\Microsoft\ServerManager\ServicingStorage\ServerComponentCache"

# Server Manager component -> role (RDS_LICENSING.md 2.5)
ROLE_COMPONENTS = {"RDS-RD-Server": "session_host", "RDS-Licensing": "licensing",
                   "RDS-Connection-Broker": "connection_broker", "RDS-Gateway": "gateway",
                   "RDS-Web-Access": "web_access"}
# Service key -> role (a key that exists only where the role is installed)
ROLE_SERVICES = {"TermServLicensing": "licensing", "Tssdis": "connection_broker", "TSGateway": "gateway"}
CERT_VALUES = ("X509 Certificate", "X509 Certificate2", "X509 Certificate ID", "Certificate")

# RCM licensing events by legacy id (RDS_LICENSING.md 1.2): seen => the machine is a session host
# What the profile builder reads, as event catalog keys (core/data/event_catalog.csv): the
# pipeline keeps these events for it (core.needs); reading any other raises UndeclaredNeed.
RCM_ROLE_MISSING = "rdsh_role_not_installed"          # "RD Session Host Server role is not installed."
# any other licensing event of the session-host service shows the machine acts as one
RCM_LICENSING_EVENTS = tuple(sorted(e.key for e in catalog.load_catalog()
                                    if catalog.family(e) == "rcm" and e.key != RCM_ROLE_MISSING))
GRACE_EXPIRED_EVENTS = ("grace_period_expired", "grace_expired_mode_not_configured")
GRACE_WARNING_EVENT = "grace_period_expiring"
OS_AT_BOOT = "os_version_at_boot"                     # EventLog 6009
LS_SERVICE_STATE = "ls_service_state"                 # SCM 7036 for TermServLicensing
LS_EVENTS = tuple(sorted(e.key for e in catalog.load_catalog() if catalog.family(e) == "ls"))
LOGON_EVENTS = ("session_logon_succeeded", "session_reconnect_succeeded")   # LSM 21/25: a session got in

# ... and the registry keys it reads: every key of core/data/registry_keys.txt (RDS_LICENSING.md 2.1-2.7)
NEEDS = Needs.of(events=(*RCM_LICENSING_EVENTS, RCM_ROLE_MISSING, OS_AT_BOOT, LS_SERVICE_STATE, *LS_EVENTS,
                         *LOGON_EVENTS),
                 registry=registry_keys.declared_lines())
GRACE_DAYS = 120




# --- evidence ---------------------------------------------------------------------------------

def _check_declared(key: str, children: bool = False) -> None:
    """A registry read (of ``key``, or of its subkeys) must be one the builder declared
    (NEEDS.registry): the parsers read only those keys."""
    if not _declared(key, children):
        what = f"the subkeys of {key}" if children else key
        raise UndeclaredNeed(f"the host-profile builder reads {what}: add it to core/data/registry_keys.txt")


@lru_cache(maxsize=1024)
def _declared(key: str, children: bool) -> bool:
    """Whether NEEDS.registry covers ``key`` (the builder reads the same few dozen keys for every
    machine; the answer never changes)."""
    root, _, rest = key.partition("\\")
    hive, _, path = rest.partition("\\")
    declared = registry_keys.patterns(NEEDS.registry)
    test = registry_keys.covers_children if children else registry_keys.matches
    return root.upper() == "HKLM" and test(hive.upper(), path, declared)


class _Registry:
    """Registry rows of one host, by (key_ccs, value) case-insensitively; first source wins."""

    def __init__(self, frame: "pd.DataFrame | list[dict]") -> None:
        self.values: dict[tuple[str, str], dict] = {}
        self.keys: dict[str, list[dict]] = defaultdict(list)
        for row in (frame if isinstance(frame, list) else records(frame)):
            key = (row["key_ccs"] or row["key"] or "").lower()
            self.keys[key].append(row)
            if row["value"] is not None:
                self.values.setdefault((key, row["value"].lower()), row)

    def get(self, key: str, value: str) -> Optional[dict]:
        _check_declared(key)
        return self.values.get((key.lower(), value.lower()))

    def key(self, key: str) -> list[dict]:
        _check_declared(key)
        return self.keys.get(key.lower(), [])

    def subkeys(self, key: str) -> list[tuple[str, list[dict]]]:
        _check_declared(key, children=True)
        prefix = key.lower() + "\\"
        out = []
        for k, rows in self.keys.items():
            if k.startswith(prefix) and "\\" not in k[len(prefix):]:
                out.append((rows[0]["key_ccs"].split("\\")[-1], rows))
        return sorted(out)

    def fact(self, key: str, value: str, origin: str = "registry", convert=None) -> Optional[Fact]:
        row = self.get(key, value)
        if row is None or row["data"] is None:
            return None
        data = row["data"]
        if convert is not None:
            try:
                data = convert(data)
            except (TypeError, ValueError):
                return None
        return Fact(data, origin, [registry_evidence(row)])


# --- profiles ---------------------------------------------------------------------------------

def build_profiles(frames: dict[str, pd.DataFrame], facts: list[dict], hosts: dict[str, set[str]],
                   as_of: datetime) -> list[HostProfile]:
    """One profile per canonical host of ``hosts`` and of any host named in frames or facts."""
    names: dict[str, set[str]] = {canonical(k) or k: set(v) for k, v in hosts.items()}
    reg = frames.get("registry")
    reg = empty_frame("registry") if reg is None else reg
    ev = frames.get("events")
    kp = frames.get("keypacks")
    art = frames.get("artifacts")
    # each frame read once into plain rows grouped by machine: a pandas slice and a records()
    # per machine and frame cost more than everything the builder does with the rows
    art_of, reg_of, ev_of = _rows_by_host(art, "host"), _rows_by_host(reg, "host"), _rows_by_host(ev, "host")
    kp_of, issued_of = _rows_by_host(kp, "license_server"), _rows_by_host(frames.get("issued"), "license_server")
    for groups in (reg_of, ev_of, kp_of, issued_of):        # every machine a row names
        for name in groups:
            if name:
                names.setdefault(name, set())
    for fact in facts:
        if canonical(fact.get("host")):
            names.setdefault(canonical(fact.get("host")), set())
    by_host_facts: dict[str, list[dict]] = defaultdict(list)
    for fact in facts:
        h = canonical(fact.get("host"))
        if h:
            by_host_facts[h].append(fact)

    memberships = [f for f in facts if f.get("name") == F.TSLS_GROUP_MEMBERS]
    profiles = []
    for name in sorted(names):
        p = HostProfile(name=name, aliases=set(names[name]))
        p.artifacts = sorted({r["path"] for r in art_of.get(name, ()) if r["path"] is not None})
        _fill(p, _Registry(list(reg_of.get(name, ()))), list(ev_of.get(name, ())), kp_of.get(name, []),
              by_host_facts.get(name, []), as_of)
        _acts_as(p, issued_of.get(name, []))
        _tsls_membership(p, memberships)
        p.coverage = coverage_of(by_host_facts.get(name, []), kp_of.get(name, []), issued_of.get(name, []))
        profiles.append(p)
    return profiles


def _rows_by_host(frame: Optional[pd.DataFrame], col: str) -> dict[Optional[str], list[Row]]:
    """The rows of ``frame`` (:func:`core.evidence.rows`, in frame order) by the machine their
    ``col`` names (canonical): each spelling made canonical once, the frame read once."""
    if frame is None or not len(frame) or col not in frame:
        return {}
    groups: dict[Optional[str], list[Row]] = defaultdict(list)
    names: dict = {}
    for row in frame_rows(frame):
        value = row[col]
        if value not in names:
            names[value] = canonical(value)
        groups[names[value]].append(row)
    return groups


# Licensing facts -> the export that states them (core.coverage "exports")
_EXPORT_OF_FACT = {F.GRACE_DAYS_LEFT: "grace_period", F.TSLS_GROUP_MEMBERS: "tsls_membership",
                   F.ACTIVATION_STATUS: "license_server", F.LS_VERSION: "license_server",
                   F.LS_OS_BUILD: "license_server", F.REPORT_SUMMARY: "cal_report",
                   F.LICENSE_SERVERS: "wmi_settings", F.LICENSING_MODE: "wmi_settings",
                   F.CONNECTIVITY_STATUS: "wmi_settings", F.HAS_X509_CERTIFICATE: "wmi_settings",
                   F.LS_AVAILABLE: "wmi_settings", F.OS_BUILD: "system_info", F.DOMAIN_ROLE: "system_info"}


def coverage_of(facts: list[dict], keypacks: "Optional[pd.DataFrame | list[dict]]",
                issued: "Optional[pd.DataFrame | list[dict]]") -> Coverage:
    """What the bundle holds of one machine (core.coverage): registry subtrees from the
    parsers' ``registry_coverage`` facts (a hive file covers its hive), event logs with their
    span from ``event_log`` facts, exports from their rows and facts."""
    cov = Coverage()
    for f in facts:
        name, source = f.get("name"), str(f.get("source") or "")
        if name == F.REGISTRY_COVERAGE:
            for key in f.get("value") or []:
                root = str(key)
                target = cov.hives if root.upper() in HIVE_ROOTS else cov.keys
                target.setdefault(root, [])
                if source not in target[root]:
                    target[root].append(source)
        elif name == F.EVENT_LOG and isinstance(f.get("value"), dict):
            v = f["value"]
            channel = str(v.get("channel") or "")
            span = cov.logs.get(channel) or LogSpan(channel)
            for attr, pick in (("first", min), ("last", max)):
                when = _utc(v.get(attr))
                if when is not None:
                    old = getattr(span, attr)
                    setattr(span, attr, when if old is None else pick(old, when))
            span.records += int(v.get("records") or 0)
            span.sources.append(source)
            cov.logs[channel] = span
        elif name in _EXPORT_OF_FACT:
            cov.exports.setdefault(_EXPORT_OF_FACT[name], [])
            if source not in cov.exports[_EXPORT_OF_FACT[name]]:
                cov.exports[_EXPORT_OF_FACT[name]].append(source)
    for export, frame in (("keypacks", keypacks), ("issued", issued)):
        if isinstance(frame, list):          # the builder's rows of this machine
            if frame and "source" in frame[0]:
                cov.exports[export] = sorted({str(r["source"]) for r in frame if r["source"] is not None})
        elif frame is not None and len(frame) and "source" in frame:
            cov.exports[export] = sorted(set(frame["source"].dropna().astype(str)))
    return cov


def _utc(value) -> Optional[datetime]:
    if value is None:
        return None
    try:
        when = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(when):
        return None
    return (when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")).to_pydatetime()


def _tsls_membership(p: HostProfile, memberships: list[dict]) -> None:
    """Whether a license server is in its domain's Terminal Server License Servers group, from
    a membership export made on any machine of that domain (MSRD-Collect writes
    <HOST>_TSLSMembership.txt on session hosts and license servers alike); the license server's
    own export comes first."""
    if not p.has_role("licensing") or not memberships:
        return
    own = p.license_server.in_tsls_group
    if own is not None and own.origin != "inferred":
        return
    domain = str(p.domain.value).lower() if p.domain is not None and p.domain.value else None
    for f in memberships:
        listed = (f.get("detail") or {}).get("domain")
        if listed and domain and listed.lower() != domain:
            continue
        members = {canonical(str(m).split("\\")[-1].rstrip("$")) for m in (f.get("value") or [])}
        p.license_server.in_tsls_group = Fact(p.name in members, f.get("origin") or "report",
                                              [export_evidence(f, "Terminal Server License Servers members")])
        return


def _acts_as(p: HostProfile, issued: list[Row]) -> None:
    """The roles a machine plays when no installed-role record says so, inferred once here for
    the rules and the report alike: a session host by its licensing configuration or grace
    period, a license server by its exports or license-server facts. A recorded role (true or
    false) always stands."""
    if "session_host" not in p.roles:
        signals = [c for c in p.licensing_mode_candidates if _chosen_mode(c)] + list(p.license_server_candidates)
        g = p.grace_period
        grace = [f for f in (g.ends, g.days_left_reported) if f is not None]
        if signals or grace or g.key_last_write or g.expired_events:
            evidence = [e for f in signals + grace for e in f.evidence][:3] or list(g.expired_events[:1])
            p.roles["session_host"] = Fact(True, "inferred", evidence)
    if "licensing" not in p.roles:
        ls = p.license_server
        facts = [getattr(ls, f) for f in ("service_start_type", "service_state", "activation_status", "version",
                                          "in_tsls_group", "disable_workgroup_auth_enforcement")]
        facts = [f for f in facts if f is not None
                 and not (f is ls.in_tsls_group and f.value is not True)]   # session hosts list the group too
        if facts or ls.report_summary or len(issued):
            evidence = [e for f in facts for e in f.evidence][:3]
            if not evidence and len(issued):
                row = issued[0]
                evidence = [Evidence("issued", str(row.get("source") or ""), {"row": int(row.name)},
                                     {"issued": len(issued)}, "issued CALs exported from this license server")]
            p.roles["licensing"] = Fact(True, "inferred", evidence)


def _chosen_mode(candidate: Fact) -> bool:
    """A licensing mode someone chose: Per User / Per Device anywhere, or any Group Policy value.
    RCM's own defaults (1 "Remote Desktop for Administration" on every Windows, 5 "not
    configured") do not make a machine a session host (RDS_LICENSING.md 2.2)."""
    try:
        return candidate.value is not None and (candidate.origin == SOURCE_GROUP_POLICY or int(candidate.value) in (2, 4))
    except (TypeError, ValueError):
        return False


def _fill(p: HostProfile, reg: _Registry, events: list[Row], keypacks: list[Row], facts: list[dict],
          as_of: datetime) -> None:
    rows = list(events)
    rows.sort(key=lambda r: (r.get("time") or datetime.min.replace(tzinfo=timezone.utc), r.get("record_id") or 0))
    ev = _Events(rows)
    by_name: dict[str, list[dict]] = defaultdict(list)
    for f in facts:
        by_name[f.get("name")].append(f)

    def fact_of(name: str, convert=None) -> Optional[Fact]:
        found = by_name.get(name)
        if not found:
            return None
        f = found[-1]
        value = f.get("value")
        if convert is not None:
            try:
                value = convert(value)
            except (TypeError, ValueError):
                return None
        return Fact(value, f.get("origin") or "report", [export_evidence(f)])

    _identity(p, reg, ev, fact_of)
    _os(p, reg, ev, fact_of)
    _roles(p, reg, ev, keypacks, by_name)
    _domain_joined(p, reg, ev)
    _system_info(p, by_name)
    _licensing(p, reg, fact_of)
    p.ls_available = [Fact(f.get("value"), f.get("origin") or "report", [export_evidence(f)])
                      for f in by_name.get(F.LS_AVAILABLE, []) if isinstance(f.get("value"), dict)]
    _grace(p, reg, ev, fact_of)
    _license_server(p, reg, ev, by_name, fact_of)
    logons = ev.of(*LOGON_EVENTS)
    p.logon_times = [r["time"] for r in logons if r.get("time") is not None]
    if logons:
        p.last_logon = Fact(logons[-1]["time"], "event", [event_evidence(logons[-1], "Remote Desktop logon")])


class _Events:
    """One host's events, oldest first, read by catalog key: only what :data:`NEEDS` declares."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows            # every kept event: its Computer field names the host
        self._by_key: dict[str, list[dict]] = defaultdict(list)
        self._order: dict[int, int] = {}
        for i, r in enumerate(rows):
            entry = catalog.lookup(r.get("provider"), r["event_id"], r.get("data") or {}, r.get("source_name")) \
                if r.get("event_id") is not None else None
            if entry is not None:
                self._by_key[entry.key].append(r)
                self._order[id(r)] = i

    def of(self, *keys: str) -> list[dict]:
        """Rows of these catalog keys, oldest first."""
        undeclared = set(keys) - NEEDS.events
        if undeclared:
            raise UndeclaredNeed(f"the host-profile builder reads {sorted(undeclared)}: add them to hosts.NEEDS")
        if len(keys) == 1:
            return list(self._by_key.get(keys[0], ()))
        return sorted((r for k in set(keys) for r in self._by_key.get(k, ())), key=lambda r: self._order[id(r)])


def _identity(p: HostProfile, reg: _Registry, ev: "_Events", fact_of) -> None:
    host = reg.get(TCPIP, "Hostname") or reg.get(TCPIP, "NV Hostname")
    dom = None
    for value in ("Domain", "NV Domain"):
        row = reg.get(TCPIP, value)
        if row and isinstance(row["data"], str) and row["data"].strip():
            dom = Fact(row["data"].strip().lower(), "registry", [registry_evidence(row, "primary DNS suffix")])
            break
    fqdns = Counter(r["computer"] for r in ev.rows if r.get("computer") and "." in r["computer"]
                    and canonical(r["computer"]) == p.name)
    if dom is not None:
        short = host["data"] if host and isinstance(host["data"], str) and host["data"] else p.name
        p.fqdn = f"{short}.{dom.value}".lower()
    elif fqdns:
        fqdn, _ = fqdns.most_common(1)[0]
        p.fqdn = fqdn.lower()
        first = next(r for r in ev.rows if r.get("computer") == fqdn)
        dom = Fact(fqdn.split(".", 1)[1].lower(), "event", [event_evidence(first, "Computer field of the event")])
    if dom is None:
        dom = fact_of(F.DOMAIN)
    if dom is None:
        nb = _netbios_domain(reg)
        if nb is not None and nb[1]:          # only a joined machine's primary domain is a domain
            dom = Fact(nb[0], "registry", [registry_evidence(nb[2], "LSA primary domain (NetBIOS)")])
    p.domain = dom
    for alias in list(fqdns) + ([p.fqdn] if p.fqdn else []):
        if alias.upper() != p.name:
            p.aliases.add(alias.lower())


def _netbios_domain(reg: _Registry) -> Optional[tuple[str, bool, dict]]:
    """SECURITY\\Policy\\PolPrDmN (UNICODE_STRING + name) and whether PolPrDmS holds a domain SID."""
    row = reg.get(SECURITY_POLICY + r"\PolPrDmN", "")
    if row is None or not isinstance(row["data"], str):
        return None
    try:
        raw = bytes.fromhex(row["data"])
    except ValueError:
        return None
    name = None
    if len(raw) >= 8:
        length = int.from_bytes(raw[:2], "little")
        for header in (8, 16):
            cand = raw[header:header + length]
            if len(cand) == length and length:
                text = cand.decode("utf-16-le", "replace")
                if text.isprintable():
                    name = text
                    break
    sid = reg.get(SECURITY_POLICY + r"\PolPrDmS", "")
    joined = bool(sid and isinstance(sid["data"], str) and len(sid["data"]) >= 16)
    return (name, joined, row) if name else None


def _os(p: HostProfile, reg: _Registry, ev: _Events, fact_of) -> None:
    p.os_product = reg.fact(CURRENT_VERSION, "ProductName") or fact_of(F.OS_PRODUCT, str)   # else SystemInfo
    build = reg.fact(CURRENT_VERSION, "CurrentBuildNumber", convert=int) or reg.fact(
        CURRENT_VERSION, "CurrentBuild", convert=int)
    build = build or fact_of(F.OS_BUILD, int)     # SystemInfo.txt / systeminfo.exe, where no hive says it
    if build is None:
        for r in reversed(ev.of(OS_AT_BOOT)):   # "Microsoft (R) Windows (R) 6.03. 9600 Multiprocessor Free."
            text = " ".join(str(v) for v in (r.get("data") or {}).values())
            m = re.search(r"\b(\d{4,5})\b", text)
            if m:
                build = Fact(int(m.group(1)), "event", [event_evidence(r, "EventLog 6009 at boot")])
                break
    if build is None:
        build = fact_of(F.LS_OS_BUILD, int)
    p.os_build = build
    p.os_ubr = reg.fact(CURRENT_VERSION, "UBR", convert=int) or fact_of(F.OS_UBR, int)
    # InstallDate (seconds since 1970, UTC): set at setup, and again by sysprep's specialize pass on a
    # machine deployed from an image, which keeps the image's GracePeriod timebomb (RDSLIC-024)
    p.os_install_date = reg.fact(CURRENT_VERSION, "InstallDate", convert=_unix_time)
    server = _is_server(reg, p.os_product)
    if build is not None:
        label = os_label(int(build.value), server)
        if label:
            p.os_version = Fact(label, build.origin, list(build.evidence))
    if p.os_version is None:
        p.os_version = fact_of(F.LS_VERSION, str)


def _unix_time(value) -> datetime:
    """A REG_DWORD of seconds since 1970 (CurrentVersion\\InstallDate) as a UTC time; 0 is no date."""
    seconds = int(value)
    if seconds <= 0:
        raise ValueError("no date")
    return datetime.fromtimestamp(seconds, timezone.utc)


# Win32_ComputerSystem.DomainRole names of a machine joined to a domain (parsers.systeminfo)
_JOINED_ROLES = {"member_server", "member_workstation", "primary_domain_controller", "backup_domain_controller"}


def _system_info(p: HostProfile, by_name: dict) -> None:
    """What MSRD-Collect's SystemInfo.txt or systeminfo.exe says of the machine (origin
    ``system_info``): domain role, install date, last boot and time zone as stated; where a hive
    gave the OS or the domain and SystemInfo differs, the hive's value stands and SystemInfo's is
    added to its evidence, so both are shown. The domain role (Win32_ComputerSystem, read from
    LSA) decides domain membership unless the LSA policy or Group Policy in a hive said it."""
    def stated(name: str) -> Optional[dict]:
        found = [f for f in by_name.get(name, []) if f.get("origin") == "system_info"]
        return found[-1] if found else None

    for attr, name, note in (("domain_role", F.DOMAIN_ROLE, "domain role (Win32_ComputerSystem)"),
                             ("install_date_local", F.INSTALL_DATE, "install date, the machine's local time"),
                             ("last_boot", F.LAST_BOOT, "last boot, the machine's local time"),
                             ("time_zone", F.TIME_ZONE, "time zone")):
        f = stated(name)
        if f is not None:
            setattr(p, attr, Fact(f.get("value"), "system_info", [export_evidence(f, note)]))
    for attr, name, same in (("os_product", F.OS_PRODUCT, lambda a, b: _product(a) == _product(b)),
                             ("os_build", F.OS_BUILD, lambda a, b: int(a) == int(b)),
                             ("os_ubr", F.OS_UBR, lambda a, b: int(a) == int(b)),
                             ("domain", F.DOMAIN, lambda a, b: str(a).lower().split(".")[0] == str(b).lower().split(".")[0])):
        have, f = getattr(p, attr), stated(name)
        if have is None or f is None or have.origin == "system_info":
            continue
        try:
            agree = same(have.value, f.get("value"))
        except (TypeError, ValueError):
            agree = False
        if not agree:
            have.evidence.append(export_evidence(
                f, f"SystemInfo says {f.get('value')!r}; the {have.origin} value {have.value!r} stands"))
    role = p.domain_role
    weak = p.domain_joined is None or all(e.note.startswith(("weak signal", "no DNS domain"))
                                          for e in p.domain_joined.evidence)
    if role is not None and weak:
        p.domain_joined = Fact(role.value in _JOINED_ROLES, "system_info", list(role.evidence))


def _product(name) -> str:
    """A product name compared: Win32_OperatingSystem.Caption says "Microsoft Windows Server ...",
    the registry's ProductName "Windows Server ..."."""
    return re.sub(r"^microsoft\s+", "", str(name).strip().lower())


def _is_server(reg: _Registry, product: Optional[Fact]) -> Optional[bool]:
    it = reg.get(CURRENT_VERSION, "InstallationType")
    if it and isinstance(it["data"], str):
        return it["data"].lower() != "client"
    pt = reg.get(SYS + r"\Control\ProductOptions", "ProductType")
    if pt and isinstance(pt["data"], str):
        return pt["data"].lower() != "winnt"
    if product is not None and isinstance(product.value, str):
        return "server" in product.value.lower()
    return None


def _roles(p: HostProfile, reg: _Registry, ev: _Events, keypacks: list[Row], by_name: dict) -> None:
    positive: dict[str, Fact] = {}
    negative: dict[str, Fact] = {}

    def add(role: str, value: bool, origin: str, evidence: Evidence) -> None:
        target = positive if value else negative
        if role in target:
            target[role].evidence.append(evidence)
        else:
            target[role] = Fact(value, origin, [evidence])

    for component, rows in reg.subkeys(COMPONENT_CACHE):
        role = ROLE_COMPONENTS.get(component)
        row = reg.get(f"{COMPONENT_CACHE}\\{component}", "InstallState")
        if role and row is not None and isinstance(row["data"], int):
            add(role, row["data"] == 1, "registry", registry_evidence(row, "Server Manager component cache"))
    for service, role in ROLE_SERVICES.items():
        rows = reg.key(f"{SYS}\\Services\\{service}")
        if rows:
            add(role, True, "registry", registry_evidence(rows[0], f"service {service} is installed"))
    app = reg.get(TS, "TSAppCompat")
    if app is not None and app["data"] == 1:
        add("session_host", True, "registry", registry_evidence(app, "application server mode"))
    elif app is not None and app["data"] == 0:
        # Remote Desktop for Administration (WMI TerminalServerMode 0): no RD Session Host, whatever
        # licensing policy reaches the machine (a domain-wide GPO); a positive signal still wins
        add("session_host", False, "registry", registry_evidence(app, "remote administration mode (TSAppCompat 0)"))
    rcm_seen = next(iter(ev.of(*RCM_LICENSING_EVENTS)), None)
    missing = next(iter(reversed(ev.of(RCM_ROLE_MISSING))), None)
    ls_seen = next(iter(ev.of(*LS_EVENTS)), None)
    if rcm_seen:
        add("session_host", True, "event", event_evidence(rcm_seen, "RD Session Host licensing event"))
    elif missing:
        add("session_host", False, "event", event_evidence(missing, "RD Session Host role is not installed"))
    if ls_seen:
        add("licensing", True, "event", event_evidence(ls_seen, "RD Licensing service event"))
    if len(keypacks):
        row = keypacks[0]
        add("licensing", True, "report", Evidence("keypacks", str(row.get("source") or ""),
                                                   {"keypack_id": present(row.get("keypack_id"))},
                                                   {"keypacks": len(keypacks)}, "installed CAL key packs"))
    for name in (F.ACTIVATION_STATUS, F.REPORT_SUMMARY, F.IN_TSLS_GROUP):
        for f in by_name.get(name, [])[:1]:
            if name == F.IN_TSLS_GROUP and f.get("value") is not True:
                break       # MSRD-Collect lists the group on session hosts too: not being in it says nothing
            add("licensing", True, f.get("origin") or "report", export_evidence(f, "license server export"))
            break
    p.roles = {**negative, **positive}


def _domain_joined(p: HostProfile, reg: _Registry, ev: _Events) -> None:
    """Strong signals (LSA primary domain SID, machine account, GP distinguished name) decide;
    a DNS suffix or an FQDN alone is weak: both can be set in a workgroup (RDS_LICENSING.md 2.1)."""
    nb = _netbios_domain(reg)
    account = reg.get(SECURITY_POLICY + r"\PolMachineAccountS", "")
    dn = reg.get(GP_STATE, "Distinguished-Name")
    if nb is not None:
        ev_list = [registry_evidence(nb[2], "LSA primary domain")]
        if account is not None:
            ev_list.append(registry_evidence(account, "machine account"))
        p.domain_joined = Fact(nb[1] or account is not None, "registry", ev_list)
        return
    if dn is not None and dn["data"]:
        p.domain_joined = Fact(True, "registry", [registry_evidence(dn, "Group Policy applied to a domain computer object")])
        return
    if p.domain is not None:
        p.domain_joined = Fact(True, p.domain.origin,
                               [replace(e, note=f"weak signal, a DNS suffix or FQDN only: {e.note}".rstrip(": "))
                                for e in p.domain.evidence])
        return
    tcp = reg.get(TCPIP, "Domain")
    if tcp is not None:
        p.domain_joined = Fact(False, "registry", [registry_evidence(tcp, "no DNS domain, no domain signal")])


def _licensing(p: HostProfile, reg: _Registry, fact_of) -> None:
    modes = [reg.fact(POLICY, "LicensingMode", SOURCE_GROUP_POLICY, int),
             reg.fact(RCM + r"\Licensing Core", "LicensingMode", SOURCE_DEPLOYMENT, int),
             fact_of(F.LICENSING_MODE, int)]
    if modes[2] is not None:
        modes[2].origin = SOURCE_WMI
    p.licensing_mode_candidates = [m for m in modes if m is not None]
    p.licensing_mode = p.licensing_mode_candidates[0] if p.licensing_mode_candidates else None

    servers: list[Fact] = []
    row = reg.get(POLICY, "LicenseServers")
    if row is not None:
        servers.append(Fact(split_server_list(row["data"]), SOURCE_GROUP_POLICY, [registry_evidence(row)]))
    found, evidence = [], []
    row = reg.get(LICENSE_SERVERS, "SpecifiedLicenseServers")
    if row is not None:
        found += split_server_list(row["data"])
        evidence.append(registry_evidence(row))
    for sub, rows in reg.subkeys(LICENSE_SERVERS):      # subkey forms: ...\SpecifiedLicenseServers\<LS> or \<LS>
        if sub.lower() == "specifiedlicenseservers":
            for name, srows in reg.subkeys(f"{LICENSE_SERVERS}\\{sub}"):
                found.append(name)
                evidence.append(registry_evidence(srows[0], "license server subkey"))
            for r in rows:
                if r["value"]:
                    found.append(r["value"])
                    evidence.append(registry_evidence(r, "license server value name"))
        else:
            found.append(sub)
            evidence.append(registry_evidence(rows[0], "license server subkey"))
    if evidence:
        servers.append(Fact(list(dict.fromkeys(found)), SOURCE_DEPLOYMENT, evidence))
    wmi = fact_of(F.LICENSE_SERVERS, split_server_list)
    if wmi is not None:
        wmi.origin = SOURCE_WMI
        servers.append(wmi)
    p.license_server_candidates = servers
    p.license_servers = next((s for s in servers if s.value), servers[0] if servers else None)

    p.deny_ts_connections = reg.fact(POLICY, "fDenyTSConnections", SOURCE_GROUP_POLICY, int) or reg.fact(
        TS, "fDenyTSConnections", "registry", int)
    certs = [reg.get(RCM, v) for v in CERT_VALUES]
    certs = [c for c in certs if c is not None]
    if certs:
        p.licensing_certificate = Fact(True, "registry", [registry_evidence(c) for c in certs])
    elif reg.key(RCM):
        p.licensing_certificate = Fact(False, "registry", [registry_evidence(reg.key(RCM)[0], "no X509 Certificate value under RCM")])
    else:
        p.licensing_certificate = fact_of(F.HAS_X509_CERTIFICATE, bool)
    p.connectivity_status = fact_of(F.CONNECTIVITY_STATUS, str)


_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%A, %B %d, %Y", "%B %d, %Y", "%d/%m/%Y", "%Y/%m/%d")


def parse_event_date(text: str) -> Optional[datetime]:
    """The %1 of 1129/50281 ("grace period is about to expire on %1"), as Windows formats dates."""
    text = str(text).strip().replace("\u200e", "").replace("\u200f", "")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    head = re.split(r"\s+\d{1,2}:\d{2}", text)[0].strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(head, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _grace(p: HostProfile, reg: _Registry, ev: _Events, fact_of) -> None:
    g = GracePeriod()
    rows = reg.key(RCM + r"\GracePeriod")
    writes = [r["last_write"] for r in rows if r["last_write"] is not None]
    if writes:
        g.key_last_write = max(writes).to_pydatetime() if hasattr(max(writes), "to_pydatetime") else max(writes)
    for r in ev.of(*GRACE_EXPIRED_EVENTS):
        g.expired_events.append(event_evidence(r, "grace period expired"))
    for r in ev.of(GRACE_WARNING_EVENT):
        for value in (r.get("data") or {}).values():
            when = parse_event_date(value)
            if when is not None:
                g.ends = Fact(when, "event", [event_evidence(r, "grace period ends on %1")])
                break
    if g.ends is None and g.key_last_write is not None:
        g.ends = Fact(g.key_last_write + timedelta(days=GRACE_DAYS), "registry",
                      [registry_evidence(rows[0], f"heuristic: GracePeriod key last write + {GRACE_DAYS} days")])
    g.days_left_reported = fact_of(F.GRACE_DAYS_LEFT, int)
    p.grace_period = g


def _license_server(p: HostProfile, reg: _Registry, ev: _Events, by_name: dict, fact_of) -> None:
    ls = p.license_server
    ls.service_start_type = reg.fact(LS_SERVICE, "Start", "registry", int)
    ls.disable_workgroup_auth_enforcement = reg.fact(LS_SERVICE + r"\Parameters", "DisableWorkgroupAuthEnforcement",
                                                     "registry", int)
    ls.secure_licensing = reg.fact(POLICY, "fSecureLicensing", SOURCE_GROUP_POLICY, int)
    # "Prevent license upgrade" (RDS_LICENSING.md 0a, 2.6): no newer CAL for an older session host
    ls.prevent_license_upgrade = reg.fact(POLICY, "fPreventLicenseUpgrade", SOURCE_GROUP_POLICY, int)
    ls.activation_status = fact_of(F.ACTIVATION_STATUS, str)
    ls.version = fact_of(F.LS_VERSION, str) or (
        Fact(p.os_version.value, p.os_version.origin, list(p.os_version.evidence))
        if p.os_version is not None and p.has_role("licensing") else None)
    ls.in_tsls_group = fact_of(F.IN_TSLS_GROUP, bool)
    if ls.in_tsls_group is None and by_name.get(F.TSLS_GROUP_MEMBERS):
        f = by_name[F.TSLS_GROUP_MEMBERS][-1]
        members = {canonical(str(m).split("\\")[-1].rstrip("$")) for m in (f.get("value") or [])}
        ls.in_tsls_group = Fact(p.name in members, f.get("origin") or "report", [export_evidence(f)])
    ls.service_state = fact_of(F.LS_SERVICE_STATE, str)
    if ls.service_state is None:
        for r in reversed(ev.of(LS_SERVICE_STATE)):  # "The Remote Desktop Licensing service entered the running state."
            values = [str(v) for v in (r.get("data") or {}).values()]
            state = next((s for s in ("running", "stopped") for v in values if s in v.lower()), None)
            if state:
                ls.service_state = Fact(state, "event", [event_evidence(r, "Service Control Manager 7036")])
                break
    ls.report_summary = [f.get("value") for f in by_name.get(F.REPORT_SUMMARY, [])]
