"""A forged machine: its configuration, and the registry trees that configuration leaves.

Paths and values: RDS_LICENSING.md section 2 (RCM\\Licensing Core, TermService\\Parameters
\\LicenseServers, Policies\\...\\Terminal Services, GracePeriod, X509 certificate values,
ServerComponentCache, TermServLicensing service).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from rdsla.sample_data.forge.regtree import (REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_QWORD, REG_SZ,
                                       RegKey)

OS_BUILDS = {"2008R2": 7601, "2012": 9200, "2012R2": 9600, "2016": 14393, "2019": 17763, "2022": 20348, "2025": 26100}
OS_NAMES = {"2008R2": "Windows Server 2008 R2 Standard", "2012": "Windows Server 2012 Standard",
            "2012R2": "Windows Server 2012 R2 Standard", "2016": "Windows Server 2016 Standard",
            "2019": "Windows Server 2019 Standard", "2022": "Windows Server 2022 Standard",
            "2025": "Windows Server 2025 Standard"}
OS_NT_VERSION = {"2008R2": "6.1", "2012": "6.2", "2012R2": "6.3"}
GRACE_VALUE = "L$RTMTIMEBOMB_1320153D-8DA3-4e8e-B27B-0D888223A588"
PER_DEVICE, PER_USER, NOT_CONFIGURED = 2, 4, 5
# The update build revision of the cumulative update of 12 November 2024 (collection month of the
# samples): 2016 KB5046612, 2019 KB5046615, 2022 KB5046616, 2025 KB5046617
UBR_NOVEMBER_2024 = {14393: 7515, 17763: 6532, 20348: 2849, 26100: 2314}


@dataclass
class Machine:
    name: str
    os: str                                   # "2016", "2019" ...
    domain: Optional[str]                     # DNS domain, None in a workgroup
    roles: frozenset[str]                     # session_host, licensing, connection_broker
    installed: datetime                       # OS install / role install time
    policy_mode: Optional[int] = None         # GPO "Set the Remote Desktop licensing mode"
    policy_servers: Optional[list[str]] = None  # GPO "Use the specified Remote Desktop license servers"
    deployment_mode: Optional[int] = None     # RCM\Licensing Core\LicensingMode (broker/WMI)
    deployment_servers: Optional[list[str]] = None  # SpecifiedLicenseServers
    certificate: bool = False                 # RCM X509 Certificate values (has talked to an LS)
    grace_start: Optional[datetime] = None    # RCM\GracePeriod last write (timebomb start)
    ls_service_start: int = 2                 # TermServLicensing Start: 2 auto, 3 manual, 4 disabled
    disable_workgroup_auth: Optional[int] = None
    secure_licensing: Optional[int] = None    # GPO "License server security group"
    prevent_upgrade: Optional[int] = None     # GPO "Prevent license upgrade" (fPreventLicenseUpgrade, on the LS)
    registry_form: str = "hive"               # hive | reg | query (whole hives) | msrd (MSRD-Collect per-key exports)
    noise: int = 1000
    events: list = field(default_factory=list)
    # Remote Desktop logons (RCM 1149, LSM 21/23) of a session host: per day over the last two
    # weeks, none after ``logons_until`` (when licensing started refusing connections)
    logons_per_day: int = 6
    logons_until: Optional[datetime] = None
    disconnect_after: Optional[timedelta] = None   # each session dropped this long after logon (LSM 24)
    ubr: Optional[int] = None                 # CurrentVersion\UBR (default: the November 2024 update of the build)
    last_boot: Optional[datetime] = None      # EventLog 6009/6005 (default: a week before collection)
    policy_written: Optional[datetime] = None  # policy key LastWrite: a GPO change (default: set up with the host)

    @property
    def build(self) -> int:
        return OS_BUILDS[self.os]

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.domain}" if self.domain else self.name

    def has(self, role: str) -> bool:
        return role in self.roles


def _stamp(machine: Machine, days: float) -> datetime:
    return machine.installed + timedelta(days=days)


def _blob(seed: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def has_policy(m: Machine) -> bool:
    return any(v is not None for v in (m.policy_mode, m.policy_servers, m.secure_licensing, m.prevent_upgrade))


def system_tree(m: Machine, collected: datetime) -> RegKey:
    """The SYSTEM hive of ``m``: two control sets, Select\\Current = 1."""
    t0 = m.installed
    root = RegKey("ROOT", t0)
    select = root.key("Select", t0)
    for name, value in (("Current", 1), ("Default", 1), ("Failed", 0), ("LastKnownGood", 2)):
        select.set(name, REG_DWORD, value)
    for cs, age in (("ControlSet001", 0), ("ControlSet002", 1)):
        written = collected - timedelta(days=age) if age == 0 else t0
        base = root.key(cs, t0)
        base.key(r"Control\ComputerName\ComputerName", t0).set("ComputerName", REG_SZ, m.name)
        base.key(r"Control\ComputerName\ActiveComputerName", written).set("ComputerName", REG_SZ, m.name)
        ts = base.key(r"Control\Terminal Server", _stamp(m, 1))
        ts.set("fDenyTSConnections", REG_DWORD, 0).set("TSAppCompat", REG_DWORD, 1 if m.has("session_host") else 0)
        ts.set("fSingleSessionPerUser", REG_DWORD, 1)
        rcm = base.key(r"Control\Terminal Server\RCM", _stamp(m, 1))
        if m.certificate and age == 0:
            rcm.set("Certificate", REG_BINARY, _blob(m.name + "cert", 96))
            rcm.set("X509 Certificate", REG_BINARY, _blob(m.name + "x509", 1180))
            rcm.set("X509 Certificate ID", REG_BINARY, _blob(m.name + "id", 48))
            rcm.set("X509 Certificate2", REG_BINARY, _blob(m.name + "x5092", 1224))
        core = base.key(r"Control\Terminal Server\RCM\Licensing Core", _stamp(m, 1))
        if m.deployment_mode is not None:
            core.set("LicensingMode", REG_DWORD, m.deployment_mode)
        if m.grace_start is not None and m.has("session_host"):
            grace = base.key(r"Control\Terminal Server\RCM\GracePeriod", m.grace_start)
            grace.set(GRACE_VALUE, REG_BINARY, _blob(m.name + "timebomb", 8))
        svc = base.key(r"Services\TermService", t0)
        svc.set("Start", REG_DWORD, 3).set("DisplayName", REG_SZ, "Remote Desktop Services")
        svc.set("ImagePath", REG_EXPAND_SZ, r"%SystemRoot%\System32\svchost.exe -k NetworkService")
        svc.set("ObjectName", REG_SZ, r"NT Authority\NetworkService")
        params = base.key(r"Services\TermService\Parameters", t0)
        params.set("ServiceDll", REG_EXPAND_SZ, r"%SystemRoot%\System32\termsrv.dll")
        if m.deployment_servers is not None:
            base.key(r"Services\TermService\Parameters\LicenseServers", _stamp(m, 1)).set(
                "SpecifiedLicenseServers", REG_MULTI_SZ, list(m.deployment_servers))
        tcpip = base.key(r"Services\Tcpip\Parameters", t0)
        tcpip.set("Hostname", REG_SZ, m.name).set("NV Hostname", REG_SZ, m.name)
        tcpip.set("Domain", REG_SZ, m.domain or "").set("NV Domain", REG_SZ, m.domain or "")
        tcpip.set("SearchList", REG_SZ, "")
        base.key(r"Services\W32Time\Parameters", t0).set("Type", REG_SZ, "NT5DS" if m.domain else "NTP")
        base.key(r"Services\EventLog\System", t0).set("MaxSize", REG_DWORD, 20971520)
        if m.has("licensing"):
            ls = base.key(r"Services\TermServLicensing", t0)
            ls.set("Start", REG_DWORD, m.ls_service_start).set("DisplayName", REG_SZ, "Remote Desktop Licensing")
            ls.set("ImagePath", REG_EXPAND_SZ, r"%SystemRoot%\system32\svchost.exe -k NetworkService")
            lsp = base.key(r"Services\TermServLicensing\Parameters", t0)
            lsp.set("ServiceDll", REG_EXPAND_SZ, r"%SystemRoot%\system32\lserver.dll")
            lsp.set("DBPath", REG_EXPAND_SZ, r"%SystemRoot%\System32\LServer")
            if m.disable_workgroup_auth is not None:
                lsp.set("DisableWorkgroupAuthEnforcement", REG_DWORD, m.disable_workgroup_auth)
        if m.has("connection_broker"):
            base.key(r"Services\Tssdis", t0).set("Start", REG_DWORD, 2).set(
                "DisplayName", REG_SZ, "Remote Desktop Connection Broker")
    return root


def software_tree(m: Machine) -> RegKey:
    """The SOFTWARE hive of ``m``: OS version, policies, installed RDS roles."""
    t0 = m.installed
    root = RegKey("ROOT", t0)
    cv = root.key(r"Microsoft\Windows NT\CurrentVersion", t0)
    cv.set("ProductName", REG_SZ, OS_NAMES[m.os]).set("EditionID", REG_SZ, "ServerStandard")
    cv.set("InstallationType", REG_SZ, "Server").set("CurrentVersion", REG_SZ, OS_NT_VERSION.get(m.os, "6.3"))
    cv.set("CurrentBuild", REG_SZ, str(m.build)).set("CurrentBuildNumber", REG_SZ, str(m.build))
    if m.build >= 10240:
        cv.set("CurrentMajorVersionNumber", REG_DWORD, 10).set("CurrentMinorVersionNumber", REG_DWORD, 0)
        cv.set("UBR", REG_DWORD, m.ubr if m.ubr is not None else UBR_NOVEMBER_2024.get(m.build, 5011))
    cv.set("InstallDate", REG_DWORD, int(t0.timestamp())).set("InstallTime", REG_QWORD,
                                                              int((t0.timestamp() + 11644473600) * 10_000_000))
    cv.set("RegisteredOwner", REG_SZ, "Contoso IT" if m.domain else "Administrator")
    root.key(r"Policies\Microsoft\Windows\WindowsUpdate\AU", t0).set("NoAutoRebootWithLoggedOnUsers", REG_DWORD, 1)
    if has_policy(m):      # the key exists on a real host only when a policy is set (RDS_LICENSING.md 0a)
        policy = root.key(r"Policies\Microsoft\Windows NT\Terminal Services", m.policy_written or _stamp(m, 2))
        if m.policy_mode is not None:
            policy.set("LicensingMode", REG_DWORD, m.policy_mode)
        if m.policy_servers is not None:
            policy.set("LicenseServers", REG_SZ, ",".join(m.policy_servers))
        if m.secure_licensing is not None:
            policy.set("fSecureLicensing", REG_DWORD, m.secure_licensing)
        if m.prevent_upgrade is not None:
            policy.set("fPreventLicenseUpgrade", REG_DWORD, m.prevent_upgrade)
    cache = root.key(r"Microsoft\ServerManager\ServicingStorage\ServerComponentCache", t0)
    for component, role in (("RDS-RD-Server", "session_host"), ("RDS-Licensing", "licensing"),
                            ("RDS-Connection-Broker", "connection_broker")):
        cache.key(component, t0).set("InstallState", REG_DWORD, 1 if m.has(role) else 0)
    if m.domain:
        ou = "OU=RDS,OU=Servers," + ",".join(f"DC={p}" for p in m.domain.split("."))
        root.key(r"Microsoft\Windows\CurrentVersion\Group Policy\State\Machine", _stamp(m, 1)).set(
            "Distinguished-Name", REG_SZ, f"CN={m.name},{ou}")
    if m.has("licensing"):
        root.key(r"Microsoft\TermServLicensing", t0).set("Role", REG_DWORD, 1 if m.domain else 0)
    root.key(r"Microsoft\Windows\CurrentVersion\Run", t0).set("SecurityHealth", REG_EXPAND_SZ,
                                                            r"%windir%\system32\SecurityHealthSystray.exe")
    return root


# MSRD-Collect's per-key exports of an RDS target (MSRDC-Core.psm1 msrdGetCoreRegKeys; written only
# when the key exists, Test-Path): (file name part, hive, path below the hive, path as exported).
# Older releases name them <HOST>_reg_<name>.txt (RDS_LICENSING.md 0a), as the forge does.
MSRD_KEYS = (
    ("System-CCS-Control-TerminalServer", "SYSTEM", r"ControlSet001\Control\Terminal Server",
     r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server"),
    ("System-CCS-Svc-TermService", "SYSTEM", r"ControlSet001\Services\TermService",
     r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\TermService"),
    ("System-CCS-Svc-Tcpip", "SYSTEM", r"ControlSet001\Services\Tcpip",
     r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Tcpip"),
    ("System-CCS-Svc-TermServLicensing", "SYSTEM", r"ControlSet001\Services\TermServLicensing",
     r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\TermServLicensing"),
    ("System-CCS-Svc-Tssdis", "SYSTEM", r"ControlSet001\Services\Tssdis",
     r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Tssdis"),
    ("SW-MS-TermServLicensing", "SOFTWARE", r"Microsoft\TermServLicensing",
     r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\TermServLicensing"),
    ("SW-Policies-MS-WinNT-TerminalServices", "SOFTWARE", r"Policies\Microsoft\Windows NT\Terminal Services",
     r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"),
)


def find_key(root: RegKey, path: str) -> Optional[RegKey]:
    node = root
    for part in path.split("\\"):
        node = node.child(part)
        if node is None:
            return None
    return node


def _invariant(when: datetime) -> str:
    """A DateTime as PowerShell concatenates it into a string: the invariant culture."""
    return when.strftime("%m/%d/%Y %H:%M:%S")


# Win32_ComputerSystem.DomainRole names, as MSRD-Collect writes them
STANDALONE_SERVER, MEMBER_SERVER = "Standalone Server", "Member Server"


def system_info_txt(m: Machine, collected: datetime, boot: datetime) -> bytes:
    """MSRD-Collect's ``<HOST>_SystemInfo.txt`` (MSRDC-Core.psm1: ``Label.PadRight(27) + " : " +
    value`` lines from Win32_OperatingSystem, Win32_ComputerSystem, Win32_TimeZone, written by
    Out-File: UTF-16LE with a BOM). The machines of the samples keep UTC as their time zone, so
    their local times are the UTC times of the events."""
    build = m.build
    ubr = m.ubr if m.ubr is not None else UBR_NOVEMBER_2024.get(build)
    if m.os in OS_NT_VERSION:           # 2008 and 2012: major.build.revision (MSRD-Collect)
        version = f"{OS_NT_VERSION[m.os].split('.')[0]}.{build}." + (str(ubr) if ubr is not None else "")
    else:
        version = f"10.0.{build}.{ubr if ubr is not None else 0}"
    netbios = m.domain.split(".")[0].upper() if m.domain else ""
    lines = [("Computer name", m.name), ("Model", "Virtual Machine"), ("Manufacturer", "Microsoft Corporation"),
             ("SystemType", "x64-based PC"), ("Operating System", f"Microsoft {OS_NAMES[m.os]} 64-bit"),
             ("Build Number", version), ("Installation type", "Server"),
             ("Time zone", "(UTC) Coordinated Universal Time"), ("Install date", _invariant(m.installed)),
             ("Last boot time", _invariant(boot)), ("Local time", _invariant(collected)),
             ("DNS Hostname", m.name), ("DNS Domain name", m.domain or "WORKGROUP"),
             ("NetBIOS Domain name", netbios), ("Domain role", MEMBER_SERVER if m.domain else STANDALONE_SERVER)]
    text = "".join(f"{label.ljust(27)} : {value}\r\n" for label, value in lines) + " \r\n"
    return b"\xff\xfe" + text.encode("utf-16-le")
