"""License-server causes of issue 19: Per Device CALs leaking (021), a license server that runs
but refuses or fails (022), and "Prevent license upgrade" leaving older session hosts without a
CAL (025). RDS_LICENSING.md 0a (the three rows), 1.3, 2.6, 3.2; Microsoft "License your RDS
deployment with client access licenses" (Per Device: temporary CAL first, permanent later)."""
from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

from rdsla.core.cal_counts import pool_counts
from rdsla.rules.api import (POLICY_KEY, RuleMeta, events_evidence, fact_evidence, id_list, issued_evidence,
                             keypack_evidence, of_catalog_keys, rule)
from rdsla.rules.compat import session_host_accepts, version_order
from rdsla.rules.pack.cal_pool import MS_CALS

MS_WEB_CLIENT = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/clients/remote-desktop-web-client-admin"
DOCS_1283 = "MicrosoftDocs/windowsserverdocs issue #1283 (web client and Per Device CALs)"
MS_ISSUED = "https://learn.microsoft.com/windows/win32/termserv/win32-tsissuedlicense"
MS_LS_POLICIES = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-license-session-hosts"

# One device name holding this many Per Device CALs with different hardware ids, or this many
# temporary CALs, is a client that does not keep its license: a device that keeps it holds one
# (a temporary CAL upgraded in place to a permanent one, same hardware id; a PC re-imaged once
# holds two). RDS_LICENSING.md 0a, 3.2.
LEAK_MIN = 3
# "Nearly exhausted": this share of the usable Per Device pool or less is still free.
NEARLY_EMPTY = 0.10
TEMPORARY_LIFE = timedelta(days=90)     # a temporary Per Device CAL (RDS_LICENSING.md 0a)


def _clients(ctx, h):
    return [c.name for c in ctx.clients_of(h.name)]


# --------------------------------------------------------------------------- RDSLIC-021

def _per_device_rows(iss: pd.DataFrame) -> pd.DataFrame:
    """Issued Per Device CALs still held (revoked ones are back in the pool)."""
    import pandas as pd
    if not len(iss):
        return iss
    kind = iss["cal_type"].fillna("per_device") if "cal_type" in iss else pd.Series("per_device", index=iss.index)
    status = iss["status"].fillna("").str.lower()
    named = iss["issued_to"].fillna("").str.strip() != ""
    return iss[(kind == "per_device") & (status != "revoked") & named]


def _leaks(rows: pd.DataFrame) -> list[dict]:
    """Device names holding many CALs: ``{name, rows, hardware_ids, temporary}``, most first.
    The columns are cleaned once; rows are grouped by name in plain Python (a pandas group per
    device name cost ~2 ms each, and an export holds one name per client)."""
    import pandas as pd
    if not len(rows):
        return []
    names = rows["issued_to"].str.strip().str.upper().tolist()
    hw = rows["hardware_id"] if "hardware_id" in rows else pd.Series(pd.NA, index=rows.index)
    present = hw.notna().tolist()
    ids = hw.dropna().astype(str).str.strip().str.lower().tolist()
    hw_ids = iter(ids)
    hw_ids = [next(hw_ids) if there else None for there in present]
    temporary = rows["status"].fillna("").str.lower().str.startswith("temp").tolist()
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(name, []).append(i)
    out = []
    for name in sorted(groups):
        positions = groups[name]
        n_ids = len({hw_ids[i] for i in positions if hw_ids[i] is not None and hw_ids[i] != ""})
        n_temp = sum(1 for i in positions if temporary[i])
        if n_ids >= LEAK_MIN or n_temp >= LEAK_MIN:
            out.append({"name": name, "rows": rows.iloc[positions], "hardware_ids": n_ids, "temporary": n_temp})
    out.sort(key=lambda x: (-len(x["rows"]), x["name"]))
    return out


def _gateway_names(ctx) -> set[str]:
    """Machines of the bundle running RD Gateway or RD Web Access: the HTML5 web client reaches
    the session host through them, and its CALs may carry their name."""
    return {h.name for h in ctx.analysis.hosts if h.has_role("gateway") or h.has_role("web_access")}


def _client_kind(leaks: list[dict], gateways: set[str]) -> tuple[str, list[str]]:
    """What the evidence says of the leaking clients, and the fix for that kind."""
    via = sorted({x["name"] for x in leaks} & gateways)
    if via:
        return (f"the HTML5 Remote Desktop web client (the CALs carry the name of RD Gateway / RD Web {', '.join(via)})",
                ["The Remote Desktop web client does not keep a Per Device CAL: every connection takes a new one "
                 "(Microsoft's web client documentation). License web client users Per User: set the deployment's "
                 "licensing mode to Per User and install Per User CALs, or publish the web client only to a "
                 "collection licensed Per User."])
    if any(x["hardware_ids"] >= LEAK_MIN for x in leaks):
        return ("clients that present a new hardware id at each connection and do not keep their license: "
                "FreeRDP-based or thin clients, PCs re-imaged or reset between connections, or Windows clients that "
                "cannot write HKLM\\SOFTWARE\\Microsoft\\MSLicensing",
                ["Make the clients keep their CAL: thin-client firmware that stores the license (or a fixed hardware "
                 "id), images that keep HKLM\\SOFTWARE\\Microsoft\\MSLicensing, or run mstsc once elevated so it "
                 "can write that key.",
                 "Where the clients cannot keep a license (kiosks re-imaged nightly, browser or FreeRDP clients), "
                 "license those users Per User instead of Per Device."])
    return ("clients whose temporary CAL is never upgraded to a permanent one: each connection takes a new temporary "
            "CAL (typically clients that cannot store the license they were given)",
            ["Find why the clients named do not keep their license (HKLM\\SOFTWARE\\Microsoft\\MSLicensing not "
             "writable, a client that does not store CALs); license those users Per User if they cannot."])


def _pool_pressure(ctx, h) -> tuple[str, list, bool]:
    """('all 50 ... issued' | '', evidence, exhausted or nearly) of the usable Per Device pool."""
    perm = ctx.purchased_keypacks(h.name)
    if not len(perm):
        return "", [], False
    pd_packs = perm[perm["cal_type"] == "per_device"]
    if not len(pd_packs):
        return "", [], False
    pool = pool_counts(pd_packs)
    if not (pool.total.is_number and pool.available.is_number) or not pool.total.value:
        return "", [], False
    free, total = pool.available.value, pool.total.value
    tight = free <= NEARLY_EMPTY * total
    text = f"{free} of {total} permanent Per Device CALs free" if free else f"all {total} permanent Per Device CALs issued"
    evidence = [keypack_evidence(r, "Per Device pack") for _, r in pd_packs.iterrows()]
    return text, evidence, tight


@rule(RuleMeta(
    id="RDSLIC-021", title="Per Device CALs leaking (one device name holding many CALs)", severity="error",
    kind="cause", scope="license_server", outranks=("RDSLIC-006", "RDSLIC-016"),
    events=("ls_cals_low", "ls_no_cals_of_type"),
    requires=("license_server.reports", "license_server.events"),
    references=(MS_CALS, MS_WEB_CLIENT, DOCS_1283, MS_ISSUED, "RDS_LICENSING.md 0a (Per Device CALs leak), 1.3 (20/21), 3.2"),
    description="Clients that do not keep their Per Device CAL (the HTML5 web client, FreeRDP and thin clients, "
                "re-imaged PCs, clients that cannot write MSLicensing) take a new CAL at each connection: in "
                "Win32_TSIssuedLicense one sIssuedToComputer holds many CALs with different sHardwareId, or many "
                f"temporary rows ({LEAK_MIN} or more). A cause when the Per Device pool is exhausted or nearly "
                f"({NEARLY_EMPTY:.0%} or less free) or the license server logs 20/21 now; else a warning."))
def per_device_leak(ctx):
    import pandas as pd
    h = ctx.host
    iss = ctx.issued(h.name)
    if not len(iss):
        if not ctx.has_reports(h):
            return [ctx.not_collected(h, "export.issued")]
        return [ctx.not_detected()]
    if "hardware_id" not in iss:
        iss = iss.assign(hardware_id=pd.NA)
    leaks = _leaks(_per_device_rows(iss))
    if not leaks:
        return [ctx.not_detected(f"No device name of {h.name}'s issued CALs holds {LEAK_MIN} or more CALs.")]
    all_ev = ctx.events(h.name, "ls", [20, 21])
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    history = ctx.history_line(old)
    pool_text, pool_evidence, tight = _pool_pressure(ctx, h)
    held = sum(len(x["rows"]) for x in leaks)
    kind, fix = _client_kind(leaks, _gateway_names(ctx))
    names = "; ".join(f"{x['name']} x{len(x['rows'])}"
                      + (f" ({x['hardware_ids']} hardware ids)" if x["hardware_ids"] >= LEAK_MIN else
                         f" ({x['temporary']} temporary)")
                      for x in leaks[:5])
    more = f" and {len(leaks) - 5} more" if len(leaks) > 5 else ""
    evidence = []
    for x in leaks[:5]:
        rows = x["rows"].sort_values("issued_on", na_position="first") if "issued_on" in x["rows"] else x["rows"]
        evidence += [issued_evidence(r, f"{x['name']}: one of {len(x['rows'])} CALs of this device name")
                     for _, r in rows.tail(3).iterrows()]
    evidence += pool_evidence + events_evidence(ev, "permanent Per Device CALs running out")
    bits = [b for b in (pool_text, id_list(ev) and f"it logged {id_list(ev)}") if b]
    summary = (f"License server {h.name}: {held} Per Device CALs are held by {len(leaks)} device name(s) that take "
               f"a new CAL at each connection ({names}{more}): {kind}.")
    steps = fix + ["Revoke the leaked CALs in RD Licensing Manager (right-click the CAL > Revoke License, or "
                   "Win32_TSIssuedLicense.Revoke; up to 20% of a version's Per Device CALs at a time) so the "
                   "pool refills while the clients are fixed."]
    if tight or len(ev):
        return [ctx.detected(summary + f" The pool is running out ({'; '.join(bits)}).", evidence,
                             related_hosts=_clients(ctx, h), remediation=steps, history=history)]
    return [ctx.detected(summary + (f" The pool still has room ({pool_text})" if pool_text else
                                    " The pool's free count is unknown")
                         + "; nobody is refused yet, but it drains.", evidence, related_hosts=_clients(ctx, h),
                         remediation=steps, severity="warning", history=history)]


# --------------------------------------------------------------------------- RDSLIC-022

LS_FAILURE_IDS = [9, 12, 14, 19]
SCM_FAILURE_KEYS = ("ls_service_failed_to_start", "ls_service_terminated", "ls_service_crashed")
SCM_FAILURE_IDS = [7000, 7023, 7024, 7031, 7034]
LS_FAILURE_TEXT = {9: "database file not valid", 12: "all requests denied after an initialization error",
                   14: "cannot detect its installed licenses", 19: "RD Licensing certificate problem"}


def _scm_failures(ctx, name: str) -> pd.DataFrame:
    """SCM 7000/7023/7024/7031/7034 about the Remote Desktop Licensing service only (the same
    ids name other services; the catalog's data condition tells them apart)."""
    return of_catalog_keys(ctx.events(name, "scm", SCM_FAILURE_IDS), SCM_FAILURE_KEYS)


def _describe(ls_ev: pd.DataFrame) -> str:
    ids = sorted({int(x) for x in ls_ev["_legacy"]}) if len(ls_ev) else []
    return "; ".join(f"{i}: {LS_FAILURE_TEXT[i]}" for i in ids if i in LS_FAILURE_TEXT)


@rule(RuleMeta(
    id="RDSLIC-022", title="License server running but refusing or failing", severity="error", kind="cause",
    scope="license_server", outranks=("RDSLIC-019", "RDSLIC-004"),
    events=("ls_database_invalid", "ls_init_error", "ls_local_licenses_undetected", "ls_certificate_problem",
            "ls_service_failed_to_start", "ls_service_terminated", "ls_service_crashed", "license_processing_slow"),
    requires=("license_server.events", "session_host.events"),
    references=("RDS_LICENSING.md 0a (license server refusing), 1.3 (9, 12, 14, 19), 1.2 (20497)",
                "https://learn.microsoft.com/troubleshoot/windows-server/remote/troubleshoot-rds-licensing-guidance"),
    description="The Remote Desktop Licensing service is installed and started but cannot serve: its database is "
                "not valid (9), it denies every request after an initialization error (12), it cannot see its "
                "installed licenses (14), a certificate problem (19), or SCM reports it failing to start, "
                "terminating or crashing (7000/7023/7024/7031/7034); session hosts wait for it (20497, 'has taken "
                "too long to process the client license'). Role missing or service stopped/disabled is RDSLIC-019; "
                "a server that cannot be reached is RDSLIC-004. Current events only; older ones are history.",
    remediation=(
        "On the license server read the System and TerminalServices-Licensing logs around the first failure; "
        "restart the Remote Desktop Licensing service (TermServLicensing) and check that it stays running.",
        "Database not valid (9) or initialization error (12): stop the service, back up %SystemRoot%\\System32\\"
        "LServer, and rebuild the licensing database (rename TLSLic.edb, start the service, reactivate the "
        "server and reinstall the CAL packs) if the service keeps failing.",
        "Installed licenses not detected (14) or certificate problem (19): reactivate the license server in RD "
        "Licensing Manager (Advanced > Reactivate Server), then check its CAL packs are listed.",
        "Service crashing (7031/7034) or failing to start (7000/7023): check its recovery options and the "
        "Application log for the faulting module; install the latest cumulative update.",
        "Confirm on each session host with RD Licensing Diagnoser that CALs are issued again (no more 20497).")))
def refusing_or_failing(ctx):
    import pandas as pd
    h = ctx.host
    ls_all = ctx.events(h.name, "ls", LS_FAILURE_IDS)
    scm_all = _scm_failures(ctx, h.name)
    clients = ctx.clients_of(h.name)
    slow_all = {c.name: ctx.events(c.name, "rcm", [20497]) for c in clients}
    ls_ev, scm_ev = ctx.current(ls_all), ctx.current(scm_all)
    slow = {n: ctx.current(x) for n, x in slow_all.items()}
    slow = {n: x for n, x in slow.items() if len(x)}
    older = [x for x in (ctx.history(ls_all), ctx.history(scm_all), *map(ctx.history, slow_all.values())) if len(x)]
    history = ctx.history_line(pd.concat(older)) if older else ""
    if not len(ls_ev) and not len(scm_ev) and not slow:
        if not ctx.has_events(h.name) and not any(ctx.has_events(c.name) for c in clients):
            return [ctx.not_collected(h, "log.system", "log.lic_admin", history=history)]
        return [ctx.not_detected(history=history)]
    evidence = events_evidence(ls_ev, "license server failing") + events_evidence(scm_ev, "Remote Desktop Licensing service failing")
    for name, x in slow.items():
        evidence += events_evidence(x, f"{name}: license server took too long to process the client license", n=3)
    bits = []
    if len(ls_ev):
        bits.append(f"{id_list(ls_ev)} ({_describe(ls_ev)})")
    if len(scm_ev):
        bits.append(f"Service Control Manager {id_list(scm_ev)} for Remote Desktop Licensing")
    waits = [f"{n} logged {id_list(x)}" for n, x in slow.items()]
    related = [c.name for c in clients]
    if len(ls_ev) or len(scm_ev):
        return [ctx.detected(f"License server {h.name} runs but is failing: {'; '.join(bits)}"
                             + (f"; its session hosts wait for it ({'; '.join(waits)})" if waits else "") + ".",
                             evidence, related_hosts=related, history=history)]
    # only the session hosts' side: slow or failing license processing, the license server's log says nothing
    if ctx.has_events(h.name):
        summary = (f"Session hosts of {h.name} report that it takes too long to process client licenses "
                   f"({'; '.join(waits)}), though its own log shows no failure: a busy or hung license server.")
        return [ctx.detected(summary, evidence, related_hosts=related, severity="warning", history=history)]
    f = ctx.detected(f"Session hosts of {h.name} report that it takes too long to process client licenses "
                     f"({'; '.join(waits)}); its own logs were not collected to say why.", evidence,
                     related_hosts=related, severity="warning", history=history)
    f.collect = ctx.collect_next(h, "log.system", "log.lic_admin")
    return [f]


# --------------------------------------------------------------------------- RDSLIC-025

def _appropriate(packs: pd.DataFrame, host_version: str) -> pd.DataFrame:
    """Packs a session host of this version takes without an upgrade: a CAL it accepts, of its own
    version or older (a newer CAL is an upgrade, which the policy forbids)."""
    order = version_order(host_version)
    keep = [i for i, r in packs.iterrows()
            if session_host_accepts(host_version, r["cal_version"]) and version_order(r["cal_version"]) is not None
            and version_order(r["cal_version"]) <= order]
    return packs.loc[keep]


def _newer_only(ctx, h, sh) -> tuple[bool, pd.DataFrame]:
    """(True, the newer usable packs) when ``h`` has no free pack of ``sh``'s type and version or
    older that ``sh`` accepts, but has free newer ones (what an upgrade would issue)."""
    version = sh.os_version.value if sh.os_version is not None else None
    if version is None or version_order(version) is None or sh.mode_name != "per_device":
        return False, ctx.keypacks(h.name).iloc[0:0]
    perm = ctx.purchased_keypacks(h.name)
    if not len(perm):
        return False, perm
    mine = perm[(perm["cal_type"] == "per_device") & perm["cal_version"].notna()]
    if not len(mine):
        return False, mine
    appropriate = _appropriate(mine, version)
    if len(appropriate) and pool_counts(appropriate).available.has_free() is not False:
        return False, mine.iloc[0:0]
    newer = mine.drop(index=appropriate.index)
    newer = newer[[bool(session_host_accepts(version, v)) for v in newer["cal_version"]]] if len(newer) else newer
    return bool(len(newer)), newer


@rule(RuleMeta(
    id="RDSLIC-025", title="License upgrade prevented (fPreventLicenseUpgrade) on a license server holding only "
                           "newer CALs", severity="error", kind="cause", scope="license_server",
    outranks=("RDSLIC-016", "RDSLIC-006"),
    events=("temporary_license_expired",),
    requires=("license_server.registry", "license_server.reports"),
    references=("RDS_LICENSING.md 0a (Prevent license upgrade), 2.6 fPreventLicenseUpgrade, 3.3 "
                "IsLSPreventUpgradeGPEnabled", MS_LS_POLICIES, MS_CALS),
    description="The policy 'Prevent license upgrade' (fPreventLicenseUpgrade = 1 under the license server's "
                "SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services) stops the license server issuing a "
                "CAL newer than the session host's version. When it holds only newer Per Device CALs, clients of "
                "the older session host get temporary CALs and are refused (1011) when those expire after 90 days. "
                "A cause with current 1011 or temporary CALs issued for it, else a warning; not configured where the "
                "policy key was collected without the value.",
    remediation=(
        "On the license server set 'Prevent license upgrade' to Not Configured or Disabled (Computer Configuration > "
        "Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Licensing), "
        "then gpupdate /force and restart the Remote Desktop Licensing service.",
        "Or install Per Device CALs of the older session host's own version on the license server.",
        "Clients refused with 1011 get a permanent CAL at their next connection once either is done.")))
def upgrade_prevented(ctx):
    import pandas as pd
    h = ctx.host
    pol = h.license_server.prevent_license_upgrade
    clients = [c for c in ctx.clients_of(h.name)]
    affected = [(c, newer) for c in clients for ok, newer in [_newer_only(ctx, h, c)] if ok]
    if pol is None or pol.value is None:
        if ctx.collected(h, POLICY_KEY):
            return [ctx.not_detected(f"'Prevent license upgrade' is not configured on {h.name}.")]
        if affected:          # it would matter here, and its key was not collected
            return [ctx.not_collected(h, "key.policy", summary=(
                f"Not checked: {h.name} holds only Per Device CALs newer than {', '.join(c.name for c, _ in affected)}; "
                f"whether 'Prevent license upgrade' stops it issuing them is unknown (policy key not collected)."))]
        return [ctx.not_detected()]
    try:
        on = int(pol.value) == 1
    except (TypeError, ValueError):
        on = False
    if not on:
        return [ctx.not_detected(f"'Prevent license upgrade' is set to {pol.value} on {h.name} (upgrades allowed).")]
    if not affected:
        return [ctx.not_detected(f"'Prevent license upgrade' is on at {h.name}, but it holds CALs of each Per Device "
                                 f"session host's own version: no upgrade is needed.")]
    as_of = pd.Timestamp(ctx.as_of)
    iss = ctx.issued(h.name)
    temp = iss.iloc[0:0]
    if len(iss):
        temp = iss[iss["status"].fillna("").str.lower().str.startswith("temp") & iss["issued_on"].notna()
                   & (iss["issued_on"] > as_of - TEMPORARY_LIFE)]
    refused = {c.name: ctx.current(ctx.events(c.name, "rcm", [1011])) for c, _ in affected}
    refused = {n: x for n, x in refused.items() if len(x)}
    evidence = fact_evidence(pol, note="Prevent license upgrade: enabled")
    parts = []
    for c, newer in affected:
        versions = ", ".join(sorted({str(v) for v in newer["cal_version"]}))
        parts.append(f"{c.name} runs Windows Server {c.os_version.value} in Per Device mode; {h.name} holds Per Device "
                     f"CALs only of {versions}")
        evidence += fact_evidence(c.os_version, note=f"{c.name}: session host version")
        evidence += [keypack_evidence(r, "newer Per Device pack (an upgrade)") for _, r in newer.iterrows()]
    evidence += [issued_evidence(r, "temporary CAL instead of an upgraded one") for _, r in temp.tail(3).iterrows()]
    for name, x in refused.items():
        evidence += events_evidence(x, f"{name}: temporary CAL expired, client refused", n=3)
    impact = ([f"{len(temp)} temporary CAL(s) issued in the last {TEMPORARY_LIFE.days} days"] if len(temp) else []) + \
        [f"{n} logged {id_list(x)}" for n, x in refused.items()]
    summary = (f"'Prevent license upgrade' is enabled on license server {h.name} (fPreventLicenseUpgrade = 1): "
               f"{'; '.join(parts)}, so it will not upgrade their clients and issues temporary CALs instead")
    related = [c.name for c, _ in affected]
    if refused or len(temp):
        return [ctx.detected(summary + f" ({'; '.join(impact)}).", evidence, related_hosts=related)]
    return [ctx.detected(summary + "; no temporary CAL or refusal is in the bundle yet.", evidence,
                         related_hosts=related, severity="warning")]
