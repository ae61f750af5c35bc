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

from rdsla.sample_data.forge.exports import IssuedLicense, KeyPack, builtin_pack
from rdsla.sample_data.forge.machine import NOT_CONFIGURED, PER_DEVICE, PER_USER, Machine
from rdsla.sample_data.forge.windows_events import licensing_event, rcm_licensing_event, service_state_event

COLLECTED = datetime(2024, 11, 5, 10, 15, 0, tzinfo=timezone.utc)
DOMAIN = "contoso.local"
SH, LS, CB = "session_host", "licensing", "connection_broker"


@dataclass
class LicenseServerState:
    activated: bool = True
    packs: list[KeyPack] = field(default_factory=list)
    issued: list[IssuedLicense] = field(default_factory=list)
    tsls_members: Optional[list[str]] = None       # None: no TSLSMembership.txt in the bundle
    lic_svr_chk: bool = False


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
    grace_txt: dict[str, int] = field(default_factory=dict)   # host -> DaysLeft in <HOST>_rdsh_GracePeriod.txt
    lic_svr_chk_hosts: list[str] = field(default_factory=list)

    def expected(self) -> dict:
        return {"root_causes": self.root_causes, "host": self.host, "alt_hosts": self.alt_hosts,
                "symptoms": self.symptoms, "notes": self.notes}


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


def repeated(m: Machine, legacy_id: int, since: datetime, step: timedelta, params=None, until=COLLECTED) -> None:
    for t in every(since, until, step):
        m.events.append(rcm_licensing_event(legacy_id, t, m.fqdn, m.build, params))


def ls_events(m: Machine, event_id: int, level: int, since: datetime, step: timedelta, params=None) -> None:
    for t in every(since, COLLECTED, step):
        m.events.append(licensing_event(event_id, t, m.fqdn, level, params))


def ls_healthy_log(m: Machine) -> None:
    m.events.append(licensing_event(4, m.installed + days(2), m.fqdn, 4, [m.name]))
    m.events.append(service_state_event(COLLECTED - days(6.5), m.fqdn, "Remote Desktop Licensing", "running", "TermServLicensing"))


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
    grace_expiring(rdsh, ends, ends - days(14), COLLECTED)
    repeated(rdsh, 1130, ends - days(14), timedelta(hours=6))
    repeated(rdsh, 1128, ends, timedelta(hours=3))
    ls = machine("LS01", "2016", {LS}, noise=400)
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2016", "per_user", 40, 0)], tsls_members=["LS01"])
    return Scenario("no-license-server-grace-expired", "2016 session host never told which license server to use; grace ran out",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-001"], "RDSH01", symptoms=["RDSLIC-101", "RDSLIC-103"],
                    grace_txt={"RDSH01": 0})


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
                    zipped=True, collector="tss", grace_txt={"RDSH01": 6})


def gpo_overrides_deployment() -> Scenario:
    cb = machine("CB01", "2012R2", {CB}, noise=400, registry_form="reg")
    rdsh = machine("RDSH01", "2012R2", {SH}, installed_days_ago=150, deployment_mode=PER_USER,
                   deployment_servers=[f"LS01.{DOMAIN}"], policy_mode=PER_USER, policy_servers=[f"LS-OLD.{DOMAIN}"],
                   grace_start=COLLECTED - days(150), registry_form="reg")
    ends = rdsh.grace_start + days(120)
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
    ls = machine("LS01", "2019", {LS}, installed_days_ago=260, noise=400)
    ls.events.append(service_state_event(COLLECTED - days(6.5), ls.fqdn, "Remote Desktop Licensing", "running", "TermServLicensing"))
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
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    ls_events(ls, 21, 3, COLLECTED - days(2), timedelta(hours=3), ["LS01", "Windows Server 2022 - Per Device CAL", "RDSH01"])
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(4, "2022", "per_user", 50, 0)], tsls_members=["LS01"])
    return Scenario("cal-type-mismatch", "session host in Per Device mode, license server holds only Per User CALs",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-007"], "RDSH01", alt_hosts=["LS01"],
                    symptoms=["RDSLIC-103"], zipped=True)


def cals_too_old_for_host() -> Scenario:
    rdsh = machine("RDSH01", "2022", {SH}, installed_days_ago=160, policy_mode=PER_USER, policy_servers=[f"LS01.{DOMAIN}"],
                   certificate=True, grace_start=COLLECTED - days(160))
    ls = machine("LS01", "2022", {LS}, noise=400)
    ls_healthy_log(ls)
    ls_events(ls, 22, 3, COLLECTED - days(10), timedelta(hours=6), ["LS01", "Windows Server 2022 - Per User CAL"])
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 100, 0)], tsls_members=["LS01"])
    return Scenario("cals-too-old-for-host", "2022 session host, but only 2019 Per User CALs installed (seed table: No)",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-008"], "RDSH01", alt_hosts=["LS01"])


def license_server_too_old() -> Scenario:
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=200, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], grace_start=COLLECTED - days(200))
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
    rdsh = machine("RDSH01", "2019", {SH}, installed_days_ago=90, domain=None, policy_mode=PER_USER,
                   policy_servers=["LS01"], certificate=True, grace_start=COLLECTED - days(90), registry_form="reg")
    ls = machine("LS01", "2019", {LS}, domain=None, noise=400, registry_form="reg")
    ls_healthy_log(ls)
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2019", "per_user", 20, 0)])
    return Scenario("per-user-in-workgroup", "workgroup servers licensed Per User: not permitted (seed article)",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-010"], "RDSH01")


def ls_not_in_tsls_group() -> Scenario:
    rdsh = machine("RDSH01", "2025", {SH}, installed_days_ago=100, deployment_mode=PER_USER,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(100))
    ls = machine("LS01", "2025", {LS}, installed_days_ago=100, noise=400)
    ls_healthy_log(ls)
    for i, user in enumerate(("alice", "bob", "carol", "dave")):
        ls.events.append(licensing_event(4105, COLLECTED - days(3) + timedelta(hours=5 * i), ls.fqdn, 3,
                                         [f"CONTOSO\\{user}", DOMAIN]))
    state = LicenseServerState(packs=[builtin_pack(), KeyPack(3, "2025", "per_user", 100, 0)], tsls_members=["LS-OLD"])
    return Scenario("ls-not-in-tsls-group", "LS01 is not in Terminal Server License Servers: per-user CALs not recorded (4105)",
                    [rdsh, ls], {"LS01": state}, ["RDSLIC-012"], "LS01", zipped=True)


def corrupt_rdsh_certificate() -> Scenario:
    rdsh = machine("RDSH01", "2016", {SH}, installed_days_ago=400, deployment_mode=PER_DEVICE,
                   deployment_servers=[f"LS01.{DOMAIN}"], certificate=True, grace_start=COLLECTED - days(400))
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
    return Scenario("gpo-only-single-server", "no broker: Session Host + Licensing configured by Group Policy only, healthy",
                    [rdsh, ls], {"LS01": state}, [], None, zipped=True, collector="tss")


SCENARIOS: list[Callable[[], Scenario]] = [
    healthy_per_user_domain, no_license_server_grace_expired, licensing_mode_not_configured, gpo_overrides_deployment,
    license_server_unreachable, license_server_not_activated, cals_exhausted, cal_type_mismatch, cals_too_old_for_host,
    license_server_too_old, per_user_in_workgroup, ls_not_in_tsls_group, corrupt_rdsh_certificate, gpo_only_single_server,
]
