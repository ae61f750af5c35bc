"""What was collected from each machine: hives, registry keys, event logs (with their time
span) and licensing exports, and what to run to collect what is missing.

DESIGN.md "Coverage before absence": a registry value is *absent* only where its key (or the
whole hive) was collected; otherwise it is *unknown*. Collectors often bring one ``reg export``
per key (MSRD-Collect ``<HOST>_reg_System-CCS-Control-TerminalServer.txt``), SYSTEM without
SOFTWARE, or no policy export at all (``reg export`` of a key that does not exist writes no
file: a missing policy export proves nothing). RDS_LICENSING.md 0a, 3.6.

The registry parsers state which subtrees an artifact covers (fact ``registry_coverage``: a
hive file covers its hive; a text export covers each top key it holds and everything below
it); the EVTX parser states each log's channel and time span (fact ``event_log``); exports are
known from their rows and facts. ``analyzer.hosts`` assembles one :class:`Coverage` per host.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

HIVE_ROOTS = ("HKLM\\SYSTEM", "HKLM\\SOFTWARE", "HKLM\\SECURITY")

# The channels rdsla reads, by short name (RDS_LICENSING.md 1.1-1.3; on Server 2016 and older
# the session host's classic licensing events are in System).
CHANNELS = {
    "system": "System",
    "rcm_admin": "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin",
    "rcm_operational": "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    "lsm_operational": "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "lic_admin": "Microsoft-Windows-TerminalServices-Licensing/Admin",
    "lic_operational": "Microsoft-Windows-TerminalServices-Licensing/Operational",
}
# The file name MSRD-Collect gives each exported log (<HOST>_<name>.evtx, MSRDC-Core.psm1).
MSRD_LOG_NAMES = {
    "System": "System",
    CHANNELS["rcm_admin"]: "TerminalServicesRemoteConnectionManager-Admin",
    CHANNELS["rcm_operational"]: "TerminalServicesRemoteConnectionManager-Operational",
    CHANNELS["lsm_operational"]: "TerminalServicesLocalSessionManager-Operational",
    CHANNELS["lic_admin"]: "TerminalServicesLicensing-Admin",
    CHANNELS["lic_operational"]: "TerminalServicesLicensing-Operational",
}


@dataclass(frozen=True)
class Item:
    """One thing a collector can bring from a machine, and the command that brings it.

    ``kind``: hive | key | log | export; ``target``: the hive root, the key (CurrentControlSet
    form), the channel, or the export name; ``roles``: the machines it is expected from
    (session_host, licensing, or any); ``command``: what to run on that machine, ``{host}`` in it,
    a shell line and nothing else (the report's copy button pastes it); ``note``: what to tell the
    customer beside it (an alternative, how to read an answer)."""

    id: str
    label: str
    kind: str
    target: str
    roles: tuple[str, ...]
    command: str
    note: str = ""


POLICY_KEY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
TS_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"
TERMSERVICE_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\TermService"
LS_SERVICE_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\TermServLicensing"

ITEMS: tuple[Item, ...] = (
    Item("hive.system", "SYSTEM hive", "hive", "HKLM\\SYSTEM", ("any",),
         r"reg save HKLM\SYSTEM {host}_SYSTEM.hiv"),
    Item("hive.software", "SOFTWARE hive", "hive", "HKLM\\SOFTWARE", ("any",),
         r"reg save HKLM\SOFTWARE {host}_SOFTWARE.hiv"),
    Item("key.terminal_server", "Terminal Server key (licensing mode, grace period, LS certificate)", "key", TS_KEY,
         ("session_host",),
         r'reg export "HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server" {host}_reg_System-CCS-Control-TerminalServer.txt'),
    Item("key.policy", "Terminal Services policy key (Group Policy licensing settings)", "key", POLICY_KEY,
         ("session_host", "licensing"),
         r'reg export "HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services" '
         r'{host}_reg_SW-Policies-MS-WinNT-TerminalServices.txt',
         r'if reg answers that it cannot find the key, no policy is set: say so; or bring the whole hive: '
         r'reg save HKLM\SOFTWARE {host}_SOFTWARE.hiv'),
    Item("key.termservice", "TermService key (deployment license servers)", "key", TERMSERVICE_KEY, ("session_host",),
         r'reg export "HKLM\SYSTEM\CurrentControlSet\Services\TermService" {host}_reg_System-CCS-Svc-TermService.txt'),
    Item("key.termservlicensing", "TermServLicensing service key", "key", LS_SERVICE_KEY, ("licensing",),
         r'reg export "HKLM\SYSTEM\CurrentControlSet\Services\TermServLicensing" '
         r'{host}_reg_System-CCS-Svc-TermServLicensing.txt'),
    Item("log.system", "System log", "log", CHANNELS["system"], ("any",),
         r"wevtutil epl System {host}_System.evtx"),
    Item("log.rcm_admin", "RemoteConnectionManager/Admin log", "log", CHANNELS["rcm_admin"], ("session_host",),
         "wevtutil epl Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin "
         "{host}_TerminalServicesRemoteConnectionManager-Admin.evtx"),
    Item("log.rcm_operational", "RemoteConnectionManager/Operational log", "log", CHANNELS["rcm_operational"],
         ("session_host",),
         "wevtutil epl Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational "
         "{host}_TerminalServicesRemoteConnectionManager-Operational.evtx"),
    Item("log.lic_admin", "TerminalServices-Licensing/Admin log", "log", CHANNELS["lic_admin"], ("licensing",),
         "wevtutil epl Microsoft-Windows-TerminalServices-Licensing/Admin {host}_TerminalServicesLicensing-Admin.evtx"),
    Item("log.lic_operational", "TerminalServices-Licensing/Operational log", "log", CHANNELS["lic_operational"],
         ("licensing",),
         "wevtutil epl Microsoft-Windows-TerminalServices-Licensing/Operational "
         "{host}_TerminalServicesLicensing-Operational.evtx"),
    Item("export.grace_period", "grace period days (GetGracePeriodDays)", "export", "grace_period", ("session_host",),
         r'wmic /namespace:\\root\CIMV2\TerminalServices PATH Win32_TerminalServiceSetting WHERE (__CLASS !="") '
         r"CALL GetGracePeriodDays > {host}_rdsh_GracePeriod.txt"),
    Item("export.keypacks", "installed key packs (Win32_TSLicenseKeyPack)", "export", "keypacks", ("licensing",),
         "Get-CimInstance Win32_TSLicenseKeyPack | Export-Csv -NoTypeInformation {host}_rdls_LicenseKeyPacks.csv"),
    Item("export.issued", "issued CALs (Win32_TSIssuedLicense)", "export", "issued", ("licensing",),
         "Get-CimInstance Win32_TSIssuedLicense | Export-Csv -NoTypeInformation {host}_rdls_IssuedLicenses.csv"),
    Item("export.tsls_membership", "Terminal Server License Servers members", "export", "tsls_membership",
         ("licensing",),
         'net localgroup "Terminal Server License Servers" /domain > {host}_TSLSMembership.txt'),
)
BY_ID = {i.id: i for i in ITEMS}


def norm_key(key: str) -> str:
    """A registry path compared the way Windows does: case-insensitively, ``ControlSet00N``
    written as the current control set by the parsers already (``key_ccs``)."""
    return key.strip().strip("\\").lower()


@dataclass
class LogSpan:
    """One event log of one host: its channel, first and last record time, records read."""

    channel: str
    first: Optional[datetime] = None
    last: Optional[datetime] = None
    records: int = 0
    sources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"channel": self.channel, "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None, "records": self.records,
                "sources": list(self.sources)}


@dataclass
class Coverage:
    """What a bundle holds of one machine."""

    hives: dict[str, list[str]] = field(default_factory=dict)      # "HKLM\\SYSTEM" -> sources
    keys: dict[str, list[str]] = field(default_factory=dict)       # covered subtree (key_ccs form) -> sources
    logs: dict[str, LogSpan] = field(default_factory=dict)         # channel -> span
    exports: dict[str, list[str]] = field(default_factory=dict)    # export name -> sources

    # -- questions
    def registry(self, key: str) -> bool:
        """Was ``key`` collected: its hive, or a text export of it or of a key above it?"""
        return bool(self.registry_sources(key))

    def registry_sources(self, key: str) -> list[str]:
        k = norm_key(key)
        out: list[str] = []
        for root, sources in self.hives.items():
            r = norm_key(root)
            if k == r or k.startswith(r + "\\"):
                out += sources
        for root, sources in self.keys.items():
            r = norm_key(root)
            if k == r or k.startswith(r + "\\"):
                out += sources
        return list(dict.fromkeys(out))

    def log(self, channel: str) -> Optional[LogSpan]:
        for name, span in self.logs.items():
            if name.lower() == channel.lower():
                return span
        return None

    def export(self, name: str) -> bool:
        return bool(self.exports.get(name))

    def has(self, item_id: str) -> bool:
        """Was the item of :data:`ITEMS` collected? (A hive item also counts as its keys.)"""
        item = BY_ID[item_id]
        if item.kind in ("hive", "key"):
            return self.registry(item.target)
        if item.kind == "log":
            return self.log(item.target) is not None
        return self.export(item.target)

    @property
    def empty(self) -> bool:
        return not (self.hives or self.keys or self.logs or self.exports)

    @property
    def newest(self) -> Optional[datetime]:
        """The newest record of this machine's logs: its own collection time."""
        lasts = [s.last for s in self.logs.values() if s.last is not None]
        return max(lasts) if lasts else None

    def expected(self, roles: set[str]) -> list[Item]:
        """The items a machine of these roles should bring (a hive item satisfied by its keys
        is not asked for)."""
        out = []
        for item in ITEMS:
            if "any" in item.roles or roles & set(item.roles):
                out.append(item)
        return out

    def states(self, roles: set[str]) -> list[tuple[Item, str]]:
        """Each item expected of a machine of these roles and its state: ``collected``,
        ``missing``, or ``by_keys`` (a hive not brought whole, its keys exported instead)."""
        out = []
        for item in self.expected(roles):
            if item.kind == "hive" and not self.hives.get(item.target):
                if item.target == "HKLM\\SYSTEM" and self.has("key.terminal_server"):
                    out.append((item, "by_keys"))        # per-key exports instead of the hive: listed as keys
                elif item.target == "HKLM\\SOFTWARE" and self.has("key.policy"):
                    out.append((item, "by_keys"))
                else:
                    out.append((item, "missing"))
                continue
            out.append((item, "collected" if self.has(item.id) else "missing"))
        return out

    def summary(self, roles: set[str]) -> dict:
        """``{"collected": [labels], "missing": [labels]}`` for the roles of a machine."""
        states = self.states(roles)
        return {"collected": [i.label for i, s in states if s == "collected"],
                "missing": [i.label for i, s in states if s == "missing"]}

    def to_dict(self, roles: Optional[set[str]] = None) -> dict:
        out = {"hives": {k: list(v) for k, v in sorted(self.hives.items())},
               "keys": {k: list(v) for k, v in sorted(self.keys.items())},
               "logs": {k: v.to_dict() for k, v in sorted(self.logs.items())},
               "exports": {k: list(v) for k, v in sorted(self.exports.items())}}
        if roles is not None:
            out.update(self.summary(roles))
        return out


def licensing_log_items(version: str) -> tuple[str, ...]:
    """The logs a session host of this OS version writes its licensing events to: System up to
    Server 2016, RemoteConnectionManager/Admin from 2019 (RDS_LICENSING.md 1.1, DESIGN.md "Classic
    event channels"); either of them when the version is unknown (``""``)."""
    if version in ("2019", "2022", "2025"):
        return ("log.rcm_admin",)
    return ("log.system",) if version else ("log.system", "log.rcm_admin")


def collect_line(host: str, item_id: str) -> str:
    """``HOST: <label>: <command>`` for a not-checked finding's collect-next list."""
    item = BY_ID[item_id]
    note = f" ({item.note.format(host=host)})" if item.note else ""
    return f"{host}: {item.label}: {item.command.format(host=host)}{note}"
