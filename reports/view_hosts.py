"""One card per host profile: roles, OS, configuration candidates and the winner, grace, LS facts.

Part of the report view model (``reports.view`` assembles it)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from rdsla.core import coverage as cov
from rdsla.core.model import HostProfile
from rdsla.reports.view_format import (
    ROLE_LABELS,
    fact_view,
    fmt_time,
    mode_label,
    number,
    origin_label,
    text,
    version_label,
)


# The keys that hold a session host's licensing mode and license servers (RDS_LICENSING.md 2.2).
MODE_KEYS = (cov.TS_KEY, cov.POLICY_KEY)
SERVER_KEYS = (cov.TS_KEY, cov.POLICY_KEY, cov.TERMSERVICE_KEY)


def absent_word(host: HostProfile, keys: tuple = ()) -> str:
    """What a setting without a value is called, one word per meaning (issue 23 item 11): "none"
    where the keys that hold it were collected and it is not set (coverage before absence; a profile
    without recorded coverage counts as collected), "unknown" where they were not, "—" on a machine
    that is no session host (the setting does not apply)."""
    if not host.has_role("session_host"):
        return "—"
    if not keys:
        return "unknown"
    if host.coverage is None or all(host.coverage.registry(k) for k in keys):
        return "none"
    return "unknown"


def host_view(host: HostProfile, as_of: datetime) -> dict:
    roles = [ROLE_LABELS.get(r, text(r)) for r, fact in host.roles.items() if fact.value]
    eff_mode, eff_ls = host.licensing_mode, host.license_servers
    mode_candidates = [{"value": mode_label(c.value), "origin": origin_label(c.origin),
                        "sources": sorted({e.source for e in c.evidence}),
                        "won": c is eff_mode}     # the profile's effective value is the winning candidate
                       for c in host.licensing_mode_candidates]
    ls_candidates = [{"value": text(c.value), "origin": origin_label(c.origin),
                      "sources": sorted({e.source for e in c.evidence}),
                      "won": c is eff_ls}
                     for c in host.license_server_candidates]
    # a single candidate that is the effective value repeats it: not shown (issue 23 item 11)
    mode_candidates = [] if len(mode_candidates) == 1 and mode_candidates[0]["won"] else mode_candidates
    ls_candidates = [] if len(ls_candidates) == 1 and ls_candidates[0]["won"] else ls_candidates
    gp = host.grace_period
    days_left = gp.days_left(as_of)
    if host.domain_joined is None:
        membership = "unknown"
    else:
        membership = "domain" if host.domain_joined.value else "workgroup"
    ls = host.license_server
    ls_facts = []
    for label, fact, render in (("Activation", ls.activation_status, text), ("Service state", ls.service_state, text),
                                ("Service start type", ls.service_start_type, _start_type),
                                ("Version", ls.version, version_label),
                                ("In Terminal Server License Servers group", ls.in_tsls_group, text),
                                ("License server security group policy", ls.secure_licensing, text),
                                ("DisableWorkgroupAuthEnforcement", ls.disable_workgroup_auth_enforcement, text)):
        if fact is not None:
            ls_facts.append({"label": label, **fact_view(fact, render)})
    return {
        "name": text(host.name), "aliases": sorted(text(a) for a in host.aliases), "fqdn": text(host.fqdn),
        "roles": roles, "os_product": fact_view(host.os_product), "os_version": fact_view(host.os_version, version_label),
        "os_build": fact_view(host.os_build), "membership": membership, "domain": fact_view(host.domain),
        "mode": fact_view(eff_mode, mode_label), "mode_candidates": mode_candidates,
        "license_servers": fact_view(eff_ls), "ls_candidates": ls_candidates,
        "mode_absent": absent_word(host, MODE_KEYS), "ls_absent": absent_word(host, SERVER_KEYS),
        "grace_absent": absent_word(host), "cert_absent": absent_word(host),
        "grace_days_left": days_left, "grace_ends": fmt_time(gp.ends.value) if gp.ends else "",
        "grace_ends_origin": origin_label(gp.ends.origin) if gp.ends else "",
        "grace_reported": gp.days_left_reported is not None,
        "grace_expired_events": len(gp.expired_events),
        "certificate": fact_view(host.licensing_certificate),
        "deny_ts_connections": fact_view(host.deny_ts_connections),
        "connectivity": fact_view(host.connectivity_status),
        "ls_facts": ls_facts, "artifact_count": len(host.artifacts),
        "coverage": coverage_view(host),
    }


def coverage_view(host: HostProfile) -> dict | None:
    """Collected / missing per host (core.coverage), and each event log's span."""
    cov = host.coverage
    if cov is None:
        return None
    summary = cov.summary({r for r, f in host.roles.items() if f.value})
    logs = [{"channel": text(ch), "first": fmt_time(span.first) if span.first else "",
             "last": fmt_time(span.last) if span.last else "", "records": span.records}
            for ch, span in sorted(cov.logs.items())]
    return {"collected": [text(c) for c in summary["collected"]], "missing": [text(m) for m in summary["missing"]],
            "logs": logs, "registry": sorted(text(k) for k in {**cov.hives, **cov.keys})}


def _start_type(value: Any) -> str:
    names = {2: "automatic", 3: "manual", 4: "disabled"}
    n = number(value)
    return f"{names[n]} ({n})" if n in names else text(value)
