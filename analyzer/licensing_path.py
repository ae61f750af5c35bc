"""The licensing path of each session host: which license server, where that setting came from,
reachable, running, activated, CALs of the right type and version (issue 23 item 2).

These are the steps RD Licensing Diagnoser walks (seed article "1. Use RD Licensing Diagnoser";
RDS_LICENSING.md 0 steps 3-6). Each step is true, false or unknown (None), with the evidence
behind it. A step is false only on evidence the rules or the profiles hold (a detected cause, a
stopped service, an activation status, an export's answer); it is true only on positive
evidence (an export's answer, CALs issued, logons with no licensing error in the current window
where the licensing log was collected). Computed once per analysis, after the rules and before
the verdict; the reports only render it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from rdsla.core import catalog, coverage
from rdsla.core.cal_counts import CalCount, any_free, pool_counts
from rdsla.core.coverage import POLICY_KEY, TERMSERVICE_KEY
from rdsla.core.hostnames import canonical, license_server_names
from rdsla.core.model import (SOURCE_DEPLOYMENT, SOURCE_GROUP_POLICY, SOURCE_WMI, Analysis, Evidence, Finding,
                              HostProfile)
from rdsla.rules.context import LICENSING_ERRORS, Bundle, Context
from rdsla.rules.meta import RuleMeta
from rdsla.rules.pack.cal_pool import TYPE_LABEL, ls_version_of, usable

STEPS = ("reachable", "ls_running", "ls_activated", "cals_ok")
SOURCES = {SOURCE_GROUP_POLICY: "group_policy", SOURCE_DEPLOYMENT: "deployment", SOURCE_WMI: "deployment"}
SOURCE_LABELS = {"group_policy": "Group Policy", "deployment": "deployment", "discovery": "discovery",
                 "none": "none configured"}
# The CAL type a licensing mode consumes (AAD Per User is licensed with Per User CALs, RDS_LICENSING.md 2.2)
CAL_TYPE = {"per_user": "per_user", "aad_per_user": "per_user", "per_device": "per_device"}
# GetTStoLSConnectivityStatus names that mean the license server answered (RDS_LICENSING.md 3.4 [S17])
CONNECTED = {"VALID", "VALID_LS", "VALID_WS08R2", "VALID_WS08", "VALID_WS08R2_VDI", "LOWER_VERSION",
             "NOT_IN_TSCGROUP", "BUT_ACCESS_DENIED"}
# Rules whose detected cause is a failed step (their own checks; the path repeats no judgement)
FAILS = {"reachable": ("RDSLIC-004",), "ls_running": ("RDSLIC-019", "RDSLIC-022"), "ls_activated": ("RDSLIC-005",),
         "cals_ok": ("RDSLIC-002", "RDSLIC-006", "RDSLIC-007", "RDSLIC-008", "RDSLIC-009", "RDSLIC-010",
                     "RDSLIC-016", "RDSLIC-025", "RDSLIC-026")}
MODE_LABELS = {"per_user": "Per User", "per_device": "Per Device", "aad_per_user": "AAD Per User",
               "not_configured": "mode not configured", "remote_admin": "Remote Desktop for Administration"}
STEP_LABELS = {"configured": "license server configured", "reachable": "reachable", "ls_running": "service running",
               "ls_activated": "activated", "cals_ok": "usable CALs"}

# What the path reads of the events (the session host's licensing errors): declared like a rule's
# (with the Entra ID per-user lookup and validation failures, 1062-1064 = 50214-50216, RDS_LICENSING.md 1.2)
ERROR_IDS = tuple(i for i in LICENSING_ERRORS if catalog.keys_for("rcm", [i]))
META = RuleMeta(id="licensing-path", title="Licensing path", severity="info", kind="info",
                events=tuple(sorted(catalog.keys_for("rcm", ERROR_IDS))))
NEEDS = META.needs


@dataclass
class Step:
    """One step of the path: true / false / None (unknown), why, and the evidence."""

    value: Optional[bool] = None
    note: str = ""
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"value": self.value, "note": self.note, "evidence": [e.to_dict() for e in self.evidence[:5]]}


@dataclass
class LicensingPath:
    """One session host's way to a license, step by step (findings.json ``licensing_paths``)."""

    host: str
    license_server: Optional[str] = None
    source: Optional[str] = None               # group_policy | deployment | discovery | none | None (not collected)
    mode: Optional[str] = None                 # the host's licensing mode name
    configured: Step = field(default_factory=Step)
    reachable: Step = field(default_factory=Step)
    ls_running: Step = field(default_factory=Step)
    ls_activated: Step = field(default_factory=Step)
    cals_ok: Step = field(default_factory=Step)
    free: Optional[CalCount] = None            # usable CALs free / in all (None when no usable pack is known)
    total: Optional[CalCount] = None
    log_days: Optional[int] = None             # days the host's logs cover
    errors: tuple[int, int] = (0, 0)           # licensing errors logged: in the current window, older

    @property
    def ok(self) -> Optional[bool]:
        """False when a step is false; true when none is and the server is configured and
        reachable with usable CALs; else unknown."""
        steps = [self.configured.value] + [getattr(self, s).value for s in STEPS]
        if any(v is False for v in steps):
            return False
        if self.license_server and self.reachable.value and self.cals_ok.value:
            return True
        return None

    def failed(self) -> list[str]:
        return [s for s in ("configured", *STEPS) if getattr(self, s).value is False]

    def unknown(self) -> list[str]:
        return [s for s in ("configured", *STEPS) if getattr(self, s).value is None]

    def route(self) -> str:
        """'RDSH01 -> LS01 (Group Policy, Per User)'."""
        how = ", ".join(x for x in (SOURCE_LABELS.get(self.source or "", ""),
                                   MODE_LABELS.get(self.mode or "", self.mode or "")) if x)
        return f"{self.host} -> {self.license_server or 'no license server'}" + (f" ({how})" if how else "")

    def why_healthy(self, window_days: float) -> str:
        """'RDSH01 -> LS01 (Group Policy, Per User), no licensing errors in the 30 days logged,
        96 of 200 CALs free'."""
        current, older = self.errors
        if not current and not older:
            errors = f"no licensing errors in the {self.log_days} days logged" if self.log_days else "no licensing errors logged"
        elif not current:
            errors = f"no licensing errors in the {window_days:g} days before collection ({older} older: history)"
        else:
            errors = f"{current} licensing error(s) in the {window_days:g} days before collection, licensing worked since"
        out = f"{self.route()}, {errors}"
        if self.free is not None and self.total is not None:
            kind = MODE_LABELS.get(CAL_TYPE.get(self.mode or "", ""), "")
            out += f", {self.free} of {self.total} {kind + ' ' if kind else ''}CALs free"
            if kind == "Per User" and self.free.is_number and self.free.value == 0:
                out += " (not enforced: a compliance matter)"
        return out

    def why_unknown(self) -> str:
        """'RDSH01 -> LS01: reachable unknown (the log ... was not collected)'."""
        steps = self.failed() + self.unknown() if self.configured.value else ["configured"]
        bits = [f"{STEP_LABELS[s]} {'no' if getattr(self, s).value is False else 'unknown'}"
                + (f" ({getattr(self, s).note})" if getattr(self, s).note else "")
                for s in steps]
        return f"{self.route()}: " + "; ".join(bits)

    def to_dict(self) -> dict:
        return {"host": self.host, "license_server": self.license_server, "source": self.source, "mode": self.mode,
                **{s: getattr(self, s).value for s in STEPS},
                "cals_free": self.free.to_json() if self.free is not None else None,
                "cals_total": self.total.to_json() if self.total is not None else None,
                "ok": self.ok,
                "evidence": {s: getattr(self, s).to_dict() for s in ("configured", *STEPS)}}


def licensing_paths(analysis: Analysis, bundle: Optional[Bundle] = None) -> list[LicensingPath]:
    """One path per session host, in the order of ``analysis.hosts``."""
    bundle = bundle or Bundle(analysis)      # the rules' indexes when the pipeline hands them over
    out = []
    for sh in analysis.hosts:
        if sh.has_role("session_host"):
            out.append(path_of(Context(bundle, META, sh), sh))
    return out


def path_of(ctx: Context, sh: HostProfile) -> LicensingPath:
    detected = [f for f in ctx.analysis.findings if f.state == "detected" and f.kind == "cause"]
    path = LicensingPath(host=sh.name, mode=sh.mode_name)
    servers = license_server_names(sh.license_servers.value) if sh.license_servers is not None else []
    if servers:
        path.source = SOURCES.get(sh.license_servers.origin, "deployment")
        note = f"{', '.join(servers)} by {SOURCE_LABELS[path.source]}"
        if path.source != "group_policy" and not ctx.collected(sh, POLICY_KEY):
            note += " (the policy key was not collected: a Group Policy value would win)"
        path.configured = Step(True, note, list(sh.license_servers.evidence))
    else:
        found = [f for f in sh.ls_available if isinstance(f.value, dict) and f.value.get("available") is True
                 and canonical(f.value.get("server"))]
        if found:
            servers = [canonical(found[0].value.get("server"))]
            path.source = "discovery"
            path.configured = Step(True, f"{servers[0]} found by discovery (FindLicenseServers)", list(found[0].evidence))
        elif ctx.collected(sh, POLICY_KEY) and ctx.collected(sh, TERMSERVICE_KEY):
            path.source = "none"
            path.configured = Step(False, "no license server in the policy key nor the deployment's "
                                   "(both collected): the session host cannot request a CAL (1130/50282)",
                                   _finding_evidence(detected, ("RDSLIC-001",), sh.name, None))
        else:
            path.configured = Step(None, "no license server found, but the policy or TermService key was not "
                                         "collected")
    candidates = [_judge(ctx, sh, path, name, detected) for name in servers] or [path]
    best = next((p for p in candidates if p.ok), None) or next((p for p in candidates if p.ok is None), candidates[0])
    best.log_days = span_days(sh)
    ev = ctx.events(sh.name, "rcm", ERROR_IDS)
    current = ctx.current(ev)
    best.errors = (len(current), len(ev) - len(current))
    return best


def _judge(ctx: Context, sh: HostProfile, base: LicensingPath, name: str, detected: list[Finding]) -> LicensingPath:
    p = LicensingPath(host=base.host, license_server=name, source=base.source, mode=base.mode,
                      configured=base.configured)
    ls = ctx.profile(name)
    success = _success(ctx, sh, name)
    p.reachable = _reachable(ctx, sh, name, detected, success)
    p.ls_running = _running(ls, name, detected, p.reachable, sh)
    p.ls_activated = _activated(ctx, ls, name, detected)
    p.cals_ok, p.free, p.total = _cals(ctx, sh, ls, name, detected)
    return p


def _finding_evidence(detected: list[Finding], rules, sh: str, ls: Optional[str]) -> list[Evidence]:
    f = _failing(detected, rules, sh, ls)
    return list(f.evidence[:3]) if f is not None else []


def _failing(detected: list[Finding], rules, sh: str, ls: Optional[str]) -> Optional[Finding]:
    """A detected cause of these rules on this session host (naming this license server, or
    none), or on this license server for this session host."""
    for f in detected:
        if f.rule_id not in rules:
            continue
        if f.host == sh and (ls is None or not f.related_hosts or ls in f.related_hosts):
            return f
        if ls is not None and f.host == ls and (not f.related_hosts or sh in f.related_hosts):
            return f
    return None


def _success(ctx: Context, sh: HostProfile, ls_name: str) -> list[Evidence]:
    """Licensing worked for this session host in the current window: CALs issued by its
    license server since (when it is that server's only session host), or logons with no
    licensing error where its licensing log was collected (RDS_LICENSING.md 0a)."""
    out = []
    errors = len(ctx.current(ctx.events(sh.name, "rcm", ERROR_IDS)))
    for e in ctx.success_after(sh, ctx.since):
        if e.frame == "issued":
            if ls_name in e.note and [c.name for c in ctx.clients_of(ls_name)] == [sh.name]:
                out.append(e)
        elif ctx.licensing_log_collected(sh) and not errors:
            out.append(e)
    return out


def _reachable(ctx, sh, name, detected, success) -> Step:
    f = _failing(detected, FAILS["reachable"], sh.name, name)
    if f is not None:
        return Step(False, f.summary, list(f.evidence[:3]))
    status = sh.connectivity_status
    if status is not None and str(status.value).upper() == "NOT_CONNECTABLE":
        return Step(False, "connectivity status NOT_CONNECTABLE (GetTStoLSConnectivityStatus)", list(status.evidence))
    for fact in sh.ls_available:
        v = fact.value if isinstance(fact.value, dict) else {}
        if canonical(v.get("server")) == name and v.get("available") is False:
            return Step(False, f"{name}: IsLSAvailable False (FindLicenseServers)", list(fact.evidence))
    for fact in sh.ls_available:
        v = fact.value if isinstance(fact.value, dict) else {}
        if canonical(v.get("server")) == name and v.get("available") is True:
            return Step(True, f"{name}: IsLSAvailable True (FindLicenseServers)", list(fact.evidence))
    if status is not None and str(status.value).upper() in CONNECTED:
        return Step(True, f"connectivity status {status.value} (GetTStoLSConnectivityStatus)", list(status.evidence))
    if success:
        return Step(True, f"licensing worked in the {ctx.window.days} days before collection ({success[0].note})",
                    success)
    if not ctx.licensing_log_collected(sh):
        return Step(None, f"the log {sh.name} writes its licensing events to was not collected")
    return Step(None, f"no answer of {name} in the bundle and no clean logon in the {ctx.window.days} days "
                      "before collection")


def _running(ls: Optional[HostProfile], name: str, detected, reachable: Step, sh: HostProfile) -> Step:
    f = _failing(detected, FAILS["ls_running"], name, None)
    if f is not None:
        return Step(False, f.summary, list(f.evidence[:3]))
    facts = ls.license_server if ls is not None else None
    if facts is not None:
        state, start = facts.service_state, facts.service_start_type
        if start is not None and str(start.value) == "4":
            return Step(False, "TermServLicensing is disabled (Start 4)", list(start.evidence))
        if state is not None and str(state.value).lower() == "stopped":
            return Step(False, "the Remote Desktop Licensing service is stopped", list(state.evidence))
        if state is not None and str(state.value).lower() == "running":
            return Step(True, f"the Remote Desktop Licensing service of {name} is running ({state.origin})",
                        list(state.evidence))
    if reachable.value:
        return Step(True, f"{name} answered {sh.name}: {reachable.note}", list(reachable.evidence))
    if ls is None:
        return Step(None, f"nothing of {name} in the bundle")
    return Step(None, f"no service state of {name} in the bundle")


def _activated(ctx, ls: Optional[HostProfile], name: str, detected) -> Step:
    f = _failing(detected, FAILS["ls_activated"], name, None)
    if f is not None:
        return Step(False, f.summary, list(f.evidence[:3]))
    status = ls.license_server.activation_status if ls is not None else None
    if status is not None and str(status.value).lower() == "not_activated":
        return Step(False, f"{name} is not activated (GetActivationStatus)", list(status.evidence))
    if status is not None and str(status.value).lower() == "activated":
        return Step(True, f"{name} is activated (GetActivationStatus)", list(status.evidence))
    from rdsla.core.evidence import issued_evidence, keypack_evidence
    iss = ctx.issued(name)
    if len(iss):
        perm = iss[~iss["status"].fillna("").str.lower().isin(["temporary", "revoked", "unknown", ""])]
        if len(perm):
            return Step(True, f"{name} issued {len(perm)} permanent CAL(s): an unactivated license server issues "
                              "only temporary ones (RDS_LICENSING.md 5 #5)", [issued_evidence(perm.iloc[-1])])
    kp = ctx.purchased_keypacks(name)
    if len(kp):
        used = kp[kp["issued"].fillna(0) > 0]
        if len(used):
            row = used.iloc[0]
            return Step(True, f"{name} issued {int(used['issued'].sum())} CAL(s) from purchased packs: an unactivated "
                              "license server issues only temporary ones (RDS_LICENSING.md 5 #5)",
                        [keypack_evidence(row)])
        row = kp.iloc[0]
        return Step(True, f"purchased CAL packs are installed on {name}: RD Licensing Manager installs CALs only on "
                          "an activated license server (seed article: Install RDS CALs)", [keypack_evidence(row)])
    return Step(None, f"no activation status and no permanent CAL of {name} in the bundle")


def _cals(ctx, sh: HostProfile, ls: Optional[HostProfile], name: str, detected):
    step, free, total = _pool(ctx, sh, ls, name)
    f = _failing(detected, FAILS["cals_ok"], sh.name, name)
    if f is not None:
        return Step(False, f.summary, list(f.evidence[:3])), free, total
    return step, free, total


def _pool(ctx, sh: HostProfile, ls: Optional[HostProfile], name: str):
    """Usable CALs for this session host on this license server: its mode's type, a version it
    accepts and the license server can hold (rules.pack.cal_pool), with the counts."""
    cal_type = CAL_TYPE.get(sh.mode_name or "")
    if cal_type is None:
        return Step(None, f"the licensing mode of {sh.name} is {sh.mode_name or 'unknown'}: no CAL type to check"), \
            None, None
    kp = ctx.keypacks(name)
    if not len(kp):
        return Step(None, f"no key pack export of {name}"), None, None
    versions = [sh.os_version.value] if sh.os_version is not None and sh.os_version.value else []
    lsv = ls_version_of(ls) if ls is not None else None
    from rdsla.core.evidence import keypack_evidence, rows
    good = [r for r in rows(ctx.purchased_keypacks(name)) if usable(r, {cal_type}, versions, lsv)]   # a few packs
    evidence = [keypack_evidence(r) for r in good[:3]]
    if not good:
        return Step(None, f"no {TYPE_LABEL[cal_type]} pack for {sh.name} on {name}, and no rule found a cause "
                          "in it"), None, None
    counts = pool_counts(good)
    label = f"{TYPE_LABEL[cal_type]} {', '.join(sorted({str(r['cal_version']) for r in good}))}"
    if cal_type == "per_user":
        return Step(True, f"{label} CALs installed ({counts.available} of {counts.total} free; Per User CALs are "
                          "not enforced)", evidence), counts.available, counts.total
    free = any_free(good)
    if free:
        return Step(True, f"{label} CALs free ({counts.available} of {counts.total})", evidence), \
            counts.available, counts.total
    return Step(None, f"no {label} CAL free ({counts.total} in all): devices that hold one still connect, new "
                      "ones get temporary CALs", evidence), counts.available, counts.total


def span_days(sh: HostProfile) -> Optional[int]:
    """How many days the log the session host writes its licensing events to covers (first to
    last record): System up to 2016, RCM/Admin from 2019 (core.coverage.licensing_log_items)."""
    cov = sh.coverage
    if cov is None:
        return None
    version = str(sh.os_version.value) if sh.os_version is not None else ""
    logs = [cov.log(coverage.BY_ID[item].target) for item in coverage.licensing_log_items(version)]
    spans = [s for s in logs if s is not None and s.first is not None and s.last is not None]
    if not spans:
        return None
    first, last = min(s.first for s in spans), max(s.last for s in spans)
    return max(1, round((last - first).total_seconds() / 86400))
