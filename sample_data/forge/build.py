"""Materialize scenarios as the files a collector writes, in folders or deterministic zips.

Layouts: MSRD-Collect (``MSRD-Results-<HOST>/<HOST>_EventLogs/<HOST>_System.evtx``,
``<HOST>_RDS/<HOST>_rdls_LicenseKeyPacks.html`` ...) and TSS (``TSS_<HOST>_<stamp>/<HOST>_<stamp>_System.evtx``).
Registry content is written as a ``reg save`` hive, a ``reg export`` file or ``reg query /s``
text, as each machine of the scenario says. ``expected.json`` sits at the bundle's root.
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
from rdsla.sample_data.forge.machine import Machine, software_tree, system_tree
from rdsla.sample_data.forge.reg_text import render_reg_export, render_reg_query
from rdsla.sample_data.forge.regf_writer import write_hive
from rdsla.sample_data.forge.scenarios import COLLECTED, SCENARIOS, Scenario
from rdsla.sample_data.forge.windows_events import RCM, noise_events

ZIP_TIME = (2024, 11, 5, 10, 15, 0)
TSS_STAMP = COLLECTED.strftime("%y%m%d-%H%M%S")
LOG_FILE_NAMES = {"System": "System", RCM + "/Admin": RCM + "%4Admin", RCM + "/Operational": RCM + "%4Operational"}


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
        folder = {"events": f"{h}_EventLogs", "registry": f"{h}_RegistryKeys", "rds": f"{h}_RDS"}[area]
        return f"MSRD-Results-{h}/{folder}/{h}_{name}"


def machine_files(s: Scenario, m: Machine) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    lay = _Layout(s.collector, m.name)
    rng = random.Random(f"{s.name}/{m.name}")
    logs: dict[str, list] = {"System": noise_events(rng, m.fqdn, COLLECTED - timedelta(days=7), COLLECTED, m.noise)}
    for ev in m.events:
        logs.setdefault(ev.channel, []).append(ev)
    for channel, records in logs.items():
        files[lay.path("events", LOG_FILE_NAMES[channel] + ".evtx")] = _evtx_bytes(records)
    system, software = system_tree(m, COLLECTED), software_tree(m)
    if m.registry_form == "hive":
        files[lay.path("registry", "SYSTEM.hiv")] = _hive_bytes(system, "SYSTEM")
        files[lay.path("registry", "SOFTWARE.hiv")] = _hive_bytes(software, "SOFTWARE")
    elif m.registry_form == "reg":
        files[lay.path("registry", "HKLM-SYSTEM.reg")] = render_reg_export(system, "HKEY_LOCAL_MACHINE\\SYSTEM")
        files[lay.path("registry", "HKLM-SOFTWARE.reg")] = render_reg_export(software, "HKEY_LOCAL_MACHINE\\SOFTWARE")
    else:
        files[lay.path("registry", "reg-query-SYSTEM.txt")] = render_reg_query(system, "HKEY_LOCAL_MACHINE\\SYSTEM").encode("utf-8")
        files[lay.path("registry", "reg-query-SOFTWARE.txt")] = render_reg_query(software, "HKEY_LOCAL_MACHINE\\SOFTWARE").encode("utf-8")
    state = s.license_servers.get(m.name)
    if state is not None:
        files[lay.path("rds", "rdls_LicenseKeyPacks.html")] = keypacks_html(m.name, state.packs)
        if state.issued:
            files[lay.path("rds", "rdls_IssuedLicenses.html")] = issued_html(m.name, state.issued)
        files[lay.path("rds", "rdls_LicenseServer.csv")] = license_server_csv(m.name, m.build)
        if state.tsls_members is not None:
            files[lay.path("rds", "TSLSMembership.txt")] = tsls_membership(m.domain or "WORKGROUP", state.tsls_members)
        if state.lic_svr_chk:
            files[lay.path("rds", "rds-lic-svr-chk.txt")] = lic_svr_chk(m.name, state.activated, [], None, False, True)
    if m.name in s.grace_txt:
        files[lay.path("rds", "rdsh_GracePeriod.txt")] = grace_period_txt(m.name, s.grace_txt[m.name])
    if m.name in s.lic_svr_chk_hosts:
        servers = m.policy_servers or m.deployment_servers or []
        files[lay.path("rds", "rds-lic-svr-chk.txt")] = lic_svr_chk(m.name, None, servers, None, m.certificate, True)
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
