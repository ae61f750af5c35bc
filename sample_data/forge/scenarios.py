"""One small RDS deployment per diagnosis, with its ground truth.

Each scenario is a list of machines (their configuration and the licensing events they log),
the license servers' state (activation, key packs, issued CALs, AD group membership) and the
expected verdict. Seeds and times are fixed: the forge writes the same bytes every run.
Facts behind each fault: RDS_LICENSING.md section 5 (root causes -> artifacts) and the seed
article's compatibility tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from rdsla.sample_data.forge.exports import UNLIMITED, IssuedLicense, KeyPack, builtin_pack
from rdsla.sample_data.forge.machine import NOT_CONFIGURED, PER_DEVICE, PER_USER, Machine
from rdsla.sample_data.forge.windows_events import (licensing_event, ls_event, rcm_licensing_event, rcm_manifest_event,
                                                     service_crashed_event, service_state_event)

COLLECTED = datetime(2024, 11, 5, 10, 15, 0, tzinfo=timezone.utc)
DOMAIN = "contoso.local"
SH, LS, CB = "session_host", "licensing", "connection_broker"


@dataclass
class LicenseServerState:
    activated: bool = True
    packs: list[KeyPack] = field(default_factory=list)
    issued: list[IssuedLicense] = field(default_factory=list)
    # members of the domain's Terminal Server License Servers group, as MSRD-Collect lists them in
    # <HOST>_TSLSMembership.txt on the license server and the session hosts of the domain;
    # None: not collected
    tsls_members: Optional[list[str]] = None
    lic_svr_chk: bool = False
    license_server_csv: bool = True                # Get-CimInstance Win32_TSLicenseServer | Export-Csv (README)


@dataclass
class Scenario:
    name: str
    notes: str
    machines: list[Machine]
    license_servers: dict[str, LicenseServerState]
    root_causes: list[str]
    host: Optional[str]
    alt_hosts: list[str] = field(default_factory=list)
    symptoms: list[str] = field(default_factory=list)
    zipped: bool = False
    collector: str = "msrd"                        # msrd | tss
    # <HOST>_rdsh_GracePeriod.txt is written for every session host (MSRD-Collect does where the
    # RDSH role is installed) with the DaysLeft Windows answers (build.grace_days_left); grace_txt
    # overrides it, no_grace_txt leaves the file out
    grace_txt: dict[str, int] = field(default_factory=dict)
    no_grace_txt: list[str] = field(default_factory=list)
    lic_svr_chk_hosts: list[str] = field(default_factory=list)
    drop: dict[str, list[str]] = field(default_factory=dict)   # host -> file name endings left out of the upload

    def expected(self) -> dict:
        return {"root_causes": self.root_causes, "host": self.host, "alt_hosts": self.alt_hosts,
                "symptoms": self.symptoms, "notes": self.notes}

    def tsls_members_for(self, m: Machine) -> Optional[list[str]]:
        """The Terminal Server License Servers members of ``m``'s domain, when collected."""
        if m.domain is None:
            return None        # "Machine is not part of a domain": MSRD-Collect writes no file
        for ls in self.machines:
            state = self.license_servers.get(ls.name)
            if state is not None and state.tsls_members is not None and ls.domain == m.domain:
                return state.tsls_members
        return None


def days(n: float) -> timedelta:
    return timedelta(days=n)


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out, t = [], start
    while t < end:
        out.append(t)
        t += step
    return out


def _mdY(when: datetime) -> str:
    """The date as termsrv formats %1 of 1129/50281 on an en-US server."""
    return f"{when.month}/{when.day}/{when.year}"


def grace_expiring(m: Machine, ends: datetime, first: datetime, last: datetime) -> None:
    for t in every(first, min(last, ends), days(1)):
        m.events.append(rcm_licensing_event(1129, t + timedelta(hours=9), m.fqdn, m.build, [_mdY(ends)]))


def repeated(m: Machine, legacy_id: int, since: datetime, step: timedelta, params=None,
             until: Optional[datetime] = None) -> None:
    for t in every(since, until or COLLECTED, step):
        m.events.append(rcm_licensing_event(legacy_id, t, m.fqdn, m.build, params))


def ls_events(m: Machine, event_id: int, level: int, since: datetime, step: timedelta, params=None,
              until: Optional[datetime] = None) -> None:
    for t in every(since, until or COLLECTED, step):
        m.events.append(ls_event(event_id, t, m.fqdn, level, params))


def ls_started(m: Machine, when: datetime) -> None:
    """The licensing service starting at a boot: SCM 7036 in System, LS 0 in Licensing/Operational."""
    m.events.append(service_state_event(when, m.fqdn, "Remote Desktop Licensing", "running", "TermServLicensing"))
    m.events.append(ls_event(0, when + timedelta(seconds=2), m.fqdn, 4))


def ls_healthy_log(m: Machine) -> None:
    m.events.append(licensing_event(4, m.installed + days(2), m.fqdn, 4, [m.name]))
    ls_started(m, COLLECTED - days(6.5))


def new_devices(state: LicenseServerState, version: str, count: int, keypack_id: int, first: float = 30,
                prefix: str = "PC-N") -> None:
    """Devices that connected for the first time lately: each got a temporary Per Device CAL
    (90 days) from the temporary pack; a permanent one comes at a later connection
    (RDS_LICENSING.md 0a)."""
    for i in range(count):
        when = COLLECTED - days(first) + timedelta(hours=31 * i)
        state.issued.append(IssuedLicense(900 + i, keypack_id, f"CONTOSO\\user{200 + i:03d}", f"{prefix}{i:03d}",
                                          when, when + days(90), 1))
    state.packs.append(KeyPack(keypack_id, version, "per_device", UNLIMITED, count, keypack_type=4))


def machine(name: str, os: str, roles: set[str], installed_days_ago: float = 400, domain: Optional[str] = DOMAIN,
            **kw) -> Machine:
    return Machine(name=name, os=os, domain=domain, roles=frozenset(roles), installed=COLLECTED - days(installed_days_ago), **kw)


def _per_device_issued(rdsh: str, count: int, keypack_id: int, status: int = 2, days_ago: float = 40) -> list[IssuedLicense]:
    out = []
    for i in range(count):
        issued = COLLECTED - days(days_ago) + timedelta(hours=7 * i)
        life = days(89) if status == 1 else days(120 + (i * 13) % 60)
        out.append(IssuedLicense(100 + i, keypack_id, f"CONTOSO\\user{i:03d}", f"PC-{i:04d}", issued, issued + life, status))
    return out


# --- the scenarios -------------------------------------------------------------------------

def healthy_per_user_domain() -> Scenario:
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    ls_events(ls, 44, 2, COLLECTED - days(5), days(2), ["-1316"])          # benign ESE noise (KB 4078299)
    cb = machine("CB01", "2019", {CB}, noise=400)
    hosts = []
    for n in ("RDSH01", "RDSH02"):
        hosts.append(machine(n, "2019", {SH}, installed_days_ago=300, deployment_mode=PER_USER,
                             deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(300)))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 50, 12)], tsls_members=["LS01"],
                               lic_svr_chk=True)
    return Scenario("healthy-per-user-domain", "Connection Broker deployment, Per User 2019 CALs, all configured",
                    [cb, *hosts, ls], {"LS01": state}, [], None, zipped=True, lic_svr_chk_hosts=["RDSH01"])


def no_license_server_grace_expired() -> Scenario:
    rdsh = machine("RDSH01", "2016", {SH}, installed_days_ago=140, deployment_mode=PER_USER,
                   grace_start=COLLECTED - days(140))
    ends = rdsh.grace_start + days(120)
    rdsh.logons_until = ends
    grace_expiring(rdsh, ends, ends - days(14), COLLECTED)
    repeated(rdsh, 1130, ends - days(14), timedelta(hours=6))
    repeated(rdsh, 1128, ends, timedelta(hours=3))
    ls = machine("LS01", "2016", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2016", "per_user", 40, 0)], tsls_members=["LS01"])
    return Scenario("no-license-server-grace-expired", "2016 session host never told which license server to use; grace ran out",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-001"], "RDSH01", symptoms=["RDSLIC-101", "RDSLIC-103"])


def licensing_mode_not_configured() -> Scenario:
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=114, deployment_mode=NOT_CONFIGURED,
                   deployment_servers=[f"LS01.{DOMAIN}"], grace_start=COLLECTED - days(114))
    ends = rdsh.grace_start + days(120)
    grace_expiring(rdsh, ends, COLLECTED - days(8), COLLECTED)
    repeated(rdsh, 1068, COLLECTED - days(30), timedelta(hours=12))
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 20, 3)],
                               issued=_per_device_issued("RDSH01", 3, 3))
    return Scenario("licensing-mode-not-configured", "deployment never set Per User / Per Device; grace ends in 6 days",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-002"], "RDSH01", symptoms=["RDSLIC-102", "RDSLIC-103"],
                    zipped=True, collector="tss")


def gpo_overrides_deployment() -> Scenario:
    cb = machine("CB01", "2012R2", {CB}, noise=400, registry_form="reg")
    rdsh = machine("RDSH01", "2012R2", {SH}, installed_days_ago=150, deployment_mode=PER_USER,
                   deployment_servers=[f"LS01.{DOMAIN}"], policy_mode=PER_USER, policy_servers=[f"LS-OLD.{DOMAIN}"],
                   grace_start=COLLECTED - days(150), registry_form="reg")
    ends = rdsh.grace_start + days(120)
    rdsh.logons_until = ends
    repeated(rdsh, 1131, COLLECTED - days(45), timedelta(hours=4), [f"LS-OLD.{DOMAIN}"])
    repeated(rdsh, 1128, ends, timedelta(hours=6))
    ls = machine("LS01", "2012R2", {LS}, noise=400, registry_form="reg")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(4, "2012", "per_user", 100, 40)], tsls_members=["LS01"])
    return Scenario("gpo-overrides-deployment", "a GPO still points at the retired LS-OLD; the broker's LS01 is ignored",
                    [cb, rdsh, ls], {"LS01": state}, ["RDSLIC-003"], "RDSH01", symptoms=["RDSLIC-101", "RDSLIC-103"],
                    zipped=True)


def license_server_unreachable() -> Scenario:
    rdsh = machine("RDSH01", "2022", {SH}, installed_days_ago=200, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(200),
                   registry_form="query")
    rdsh.logons_until = COLLECTED - days(3)
    repeated(rdsh, 1131, COLLECTED - days(3), timedelta(hours=1), [f"LS01.{DOMAIN}"])
    repeated(rdsh, 1028, COLLECTED - days(2), timedelta(hours=5), ["PC-0042"])
    repeated(rdsh, 1128, COLLECTED - days(2), timedelta(hours=8))
    ls = machine("LS01", "2022", {LS}, noise=400, registry_form="query")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(5, "2022", "per_device", 50, 30)],
                               issued=_per_device_issued("RDSH01", 30, 5))
    return Scenario("license-server-unreachable", "session host cannot reach LS01 (RPC blocked) for 3 days",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-004"], "RDSH01", alt_hosts=["LS01"],
                    symptoms=["RDSLIC-101", "RDSLIC-103"])


def license_server_not_activated() -> Scenario:
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=250, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(250))
    repeated(rdsh, 1011, COLLECTED - days(4), timedelta(hours=9), ["PC-0007"])
    rdsh.logons_until = COLLECTED - days(4)
    ls = machine("LS01", "2019", {LS}, installed_days_ago=260, noise=400)
    ls_started(ls, COLLECTED - days(6.5))
    ls_events(ls, 18, 3, COLLECTED - days(6), timedelta(hours=12), ["LS01"])
    temp = KeyPack(2, "2019", "per_device", 4294967295, 12, keypack_type=4)
    state = LicenseServerState(activated=False, packs=[builtin_pack(1), temp],
                               issued=_per_device_issued("RDSH01", 12, 2, status=1, days_ago=95), lic_svr_chk=True)
    return Scenario("license-server-not-activated", "LS01 was never activated: only temporary per-device CALs, now expiring",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-005"], "LS01", alt_hosts=["RDSH01"],
                    symptoms=["RDSLIC-103"], zipped=True)


def cals_exhausted() -> Scenario:
    hosts = [machine(n, "2019", {SH}, installed_days_ago=300, deployment_mode=PER_DEVICE,
                     deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(300))
             for n in ("RDSH01", "RDSH02")]
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    ls_events(ls, 20, 3, COLLECTED - days(20), days(1), ["LS01", "2", "Windows Server 2019 - Per Device CAL"])
    ls_events(ls, 21, 3, COLLECTED - days(3), timedelta(hours=2), ["LS01", "Windows Server 2019 - Per Device CAL", "RDSH01"])
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 25, 25)],
                               issued=_per_device_issued("RDSH01", 25, 3), tsls_members=["LS01"])
    return Scenario("cals-exhausted", "all 25 Per Device 2019 CALs are issued; new devices are refused",
                    [*hosts, ls], {"LS01": state}, ["RDSLIC-006"], "LS01", alt_hosts=["RDSH01", "RDSH02"])


def cal_type_mismatch() -> Scenario:
    rdsh = machine("RDSH01", "2022", {SH}, installed_days_ago=180, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(180))
    repeated(rdsh, 1004, COLLECTED - days(2), timedelta(hours=3))
    rdsh.logons_until = COLLECTED - days(2)
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    ls_events(ls, 21, 3, COLLECTED - days(2), timedelta(hours=3), ["LS01", "Windows Server 2022 - Per Device CAL", "RDSH01"])
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(4, "2022", "per_user", 50, 0)], tsls_members=["LS01"])
    return Scenario("cal-type-mismatch", "session host in Per Device mode, license server holds only Per User CALs",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-007"], "RDSH01", alt_hosts=["LS01"],
                    symptoms=["RDSLIC-103"], zipped=True)


def cals_too_old_for_host() -> Scenario:
    rdsh = machine("RDSH01", "2022", {SH}, installed_days_ago=160, policy_mode=PER_USER, policy_servers=[f"LS01.{DOMAIN}"],
                   certificate=True, grace_start=COLLECTED - days(160), logons_until=COLLECTED - days(10))
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    ls_events(ls, 22, 3, COLLECTED - days(10), timedelta(hours=6), ["LS01", "Windows Server 2022 - Per User CAL"])
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 100, 0)], tsls_members=["LS01"])
    return Scenario("cals-too-old-for-host", "2022 session host, but only 2019 Per User CALs installed (seed table: No)",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-008"], "RDSH01", alt_hosts=["LS01"])


def license_server_too_old() -> Scenario:
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=200, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], grace_start=COLLECTED - days(200))
    rdsh.logons_until = COLLECTED - days(5)
    repeated(rdsh, 1132, COLLECTED - days(5), timedelta(hours=4), [f"LS01.{DOMAIN}"])
    repeated(rdsh, 1128, COLLECTED - days(5), timedelta(hours=12))
    ls = machine("LS01", "2016", {LS}, installed_days_ago=900, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2016", "per_device", 50, 10)],
                               issued=_per_device_issued("RDSH01", 10, 3, days_ago=300))
    return Scenario("license-server-too-old", "2019 session host pointed at a 2016 license server",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-009"], "RDSH01", alt_hosts=["LS01"],
                    symptoms=["RDSLIC-101", "RDSLIC-103"], zipped=True)


def per_user_in_workgroup() -> Scenario:
    # Server 2019 and later drop a Per User session in a workgroup some 60 minutes after logon
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=90, domain=None, policy_mode=PER_USER,
                   policy_servers=["LS01"], certificate=True, grace_start=COLLECTED - days(90), registry_form="reg",
                   disconnect_after=timedelta(minutes=60, seconds=7))
    ls = machine("LS01", "2019", {LS}, domain=None, noise=400, registry_form="reg")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 20, 0)])
    return Scenario("per-user-in-workgroup", "workgroup servers licensed Per User: not permitted (seed article); "
                    "sessions dropped 60 minutes after logon",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-010"], "RDSH01")


def workgroup_auth_enforced() -> Scenario:
    """Workgroup session host, license server on another machine patched past July 2024 (UBR 6532
    >= 6054), no DisableWorkgroupAuthEnforcement: every request is refused (CVE-2024-38099)."""
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=500, domain=None, policy_mode=PER_DEVICE,
                   policy_servers=["LS01"], certificate=True, grace_start=COLLECTED - days(500), registry_form="reg")
    patched = COLLECTED - days(11)
    rdsh.logons_until = patched
    repeated(rdsh, 1131, patched + timedelta(hours=3), timedelta(hours=2), ["LS01"])
    ls = machine("LS01", "2019", {LS}, domain=None, noise=400, registry_form="reg")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 30, 18)],
                               issued=_per_device_issued("RDSH01", 18, 3, days_ago=200))
    return Scenario("workgroup-auth-enforced", "workgroup session host refused by its license server since that "
                    "server got the July 2024 update (CVE-2024-38099)", [rdsh, ls], {"LS01": state}, ["RDSLIC-011"],
                    "RDSH01", alt_hosts=["LS01"], symptoms=["RDSLIC-103"], zipped=True)


def ls_not_in_tsls_group() -> Scenario:
    rdsh = machine("RDSH01", "2025", {SH}, installed_days_ago=100, deployment_mode=PER_USER,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(100))
    ls = machine("LS01", "2025", {LS}, installed_days_ago=100, noise=400)
    ls_healthy_log(ls)
    for i, user in enumerate(("alice", "bob", "carol", "dave")):
        ls.events.append(licensing_event(4105, COLLECTED - days(3) + timedelta(hours=5 * i), ls.fqdn, 3,
                                         [f"CONTOSO\\{user}", DOMAIN]))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2025", "per_user", 100, 0)], tsls_members=["LS-OLD"])
    # 4105 leaves Per User usage unrecorded but refuses nobody: a compliance finding (RDSLIC-012),
    # no cause (RDS_LICENSING.md 0a)
    return Scenario("ls-not-in-tsls-group", "compliance, no cause: LS01 is not in Terminal Server License Servers "
                    "(membership export), so per-user CALs are not recorded (4105); logons succeed",
                    [rdsh, ls], {"LS01": state}, [], None, zipped=True)


def corrupt_rdsh_certificate() -> Scenario:
    rdsh = machine("RDSH01", "2016", {SH}, installed_days_ago=400, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(400))
    rdsh.logons_until = COLLECTED - days(2)
    repeated(rdsh, 1133, COLLECTED - days(2), timedelta(hours=2))
    repeated(rdsh, 1004, COLLECTED - days(2), timedelta(hours=3))
    ls = machine("LS01", "2016", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2016", "per_device", 50, 20)],
                               issued=_per_device_issued("RDSH01", 20, 3))
    return Scenario("corrupt-rdsh-certificate", "the session host's license-server certificate (X509 values) is corrupt",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-014"], "RDSH01", symptoms=["RDSLIC-103"])


def gpo_only_single_server() -> Scenario:
    rdsh = machine("RDSH01", "2022", {SH}, installed_days_ago=220, deployment_mode=NOT_CONFIGURED,
                   policy_mode=PER_DEVICE, policy_servers=[f"LS01.{DOMAIN}"], certificate=True,
                   grace_start=COLLECTED - days(220))
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2022", "per_device", 40, 12)],
                               issued=_per_device_issued("RDSH01", 12, 3), tsls_members=["LS01"])
    new_devices(state, "2022", 3, 4, first=20)
    return Scenario("gpo-only-single-server", "no broker: Session Host + Licensing configured by Group Policy only, healthy",
                    [rdsh, ls], {"LS01": state}, [], None, zipped=True, collector="tss")


# --- healthy uploads built the way collectors build them (issue 17 item 4) ---------------------
# Each is a working deployment with one trait that a naive reading takes for a fault; each must
# give no cause of severity error or critical (RDS_LICENSING.md 0a).

def _licensed_rdsh(name: str, os: str, mode: int, **kw) -> Machine:
    kw.setdefault("deployment_mode", None if "policy_mode" in kw else mode)
    if "policy_servers" not in kw:
        kw.setdefault("deployment_servers", [f"LS01.{kw.get('domain', DOMAIN)}" if kw.get("domain", DOMAIN) else "LS01"])
    days_ago = kw.pop("installed_days_ago", 300)
    return machine(name, os, {SH}, installed_days_ago=days_ago, certificate=True,
                   grace_start=COLLECTED - days(days_ago), **kw)


def healthy_days_left_zero() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2022", PER_DEVICE, installed_days_ago=260)
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2022", "per_device", 60, 24),
                                      KeyPack(5, "2008R2", "per_device", 25, 0)],       # ProductVersionID 2
                               issued=_per_device_issued("RDSH01", 24, 3), tsls_members=["LS01"])
    new_devices(state, "2022", 2, 4, first=12)
    return Scenario("healthy-days-left-zero", "licensed 2022 host: GetGracePeriodDays answers 0, as Windows does once "
                    "a license server is configured (RDS_LICENSING.md 0a)", [rdsh, ls], {"LS01": state}, [], None,
                    zipped=True)


def healthy_per_user_pool_full() -> Scenario:
    hosts = [_licensed_rdsh(n, "2019", PER_USER) for n in ("RDSH01", "RDSH02")]
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 50, 50)], tsls_members=["LS01"])
    return Scenario("healthy-per-user-pool-full", "every Per User CAL is issued: a compliance matter, Per User CALs "
                    "are not enforced and nobody is refused (RDS_LICENSING.md 0a)", [*hosts, ls], {"LS01": state},
                    [], None, zipped=True)


def healthy_gpo_without_policy_export() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2019", PER_DEVICE, deployment_mode=NOT_CONFIGURED, policy_mode=PER_DEVICE,
                          policy_servers=[f"LS01.{DOMAIN}"], registry_form="msrd")
    ls = machine("LS01", "2019", {LS}, noise=400, registry_form="msrd")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 40, 15)],
                               issued=_per_device_issued("RDSH01", 15, 3), tsls_members=["LS01"],
                               license_server_csv=False)
    new_devices(state, "2019", 2, 4, first=9)
    return Scenario("healthy-gpo-without-policy-export", "Group Policy configures the host; MSRD-Collect's per-key "
                    "exports came without the policy key's: its values are unknown, not absent",
                    [rdsh, ls], {"LS01": state}, [], None,
                    drop={"RDSH01": ["_reg_SW-Policies-MS-WinNT-TerminalServices.txt"]})


def healthy_system_hive_only() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2019", PER_USER, registry_form="system-hive")
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 60, 22)], tsls_members=["LS01"])
    return Scenario("healthy-system-hive-only", "the session host's SYSTEM hive without SOFTWARE: no policy, OS or "
                    "role record from the registry", [rdsh, ls], {"LS01": state}, [], None, zipped=True)


def healthy_ls_patch_reboot_history() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2019", PER_DEVICE)
    reboot = COLLECTED - days(40) + timedelta(hours=2)
    for t in every(reboot, reboot + timedelta(minutes=50), timedelta(minutes=10)):
        rdsh.events.append(rcm_licensing_event(1131, t, rdsh.fqdn, rdsh.build, [f"LS01.{DOMAIN}"]))
    rdsh.events.append(rcm_licensing_event(1028, reboot + timedelta(minutes=12), rdsh.fqdn, rdsh.build, ["PC-0003"]))
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    ls.events.append(service_state_event(reboot - timedelta(minutes=1), ls.fqdn, "Remote Desktop Licensing", "stopped",
                                         "TermServLicensing"))
    ls_started(ls, reboot + timedelta(minutes=55))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 50, 20)],
                               issued=_per_device_issued("RDSH01", 20, 3, days_ago=60), tsls_members=["LS01"])
    new_devices(state, "2019", 3, 4, first=25)
    return Scenario("healthy-ls-patch-reboot-history", "the license server's patch reboot 40 days ago left 1131s; "
                    "clean since, CALs issued and users logged on", [rdsh, ls], {"LS01": state}, [], None)


def healthy_child_domain() -> Scenario:
    child = "emea." + DOMAIN
    rdsh = _licensed_rdsh("RDSH01", "2019", PER_USER, domain=child, deployment_servers=[f"LS01.{DOMAIN}"])
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 80, 31)], tsls_members=["LS01"])
    return Scenario("healthy-child-domain", "session host in the child domain emea.contoso.local, license server in "
                    "the forest root contoso.local: one forest, no trust problem", [rdsh, ls], {"LS01": state}, [],
                    None, zipped=True)


def healthy_expired_temporary_cals() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2016", PER_DEVICE, installed_days_ago=500)
    ls = machine("LS01", "2016", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2016", "per_device", 40, 18)],
                               issued=_per_device_issued("RDSH01", 18, 3, days_ago=70))
    new_devices(state, "2016", 4, 4, first=130, prefix="VISITOR-")     # seen once, 130-126 days ago: expired
    return Scenario("healthy-expired-temporary-cals", "expired temporary CALs of visitors' devices that connected once "
                    "and never came back: normal (RDS_LICENSING.md 0a)", [rdsh, ls], {"LS01": state}, [], None)


def healthy_gpo_over_stale_deployment() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2016", PER_USER, policy_mode=PER_USER, policy_servers=[f"LS01.{DOMAIN}"],
                          deployment_mode=PER_DEVICE, deployment_servers=[f"LS-OLD.{DOMAIN}"], registry_form="reg")
    ls = machine("LS01", "2016", {LS}, noise=400, registry_form="reg")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2016", "per_user", 75, 40)], tsls_members=["LS01"])
    return Scenario("healthy-gpo-over-stale-deployment", "a working GPO names LS01 Per User; the deployment still "
                    "holds the old LS-OLD Per Device: overridden, harmless", [rdsh, ls], {"LS01": state}, [], None,
                    zipped=True)


def healthy_gpo_on_file_server() -> Scenario:
    gpo = dict(policy_mode=PER_USER, policy_servers=[f"LS01.{DOMAIN}"])
    rdsh = _licensed_rdsh("RDSH01", "2019", PER_USER, **gpo)
    fs = machine("FS01", "2019", set(), noise=300, registry_form="msrd", **gpo)
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 40, 17)], tsls_members=["LS01"])
    return Scenario("healthy-gpo-on-file-server", "the domain-wide licensing GPO also reaches file server FS01, which "
                    "has no RD Session Host role", [rdsh, fs, ls], {"LS01": state}, [], None, zipped=True)


def healthy_4105_member() -> Scenario:
    rdsh = _licensed_rdsh("RDSH01", "2022", PER_USER)
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    for i, user in enumerate(("adm-alice", "adm-bob", "svc-print")):       # protected accounts (adminSDHolder)
        ls.events.append(licensing_event(4105, COLLECTED - days(5) + timedelta(hours=9 * i), ls.fqdn, 3,
                                         [f"CONTOSO\\{user}", DOMAIN]))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2022", "per_user", 100, 44)], tsls_members=["LS01"])
    return Scenario("healthy-4105-member", "4105 for three protected accounts on a license server that the "
                    "membership export shows in Terminal Server License Servers: a reporting gap, logons succeed",
                    [rdsh, ls], {"LS01": state}, [], None, zipped=True)


# ---- issue 19, license-server causes (RDSLIC-021, 022, 025): their scenario functions go here ----

def per_device_cals_leaking() -> Scenario:
    """Four kiosk PCs re-imaged every night (a fresh hardware id, an empty MSLicensing store) each
    take a new Per Device CAL on the first day after every re-image: 20 of the 50 permanent 2019
    CALs went to four names; the pool ran out, LS 20 then 21 (RDS_LICENSING.md 0a, 3.2)."""
    hosts = [machine(n, "2019", {SH}, installed_days_ago=300, deployment_mode=PER_DEVICE,
                     deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(300))
             for n in ("RDSH01", "RDSH02")]
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    issued = _per_device_issued("RDSH01", 30, 3, days_ago=120)         # the office PCs: one CAL each
    lid = 400
    for day in range(5):                                                # re-imaged nightly: a new device each day
        for k in range(1, 5):
            when = COLLECTED - days(8 - day) + timedelta(hours=7, minutes=9 * k)
            issued.append(IssuedLicense(lid, 3, f"CONTOSO\\kiosk{k:02d}", f"KIOSK-{k:02d}", when,
                                        when + days(120 + (lid * 13) % 60), 2))
            lid += 1
    for day in range(3):                                                # pool empty: temporary CALs since
        for k in range(1, 5):
            when = COLLECTED - days(3 - day) + timedelta(hours=7, minutes=9 * k)
            issued.append(IssuedLicense(lid, 4, f"CONTOSO\\kiosk{k:02d}", f"KIOSK-{k:02d}", when, when + days(90), 1))
            lid += 1
    for i, t in enumerate(every(COLLECTED - days(8), COLLECTED - days(3), days(1))):
        ls.events.append(ls_event(20, t + timedelta(hours=7, minutes=40), ls.fqdn, 3,
                                  ["LS01", str(max(0, 16 - 4 * i)), "Windows Server 2019 - Per Device CAL"]))
    for i, t in enumerate(every(COLLECTED - days(3), COLLECTED, timedelta(hours=6))):
        ls.events.append(ls_event(21, t + timedelta(hours=1), ls.fqdn, 3,
                                  ["LS01", "Windows Server 2019 - Per Device CAL", ("RDSH01", "RDSH02")[i % 2]]))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 50, 50),
                                      KeyPack(4, "2019", "per_device", UNLIMITED, 12, keypack_type=4)],
                               issued=issued, tsls_members=["LS01"])
    return Scenario("per-device-cals-leaking", "kiosk PCs re-imaged nightly take a new Per Device CAL each time: "
                    "four names hold 32 CALs with 32 hardware ids, the 2019 pool is exhausted (LS 20, 21)",
                    [*hosts, ls], {"LS01": state}, ["RDSLIC-021"], "LS01", alt_hosts=["RDSH01", "RDSH02"], zipped=True)


def license_server_failing() -> Scenario:
    """The Remote Desktop Licensing service runs but fails: since its database went bad three days
    ago it crashes (SCM 7031), is restarted by its recovery action, and denies every request
    (LS 9, 12); the session hosts wait for it (RCM 20497). RDS_LICENSING.md 0a, 1.2, 1.3."""
    hosts = [machine(n, "2019", {SH}, installed_days_ago=350, deployment_mode=PER_DEVICE,
                     deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(350))
             for n in ("RDSH01", "RDSH02")]
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    for n, t in enumerate(every(COLLECTED - days(3), COLLECTED - timedelta(hours=2), timedelta(hours=9)), start=1):
        ls.events.append(service_crashed_event(t, ls.fqdn, "Remote Desktop Licensing", n, "TermServLicensing"))
        ls_started(ls, t + timedelta(seconds=61))
        ls.events.append(ls_event(9, t + timedelta(seconds=66), ls.fqdn, 2))
        ls.events.append(ls_event(12, t + timedelta(seconds=67), ls.fqdn, 2))
    for i, m in enumerate(hosts):
        for t in every(COLLECTED - days(3) + timedelta(minutes=50 + 20 * i), COLLECTED, timedelta(hours=3)):
            m.events.append(rcm_manifest_event(20497, t, m.fqdn, 3))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_device", 60, 35)],
                               issued=_per_device_issued("RDSH01", 35, 3, days_ago=60), tsls_members=["LS01"])
    return Scenario("license-server-failing", "LS01's licensing service runs but its database is invalid: it crashes, "
                    "restarts and denies every request (LS 9, 12, SCM 7031); the session hosts log 20497",
                    [*hosts, ls], {"LS01": state}, ["RDSLIC-022"], "LS01", alt_hosts=["RDSH01", "RDSH02"], zipped=True)


def license_upgrade_prevented() -> Scenario:
    """'Prevent license upgrade' is enabled on LS01 (2022), which holds only 2022 Per Device CALs,
    bought for the new 2022 farm. The old 2016 host's devices got temporary CALs instead of an
    upgraded 2022 CAL; those that came back after 90 days are refused (1011). RDS_LICENSING.md 0a,
    2.6."""
    old = machine("RDSH01", "2016", {SH}, installed_days_ago=900, deployment_mode=PER_DEVICE,
                  deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(900))
    new = machine("RDSH02", "2022", {SH}, installed_days_ago=200, deployment_mode=PER_DEVICE,
                  deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(200))
    ls = machine("LS01", "2022", {LS}, installed_days_ago=200, noise=400, prevent_upgrade=1)
    ls_healthy_log(ls)
    issued = _per_device_issued("RDSH02", 20, 3, days_ago=150)
    temporary = []
    for i in range(8):                                                  # the 2016 host's devices
        when = COLLECTED - days(100 - 9 * i)
        temporary.append(IssuedLicense(700 + i, 4, f"CONTOSO\\clerk{i:02d}", f"BRANCH-PC{i:02d}", when,
                                       when + days(90), 1))
    expired = [lic.computer for lic in temporary if lic.expires <= COLLECTED]
    for t in every(COLLECTED - days(4), COLLECTED, timedelta(hours=5)):
        name = expired[int((t - COLLECTED + days(4)) / timedelta(hours=5)) % len(expired)]
        old.events.append(rcm_licensing_event(1011, t + timedelta(minutes=12), old.fqdn, old.build, [name]))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2022", "per_device", 60, 20),
                                      KeyPack(4, "2016", "per_device", UNLIMITED, len(temporary), keypack_type=4)],
                               issued=issued + temporary, tsls_members=["LS01"])
    return Scenario("license-upgrade-prevented", "'Prevent license upgrade' on LS01, which holds only 2022 Per Device "
                    "CALs: the 2016 session host's devices get temporary CALs, then 1011",
                    [old, new, ls], {"LS01": state}, ["RDSLIC-025"], "LS01", alt_hosts=["RDSH01"],
                    symptoms=["RDSLIC-103"], zipped=True)



# ---- issue 19, session-host causes (RDSLIC-023, 024, 026): their scenario functions go here ----

def gpo_change_not_applied() -> Scenario:
    """RDSLIC-023: LS-OLD was retired; an admin pointed the licensing GPO at LS01 two days before
    collection, Group Policy wrote the new value (the policy key's LastWrite), but Remote Desktop
    Services reads it at start and has run since the last boot, 25 days ago: 50283 go on naming
    LS-OLD (RDS_LICENSING.md 0a)."""
    boot = COLLECTED - days(25)
    rdsh = _licensed_rdsh("RDSH01", "2019", PER_USER, policy_mode=PER_USER, policy_servers=[f"LS01.{DOMAIN}"],
                          last_boot=boot, policy_written=COLLECTED - days(2) - timedelta(hours=3))
    rdsh.events.append(service_state_event(boot + timedelta(seconds=40), rdsh.fqdn, "Remote Desktop Services",
                                           "running", "TermService"))
    rdsh.logons_until = COLLECTED - days(12)
    repeated(rdsh, 1131, COLLECTED - days(12), timedelta(hours=2), [f"LS-OLD.{DOMAIN}"])
    ls = machine("LS01", "2019", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 60, 0)], tsls_members=["LS01"])
    return Scenario("gpo-change-not-applied", "the licensing GPO was changed from the retired LS-OLD to LS01 two days "
                    "ago; Remote Desktop Services has not restarted since and still asks LS-OLD", [rdsh, ls],
                    {"LS01": state}, ["RDSLIC-023"], "RDSH01", alt_hosts=["LS01"], symptoms=["RDSLIC-103"],
                    zipped=True)


def cloned_image_grace_expired() -> Scenario:
    """RDSLIC-024: RDSH07 was deployed nine days ago from a golden image whose RD Session Host
    role was installed 200 days ago (the GracePeriod key keeps the image's time; sysprep set a new
    InstallDate); the licensing GPO is linked to the OU of the older hosts only, so RDSH07 names no
    license server and reports the grace period expired from its first day."""
    rdsh = _licensed_rdsh("RDSH01", "2022", PER_USER, policy_mode=PER_USER, policy_servers=[f"LS01.{DOMAIN}"])
    clone = machine("RDSH07", "2022", {SH}, installed_days_ago=9, policy_mode=PER_USER,
                    grace_start=COLLECTED - days(200))
    clone.logons_until = clone.installed
    repeated(clone, 1128, clone.installed + timedelta(hours=1), timedelta(hours=6))
    repeated(clone, 1130, clone.installed + timedelta(hours=1, minutes=1), timedelta(hours=6))
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2022", "per_user", 50, 0)], tsls_members=["LS01"])
    return Scenario("cloned-image-grace-expired", "RDSH07, deployed 9 days ago from an image whose grace period had "
                    "run, names no license server and reports the grace period expired", [rdsh, clone, ls],
                    {"LS01": state}, ["RDSLIC-024"], "RDSH07", symptoms=["RDSLIC-101", "RDSLIC-103"],
                    zipped=True)


def entra_per_user_failing() -> Scenario:
    """RDSLIC-026: the licensing GPO was switched to "AAD Per User" (6, RDS_LICENSING.md 2.2) and
    the proxy blocks the Entra ID endpoints: 50214 on every logon attempt for five days."""
    rdsh = _licensed_rdsh("RDSH01", "2022", PER_USER, policy_mode=6, policy_servers=[f"LS01.{DOMAIN}"])
    rdsh.logons_until = COLLECTED - days(5)
    repeated(rdsh, 1062, COLLECTED - days(5), timedelta(hours=3), ["0x80072ee7"])
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2022", "per_user", 50, 0)], tsls_members=["LS01"])
    return Scenario("entra-per-user-failing", "licensing mode AAD Per User; the session host cannot reach Entra ID "
                    "(50214 for five days)", [rdsh, ls], {"LS01": state}, ["RDSLIC-026"], "RDSH01", zipped=True)


SCENARIOS: list[Callable[[], Scenario]] = [
    healthy_per_user_domain, no_license_server_grace_expired, licensing_mode_not_configured, gpo_overrides_deployment,
    license_server_unreachable, license_server_not_activated, cals_exhausted, cal_type_mismatch, cals_too_old_for_host,
    license_server_too_old, per_user_in_workgroup, ls_not_in_tsls_group, corrupt_rdsh_certificate, gpo_only_single_server,
    workgroup_auth_enforced,
]
HEALTHY_TRAPS: list[Callable[[], Scenario]] = [
    healthy_days_left_zero, healthy_per_user_pool_full, healthy_gpo_without_policy_export, healthy_system_hive_only,
    healthy_ls_patch_reboot_history, healthy_child_domain, healthy_expired_temporary_cals,
    healthy_gpo_over_stale_deployment, healthy_gpo_on_file_server, healthy_4105_member,
]
SCENARIOS += HEALTHY_TRAPS
LICENSE_SERVER_CAUSES: list[Callable[[], Scenario]] = [   # issue 19: 021, 022, 025
    per_device_cals_leaking, license_server_failing, license_upgrade_prevented,
]
SESSION_HOST_CAUSES: list[Callable[[], Scenario]] = [     # issue 19: 023, 024, 026
    gpo_change_not_applied, cloned_image_grace_expired, entra_per_user_failing,
]
SCENARIOS += LICENSE_SERVER_CAUSES + SESSION_HOST_CAUSES
