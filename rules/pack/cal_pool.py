"""The CAL pool of a license server: enough CALs of the type and version the session hosts
need, type matching the licensing mode, temporary CALs (seed article "The license server has a
client access license (CAL) for each user and device" and "3. appropriate type of RDS CAL";
RDS_LICENSING.md 1.3 (20/21/22), 3.1, 3.2, 5 #7, #8, #16)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from rdsla.core.cal_counts import CalCount, any_free, pack_counts, pool_counts
from rdsla.core.evidence import rows
from rdsla.rules.api import RuleMeta, events_evidence, id_list, issued_evidence, keypack_evidence, rule
from rdsla.rules.compat import license_server_accepts, session_host_accepts

SEED_CALS = "seed article: Check the RD Licensing configuration (a CAL for each user and device)"
SEED_TYPE = "seed article: 3. Make sure that you're using the appropriate type of RDS CAL"
MS_CALS = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-client-access-license"
TYPE_LABEL = {"per_user": "Per User", "per_device": "Per Device"}


def usable(row, types: set, sh_versions: list, ls_version) -> bool:
    import pandas as pd
    if types and row.get("cal_type") not in types:
        return False
    ver = row.get("cal_version")
    if ver is None or pd.isna(ver):
        return False
    for v in sh_versions:
        if session_host_accepts(v, ver) is False:
            return False
    if ls_version and license_server_accepts(ls_version, ver) is False:
        return False
    return True


def ls_version_of(ls):
    f = ls.license_server.version or ls.os_version
    return f.value if f is not None else None


@rule(RuleMeta(
    id="RDSLIC-006", title="No CALs of the needed type/version, or exhausted", severity="error", kind="cause",
    outranks=("RDSLIC-016",),
    events=("ls_no_cals_of_type", "ls_no_cals_for_product", "temporary_license_expired"),
    scope="license_server", requires=("license_server.reports", "license_server.events"),
    references=(SEED_CALS, MS_CALS, "RDS_LICENSING.md 0a, 1.3 (21/22), 3.1, 5 #7"),
    description="No available permanent CAL that a session host of this license server can use, judged per "
                "session host (its mode and version). Per Device: a cause with current LS 21/22, current 1011 on "
                "the host, or no usable pack at all; an exhausted pool without refusals yet is a warning (new "
                "devices get temporary CALs, refused when those expire). Per User CALs are not enforced: a full or "
                "unusable Per User pool is a compliance finding, never the cause of a refused connection."))
def no_usable_cals(ctx):
    h = ctx.host
    clients = ctx.clients_of(h.name)
    ev = ctx.current(ctx.events(h.name, "ls", [21, 22]))
    kp = ctx.keypacks(h.name)
    if not len(kp) and not len(ev):
        if not ctx.has_reports(h):
            items = ("export.keypacks",) if ctx.has_events(h.name) else ("export.keypacks", "log.system")
            return [ctx.not_collected(h, *items)]
        return [ctx.not_detected()]
    perm = ctx.purchased_keypacks(h.name)
    lsv = ls_version_of(h)
    groups = [(c, c.mode_name, [c.os_version.value] if c.os_version is not None and c.os_version.value else [])
              for c in clients if c.mode_name in TYPE_LABEL]
    if not groups:                      # no client with a known mode: any type counts, as before
        groups = [(None, None, [c.os_version.value for c in clients if c.os_version is not None and c.os_version.value])]
    short = []                          # (client, mode, usable packs as rows, free)
    perm_rows = rows(perm)              # the few packs read once, judged per session host in Python
    for client, mode, versions in groups:
        types = {mode} if mode else set()
        good = [r for r in perm_rows if usable(r, types, versions, lsv)]
        free = any_free(good)           # True | False | None (unknown): core.cal_counts
        if free is not True:
            short.append((client, mode, good, free))
    if not short:
        return [ctx.not_detected(f"{h.name} has {_available_text(pool_counts(perm_rows).available) if len(perm) else 'CALs'} "
                                 f"usable by each of its session hosts.")]
    if all(free is None for *_, free in short) and not len(ev):
        _, mode, good, _ = short[0]
        need = TYPE_LABEL.get(mode, "the needed")
        return [ctx.not_checked("license_server.reports", summary=(
            f"Whether {h.name} has {need} CALs left is unknown: its key-pack export gives no TotalLicenses or "
            f"AvailableLicenses for {len(good)} usable pack(s) ({_pack_ids(good)})."))]
    out = []
    device = [x for x in short if x[1] == "per_device"]
    user = [x for x in short if x[1] == "per_user"]
    unknown = [x for x in short if x[1] is None]
    if unknown:
        # the licensing mode of the session hosts is unknown: only the license server's own events
        # tell which type is missing ("... of the type Per User CAL")
        texts = " ".join(" ".join(str(v) for v in (d or {}).values()) for d in ev["data"]).lower() if len(ev) else ""
        if "per user" in texts and "per device" not in texts:
            user += unknown
        elif len(ev):
            device += unknown
        elif not device and not user:
            who = [c for c, *_ in unknown if c is not None] or ctx.clients_of(h.name)
            if who:
                return [ctx.not_collected(who[0], "key.terminal_server", "key.policy", summary=(
                    f"Whether {h.name}'s CALs suit its session hosts is unknown: their licensing mode was not "
                    f"collected, and {h.name} logged no 21/22."))]
            return [ctx.not_detected()]
    if device:
        out.append(_per_device_finding(ctx, h, device, ev, perm, kp))
    if user:
        out.append(_per_user_finding(ctx, h, user, perm))
    return out


def _state(h, mode, good, free, perm, versions) -> str:
    need = TYPE_LABEL.get(mode, "the needed")
    if free is None:
        return f"the available count of {len(good)} usable {need} pack(s) is unknown"
    if len(good):
        pool = pool_counts(good)
        issued = f"all {pool.total} usable" if pool.total.is_number else "every usable"
        return f"{issued} {need} CALs are issued"
    installed = ", ".join(sorted({f"{r['cal_version']} {TYPE_LABEL.get(r['cal_type'], r['cal_type'])}"
                                  for _, r in perm.iterrows()})) or "none"
    ver = f" for {'/'.join(versions)} session hosts" if versions else ""
    return f"no {need} CALs{ver} are installed (permanent packs: {installed})"


def _pack_evidence(good, perm, kp):
    if len(good):
        return [keypack_evidence(r, "usable pack, count unknown" if pack_counts(r).available.is_unknown
                                 else "usable pack, exhausted") for r in good]
    if len(perm):
        return [keypack_evidence(r, "installed pack, not usable") for _, r in perm.iterrows()]
    return [keypack_evidence(r, "only built-in or temporary packs") for _, r in kp.head(5).iterrows()]


def _per_device_finding(ctx, h, short, ev, perm, kp):
    hosts = [c for c, *_ in short if c is not None]
    refused = {c.name: ctx.current(ctx.events(c.name, "rcm", [1011])) for c in hosts}
    refused = {k: v for k, v in refused.items() if len(v)}
    none_usable = any(not len(good) for _, _, good, _ in short)
    states, evidence = [], []
    for client, mode, good, free in short:
        versions = [client.os_version.value] if client is not None and client.os_version is not None else []
        who = f"for {client.name}: " if client is not None else ""
        states.append(who + _state(h, mode, good, free, perm, versions))
        evidence += _pack_evidence(good, perm, kp)
    evidence = list({(e.locator.get("keypack_id"), e.note): e for e in evidence}.values())
    evidence += events_evidence(ev, "no CALs left / none of this product")
    for name, x in refused.items():
        evidence += events_evidence(x, f"{name}: temporary CAL expired, client refused")
    bits = ([f"it logged {id_list(ev)}"] if len(ev) else []) + [f"{n} logged {id_list(x)}" for n, x in refused.items()]
    related = [c.name for c in hosts] or [c.name for c in ctx.clients_of(h.name)]
    if len(ev) or refused or none_usable:
        return ctx.detected(f"License server {h.name} has no usable Per Device CAL: {'; '.join(states)}"
                            + (f"; {'; '.join(bits)}" if bits else "") + ".", evidence, related_hosts=related)
    return ctx.detected(f"License server {h.name} has no free Per Device CAL ({'; '.join(states)}), but nothing was "
                        f"refused in the {ctx.window.days} days before collection: new devices get temporary CALs, "
                        f"refused when those expire after 90 days.", evidence, related_hosts=related,
                        severity="warning")


def _per_user_finding(ctx, h, short, perm):
    states, evidence = [], []
    for client, mode, good, free in short:
        versions = [client.os_version.value] if client is not None and client.os_version is not None else []
        who = f"for {client.name}: " if client is not None else ""
        states.append(who + _state(h, mode, good, free, perm, versions))
        evidence += _pack_evidence(good, perm, ctx.keypacks(h.name))
    evidence = list({(e.locator.get("keypack_id"), e.note): e for e in evidence}.values())
    return ctx.detected(f"License server {h.name}: {'; '.join(states)}. Per User CALs are not enforced, so nobody "
                        f"is refused for it, but the licensing terms need a CAL for each user: buy CALs.", evidence,
                        related_hosts=[c.name for c, *_ in short if c is not None], kind="compliance",
                        severity="warning",
                        remediation=["Buy and install the missing RDS Per User CALs (RD Licensing Manager > Install "
                                     "Licenses); Per User CALs are not enforced, so this is a compliance matter, "
                                     "not the cause of refused connections."])


def _available_text(count: CalCount) -> str:
    if count.is_unlimited:
        return "unlimited CALs"
    if count.is_unknown:
        return "available CALs (the count of some packs is unknown)"
    return f"{count} available CAL(s)"


def _pack_ids(packs: list) -> str:
    ids = [str(r["keypack_id"]) for r in packs if r["keypack_id"] is not None]
    return "key pack " + ", ".join(ids) if ids else "no KeyPackId"


@rule(RuleMeta(
    id="RDSLIC-007", title="CAL type does not match the licensing mode", severity="error", kind="cause",
    outranks=("RDSLIC-006", "RDSLIC-016"),
    events=("ls_no_cals_of_type", "cannot_issue_client_license"),
    scope="session_host", requires=("session_host.registry", "license_server.reports"),
    references=(SEED_TYPE, "RDS_LICENSING.md 1.2 (1004), 1.3 (21), 5 #8"),
    description="Per User mode with only Per Device CALs installed, or the reverse."))
def type_mismatch(ctx):
    h = ctx.host
    mode = h.mode_name
    if mode not in TYPE_LABEL:
        return [ctx.not_checked("session_host.registry")] if h.licensing_mode is None else [ctx.not_detected()]
    lss = [ls for ls in ctx.servers_for(h) if len(ctx.keypacks(ls.name))]
    if not lss:
        return [ctx.not_checked("license_server.reports")]
    other = "per_device" if mode == "per_user" else "per_user"
    evidence, where = [], []
    for ls in lss:
        packs = rows(ctx.purchased_keypacks(ls.name))
        mine = [r for r in packs if r["cal_type"] == mode]
        theirs = [r for r in packs if r["cal_type"] == other]
        if mine or not theirs:
            return [ctx.not_detected()]
        where.append(ls.name)
        evidence += [keypack_evidence(r, f"{TYPE_LABEL[other]} pack") for r in theirs]
        evidence += events_evidence(ctx.events(ls.name, "ls", [21]), "no CALs of the requested type")
    from rdsla.rules.api import fact_evidence
    evidence = fact_evidence(h.licensing_mode, note="effective licensing mode", winner=True) + evidence
    ev1004 = ctx.events(h.name, "rcm", [1004])
    evidence += events_evidence(ev1004, "cannot issue a client license")
    extra = f"; {h.name} logged {id_list(ev1004)}" if len(ev1004) else ""
    return [ctx.detected(f"{h.name} runs in {TYPE_LABEL[mode]} mode but {', '.join(where)} holds only "
                         f"{TYPE_LABEL[other]} CALs{extra}.", evidence, related_hosts=where)]


@rule(RuleMeta(
    id="RDSLIC-016", title="Temporary CAL expired", severity="error", kind="cause",
    events=("temporary_license_expired",),
    scope="session_host", requires=("session_host.events", "license_server.reports"),
    references=(MS_CALS, "RDS_LICENSING.md 0a, 1.2 (1011), 3.2 LicenseStatus 1, 5 #16"),
    description="A device came back after its 90-day temporary Per Device CAL expired and no permanent CAL could be "
                "issued: 1011 in the current window, or an issued-licenses report showing a device issued again "
                "after its temporary CAL expired. Expired temporary CALs of devices that connected once and never "
                "came back are normal."))
def temporary_expired(ctx):
    import pandas as pd
    h = ctx.host
    ev = ctx.current(ctx.events(h.name, "rcm", [1011]))
    lss = ctx.servers_for(h)
    expired, came_back = [], []
    for ls in lss:
        iss = ctx.issued(ls.name)
        if not len(iss):
            continue
        temp = iss[iss["status"].fillna("").str.lower().str.startswith("temp")
                   & iss["expires_on"].notna() & (iss["expires_on"] <= pd.Timestamp(ctx.as_of))]
        for _, r in temp.iterrows():
            expired.append((ls.name, r))
            again = iss[(iss["issued_to"] == r["issued_to"]) & iss["issued_on"].notna()
                        & (iss["issued_on"] > r["expires_on"])]
            if len(again) and str(r["issued_to"] or ""):
                came_back.append((ls.name, r))
    if not len(ev) and not came_back:
        if not ctx.has_events(h.name) and not any(len(ctx.issued(ls.name)) for ls in lss):
            return [ctx.not_collected(h, "log.rcm_operational", "log.system", summary=(
                f"Not checked for {h.name}: neither its logs nor an issued-licenses report was collected."))]
        if expired:
            return [ctx.not_detected(f"{len(expired)} temporary CAL(s) expired for devices that connected once and did "
                                     f"not come back ({', '.join(str(r['issued_to']) for _, r in expired[:5])}): normal.")]
        return [ctx.not_detected()]
    evidence = events_evidence(ev, "temporary license expired")
    evidence += [issued_evidence(r, "temporary CAL expired, device came back") for _, r in came_back[:5]]
    ls_names = list(dict.fromkeys([n for n, _ in came_back] + ctx.servers_of(h)
                                  + [ls.name for ls in lss if ls.roles or ls.artifacts]))
    bits = ([id_list(ev)] if len(ev) else []) + ([f"{len(came_back)} device(s) issued again after their temporary CAL "
                                                  f"expired"] if came_back else [])
    # the fix (activate / add per-device CALs) is applied on the license server
    host = ls_names[0] if ls_names else h.name
    return [ctx.detected(f"Clients of {h.name} were refused because their temporary CAL expired "
                         f"({'; '.join(bits)}); no permanent CAL was issued in 90 days.", evidence,
                         host=host, related_hosts=[h.name] + ls_names)]
