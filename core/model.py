"""Domain objects shared by every layer: evidence, facts, host profiles, findings, analysis.

Frames carry tabular data; these dataclasses carry what is reasoned on. Every fact keeps the
evidence it came from, so a finding can always cite the exact event, registry value or report
row (DESIGN.md, "Host profile and precedence").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import sys
from typing import TYPE_CHECKING, Any, Generic, Optional, TypeVar

from rdsla.core.coverage import Coverage

if TYPE_CHECKING:       # pandas is not imported here: the CLI's --version, rules and compat need none
    import pandas as pd

T = TypeVar("T")

SEVERITIES = ("info", "warning", "error", "critical")
KINDS = ("cause", "symptom", "compliance", "info")   # compliance: licensing terms broken, connections work
STATES = ("detected", "not_detected", "not_checked")

# Licensing mode numbers as RCM, Group Policy and WMI store them (RDS_LICENSING.md 2.2, 3.4).
LICENSING_MODES = {0: "personal", 1: "remote_admin", 2: "per_device", 4: "per_user", 5: "not_configured",
                   6: "aad_per_user"}
# Modes a session host licenses users or devices in: Per Device, Per User, and the newer ADMX's
# "AAD Per User" (RDS_LICENSING.md 2.2: its number is not confirmed by Microsoft; 6 is the value
# seen with it)
CONFIGURED_MODES = (2, 4, 6)

# Where a configuration value came from (precedence: group_policy > deployment > wmi_export).
SOURCE_GROUP_POLICY = "group_policy"
SOURCE_DEPLOYMENT = "deployment"
SOURCE_WMI = "wmi_export"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Evidence:
    """A pointer to one row of one frame, plus what to show of it.

    ``frame`` is events|registry|keypacks|issued|artifacts; ``source`` the artifact path inside
    the bundle; ``locator`` identifies the row (record_id for events, key+value for registry,
    keypack_id/row number for reports); ``detail`` holds display fields (time, channel,
    event_id, message / key, value, data, last_write / the report row).
    """

    frame: str
    source: str
    locator: dict = field(default_factory=dict)
    detail: dict = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict:
        # not dataclasses.asdict: its deep copy of locator and detail is thrown away by _jsonable,
        # which builds new dicts and lists anyway (half the time of findings.json went there)
        return _jsonable({"frame": self.frame, "source": self.source, "locator": self.locator,
                          "detail": self.detail, "note": self.note})


@dataclass
class Fact(Generic[T]):
    """One value with where it came from (``origin``: group_policy, deployment, registry,
    event, report, wmi_export, file_name ...) and the evidence behind it."""

    value: T
    origin: str
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"value": _jsonable(self.value), "origin": self.origin,
                "evidence": [e.to_dict() for e in self.evidence]}


@dataclass
class GracePeriod:
    """Grace-period evidence of a session host (RDS_LICENSING.md 2.3)."""

    key_last_write: Optional[datetime] = None      # RCM\GracePeriod last write (~ timebomb start)
    ends: Optional[Fact] = None                     # datetime: from 1129/50281 %1, or key + 120 d
    expired_events: list[Evidence] = field(default_factory=list)   # 1128/50280, 1069
    days_left_reported: Optional[Fact] = None       # from <host>_rdsh_GracePeriod.txt / WMI

    def days_left(self, as_of: datetime) -> Optional[int]:
        if self.days_left_reported is not None:
            return int(self.days_left_reported.value)
        if self.ends is None:
            return None
        return max(0, (self.ends.value - as_of).days)

    def to_dict(self, as_of: datetime | None = None) -> dict:
        return {
            "key_last_write": _jsonable(self.key_last_write),
            "ends": self.ends.to_dict() if self.ends else None,
            "expired_events": [e.to_dict() for e in self.expired_events],
            "days_left_reported": self.days_left_reported.to_dict() if self.days_left_reported else None,
            "days_left": self.days_left(as_of) if as_of else None,
        }


@dataclass
class LicenseServerFacts:
    """What a license server says of itself (registry, events, WMI/report exports)."""

    service_start_type: Optional[Fact] = None          # TermServLicensing Start (2 auto, 3 manual, 4 disabled)
    service_state: Optional[Fact] = None               # "running"/"stopped" from SCM events or exports
    disable_workgroup_auth_enforcement: Optional[Fact] = None
    secure_licensing: Optional[Fact] = None            # fSecureLicensing policy
    prevent_license_upgrade: Optional[Fact] = None     # fPreventLicenseUpgrade policy (RDSLIC-025)
    activation_status: Optional[Fact] = None           # "activated" | "not_activated" | "unknown"
    version: Optional[Fact] = None                     # OS version label of the LS, e.g. "2019"
    in_tsls_group: Optional[Fact] = None               # member of Terminal Server License Servers
    report_summary: list[dict] = field(default_factory=list)  # per type/version installed/issued

    def to_dict(self) -> dict:
        out = {}
        for name in ("service_start_type", "service_state", "disable_workgroup_auth_enforcement",
                     "secure_licensing", "prevent_license_upgrade", "activation_status", "version", "in_tsls_group"):
            value = getattr(self, name)
            out[name] = value.to_dict() if value is not None else None
        out["report_summary"] = _jsonable(self.report_summary)
        return out


@dataclass
class HostProfile:
    """One machine of the bundle and the facts rules reason on.

    Candidates keep every source of a setting (Group Policy, deployment/RCM, WMI export);
    the effective value applies Microsoft's precedence: policy beats deployment
    (RDS_LICENSING.md 2.2 "Precedence").
    """

    name: str                                          # canonical NetBIOS name, upper case
    aliases: set[str] = field(default_factory=set)     # FQDN and other spellings seen
    fqdn: Optional[str] = None
    domain: Optional[Fact] = None                      # DNS domain / NetBIOS domain
    os_product: Optional[Fact] = None
    os_build: Optional[Fact] = None
    os_ubr: Optional[Fact] = None                      # update build revision (CurrentVersion\UBR): patch level
    os_install_date: Optional[Fact] = None             # datetime: CurrentVersion\InstallDate (sysprep resets it)
    os_version: Optional[Fact] = None                  # "2008R2".."2025" (from the build)
    # what SystemInfo.txt / systeminfo.exe state (origin system_info); times are the machine's local time
    domain_role: Optional[Fact] = None                 # member_server, standalone_server, primary_domain_controller ...
    install_date_local: Optional[Fact] = None          # naive datetime
    last_boot: Optional[Fact] = None                   # naive datetime
    time_zone: Optional[Fact] = None                   # "(UTC+01:00) Amsterdam, Berlin, ..."
    roles: dict[str, Fact] = field(default_factory=dict)   # session_host, licensing, connection_broker, gateway, web_access
    domain_joined: Optional[Fact] = None               # True / False (workgroup)
    licensing_mode_candidates: list[Fact] = field(default_factory=list)   # Fact(int mode, origin)
    licensing_mode: Optional[Fact] = None              # effective: the winning candidate itself
    license_server_candidates: list[Fact] = field(default_factory=list)   # Fact(list[str], origin)
    license_servers: Optional[Fact] = None             # effective: the winning candidate itself
    deny_ts_connections: Optional[Fact] = None
    licensing_certificate: Optional[Fact] = None       # bool: X509 Certificate values under RCM
    grace_period: GracePeriod = field(default_factory=GracePeriod)
    license_server: LicenseServerFacts = field(default_factory=LicenseServerFacts)
    connectivity_status: Optional[Fact] = None         # GetTStoLSConnectivityStatus name, when exported
    ls_available: list[Fact] = field(default_factory=list)  # FindLicenseServers: dict(server, available, issuing_cals)
    artifacts: list[str] = field(default_factory=list)  # sources attributed to this host
    # what the bundle holds of this machine (core.coverage); None on a profile built by hand
    # (tests), which rules then treat as collected wherever any artifact of the kind is present
    coverage: Optional[Coverage] = None
    logon_times: list[datetime] = field(default_factory=list)   # Remote Desktop logons (LSM 21/25), oldest first
    last_logon: Optional[Fact] = None                  # the newest of them, with its event

    def has_role(self, role: str) -> bool:
        fact = self.roles.get(role)
        return bool(fact and fact.value)

    @property
    def mode_name(self) -> Optional[str]:
        if self.licensing_mode is None or self.licensing_mode.value is None:
            return None
        return LICENSING_MODES.get(int(self.licensing_mode.value), f"unknown({self.licensing_mode.value})")

    def to_dict(self, as_of: datetime | None = None) -> dict:
        def f(x):
            return x.to_dict() if x is not None else None
        return {
            "name": self.name, "aliases": sorted(self.aliases), "fqdn": self.fqdn,
            "domain": f(self.domain), "os_product": f(self.os_product), "os_build": f(self.os_build), "os_ubr": f(self.os_ubr),
            "os_install_date": f(self.os_install_date),
            "os_version": f(self.os_version),
            "domain_role": f(self.domain_role), "install_date_local": f(self.install_date_local),
            "last_boot": f(self.last_boot), "time_zone": f(self.time_zone),
            "roles": {k: v.to_dict() for k, v in sorted(self.roles.items())},
            "domain_joined": f(self.domain_joined),
            "licensing_mode_candidates": [c.to_dict() for c in self.licensing_mode_candidates],
            "licensing_mode": f(self.licensing_mode), "licensing_mode_name": self.mode_name,
            "license_server_candidates": [c.to_dict() for c in self.license_server_candidates],
            "license_servers": f(self.license_servers),
            "deny_ts_connections": f(self.deny_ts_connections),
            "licensing_certificate": f(self.licensing_certificate),
            "grace_period": self.grace_period.to_dict(as_of),
            "license_server": self.license_server.to_dict(),
            "connectivity_status": f(self.connectivity_status),
            "artifacts": list(self.artifacts),
            "logons": len(self.logon_times), "last_logon": f(self.last_logon),
            "coverage": self.coverage.to_dict({r for r, fct in self.roles.items() if fct.value})
            if self.coverage is not None else None,
        }


@dataclass
class Finding:
    """The outcome of one rule for one host (or the bundle, host None)."""

    rule_id: str
    state: str                       # detected | not_detected | not_checked
    severity: str
    kind: str
    title: str
    host: Optional[str] = None
    summary: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    remediation: list[str] = field(default_factory=list)
    collect: list[str] = field(default_factory=list)   # what to collect when not_checked
    related_hosts: list[str] = field(default_factory=list)
    explains: list[str] = field(default_factory=list)  # for symptoms: cause rule ids linked by the verdict
    history: str = ""                # older evidence (before the current window): shown, never today's cause

    def to_dict(self) -> dict:
        return {
            "rule_id": self.rule_id, "state": self.state, "severity": self.severity,
            "kind": self.kind, "title": self.title, "host": self.host, "summary": self.summary,
            "evidence": [e.to_dict() for e in self.evidence], "remediation": list(self.remediation),
            "collect": list(self.collect), "related_hosts": list(self.related_hosts),
            "explains": list(self.explains), "history": self.history,
        }


@dataclass
class RootCause:
    rule_id: str
    host: Optional[str]
    confidence: float                # 0..1
    title: str
    summary: str
    score: float = 0.0
    related_hosts: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"rule_id": self.rule_id, "host": self.host, "confidence": round(self.confidence, 2),
                "title": self.title, "summary": self.summary,
                "related_hosts": list(self.related_hosts), "symptoms": list(self.symptoms)}


@dataclass
class Analysis:
    """Everything one run knows about one bundle."""

    inputs: list[str]
    as_of: datetime
    as_of_origin: str                                 # "option" | "newest event" | "newest hive write" | "wall clock"
    frames: dict[str, pd.DataFrame]
    hosts: list[HostProfile] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    root_causes: list[RootCause] = field(default_factory=list)
    event_stats: list[dict] = field(default_factory=list)   # per source/channel/provider/id counts
    messages: list[str] = field(default_factory=list)       # run-level messages (refusals etc.)
    window_days: float = 7.0                                # "current" = this many days before as_of (--window)
    verdict: dict = field(default_factory=dict)             # {state: cause|healthy|inconclusive, summary, collect}
    licensing_paths: list = field(default_factory=list)     # analyzer.licensing_path.LicensingPath per session host

    def host(self, name: str) -> Optional[HostProfile]:
        for profile in self.hosts:
            if profile.name == name:
                return profile
        return None


def _jsonable(value: Any) -> Any:
    """Turn values into JSON-safe forms (datetimes as ISO strings, sets as sorted lists)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, set):
        return sorted(_jsonable(v) for v in value)
    pd = sys.modules.get("pandas")       # a pandas value exists only once pandas is imported
    if pd is not None and isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return value.item()
        except (ValueError, AttributeError):
            return str(value)
    return value


jsonable = _jsonable
