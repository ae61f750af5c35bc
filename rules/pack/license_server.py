"""The license server itself: activation, AD group, security group, role and service
(seed article "The RD Licensing role is installed and the license server is activated";
RDS_LICENSING.md 1.3, 2.6, 3.3, 5 #5, #12, #13)."""
from __future__ import annotations

from rdsla.rules.api import RuleMeta, events_evidence, fact_evidence, id_list, issued_evidence, of_catalog_keys, rule

SEED_ROLE = "seed article: Check the RD Licensing configuration (role installed and activated)"
MS_ACT = "https://learn.microsoft.com/windows-server/remote/remote-desktop-services/rds-activate-license-server"
KB_4105 = "https://support.microsoft.com/kb/2030310 (event 4105)"


def _ls_missing(ctx, *needs):
    return [ctx.not_checked(*needs, summary=f"Not checked: the bundle holds nothing from license server "
                                            f"{ctx.host.name}.")]


def _bare(ctx) -> bool:
    h = ctx.host
    return not (ctx.has_events(h.name) or ctx.has_reports(h) or ctx.has_registry(h) or h.artifacts
                or h.license_server.activation_status or h.license_server.service_state
                or h.license_server.service_start_type or h.roles)


@rule(RuleMeta(
    id="RDSLIC-005", title="License server not activated", severity="error", kind="cause",
    outranks=("RDSLIC-006", "RDSLIC-016"),
    events=("ls_not_activated", "ls_activated"),
    scope="license_server", requires=("license_server.events", "license_server.reports"),
    references=(SEED_ROLE, MS_ACT, "RDS_LICENSING.md 1.3 (18), 3.3 GetActivationStatus, 5 #5"),
    description="An unactivated license server issues only temporary per-device CALs."))
def not_activated(ctx):
    h = ctx.host
    act = h.license_server.activation_status
    ev18 = ctx.events(h.name, "ls", [18])
    ev4 = ctx.events(h.name, "ls", [4])
    if act is not None and act.value == "activated":
        return [ctx.not_detected(f"{h.name} reports itself activated.")]
    if len(ev18) and len(ev4) and ev4["time"].max() > ev18["time"].max():
        ev18 = ev18.iloc[0:0]  # activated after the last complaint
    said = act is not None and act.value == "not_activated"
    if not said and not len(ev18):
        if _bare(ctx) or (not ctx.has_events(h.name) and act is None):
            return _ls_missing(ctx, "license_server.events", "license_server.reports")
        return [ctx.not_detected()]
    evidence = fact_evidence(act, note="activation status") if said else []
    evidence += events_evidence(ev18, "license server not activated")
    temp = ctx.issued(h.name)
    if len(temp):
        temp = temp[temp["status"].fillna("").str.lower().str.startswith("temp")]
        evidence += [issued_evidence(r, "temporary CAL (all an unactivated server can issue)")
                     for _, r in temp.head(3).iterrows()]
    bits = (["activation status: not activated"] if said else []) + ([id_list(ev18)] if len(ev18) else [])
    return [ctx.detected(f"License server {h.name} is not activated ({'; '.join(bits)}), so it issues only "
                         f"temporary per-device CALs.", evidence,
                         related_hosts=[s.name for s in ctx.clients_of(h.name)])]


@rule(RuleMeta(
    id="RDSLIC-012", title="Per User CAL usage not recorded in AD (4105, Terminal Server License Servers)",
    severity="warning", blocks_licensing=False,
    events=("ls_ad_update_failed",),
    kind="compliance", scope="license_server", requires=("license_server.events",),
    references=(KB_4105, "RDS_LICENSING.md 0a, 1.3 (4105), 3.3 IsLSinTSLSGroup, 3.6 TSLSMembership.txt, 5 #12"),
    description="The license server cannot write per-user CAL attributes into AD (4105): Per User usage goes "
                "unreported, logons still succeed, so it is a compliance finding, never a cause. Non-membership in "
                "Terminal Server License Servers is claimed only when a membership export proves it; a member with "
                "4105 lacks permission on those users' objects (SELF 'Read and Write Terminal Server license "
                "server', protected accounts)."))
def not_in_tsls(ctx):
    h = ctx.host
    all_ev = ctx.events(h.name, "ls", [4105])
    ev, old = ctx.current(all_ev), ctx.history(all_ev)
    member = h.license_server.in_tsls_group
    proven = member is not None and member.value is not None
    history = ctx.history_line(old)
    if proven and member.value is False:
        evidence = fact_evidence(member, note="not in Terminal Server License Servers") + \
            events_evidence(ev, "cannot update license attributes in AD")
        bits = ["the membership export does not list it"] + ([id_list(ev)] if len(ev) else [])
        return [ctx.detected(f"License server {h.name} is not in the Terminal Server License Servers group "
                             f"({'; '.join(bits)}): it cannot record Per User CAL usage in Active Directory. Logons "
                             f"are not refused for it; Per User usage goes unreported.", evidence)]
    if not len(ev):
        if not ctx.has_events(h.name):
            return _ls_missing(ctx, "license_server.events")
        note = f"{h.name} is a member of Terminal Server License Servers." if proven else ""
        return [ctx.not_detected(note, history=history)]
    evidence = events_evidence(ev, "cannot update license attributes in AD")
    users = [str(next(iter((d or {}).values()), "")) for d in ev["data"]] if "data" in ev else []
    users = list(dict.fromkeys(u for u in users if u))[:5]
    if proven:          # a member: the users' objects refuse the write
        evidence = fact_evidence(member, note="member of Terminal Server License Servers") + evidence
        return [ctx.detected(f"License server {h.name} is in Terminal Server License Servers but logged {id_list(ev)} "
                             f"for {', '.join(users) or 'some users'}: those user objects lack the permission "
                             f"(SELF 'Read and Write Terminal Server license server', or protected accounts). Their "
                             f"Per User CALs go unreported; logons succeed.", evidence, severity="info",
                             remediation=["Grant SELF 'Read and Write Terminal Server license server' on the "
                                          "users' OU (KB 4547091); protected accounts (adminSDHolder) keep "
                                          "reverting it."])]
    f = ctx.detected(f"License server {h.name} logged {id_list(ev)}: it cannot record Per User CAL usage in Active "
                     f"Directory. Whether it is outside Terminal Server License Servers or the users' objects lack "
                     f"permission is unknown: no membership export was collected.", evidence)
    f.collect = ctx.collect_next(h, "export.tsls_membership")
    return [f]


@rule(RuleMeta(
    id="RDSLIC-013", title="Session host not in the license server's security group (4141/1043)",
    events=("ls_rdsh_not_in_tsc_group", "rdsh_not_in_endpoint_group", "ls_service_started",
            "ls_service_stopped", "ls_service_state", "ls_service_start_type_changed"),
    severity="error", kind="cause", scope="license_server",
    requires=("license_server.events", "session_host.events"),
    references=("RDS_LICENSING.md 1.2 (1043/50195), 1.3 (4141), 2.6 fSecureLicensing, 3.4 NOT_IN_TSCGROUP, 5 #13",),
    description="The 'License server security group' policy is on and the session host is not in the "
                "license server's local RDS Endpoint Servers group."))
def not_in_tsc_group(ctx):
    h = ctx.host
    ev = ctx.events(h.name, "ls", [4141])
    clients = ctx.clients_of(h.name)
    sh_ev = {c.name: ctx.events(c.name, "rcm", [1043]) for c in clients}
    sh_status = [c for c in clients if c.connectivity_status is not None
                 and str(c.connectivity_status.value).upper() == "NOT_IN_TSCGROUP"]
    if not len(ev) and not any(len(x) for x in sh_ev.values()) and not sh_status:
        if not ctx.has_events(h.name) and not any(ctx.has_events(c.name) for c in clients):
            return _ls_missing(ctx, "license_server.events", "session_host.events")
        return [ctx.not_detected()]
    evidence = events_evidence(ev, "license refused: not a member of the group")
    affected = []
    for name, x in sh_ev.items():
        if len(x):
            affected.append(name)
            evidence += events_evidence(x, "session host cannot get licenses from this server")
    for c in sh_status:
        affected.append(c.name)
        evidence += fact_evidence(c.connectivity_status, note="connectivity status")
    evidence += fact_evidence(h.license_server.secure_licensing, note="License server security group policy")
    for data in ev.get("data", []):
        if isinstance(data, dict) and data:
            from rdsla.core.hostnames import canonical
            name = canonical(next(iter(data.values())) or "")
            if name:
                affected.append(name)
    affected = list(dict.fromkeys(affected))
    bits = [x for x in [id_list(ev)] + [id_list(x) for x in sh_ev.values() if len(x)] if x]
    who = ", ".join(affected) if affected else "the session host"
    return [ctx.detected(f"License server {h.name} refuses {who}: not a member of its RDS Endpoint Servers "
                         f"(Terminal Server Computers) group ({'; '.join(bits) or 'connectivity status NOT_IN_TSCGROUP'}).",
                         evidence, related_hosts=affected)]


def _service_events(ctx, name):
    """Licensing service state changes: LS events 0 (started) / 3 (stopped), SCM 7036/7040."""
    ls = ctx.events(name, "ls", [0, 3])
    scm = ctx.events(name, "scm", [7036, 7040])
    return ls, of_catalog_keys(scm, ("ls_service_state", "ls_service_start_type_changed"))


def _state_of(row) -> str:
    """'stopped' / 'running' / 'disabled' / '' from an LS or SCM event row."""
    legacy = int(row["_legacy"])
    if row["_family"] == "ls":
        return {0: "running", 3: "stopped"}.get(legacy, "")
    text = " ".join(str(v) for v in (row.get("data") or {}).values()).lower() + " " + str(row.get("message") or "").lower()
    if legacy == 7040:
        return "disabled" if "disabled" in text.split("to", 1)[-1] else ""
    return "stopped" if "stopped" in text else ("running" if "running" in text else "")


@rule(RuleMeta(
    id="RDSLIC-019", title="Licensing role missing, or its service stopped or disabled", severity="error",
    outranks=("RDSLIC-004",),
    events=("ls_service_started", "ls_service_stopped", "ls_service_state", "ls_service_start_type_changed"),
    kind="cause", scope="license_server", requires=("license_server.registry", "license_server.events"),
    references=(SEED_ROLE, "RDS_LICENSING.md 2.5, 1.3 (0/3), 5 #4"),
    description="The named license server does not run the RD Licensing role or its TermServLicensing service."))
def role_or_service(ctx):
    h = ctx.host
    if _bare(ctx):
        return _ls_missing(ctx, "license_server.registry", "license_server.events")
    lsf = h.license_server
    problems, evidence = [], []
    role = h.roles.get("licensing")
    if role is not None and role.value is False:
        problems.append("the RD Licensing role is not installed")
        evidence += fact_evidence(role, note="RD Licensing role not installed")
    st = lsf.service_start_type
    if st is not None and st.value is not None and str(st.value) == "4":
        problems.append("the TermServLicensing service is disabled (Start=4)")
        evidence += fact_evidence(st, note="service start type: disabled")
    if lsf.service_state is not None and str(lsf.service_state.value).lower() == "stopped":
        problems.append("the Remote Desktop Licensing service is stopped")
        evidence += fact_evidence(lsf.service_state, note="service state")
    ls_ev, scm_ev = _service_events(ctx, h.name)
    import pandas as pd
    from rdsla.core.evidence import rows
    timeline = [r for r in rows(ls_ev) + rows(scm_ev) if _state_of(r) in ("running", "stopped", "disabled")]
    timeline.sort(key=lambda r: pd.NaT if r["time"] is None else r["time"])
    if timeline and _state_of(timeline[-1]) in ("stopped", "disabled"):
        last = timeline[-1]
        problems.append(f"its last service event says {_state_of(last)}")
        from rdsla.rules.api import event_evidence
        evidence.append(event_evidence(last, "last service state change"))
    if not problems:
        return [ctx.not_detected()]
    return [ctx.detected(f"License server {h.name}: " + "; ".join(dict.fromkeys(problems)) + ".", evidence,
                         related_hosts=[s.name for s in ctx.clients_of(h.name)])]


@rule(RuleMeta(
    id="RDSLIC-020", title="License server certificate corrupt (event 17)", severity="error",
    outranks=("RDSLIC-006", "RDSLIC-016"),
    events=("ls_certificate_corrupt", "ls_activated"),
    kind="cause", scope="license_server", requires=("license_server.events",),
    references=("RDS_LICENSING.md 1.3 (17), 5 #6", "systemcenter.wiki RDS MP: Terminal Services License Server Activation"),
    description="One or more RD Licensing certificates of the license server are corrupt; it must be "
                "reactivated before it issues CALs again."))
def ls_certificate_corrupt(ctx):
    h = ctx.host
    ev17 = ctx.events(h.name, "ls", [17])
    ev4 = ctx.events(h.name, "ls", [4])
    if len(ev17) and len(ev4) and ev4["time"].max() > ev17["time"].max():
        ev17 = ev17.iloc[0:0]  # reactivated after the last complaint
    if not len(ev17):
        if not ctx.has_events(h.name):
            return _ls_missing(ctx, "license_server.events")
        return [ctx.not_detected()]
    return [ctx.detected(f"License server {h.name} reports corrupt RD Licensing certificates ({id_list(ev17)}); "
                         f"it needs to be reactivated.", events_evidence(ev17, "RD Licensing certificate corrupt"),
                         related_hosts=[s.name for s in ctx.clients_of(h.name)])]
