"""The CAL pool of a license server: enough CALs of the type and version the session hosts
need, type matching the licensing mode, temporary CALs (seed article "The license server has a
client access license (CAL) for each user and device" and "3. appropriate type of RDS CAL";
RDS_LICENSING.md 1.3 (20/21/22), 3.1, 3.2, 5 #7, #8, #16)."""
from __future__ import annotations

import pandas as pd

from rdsla.core.cal_counts import CalCount, any_free, pack_counts, pool_counts
from rdsla.rules.api import RuleMeta, events_evidence, id_list, issued_evidence, keypack_evidence, rule
from rdsla.rules.compat import license_server_accepts, session_host_accepts

SEED_CALS = "seed article: Check the RD Licensing configuration (a CAL for each user and device)"
SEED_TYPE = "seed article: 3. Make sure that you're using the appropriate type of RDS CAL"
MS_CALS = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-client-access-license"
TYPE_LABEL = {"per_user": "Per User", "per_device": "Per Device"}


def permanent(kp: pd.DataFrame) -> pd.DataFrame:
    """Purchased packs: not built-in, not temporary (those two carry the unlimited sentinels,
    RDS_LICENSING.md 3.1, and never satisfy a session host for good)."""
    if not len(kp):
        return kp
    builtin = kp["builtin"].fillna(False).astype(bool)
    temporary = kp["temporary"].fillna(False).astype(bool)
    return kp[~builtin & ~temporary]


def usable(row, types: set, sh_versions: list, ls_version) -> bool:
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
    events=("ls_no_cals_of_type", "ls_no_cals_for_product"),
    scope="license_server", requires=("license_server.reports", "license_server.events"),
    references=(SEED_CALS, MS_CALS, "RDS_LICENSING.md 1.3 (21/22), 3.1, 5 #7"),
    description="No available permanent CAL that the session hosts can use on this license server."))
def no_usable_cals(ctx):
    h = ctx.host
    clients = ctx.clients_of(h.name)
    types = {c.mode_name for c in clients if c.mode_name in TYPE_LABEL}
    versions = [c.os_version.value for c in clients if c.os_version is not None and c.os_version.value]
    ev = ctx.events(h.name, "ls", [21, 22])
    kp = ctx.keypacks(h.name)
    if not len(kp) and not len(ev):
        if not ctx.has_reports(h) and not ctx.has_events(h.name):
            return [ctx.not_checked("license_server.reports", "license_server.events")]
        if not ctx.has_reports(h):
            return [ctx.not_checked("license_server.reports")]
    perm = permanent(kp)
    good = perm[[usable(r, types, versions, ls_version_of(h)) for _, r in perm.iterrows()]] if len(perm) else perm
    # Counts through core.cal_counts: an unlimited usable pack is free, a pack without counts
    # (export lacking TotalLicenses/AvailableLicenses) is unknown, never 0 (bug 3).
    free = any_free(good)                       # True | False | None (unknown)
    pool = pool_counts(good)
    if len(kp) and free:
        return [ctx.not_detected(f"{h.name} has {_available_text(pool.available)} usable by its session hosts.")]
    if not len(kp) and not len(ev):
        return [ctx.not_detected()]
    need = " or ".join(TYPE_LABEL[t] for t in sorted(types)) if types else "the needed"
    ver = f" for {'/'.join(sorted(set(versions)))} session hosts" if versions else ""
    uncounted = good[[pack_counts(r).available.is_unknown for _, r in good.iterrows()]] if free is None else good
    others = " (the other usable packs have none left)" if len(good) > len(uncounted) else ""
    if free is None and not len(ev):
        return [ctx.not_checked("license_server.reports", summary=(
            f"Whether {h.name} has {need} CALs left is unknown: its key-pack export gives no TotalLicenses or "
            f"AvailableLicenses for {len(uncounted)} usable pack(s) ({_pack_ids(uncounted)}){others}."))]
    if len(kp):
        if free is None:
            state = (f"the available count of {len(uncounted)} usable {need} pack(s) is unknown (no TotalLicenses "
                     f"or AvailableLicenses in the export){others}")
        elif len(good):
            issued = f"all {pool.total} usable" if pool.total.is_number else "every usable"
            state = f"{issued} {need} CALs are issued"
        else:
            installed = ", ".join(sorted({f"{r['cal_version']} {TYPE_LABEL.get(r['cal_type'], r['cal_type'])}"
                                          for _, r in perm.iterrows()})) or "none"
            state = f"no {need} CALs{ver} are installed (permanent packs: {installed})"
    else:
        state = f"it logged {id_list(ev)}"
    if len(good):
        evidence = [keypack_evidence(r, "usable pack, count unknown" if pack_counts(r).available.is_unknown
                                     else "usable pack, exhausted") for _, r in good.iterrows()]
    elif len(perm):
        evidence = [keypack_evidence(r, "installed pack, not usable") for _, r in perm.iterrows()]
    else:
        evidence = [keypack_evidence(r, "only built-in or temporary packs") for _, r in kp.head(5).iterrows()]
    evidence += events_evidence(ev, "no CALs left / none of this product")
    if len(kp) and len(ev):
        state += f"; it logged {id_list(ev)}"
    return [ctx.detected(f"License server {h.name} has no usable CAL: {state}.", evidence,
                         related_hosts=[c.name for c in clients])]


def _available_text(count: CalCount) -> str:
    if count.is_unlimited:
        return "unlimited CALs"
    if count.is_unknown:
        return "available CALs (the count of some packs is unknown)"
    return f"{count} available CAL(s)"


def _pack_ids(packs: pd.DataFrame) -> str:
    ids = [str(k) for k in packs["keypack_id"].dropna()]
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
        perm = permanent(ctx.keypacks(ls.name))
        mine = perm[perm["cal_type"] == mode]
        theirs = perm[perm["cal_type"] == other]
        if len(mine) or not len(theirs):
            return [ctx.not_detected()]
        where.append(ls.name)
        evidence += [keypack_evidence(r, f"{TYPE_LABEL[other]} pack") for _, r in theirs.iterrows()]
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
    references=(MS_CALS, "RDS_LICENSING.md 1.2 (1011), 3.2 LicenseStatus 1, 5 #16"),
    description="A 90-day temporary per-device CAL expired because no permanent CAL could be issued."))
def temporary_expired(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "rcm", [1011])
    lss = ctx.servers_for(h)
    expired = []
    for ls in lss:
        iss = ctx.issued(ls.name)
        if len(iss):
            temp = iss[iss["status"].fillna("").str.lower().str.startswith("temp")
                       & iss["expires_on"].notna() & (iss["expires_on"] <= pd.Timestamp(ctx.as_of))]
            expired += [(ls.name, r) for _, r in temp.iterrows()]
    if not len(ev) and not expired:
        if not ctx.has_events(h.name) and not any(len(ctx.issued(ls.name)) for ls in lss):
            return [ctx.not_checked("session_host.events", "license_server.reports")]
        return [ctx.not_detected()]
    evidence = events_evidence(ev, "temporary license expired")
    evidence += [issued_evidence(r, "temporary CAL past its expiry") for _, r in expired[:5]]
    ls_names = list(dict.fromkeys([n for n, _ in expired] + ctx.servers_of(h)))
    bits = ([id_list(ev)] if len(ev) else []) + ([f"{len(expired)} expired temporary CAL(s) in the issued-licenses report"]
                                                  if expired else [])
    # the fix (activate / add per-device CALs) is applied on the license server
    host = ls_names[0] if ls_names else h.name
    return [ctx.detected(f"Clients of {h.name} were refused because their temporary CAL expired "
                         f"({'; '.join(bits)}); no permanent CAL was issued in 90 days.", evidence,
                         host=host, related_hosts=[h.name] + ls_names)]
