"""Versions of CALs, session hosts and license servers against the compatibility tables of the
seed article ("2. Make sure that the versions ... are compatible"), extended by RDS_LICENSING.md 4."""
from __future__ import annotations

from rdsla.core.evidence import rows
from rdsla.rules.api import RuleMeta, events_evidence, fact_evidence, id_list, keypack_evidence, rule
from rdsla.rules.compat import session_host_accepts, version_order
from rdsla.rules.pack.cal_pool import TYPE_LABEL, ls_version_of

SEED_VER = "seed article: 2. Make sure that the versions of your RDS CALs, RD Session Hosts, and RD License Servers are compatible"
MS_VER = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-client-access-license#rds-cal-version-compatibility"


@rule(RuleMeta(
    id="RDSLIC-008", title="CAL version not accepted by the session host", severity="error", kind="cause",
    outranks=("RDSLIC-006",),
    events=("ls_no_cals_of_type", "ls_no_cals_for_product"),
    scope="session_host", requires=("session_host.registry", "license_server.reports"),
    references=(SEED_VER, MS_VER, "RDS_LICENSING.md 4, 5 #9"),
    description="Every installed CAL is older than the session host accepts (a host takes its own version or newer)."))
def cal_too_old(ctx):
    h = ctx.host
    if h.os_version is None or not h.os_version.value:
        return [ctx.not_checked("session_host.registry")]
    lss = [ls for ls in ctx.servers_for(h) if len(ctx.keypacks(ls.name))]
    if not lss:
        return [ctx.not_checked("license_server.reports")]
    mode = h.mode_name if h.mode_name in TYPE_LABEL else None
    evidence, where, versions = [], [], set()
    for ls in lss:
        packs = [r for r in rows(ctx.purchased_keypacks(ls.name))          # a few packs: plain rows
                 if (not mode or r["cal_type"] == mode) and r["cal_version"] is not None]
        if not packs:
            continue
        verdicts = [session_host_accepts(h.os_version.value, r["cal_version"]) for r in packs]
        if any(v is not False for v in verdicts):
            return [ctx.not_detected()]
        where.append(ls.name)
        versions |= {r["cal_version"] for r in packs}
        evidence += [keypack_evidence(r, f"{r['cal_version']} CALs: not accepted by a {h.os_version.value} host")
                     for r in packs]
        evidence += events_evidence(ctx.events(ls.name, "ls", [21, 22]), "no CALs for the requested product")
    if not where:
        return [ctx.not_detected()]
    evidence = fact_evidence(h.os_version, note="session host OS") + evidence
    kind = f" {TYPE_LABEL[mode]}" if mode else ""
    return [ctx.detected(f"{h.name} runs Windows Server {h.os_version.value}, but {', '.join(where)} holds only "
                         f"RDS {'/'.join(sorted(versions))}{kind} CALs, which it does not accept.", evidence,
                         related_hosts=where)]


@rule(RuleMeta(
    id="RDSLIC-009", title="License server too old for the CALs or the session host", severity="error",
    outranks=("RDSLIC-006", "RDSLIC-004"),
    events=("license_server_os_unsupported",),
    kind="cause", scope="session_host", requires=("session_host.events", "license_server.os"),
    references=(SEED_VER, MS_VER, "RDS_LICENSING.md 1.2 (1132/50284), 3.4 LOWER_VERSION, 4, 5 #9"),
    description="The license server runs an older Windows Server than the session host (event 1132/50284)."))
def ls_too_old(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1132])
    status = h.connectivity_status.value if h.connectivity_status else None
    lower = status is not None and str(status).upper() == "LOWER_VERSION"
    mine = version_order(h.os_version.value) if h.os_version is not None else None
    old = []
    for ls in ctx.servers_for(h):
        theirs = version_order(ls_version_of(ls))
        if mine is not None and theirs is not None and theirs < mine:
            old.append(ls)
    if not len(ev) and not lower and not old:
        known = mine is not None and any(version_order(ls_version_of(ls)) is not None for ls in ctx.servers_for(h))
        if not known and not ctx.has_events(h.name):
            return [ctx.not_checked("session_host.events", "license_server.os")]
        return [ctx.not_detected()]
    evidence = fact_evidence(h.os_version, note="session host OS") if old else []
    for ls in old:
        evidence += fact_evidence(ls.license_server.version or ls.os_version, note="license server OS")
    evidence += events_evidence(ev, "license server does not support this OS")
    if lower:
        evidence += fact_evidence(h.connectivity_status, note="connectivity status")
    bits = [f"{ls.name} runs {ls_version_of(ls)}, {h.name} runs {h.os_version.value}" for ls in old]
    bits += [id_list(ev)] if len(ev) else []
    bits += ["connectivity status LOWER_VERSION"] if lower else []
    names = [ls.name for ls in old] or ctx.servers_of(h)
    return [ctx.detected(f"The license server of {h.name} is older than the session host ({'; '.join(bits)}).",
                         evidence, related_hosts=names)]
