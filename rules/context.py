"""What a check sees: per-analysis indexes (:class:`Bundle`), one :class:`Context` per rule and
target host, and the targets themselves (session hosts and license servers, read from the host
profiles' roles). Reads of events go through ``Context.events``, which holds rules to their
declared needs."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace
from functools import lru_cache
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable, Optional

if TYPE_CHECKING:
    import pandas as pd

from rdsla.core import catalog, coverage
from rdsla.core.catalog import MANIFEST_BASE
from rdsla.core.evidence import RECORD, rows as frame_rows
from rdsla.core.hostnames import canonical, license_server_names
from rdsla.core.model import Analysis, Evidence, Finding, HostProfile
from rdsla.core.needs import UndeclaredNeed
from rdsla.rules.meta import COLLECT, RuleMeta, remediation_texts

# Event sources (RDS_LICENSING.md 1.1, 1.3): Provider Name (Rust decoder) or classic
# EventSourceName (libevtx); match both. The names are the catalog's (core.catalog).
# Session-host licensing warnings and errors (legacy ids, RDS_LICENSING.md 1.2): after a logon,
# none of them means the connection was licensed.
LICENSING_ERRORS = (1003, 1004, 1011, 1028, 1043, 1061, 1062, 1063, 1064, 1068, 1069, 1128, 1130, 1131, 1132,
                    1133)      # 1062-1064 (50214-50216): the Entra ID (AAD) Per User lookups failing


def servers_of(value) -> list[str]:
    """License-server list of a Fact value as canonical names (core.hostnames owns the parsing)."""
    return license_server_names(value)


class Bundle:
    """Per-analysis indexes shared by every rule (built once by the engine)."""

    def __init__(self, analysis: Analysis):
        import pandas as pd
        self.analysis = analysis
        self.frames = analysis.frames
        ev = self.frames.get("events")
        self._by_host_family: dict[tuple, pd.DataFrame] = {}
        self._groups: dict[tuple, pd.DataFrame] = {}
        self._selections: dict[tuple, pd.DataFrame] = {}
        self._by_license_server: dict[tuple, pd.DataFrame] = {}
        self._counts: Counter = Counter()
        self._rows: dict = {}
        self._legacy_at: list[int] = []       # legacy id (-1: none) of each row of self.events
        self._empty: Optional[pd.DataFrame] = None
        if ev is None or not len(ev):
            self.events = ev if ev is not None else pd.DataFrame()
        else:
            ev = ev.copy(deep=False)          # columns are added, none is changed
            pairs = list(zip(ev["provider"].tolist(), ev["source_name"].tolist()))
            family_of = {pair: catalog.family_of(*pair) for pair in set(pairs)}     # once per distinct source
            families = [family_of[pair] for pair in pairs]
            ev["_family"] = families
            # the legacy id (RDS_LICENSING.md 1.2): the recorded one, else the event id, less
            # MANIFEST_BASE for an RCM manifest id (50280 is 1128); NA when neither is known
            legacy_ids = []
            for legacy, eid, family in zip(ev["legacy_event_id"].astype("Int64").tolist(),
                                           ev["event_id"].astype("Int64").tolist(), families):
                if legacy is pd.NA and eid is not pd.NA:
                    legacy = eid - MANIFEST_BASE if family == "rcm" and eid >= MANIFEST_BASE else eid
                legacy_ids.append(legacy)
            ev["_legacy"] = pd.array(legacy_ids, dtype="Int64")
            spellings = ev["host"].dropna().unique()     # canonical() once per spelling, not per row
            ev["_host"] = ev["host"].map({h: canonical(h) if isinstance(h, str) else None for h in spellings})
            ev = ev.sort_values("time", kind="stable")
            self.events = ev
            # groups and counts per (host, family) and legacy id, made once in one pass: rules ask
            # "any ..." and "which ..." of the same groups again and again
            rows: dict[tuple, list[int]] = {}
            in_catalog: dict[tuple, bool] = {}      # (family, legacy id) -> a catalog event
            readable = []                            # positions of catalog events: what a rule may read
            for i, (host, family, legacy) in enumerate(zip(ev["_host"].tolist(), ev["_family"].tolist(),
                                                           ev["_legacy"].tolist())):
                host = host if isinstance(host, str) else ""
                legacy = -1 if legacy is pd.NA else int(legacy)
                rows.setdefault((host, family), []).append(i)
                self._legacy_at.append(legacy)
                self._counts[(host, family, legacy)] += 1
                if (family, legacy) not in in_catalog:
                    in_catalog[(family, legacy)] = bool(catalog.keys_for(family, [legacy]))
                if in_catalog[(family, legacy)]:
                    readable.append(i)
            self._rows = rows
            # the plain record of each event a rule may read (declared needs are catalog keys),
            # made once: evidence and per-row checks read them (core.evidence.rows) from every
            # selection; --all-events keeps many more events, which no rule reads
            records = [None] * len(ev)
            for i, record in zip(readable, frame_rows(ev.iloc[readable] if len(readable) < len(ev) else ev)):
                records[i] = record
            ev[RECORD] = pd.Series(records, index=ev.index, dtype=object)
        reg = self.frames.get("registry")
        self.registry_hosts = {canonical(h) for h in reg["host"].dropna().tolist()} \
            if reg is not None and len(reg) else set()
        art = self.frames.get("artifacts")
        self._artifact_rows: dict[str, list[int]] = {}
        self._artifacts_by_host: dict[str, pd.DataFrame] = {}
        self._evtx_hosts: set = set()
        if art is not None and len(art):
            for i, (host, kind) in enumerate(zip(art["host"].tolist(), art["kind"].tolist())):
                host = canonical(host) if isinstance(host, str) else None
                if host is not None:
                    self._artifact_rows.setdefault(host, []).append(i)
                    if kind == "evtx":
                        self._evtx_hosts.add(host)
        self._artifacts = art
        self.hosts = {h.name: h for h in analysis.hosts}
        self._session_hosts: Optional[list] = None
        self._license_servers: Optional[list] = None

    def events_of(self, host: Optional[str], family: Optional[str]) -> pd.DataFrame:
        """The events of a host and/or source family, grouped once per analysis."""
        if host is not None and family is not None:
            hit = self._by_host_family.get((host, family))
            if hit is None:
                rows = self._rows.get((host, family))
                hit = self.events.iloc[rows] if rows is not None else self.events.iloc[0:0]
                self._by_host_family[(host, family)] = hit
            return hit
        if host is None and family is None:
            return self.events
        key = (host, family)
        hit = self._groups.get(key)
        if hit is None:
            ev = self.events
            hit = ev[ev["_host"] == host] if host is not None else ev[ev["_family"] == family]
            self._groups[key] = hit
        return hit

    def positions(self, host: Optional[str], family: str, ids: Iterable[int]) -> list[int]:
        """Row positions in ``events`` of a host (None: every host), a family and legacy ids, in
        order: from the groups made once, so a selection is one take of the frame."""
        ids = set(ids)
        keys = [(host, family)] if host is not None else [k for k in self._rows if k[1] == family]
        found = [p for k in keys for p in self._rows.get(k, ()) if self._legacy_at[p] in ids]
        return found if host is not None else sorted(found)

    def empty(self) -> pd.DataFrame:
        """No events, with the columns of ``events`` (made once)."""
        if self._empty is None:
            self._empty = self.events.iloc[0:0]
        return self._empty

    def count(self, host: Optional[str], family: Optional[str], ids: Iterable[int] = ()) -> int:
        """How many events of a host and/or family (and legacy ids) there are: from the counts
        made once, no frame is scanned."""
        ids = set(ids)
        return sum(n for (h, f, i), n in self._counts.items()
                   if (host is None or h == host) and (family is None or f == family) and (not ids or i in ids))

    def has_evtx(self, host: str) -> bool:
        """An EVTX artifact of this host is in the bundle (read, skimmed or damaged)."""
        return host in self._evtx_hosts

    def artifacts_of(self, host: str) -> pd.DataFrame:
        import pandas as pd
        art = self._artifacts
        if art is None or not len(art):
            return pd.DataFrame(columns=["path", "kind", "host", "status"])
        hit = self._artifacts_by_host.get(host)
        if hit is None:
            hit = self._artifacts_by_host[host] = art.iloc[self._artifact_rows.get(host, [])]
        return hit


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
        """Events of one host, source family (rcm | ls | scm | clock | other) and legacy ids, oldest first.

        Each id must be one the rule declared (``RuleMeta.events``): the parsers keep only
        declared events, so an undeclared read would silently see nothing."""
        import pandas as pd
        ids = list(ids)
        self._check_declared(family, ids)
        ev = self.bundle.events
        if ev is None or not len(ev):
            return pd.DataFrame(columns=list(ev.columns) if ev is not None else [])
        name = canonical(host) if host else None
        if not ids:
            return self.bundle.events_of(name, family).copy(deep=False)
        key = (name, family, frozenset(ids))
        hit = self.bundle._selections.get(key)
        if hit is None:        # each selection is made once per analysis (rules ask the same)
            positions = self.bundle.positions(name, family, ids)
            hit = ev.iloc[positions] if positions else self.bundle.empty()
            self.bundle._selections[key] = hit
        return hit.copy(deep=False)         # a rule that adds a column changes only its copy

    def _check_declared(self, family: Optional[str], ids: list[int]) -> None:
        if not family or not ids:
            raise UndeclaredNeed(f"{self.meta.id}: events are read by source family and ids")
        missing = [i for i in ids if not _declares(tuple(self.meta.events), family, i)]
        if missing:
            raise UndeclaredNeed(f"{self.meta.id} reads {family} events {missing} without declaring them "
                                 f"(RuleMeta.events: catalog keys {sorted(catalog.keys_for(family, missing))})")

    def frame(self, name: str) -> pd.DataFrame:
        found = self.analysis.frames.get(name)
        if found is None:
            import pandas as pd
            return pd.DataFrame()
        return found

    def keypacks(self, ls: Optional[str] = None) -> pd.DataFrame:
        return self._of_license_server("keypacks", ls)

    def issued(self, ls: Optional[str] = None) -> pd.DataFrame:
        return self._of_license_server("issued", ls)

    def purchased_keypacks(self, ls: str) -> pd.DataFrame:
        """The purchased packs of license server ``ls`` (core.cal_counts.permanent of its key
        packs), selected once per analysis like ``keypacks``."""
        from rdsla.core.cal_counts import permanent
        key = ("purchased", ls)
        hit = self.bundle._by_license_server.get(key)
        if hit is None:
            hit = self.bundle._by_license_server[key] = permanent(self.keypacks(ls))
        return hit.copy(deep=False)

    def _of_license_server(self, name: str, ls: Optional[str]) -> pd.DataFrame:
        """The rows of frame ``name`` of license server ``ls`` (all rows without ``ls``): each
        selection made once per analysis, handed out as a shallow copy like ``events``."""
        frame = self.frame(name)
        if not ls or not len(frame):
            return frame
        key = (name, id(frame), ls)
        hit = self.bundle._by_license_server.get(key)
        if hit is None:
            hit = frame[frame["license_server"].fillna("").map(lambda x: canonical(x) == ls)]
            self.bundle._by_license_server[key] = hit
        return hit.copy(deep=False)

    # -- what was collected
    def has_events(self, host: str, family: Optional[str] = None) -> bool:
        """A log of this host was collected (any of its events, or an evtx artifact of it)."""
        if self.bundle.count(canonical(host) if host else None, family):
            return True
        if family is None or family in ("rcm", "ls"):
            return self.bundle.has_evtx(host)
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

    # -- coverage (issue 17): "was X collected from this host?" is asked here, and only here
    def collected(self, host, what: str) -> bool:
        """Was ``what`` collected from ``host`` (a profile or a name)?

        ``what`` is an item id of :data:`core.coverage.ITEMS` (``hive.software``, ``key.policy``,
        ``log.system``, ``export.keypacks`` ...), a registry key (``HKLM\\...``, true when its
        hive or an export of it or of a key above it is in the bundle), or an event channel.
        A value is *absent* only where this is true; elsewhere it is unknown (DESIGN.md
        "Coverage before absence"). A profile built by hand (no coverage recorded) counts the
        artifacts present of each kind, as rules did before coverage existed."""
        p = host if isinstance(host, HostProfile) else self.profile(host)
        if p is None:
            return False
        cov = p.coverage
        item = coverage.BY_ID.get(what)
        if cov is not None:
            if item is not None:
                return cov.has(what)
            if what.upper().startswith("HKLM\\"):
                return cov.registry(what)
            return cov.log(what) is not None
        kind = item.kind if item is not None else ("key" if what.upper().startswith("HKLM\\") else "log")
        if kind in ("hive", "key"):
            return self.has_registry(p)
        if kind == "log":
            return self.has_events(p.name)
        if what in ("export.keypacks", "export.issued"):
            return self.has_reports(p)
        if what == "export.grace_period":
            return p.grace_period.days_left_reported is not None
        if what == "export.tsls_membership":
            return p.license_server.in_tsls_group is not None
        return False

    def licensing_log_collected(self, host: HostProfile) -> bool:
        """The log a session host writes its licensing events to was collected: System up to
        Server 2016, RemoteConnectionManager/Admin from 2019 (RDS_LICENSING.md 1.1, DESIGN.md
        "Classic event channels"); either when the version is unknown."""
        version = str(host.os_version.value) if host.os_version is not None else ""
        return any(self.collected(host, item) for item in coverage.licensing_log_items(version))

    def collect_next(self, host, *items: str) -> list[str]:
        """One line per item: ``HOST: what: the exact command to run there``."""
        name = host.name if isinstance(host, HostProfile) else str(host)
        return [coverage.collect_line(name, i) for i in items]

    def not_collected(self, host, *items: str, summary: str = "", history: str = "") -> Finding:
        """``not checked``: the input of this check was not collected from ``host``; the
        collect-next list names the host and the command for each missing item."""
        name = host.name if isinstance(host, HostProfile) else str(host)
        labels = ", ".join(coverage.BY_ID[i].label for i in items)
        f = self._finding("not_checked", collect=self.collect_next(name, *items), history=history,
                          summary=summary or f"Not checked: {labels} of {name} not collected.")
        return f

    # -- time (issue 17): current evidence (the window before the collection time) vs history
    @property
    def window(self) -> timedelta:
        return timedelta(days=float(getattr(self.analysis, "window_days", 7) or 7))

    @property
    def since(self) -> pd.Timestamp:
        """Start of the current window: ``as_of`` minus ``--window`` days (default 7)."""
        import pandas as pd
        return pd.Timestamp(self.as_of) - pd.Timedelta(self.window)

    def current(self, events: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``events`` inside the current window (what can be today's cause)."""
        if not len(events):
            return events
        return _where(events, (events["time"] >= self.since).to_numpy())

    def history(self, events: pd.DataFrame) -> pd.DataFrame:
        """The rows older than the window: shown on the timeline, never today's cause."""
        if not len(events):
            return events
        return _where(events, (events["time"] < self.since).to_numpy())

    def success_after(self, sh: HostProfile, when) -> list[Evidence]:
        """Evidence that licensing worked for session host ``sh`` after ``when``: a CAL issued
        since by a license server it uses, or logons on it since with no licensing error of
        its own after ``when`` (RDS_LICENSING.md 0a "Events have a time")."""
        import pandas as pd
        when = pd.Timestamp(when)
        out: list[Evidence] = []
        for ls in self.servers_for(sh):
            iss = self.issued(ls.name)
            if len(iss) and "issued_on" in iss:
                later = iss[iss["issued_on"].notna() & (iss["issued_on"] > when)]
                if len(later):
                    from rdsla.core.evidence import issued_evidence
                    row = later.sort_values("issued_on").iloc[-1]
                    out.append(issued_evidence(row, f"{len(later)} CAL(s) issued by {ls.name} since"))
        logons = [t for t in sh.logon_times if t > when] if getattr(sh, "logon_times", None) else []
        if logons:
            errors = self.bundle.events_of(sh.name, "rcm")
            if len(errors):
                errors = errors[(errors["time"] > when) & errors["_legacy"].isin(LICENSING_ERRORS)]
            if not len(errors) and sh.last_logon is not None:
                out += [replace(e, note=f"{len(logons)} logon(s) since, no licensing error")
                        for e in sh.last_logon.evidence[:1]]
        return out

    def date(self, evidence: Iterable[Evidence]) -> None:
        """Each event's age at the collection time and whether it is current, in its detail."""
        import pandas as pd
        since = self.since
        for e in evidence:
            when = (e.detail or {}).get("time") if e.frame == "events" else None
            if when is None:
                continue
            try:
                when = pd.Timestamp(when)
                e.detail.setdefault("age_days", round((pd.Timestamp(self.as_of) - when).total_seconds() / 86400, 1))
                e.detail.setdefault("current", bool(when >= since))
            except (TypeError, ValueError):
                continue

    # -- findings
    def _finding(self, state: str, **kw) -> Finding:
        kw.setdefault("host", self.host.name if self.host else None)
        kw.setdefault("severity", self.meta.severity)
        kw.setdefault("kind", self.meta.kind)
        if not kw.get("history"):       # what the check called history (history_line), on every finding of it
            kw["history"] = getattr(self, "_history", "")
        return Finding(rule_id=self.meta.id, state=state, title=self.meta.title, **kw)

    def detected(self, summary: str, evidence: list[Evidence], *, host: Optional[str] = None,
                 related_hosts: Iterable[str] = (), remediation: Optional[list[str]] = None,
                 kind: Optional[str] = None, severity: Optional[str] = None, history: str = "") -> Finding:
        """A detected finding. ``kind``/``severity`` override the rule's own where one check
        tells several things apart (a cause with impact, the same state as ``compliance`` or
        ``info`` without it)."""
        kw = {} if host is None else {"host": host}
        if history:
            kw["history"] = history
        if kind is not None:
            kw["kind"] = kind
        if severity is not None:
            kw["severity"] = severity
        me = kw.get("host", self.host.name if self.host else None)
        related = [h for h in dict.fromkeys(related_hosts) if h and h != me]
        steps = remediation if remediation is not None else \
            remediation_texts().get(self.meta.id) or list(self.meta.remediation)
        self.date(evidence)
        return self._finding("detected", summary=summary, evidence=list(evidence), related_hosts=related,
                             remediation=list(steps), **kw)

    def not_detected(self, summary: str = "", history: str = "") -> Finding:
        return self._finding("not_detected", summary=summary, history=history)

    def history_line(self, events: pd.DataFrame) -> str:
        """'1131/50283 x6, 2024-09-26 .. 2024-09-26 (older than ...: history)' for events before the
        current window; the findings this check returns carry it as their ``history`` line."""
        if not len(events):
            return ""
        from rdsla.rules.helpers import id_list
        line = (f"{id_list(events)}, {events['time'].min():%Y-%m-%d} .. {events['time'].max():%Y-%m-%d} "
                f"(older than the {self.window.days} days before collection: history, not today's cause)")
        self._history = "; ".join(x for x in (getattr(self, "_history", ""), line) if x)
        return line

    def not_checked(self, *needs: str, summary: str = "") -> Finding:
        collect = [COLLECT[n] for n in needs]
        who = f" for {self.host.name}" if self.host else ""
        return self._finding("not_checked", collect=collect,
                             summary=summary or f"Not checked{who}: an artifact it needs is missing.")


def _where(frame: pd.DataFrame, mask) -> pd.DataFrame:
    """``frame[mask]``, without copying a row when the mask keeps all or none of them (the usual
    answer of "current or history" for one host's events)."""
    if mask.all():
        return frame
    if not mask.any():
        return frame.iloc[0:0]
    return frame[mask]


@lru_cache(maxsize=4096)
def _declares(events: Iterable[str], family: str, legacy_id: int) -> bool:
    """Whether a rule's declared catalog keys name this family's event (a rule asks again and
    again for the same ids; the answer never changes)."""
    return bool(catalog.keys_for(family, [legacy_id]) & set(events))


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
