"""``rdsla hosts``: one table per machine, each value with where it came from.

The engineer's first question is "what is this machine and what does it use"; the second is
"says who" - so every line names its origin (group_policy, deployment, registry, event ...)
and its source (file, and registry key\\value or event record).
"""
from __future__ import annotations

import shutil
from datetime import datetime
from typing import Any, Optional

from rdsla.core.model import LICENSING_MODES, Analysis, Evidence, Fact, HostProfile

START_TYPES = {0: "boot", 1: "system", 2: "automatic", 3: "manual", 4: "disabled"}


def _where(e: Evidence) -> str:
    loc = e.locator or {}
    if e.frame == "registry":
        value = loc.get("value")
        spot = f"{loc.get('key')}" + ("" if value is None else f"\\{value or '(Default)'}")
    elif e.frame == "events":
        d = e.detail or {}
        spot = f"event {d.get('event_id')} record {loc.get('record_id')}"
    else:
        spot = ", ".join(f"{k} {v}" for k, v in loc.items())
    src = e.source.replace("\\", "/").rsplit("/", 1)[-1] if e.source else ""
    return " ".join(x for x in (src + ":" if src and spot else src, spot) if x)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(v) for v in value) if value else "(empty)"
    return str(value)


def _row(label: str, fact: Optional[Fact], shown: Optional[str] = None) -> tuple[str, str, str, str]:
    if fact is None:
        return (label, "-", "", "")
    where = _where(fact.evidence[0]) if fact.evidence else ""
    if len(fact.evidence) > 1:
        where += f" (+{len(fact.evidence) - 1})"
    return (label, shown if shown is not None else _fmt(fact.value), fact.origin, where)


def _mode(fact: Optional[Fact]) -> Optional[str]:
    if fact is None or fact.value is None:
        return None
    return f"{LICENSING_MODES.get(int(fact.value), 'unknown')} ({fact.value})"


def host_rows(p: HostProfile, as_of: datetime) -> list[tuple[str, str, str, str]]:
    rows = [
        _row("domain", p.domain),
        _row("domain joined", p.domain_joined),
        _row("OS", p.os_version, p.os_version and f"{p.os_version.value}"
             + (f" (build {p.os_build.value})" if p.os_build else "")),
        _row("OS product", p.os_product),
    ]
    for role, fact in sorted(p.roles.items()):
        rows.append(_row(f"role {role}", fact))
    rows.append(_row("licensing mode", p.licensing_mode, _mode(p.licensing_mode)))
    for c in p.licensing_mode_candidates:
        rows.append(_row(f"  candidate {c.origin}", c, _mode(c)))
    rows.append(_row("license servers", p.license_servers))
    for c in p.license_server_candidates:
        rows.append(_row(f"  candidate {c.origin}", c))
    rows.append(_row("fDenyTSConnections", p.deny_ts_connections))
    rows.append(_row("LS certificate (X509)", p.licensing_certificate))
    g = p.grace_period
    if g.key_last_write is not None:
        rows.append(("grace key written", _fmt(g.key_last_write), "registry", ""))
    rows.append(_row("grace period ends", g.ends))
    days = g.days_left(as_of)
    if g.days_left_reported is not None:
        rows.append(_row("grace days left", g.days_left_reported))
    elif days is not None:
        rows.append(("grace days left", str(days), "computed", f"as of {_fmt(as_of)}"))
    if g.expired_events:
        rows.append(("grace expired events", str(len(g.expired_events)), "event", _where(g.expired_events[0])))
    ls = p.license_server
    if ls.service_start_type is not None:
        rows.append(_row("LS service start", ls.service_start_type,
                         START_TYPES.get(ls.service_start_type.value, str(ls.service_start_type.value))))
    for label, fact in (("LS service state", ls.service_state), ("LS activation", ls.activation_status),
                        ("LS version", ls.version), ("LS in TSLS group", ls.in_tsls_group),
                        ("DisableWorkgroupAuthEnforcement", ls.disable_workgroup_auth_enforcement),
                        ("fSecureLicensing", ls.secure_licensing), ("connectivity status", p.connectivity_status)):
        if fact is not None:
            rows.append(_row(label, fact))
    for summary in ls.report_summary:
        rows.append(("CAL report", _fmt(summary), "report", ""))
    rows += coverage_rows(p)
    return rows


def coverage_rows(p: HostProfile) -> list[tuple[str, str, str, str]]:
    """What the bundle holds of this machine (core.coverage): collected / missing items, each
    registry subtree and event log with its span."""
    cov = p.coverage
    if cov is None:
        return []
    roles = {r for r, f in p.roles.items() if f.value}
    summary = cov.summary(roles)
    rows = [("collected", f"{len(summary['collected'])} item(s)", "coverage", "; ".join(summary["collected"])),
            ("missing", f"{len(summary['missing'])} item(s)", "coverage", "; ".join(summary["missing"]))]
    for root, sources in sorted({**cov.hives, **cov.keys}.items()):
        rows.append((f"  registry {root}", "collected", "coverage", _short(sources)))
    for channel, span in sorted(cov.logs.items()):
        when = f"{_fmt(span.first)} .. {_fmt(span.last)}" if span.first else "span unknown"
        rows.append((f"  log {channel.rsplit('-', 1)[-1] if '/' in channel else channel}",
                     f"{when}, {span.records} record(s)", "coverage", _short(span.sources)))
    for name, sources in sorted(cov.exports.items()):
        rows.append((f"  export {name}", "collected", "coverage", _short(sources)))
    return rows


def _short(sources: list[str]) -> str:
    return ", ".join(s.replace("\\", "/").rsplit("/", 1)[-1] for s in sources)


def render_hosts(analysis: Analysis) -> str:
    width = shutil.get_terminal_size((160, 40)).columns
    out = [f"{len(analysis.hosts)} host(s), as of {_fmt(analysis.as_of)} ({analysis.as_of_origin})"]
    for p in analysis.hosts:
        title = p.name + (f"  ({p.fqdn})" if p.fqdn else "")
        if p.aliases - {p.fqdn}:
            title += "  aka " + ", ".join(sorted(p.aliases - {p.fqdn}))
        out += ["", title, "=" * min(len(title), width)]
        rows = [("FIELD", "VALUE", "ORIGIN", "SOURCE")] + host_rows(p, analysis.as_of)
        w = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate((32, 48, 14, 200))]
        for r in rows:
            line = "  ".join(_cut(c, w[i]).ljust(w[i]) for i, c in enumerate(r[:3])) + "  " + r[3]
            out.append(line.rstrip()[: max(width, 80) * 2])
        if p.artifacts:
            out.append("artifacts: " + ", ".join(a.replace("\\", "/").rsplit("/", 1)[-1] for a in p.artifacts))
    return "\n".join(out)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
