"""Domain membership: Per User in a workgroup, workgroup authentication after CVE-2024-38099,
and licensing across domains or forests (seed article "Make sure that you're using the
appropriate type of RDS CAL"; RDS_LICENSING.md 5 #10, #11, #17; KB 2473823)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import json
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

if TYPE_CHECKING:
    import pandas as pd

from rdsla.core.hostnames import canonical
from rdsla.rules.api import RuleMeta, events_evidence, fact_evidence, id_list, rule

SEED_TYPE = "seed article: 3. Make sure that you're using the appropriate type of RDS CAL"
MS_WG = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-license-session-hosts (CVE-2024-38099)"
MS_XD = "https://learn.microsoft.com/troubleshoot/windows-server/remote/set-up-remote-desktop-licensing-across-domains-forests-workgroups"


def _truthy(fact) -> bool:
    if fact is None or fact.value is None:
        return False
    try:
        return int(fact.value) != 0
    except (TypeError, ValueError):
        return str(fact.value).strip().lower() in ("true", "yes")


# Session-host licensing warnings and errors (catalog keys, RDS_LICENSING.md 1.2)
SH_ERROR_KEYS = ("client_license_invalid", "cannot_issue_client_license", "temporary_license_expired",
                 "license_not_renewed", "rdsh_not_in_endpoint_group", "ad_user_license_lookup_failed",
                 "licensing_mode_not_configured", "grace_expired_mode_not_configured", "grace_period_expired",
                 "no_license_server_specified", "license_server_unreachable", "license_server_os_unsupported",
                 "rdsh_ls_certificate_invalid")
SH_ERRORS = (1003, 1004, 1011, 1028, 1043, 1061, 1068, 1069, 1128, 1130, 1131, 1132, 1133)
HOURLY = (timedelta(minutes=55), timedelta(minutes=65))


@lru_cache(maxsize=1)
def _update_thresholds() -> dict[str, dict[str, int]]:
    with open(Path(__file__).resolve().parents[1] / "data" / "security_updates.json", encoding="utf-8") as fh:
        return {k: v for k, v in json.load(fh).items() if not k.startswith("_")}


def hourly_disconnects(ctx, h) -> pd.DataFrame:
    """LSM 24 disconnects some 60 minutes after the logon of the same session, in the current
    window: how Per User licensing in a workgroup fails on Server 2019 and later."""
    ev = ctx.current(ctx.events(h.name, "other", [21, 24]))
    if not len(ev):
        return ev
    logons: dict[str, pd.Timestamp] = {}
    hits = []
    for idx, r in ev.sort_values("time", kind="stable").iterrows():
        data = r["data"] if isinstance(r["data"], dict) else {}
        session = str(data.get("SessionID") or "")
        if int(r["_legacy"]) == 21:
            logons[session] = r["time"]
        elif session in logons and HOURLY[0] <= r["time"] - logons.pop(session) <= HOURLY[1]:
            hits.append(idx)
    return ev.loc[hits]


@rule(RuleMeta(
    id="RDSLIC-010", title="Per User licensing mode in a workgroup", severity="error", kind="cause",
    events=(*SH_ERROR_KEYS, "session_logon_succeeded", "session_disconnected"),
    scope="session_host", requires=("session_host.registry",),
    references=(SEED_TYPE, "seed article: Configure licensing ... Connection Broker role (note)", "RDS_LICENSING.md 0a, 5 #10"),
    description="Per User CALs are not permitted on workgroup servers (seed article): always a finding. The root "
                "cause of failures only with licensing errors on the host in the current window, or sessions "
                "disconnected some 60 minutes after logon (Server 2019 and later); else a compliance error."))
def per_user_in_workgroup(ctx):
    h = ctx.host
    if h.domain_joined is None or h.domain_joined.value is None or h.licensing_mode is None:
        return [ctx.not_checked("session_host.registry")]
    if h.domain_joined.value or h.mode_name != "per_user":
        return [ctx.not_detected()]
    ev = fact_evidence(h.domain_joined, note="not joined to a domain") + \
        fact_evidence(h.licensing_mode, note="Per User mode (effective)", winner=True)
    errors = ctx.current(ctx.events(h.name, "rcm", SH_ERRORS))
    drops = hourly_disconnects(ctx, h)
    if len(errors) or len(drops) >= 3:
        bits = ([id_list(errors)] if len(errors) else []) + \
            ([f"{len(drops)} session(s) disconnected about 60 minutes after logon"] if len(drops) >= 3 else [])
        ev += events_evidence(errors, "licensing error") + events_evidence(drops, "disconnected ~60 min after logon")
        return [ctx.detected(f"{h.name} is in a workgroup but uses Per User licensing, which is not permitted there, "
                             f"and licensing fails ({'; '.join(bits)} in the {ctx.window.days} days before "
                             f"collection).", ev, related_hosts=ctx.servers_of(h))]
    return [ctx.detected(f"{h.name} is in a workgroup but uses Per User licensing; Per User CALs are not permitted "
                         f"there (seed article). No licensing failure was logged in the {ctx.window.days} days before "
                         f"collection: a compliance matter today.", ev, related_hosts=ctx.servers_of(h),
                         kind="compliance", severity="error")]


def _patched(ls, cve: str):
    """True/False: the license server's build carries the update of ``cve``; None: unknown."""
    build = ls.os_build.value if ls.os_build is not None else None
    ubr = ls.os_ubr.value if ls.os_ubr is not None else None
    first = _update_thresholds()[cve].get(str(build)) if build is not None else None
    if first is None:
        return None
    if first == 0:
        return True
    return None if ubr is None else int(ubr) >= first


@rule(RuleMeta(
    id="RDSLIC-011", title="Workgroup authentication enforcement (CVE-2024-38099)", severity="error", kind="cause",
    outranks=("RDSLIC-004",),
    events=("license_server_unreachable", "license_not_renewed"),
    scope="session_host", requires=("session_host.registry", "session_host.events", "license_server.registry"),
    references=(MS_WG, "RDS_LICENSING.md 0a, 2.6, 5 #11"),
    description="Since the July 2024 update a license server refuses anonymous requests of workgroup session "
                "hosts. Needs: a workgroup session host, a license server on another machine whose build is at or "
                "past that update (UBR), no DisableWorkgroupAuthEnforcement = 1, and current 1131/50283 or status "
                "BUT_ACCESS_DENIED (the best evidence). Otherwise a plain 1131 is RDSLIC-004."))
def workgroup_auth(ctx):
    h = ctx.host
    if h.domain_joined is None or h.domain_joined.value is None:
        return [ctx.not_checked("session_host.registry")]
    if h.domain_joined.value:
        return [ctx.not_detected()]
    ev = ctx.current(ctx.events(h.name, "rcm", [1131, 1028]))
    status = h.connectivity_status.value if h.connectivity_status else None
    denied = status is not None and str(status).upper() == "BUT_ACCESS_DENIED"
    if not len(ev) and not denied:
        if not ctx.licensing_log_collected(h) and status is None:
            return [ctx.not_collected(h, "log.system", "log.rcm_admin")]
        return [ctx.not_detected()]
    lss = [ls for ls in ctx.servers_for(h) if ls.name != h.name]
    if not lss:
        return [ctx.not_detected(f"{h.name} is its own license server: the workgroup enforcement does not apply "
                                 f"(a plain 1131 is RDSLIC-004).")]
    disabled = [ls for ls in lss if _truthy(ls.license_server.disable_workgroup_auth_enforcement)]
    if len(disabled) == len(lss):
        return [ctx.not_detected("Enforcement is disabled on the license server (DisableWorkgroupAuthEnforcement=1).")]
    patched = {ls.name: _patched(ls, "CVE-2024-38099") for ls in lss}
    if not denied and not any(patched.values()):
        if any(v is None for v in patched.values()):
            unknown = [n for n, v in patched.items() if v is None]
            return [ctx.not_collected(unknown[0], "hive.software", summary=(
                f"{h.name} (workgroup) cannot reach {', '.join(unknown)}; whether that license server carries the "
                f"July 2024 update (CVE-2024-38099) is unknown: its build revision was not collected."))]
        return [ctx.not_detected(f"{', '.join(patched)} predates the July 2024 update: a plain 1131 is RDSLIC-004.")]
    evidence = fact_evidence(h.domain_joined, note="session host in a workgroup")
    if denied:
        evidence += fact_evidence(h.connectivity_status, note="connectivity status BUT_ACCESS_DENIED")
    evidence += events_evidence(ev, "cannot contact the license server")
    for ls in lss:
        if patched.get(ls.name):
            evidence += fact_evidence(ls.os_ubr, note=f"{ls.name} at or past the July 2024 update")
        evidence += fact_evidence(ls.license_server.disable_workgroup_auth_enforcement,
                                  note="DisableWorkgroupAuthEnforcement not set to 1")
    bits = [id_list(ev)] if len(ev) else []
    if denied:
        bits.append("connectivity status BUT_ACCESS_DENIED")
    names = [ls.name for ls in lss]
    return [ctx.detected(f"{h.name} is a workgroup session host and cannot authenticate to {', '.join(names)} "
                         f"({'; '.join(bits)}): since the July 2024 update (CVE-2024-38099) the license server needs "
                         f"non-anonymous credentials.", evidence, related_hosts=names)]


def _forest(domain: str) -> str:
    """The forest a DNS domain most likely belongs to: its last two labels (child domains share
    them with the root; RDS_LICENSING.md 0a, [S5])."""
    labels = [x for x in domain.lower().strip(".").split(".") if x]
    return ".".join(labels[-2:])


def _domain(fact):
    if fact is None or not fact.value:
        return None
    return str(fact.value).strip().lower().rstrip(".")


@rule(RuleMeta(
    id="RDSLIC-017", title="License server in another domain or forest without trust", severity="error",
    events=("license_server_unreachable", "license_not_renewed", "ls_ad_update_failed"),
    kind="cause", scope="session_host", requires=("session_host.registry", "license_server.registry"),
    references=(MS_XD, "RDS_LICENSING.md 0a, 5 #17"),
    description="Session host and license server in different domains compares full DNS names: a child domain of "
                "the same forest is no trust problem. A cause only when events name the other domain: current "
                "1131/1028 naming the license server, or the license server's 4105 naming the session host's domain."))
def cross_domain(ctx):
    h = ctx.host
    lss = [ls for ls in ctx.servers_for(h) if ls.name != h.name]
    mine = _domain(h.domain)
    if mine is None:
        return [ctx.not_checked("session_host.registry")]
    if not lss or all(ls.domain is None for ls in lss):
        return [ctx.not_checked("license_server.registry")]
    other = [ls for ls in lss if _domain(ls.domain) and _domain(ls.domain) != mine
             and (ls.domain_joined is None or ls.domain_joined.value is not False)
             and (h.domain_joined is None or h.domain_joined.value is not False)]
    if not other:
        return [ctx.not_detected()]
    same_forest = [ls for ls in other if _forest(_domain(ls.domain)) == _forest(mine)]
    sh_ev = ctx.current(ctx.events(h.name, "rcm", [1131, 1028]))
    named_sh = sh_ev[[any(isinstance(v, str) and "." in v and canonical(v) in {ls.name for ls in other}
                          and v.lower().rstrip(".").endswith("." + _domain(next(ls for ls in other
                                                                                 if ls.name == canonical(v)).domain))
                          for v in (d or {}).values()) for d in sh_ev["data"]]] if len(sh_ev) else sh_ev
    ls_hits = []
    for ls in other:
        x = ctx.current(ctx.events(ls.name, "ls", [4105]))
        if len(x):
            x = x[[any(isinstance(v, str) and v.lower().rstrip(".") in (mine, mine.split(".")[0])
                       for v in (d or {}).values()) for d in x["data"]]]
        if len(x):
            ls_hits.append(x)
    if not len(named_sh) and not ls_hits:
        where = ", ".join(f"{ls.name} ({_domain(ls.domain)})" for ls in other)
        note = " in the same forest" if len(same_forest) == len(other) else ""
        return [ctx.not_detected(f"{h.name} ({mine}) uses {where}{note}; no event names the other domain.")]
    evidence = fact_evidence(h.domain, note=f"domain of {h.name}")
    for ls in other:
        evidence += fact_evidence(ls.domain, note=f"domain of {ls.name}")
    evidence += events_evidence(named_sh, "licensing failure naming the license server of the other domain")
    for x in ls_hits:
        evidence += events_evidence(x, "license server cannot update users of the session host's domain")
    bits = ([id_list(named_sh)] if len(named_sh) else []) + [f"4105 x{len(x)} naming {mine}" for x in ls_hits]
    forest = "the same forest (check the trust and group membership)" if len(same_forest) == len(other) else \
        "another forest: this needs a two-way trust"
    return [ctx.detected(f"{h.name} (domain {mine}) uses license server "
                         f"{', '.join(f'{ls.name} (domain {_domain(ls.domain)})' for ls in other)} in {forest}, and "
                         f"licensing fails across it ({'; '.join(bits)}).", evidence,
                         related_hosts=[ls.name for ls in other])]
