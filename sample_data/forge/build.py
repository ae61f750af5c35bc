"""Materialize scenarios as the files a collector writes, in folders or deterministic zips.

Layouts: MSRD-Collect (``MSRD-Results-<HOST>/<HOST>_EventLogs/<HOST>_System.evtx``,
``..._TerminalServicesRemoteConnectionManager-Admin.evtx``, ``<HOST>_RDS/<HOST>_rdls_LicenseKeyPacks.html``,
``<HOST>_rdsh_GracePeriod.txt``, ``<HOST>_TSLSMembership.txt`` with msrdRunCommands' header, per-key
``<HOST>_RegistryKeys/<HOST>_reg_System-CCS-Control-TerminalServer.txt`` ...; MSRDC-Core.psm1,
MSRDC-FwFunctions.psm1) and TSS (``TSS_<HOST>_<stamp>/<HOST>_<stamp>_System.evtx``). Registry content
is written as ``reg save`` hives (both, or SYSTEM only), whole-hive ``reg export`` or ``reg query
/s`` text, or MSRD-Collect's one ``reg export`` per key (only keys that exist: no policy key
without a policy), as each machine of the scenario says. ``expected.json`` sits at the bundle's root.
"""
from __future__ import annotations

import io
import json
import random
import shutil
import zipfile
from datetime import timedelta
from pathlib import Path

from rdsla.sample_data.forge.evtx_writer import write_evtx
from rdsla.sample_data.forge.exports import (grace_period_txt, issued_html, keypacks_html, lic_svr_chk, license_server_csv,
                                       tsls_membership)
from rdsla.sample_data.forge.evtx_writer import EventRecord
from rdsla.sample_data.forge.machine import (MSRD_KEYS, OS_NT_VERSION, PER_DEVICE, PER_USER, Machine, find_key,
                                             software_tree, system_info_txt, system_tree)
from rdsla.sample_data.forge.reg_text import render_reg_export, render_reg_query
from rdsla.sample_data.forge.regf_writer import write_hive
from rdsla.sample_data.forge.scenarios import COLLECTED, SCENARIOS, Scenario
from rdsla.sample_data.forge.windows_events import (LIC, LIC_OPERATIONAL, LSM_OPERATIONAL, MANIFEST_FROM_BUILD,
                                                    NETWORK_SERVICE, RCM, RCM_ADMIN, RCM_GUID, boot_events,
                                                    noise_events, session_logon)

ZIP_TIME = (2024, 11, 5, 10, 15, 0)
TSS_STAMP = COLLECTED.strftime("%y%m%d-%H%M%S")
# The file name of each exported log: MSRD-Collect's own (MSRDC-Core.psm1 msrdGetCoreEventLogs,
# <HOST>_<name>.evtx); TSS copies the logs under their Windows file names (/ written %4).
MSRD_LOG_NAMES = {"System": "System",
                  RCM + "/Admin": "TerminalServicesRemoteConnectionManager-Admin",
                  RCM + "/Operational": "TerminalServicesRemoteConnectionManager-Operational",
                  LSM_OPERATIONAL: "TerminalServicesLocalSessionManager-Operational",
                  LIC + "/Admin": "TerminalServicesLicensing-Admin",
                  LIC_OPERATIONAL: "TerminalServicesLicensing-Operational"}
GRACE_DAYS = 120


def _evtx_bytes(records) -> bytes:
    buf = io.BytesIO()
    write_evtx(buf, sorted(records, key=lambda r: r.time))
    return buf.getvalue()


def _hive_bytes(root, file_name: str) -> bytes:
    buf = io.BytesIO()
    write_hive(buf, root, file_name=file_name, timestamp=COLLECTED)
    return buf.getvalue()


class _Layout:
    """Where a collector puts each kind of file of one machine."""

    def __init__(self, collector: str, host: str):
        self.collector, self.host = collector, host

    def path(self, area: str, name: str) -> str:
        h = self.host
        if self.collector == "tss":
            return f"TSS_{h}_{TSS_STAMP}/{h}_{TSS_STAMP}_{name}"
        folder = {"events": f"{h}_EventLogs", "registry": f"{h}_RegistryKeys", "rds": f"{h}_RDS",
                  "sysinfo": f"{h}_SystemInfo"}[area]
        return f"MSRD-Results-{h}/{folder}/{h}_{name}"

    def log(self, channel: str) -> str:
        name = channel.replace("/", "%4") if self.collector == "tss" else MSRD_LOG_NAMES[channel]
        return self.path("events", name + ".evtx")


def effective_mode(m: Machine):
    return m.policy_mode if m.policy_mode is not None else m.deployment_mode


def grace_days_left(m: Machine) -> int:
    """What GetGracePeriodDays answers at the collection time: 0 as soon as a license server is
    configured and a licensing mode chosen (RDS_LICENSING.md 0a), else the 120 days from the
    role's start, counted down."""
    if (m.policy_servers or m.deployment_servers) and effective_mode(m) in (PER_DEVICE, PER_USER):
        return 0
    start = m.grace_start or m.installed
    return max(0, GRACE_DAYS - (COLLECTED - start).days)


def session_events(m: Machine, rng: random.Random) -> list:
    """Remote Desktop logons of a session host over the last two weeks, until licensing
    refused them (``logons_until``)."""
    if not m.has("session_host") or m.logons_per_day <= 0:
        return []
    user_domain = m.domain.split(".")[0].upper() if m.domain else m.name
    end = min(COLLECTED, m.logons_until) if m.logons_until is not None else COLLECTED
    out, session = [], 2
    day = COLLECTED - timedelta(days=14)
    while day < end:
        for _ in range(m.logons_per_day):
            when = day + timedelta(hours=rng.random() * 10)
            if day <= when < end:
                user = f"{user_domain}\\user{rng.randrange(0, 40):03d}"
                out += session_logon(when, m.fqdn, user, session, f"10.0.1.{rng.randrange(20, 240)}",
                                     m.disconnect_after)
                session += 1
        day += timedelta(days=1)
    if m.build >= MANIFEST_FROM_BUILD:       # RCM/Admin of a busy 2019+ host (not licensing)
        for i in range(3):
            when = COLLECTED - timedelta(days=12 - 4 * i, hours=rng.random() * 8)
            out.append(EventRecord(provider=RCM, provider_guid=RCM_GUID, event_id=20499, time=when, channel=RCM_ADMIN,
                                   computer=m.fqdn, level=3, keywords=0x4000000000000000, process_id=1204,
                                   thread_id=2210, user_sid=NETWORK_SERVICE, data={}))
    return out


def registry_files(m: Machine, lay: _Layout) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    system, software = system_tree(m, COLLECTED), software_tree(m)
    if m.registry_form == "hive":
        files[lay.path("registry", "SYSTEM.hiv")] = _hive_bytes(system, "SYSTEM")
        files[lay.path("registry", "SOFTWARE.hiv")] = _hive_bytes(software, "SOFTWARE")
    elif m.registry_form == "reg":
        files[lay.path("registry", "HKLM-SYSTEM.reg")] = render_reg_export(system, "HKEY_LOCAL_MACHINE\\SYSTEM")
        files[lay.path("registry", "HKLM-SOFTWARE.reg")] = render_reg_export(software, "HKEY_LOCAL_MACHINE\\SOFTWARE")
    elif m.registry_form in ("system-hive", "msrd-system-hive"):      # SYSTEM without SOFTWARE
        files[lay.path("registry", "SYSTEM.hiv")] = _hive_bytes(system, "SYSTEM")
    elif m.registry_form == "msrd":
        trees = {"SYSTEM": system, "SOFTWARE": software}
        for name, hive, path, exported in MSRD_KEYS:
            node = find_key(trees[hive], path)
            if node is not None:                 # reg export runs only where Test-Path finds the key
                files[lay.path("registry", f"reg_{name}.txt")] = render_reg_export(node, exported)
    else:
        files[lay.path("registry", "reg-query-SYSTEM.txt")] = render_reg_query(system, "HKEY_LOCAL_MACHINE\\SYSTEM").encode("utf-8")
        files[lay.path("registry", "reg-query-SOFTWARE.txt")] = render_reg_query(software, "HKEY_LOCAL_MACHINE\\SOFTWARE").encode("utf-8")
    return files


def machine_files(s: Scenario, m: Machine) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    lay = _Layout(s.collector, m.name)
    rng = random.Random(f"{s.name}/{m.name}")
    boot = m.last_boot or max(m.installed, COLLECTED - timedelta(days=6.5))
    nt = OS_NT_VERSION.get(m.os, "10.0").replace(".", ".0") if m.os in OS_NT_VERSION else "10.00"
    logs: dict[str, list] = {"System": noise_events(rng, m.fqdn, COLLECTED - timedelta(days=7), COLLECTED, m.noise)
                             + boot_events(boot - timedelta(minutes=2), m.fqdn, nt, m.build)}
    for ev in m.events + session_events(m, rng):
        logs.setdefault(ev.channel, []).append(ev)
    for channel, records in logs.items():
        files[lay.log(channel)] = _evtx_bytes(records)
    files.update(registry_files(m, lay))
    command_time = COLLECTED - timedelta(seconds=40)
    if s.collector == "msrd":               # every MSRD-Collect run writes it (MSRDC-Core.psm1)
        files[lay.path("sysinfo", "SystemInfo.txt")] = system_info_txt(m, command_time, boot)
    state = s.license_servers.get(m.name)
    if state is not None:
        files[lay.path("rds", "rdls_LicenseKeyPacks.html")] = keypacks_html(m.name, state.packs)
        if state.issued:
            files[lay.path("rds", "rdls_IssuedLicenses.html")] = issued_html(m.name, state.issued)
        if state.license_server_csv:
            files[lay.path("rds", "rdls_LicenseServer.csv")] = license_server_csv(m.name, m.build)
        if state.lic_svr_chk:
            files[lay.path("rds", "rds-lic-svr-chk.txt")] = lic_svr_chk(m.name, state.activated, [], None, False, True)
    members = s.tsls_members_for(m)
    if members is not None and (m.has("session_host") or m.has("licensing")):
        files[lay.path("rds", "TSLSMembership.txt")] = tsls_membership(m.domain, members, command_time)
    if m.has("session_host") and m.name not in s.no_grace_txt:
        days = s.grace_txt.get(m.name, grace_days_left(m))
        files[lay.path("rds", "rdsh_GracePeriod.txt")] = grace_period_txt(m.name.upper(), days, command_time)
    if m.name in s.lic_svr_chk_hosts:
        servers = m.policy_servers or m.deployment_servers or []
        files[lay.path("rds", "rds-lic-svr-chk.txt")] = lic_svr_chk(m.name, None, servers, None, m.certificate, True)
    for drop in s.drop.get(m.name, ()):
        for path in [p for p in files if p.endswith(drop)]:
            del files[path]
    return files


def scenario_files(s: Scenario) -> dict[str, bytes]:
    files: dict[str, bytes] = {"expected.json": (json.dumps(s.expected(), indent=2) + "\n").encode("utf-8")}
    for m in s.machines:
        files.update(machine_files(s, m))
    return files


def write_zip(path: Path, files: dict[str, bytes]) -> None:
    """A zip whose bytes depend only on ``files`` (fixed times, order and attributes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    path.write_bytes(buf.getvalue())


def write_bundle(s: Scenario, out_dir: Path) -> Path:
    files = scenario_files(s)
    if s.zipped:
        target = out_dir / f"{s.name}.zip"
        write_zip(target, files)
        return target
    target = out_dir / s.name
    if target.exists():
        shutil.rmtree(target)
    for rel, data in files.items():
        p = target / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return target


def build_all(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_bundle(factory(), out_dir) for factory in SCENARIOS]
