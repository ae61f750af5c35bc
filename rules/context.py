"""What a check sees: per-analysis indexes (:class:`Bundle`), one :class:`Context` per rule and
target host, and the targets themselves (session hosts and license servers, read from the host
profiles' roles). Reads of events go through ``Context.events``, which holds rules to their
declared needs."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

import pandas as pd

from rdsla.core import catalog
from rdsla.core.catalog import LS_NAMES, MANIFEST_BASE, RCM_NAMES
from rdsla.core.hostnames import canonical, license_server_names
from rdsla.core.model import Analysis, Evidence, Finding, HostProfile
from rdsla.core.needs import UndeclaredNeed
from rdsla.rules.meta import COLLECT, RuleMeta, remediation_texts

# Event sources (RDS_LICENSING.md 1.1, 1.3): Provider Name (Rust decoder) or classic
# EventSourceName (libevtx); match both. The names are the catalog's (core.catalog).
SCM_NAMES = frozenset({"service control manager"})


def servers_of(value) -> list[str]:
    """License-server list of a Fact value as canonical names (core.hostnames owns the parsing)."""
    return license_server_names(value)


class Bundle:
    """Per-analysis indexes shared by every rule (built once by the engine)."""

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.frames = analysis.frames
        ev = self.frames.get("events")
        self._by_host_family: dict[tuple, pd.DataFrame] = {}
        if ev is None or not len(ev):
            self.events = ev if ev is not None else pd.DataFrame()
        else:
            ev = ev.copy()
            names = ev["provider"].fillna("").str.lower()
            src = ev["source_name"].fillna("").str.lower()
            ev["_family"] = "other"
            ev.loc[names.isin(LS_NAMES) | src.isin(LS_NAMES), "_family"] = "ls"
            ev.loc[names.isin(RCM_NAMES) | src.isin(RCM_NAMES), "_family"] = "rcm"
            ev.loc[names.isin(SCM_NAMES) | src.isin(SCM_NAMES), "_family"] = "scm"
            legacy = ev["legacy_event_id"].astype("Int64")
            eid = ev["event_id"].astype("Int64")
            manifest = (ev["_family"] == "rcm") & (eid >= MANIFEST_BASE)
            derived = eid.where(~manifest, eid - MANIFEST_BASE)
            ev["_legacy"] = legacy.fillna(derived)
            ev["_host"] = ev["host"].map(lambda h: canonical(h) if isinstance(h, str) else None)
            ev = ev.sort_values("time", kind="stable")
            self.events = ev
            for key, grp in ev.groupby([ev["_host"].fillna(""), ev["_family"]], sort=False):
                self._by_host_family[key] = grp
        reg = self.frames.get("registry")
        self.registry_hosts = set(reg["host"].dropna().map(canonical)) if reg is not None and len(reg) else set()
        art = self.frames.get("artifacts")
        if art is not None and len(art):
            art = art.assign(_host=art["host"].map(lambda h: canonical(h) if isinstance(h, str) else None))
        self._artifacts = art
        self.hosts = {h.name: h for h in analysis.hosts}
        self._session_hosts: Optional[list] = None
        self._license_servers: Optional[list] = None

    def events_of(self, host: Optional[str], family: Optional[str]) -> pd.DataFrame:
        if host is not None and family is not None:
            return self._by_host_family.get((host, family), self.events.iloc[0:0])
        ev = self.events
        if host is not None:
            ev = ev[ev["_host"] == host]
        if family is not None:
            ev = ev[ev["_family"] == family]
        return ev

    def artifacts_of(self, host: str) -> pd.DataFrame:
        art = self._artifacts
        if art is None or not len(art):
            return pd.DataFrame(columns=["path", "kind", "host", "status"])
        return art[art["_host"] == host]


class Context:
    """What one check sees: the analysis, the target host (None for bundle rules), helpers."""

    def __init__(self, bundle: Bundle, meta: RuleMeta, host: Optional[HostProfile]):
        self.bundle = bundle
        self.analysis = bundle.analysis
        self.meta = meta
        self.host = host

    # -- time
    @property
    def as_of(self) -> datetime:
        return self.analysis.as_of

    # -- hosts
    def profile(self, name: Optional[str]) -> Optional[HostProfile]:
        return self.bundle.hosts.get(canonical(name)) if name else None

    def session_hosts(self) -> list[HostProfile]:
        return session_hosts(self.bundle)

    def license_servers(self) -> list[HostProfile]:
        return license_servers(self.bundle)

    def servers_of(self, host: HostProfile) -> list[str]:
        """The license servers a session host is told to use (effective value)."""
        return servers_of(host.license_servers.value) if host.license_servers else []

    def clients_of(self, ls_name: str) -> list[HostProfile]:
        """Session hosts that point at this license server (all session hosts if none names one)."""
        shs = self.session_hosts()
        named = [h for h in shs if ls_name in self.servers_of(h)]
        return named or [h for h in shs if not self.servers_of(h)]

    def servers_for(self, sh: HostProfile) -> list[HostProfile]:
        """License-server profiles this session host uses (all license servers if it names none)."""
        names = self.servers_of(sh)
        lss = self.license_servers()
        if names:
            return [ls for ls in lss if ls.name in names]
        return lss

    # -- frames
    def events(self, host: Optional[str] = None, family: Optional[str] = None,
               ids: Iterable[int] = ()) -> pd.DataFrame:
        """Events of one host, source family (rcm | ls | scm) and legacy ids, oldest first.

        Each id must be one the rule declared (``RuleMeta.events``): the parsers keep only
        declared events, so an undeclared read would silently see nothing."""
        ids = list(ids)
        self._check_declared(family, ids)
        ev = self.bundle.events
        if ev is None or not len(ev):
            return pd.DataFrame(columns=list(ev.columns) if ev is not None else [])
        ev = self.bundle.events_of(canonical(host) if host else None, family)
        if ids and len(ev):
            ev = ev[ev["_legacy"].isin(ids)]
        return ev

    def _check_declared(self, family: Optional[str], ids: list[int]) -> None:
        if not family or not ids:
            raise UndeclaredNeed(f"{self.meta.id}: events are read by source family and ids")
        declared = set(self.meta.events)
        missing = [i for i in ids if not catalog.keys_for(family, [i]) & declared]
        if missing:
            raise UndeclaredNeed(f"{self.meta.id} reads {family} events {missing} without declaring them "
                                 f"(RuleMeta.events: catalog keys {sorted(catalog.keys_for(family, missing))})")

    def frame(self, name: str) -> pd.DataFrame:
        return self.analysis.frames.get(name, pd.DataFrame())

    def keypacks(self, ls: Optional[str] = None) -> pd.DataFrame:
        kp = self.frame("keypacks")
        if ls and len(kp):
            kp = kp[kp["license_server"].fillna("").map(lambda x: canonical(x) == ls)]
        return kp

    def issued(self, ls: Optional[str] = None) -> pd.DataFrame:
        iss = self.frame("issued")
        if ls and len(iss):
            iss = iss[iss["license_server"].fillna("").map(lambda x: canonical(x) == ls)]
        return iss

    # -- what was collected
    def has_events(self, host: str, family: Optional[str] = None) -> bool:
        """A log of this host was collected (any of its events, or an evtx artifact of it)."""
        if self.bundle.events is not None and len(self.bundle.events) and \
                len(self.bundle.events_of(canonical(host) if host else None, family)):
            return True
        if family is None or family in ("rcm", "ls"):
            art = self.bundle.artifacts_of(host)
            return bool(len(art) and (art["kind"] == "evtx").any())
        return False

    def has_registry(self, host: HostProfile) -> bool:
        if host.name in self.bundle.registry_hosts:
            return True
        if host.licensing_mode_candidates or host.license_server_candidates or host.license_servers \
                or host.licensing_mode:
            return True
        art = self.bundle.artifacts_of(host.name)
        return bool(len(art) and art["kind"].isin(["hive", "reg_export", "reg_query"]).any())

    def has_reports(self, ls: HostProfile) -> bool:
        if len(self.keypacks(ls.name)) or len(self.issued(ls.name)) or ls.license_server.report_summary:
            return True
        art = self.bundle.artifacts_of(ls.name)
        return bool(len(art) and art["kind"].isin(["licensing_csv", "licensing_html", "licensing_text"]).any())

    # -- findings
    def _finding(self, state: str, **kw) -> Finding:
        kw.setdefault("host", self.host.name if self.host else None)
        return Finding(rule_id=self.meta.id, state=state, severity=self.meta.severity, kind=self.meta.kind,
                       title=self.meta.title, **kw)

    def detected(self, summary: str, evidence: list[Evidence], *, host: Optional[str] = None,
                 related_hosts: Iterable[str] = (), remediation: Optional[list[str]] = None) -> Finding:
        kw = {} if host is None else {"host": host}
        me = kw.get("host", self.host.name if self.host else None)
        related = [h for h in dict.fromkeys(related_hosts) if h and h != me]
        steps = remediation if remediation is not None else \
            remediation_texts().get(self.meta.id) or list(self.meta.remediation)
        return self._finding("detected", summary=summary, evidence=list(evidence), related_hosts=related,
                             remediation=list(steps), **kw)

    def not_detected(self, summary: str = "") -> Finding:
        return self._finding("not_detected", summary=summary)

    def not_checked(self, *needs: str, summary: str = "") -> Finding:
        collect = [COLLECT[n] for n in needs]
        who = f" for {self.host.name}" if self.host else ""
        return self._finding("not_checked", collect=collect,
                             summary=summary or f"Not checked{who}: an artifact it needs is missing.")


def session_hosts(bundle: Bundle) -> list[HostProfile]:
    """Hosts that run RD Session Host: the profile's role, recorded or inferred (analyzer.hosts
    decides it once for the rules and the report)."""
    if bundle._session_hosts is None:
        bundle._session_hosts = [h for h in bundle.analysis.hosts if h.has_role("session_host")]
    return list(bundle._session_hosts)


def license_servers(bundle: Bundle) -> list[HostProfile]:
    """Hosts that run the license server (the profile's role), and the names session hosts are
    told to use: one without any artifact of its own becomes a bare profile, whose checks then
    say what to collect."""
    if bundle._license_servers is None:
        out = {h.name: h for h in bundle.analysis.hosts if h.has_role("licensing")}
        for sh in session_hosts(bundle):
            for name in servers_of(sh.license_servers.value if sh.license_servers else None):
                if name not in out:
                    out[name] = bundle.hosts.get(name) or HostProfile(name=name)
        bundle._license_servers = list(out.values())
    return list(bundle._license_servers)
