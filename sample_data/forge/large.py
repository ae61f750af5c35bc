"""The benchmark bundle: one busy session host and its license server, customer-sized.

System.evtx with ~60,000 records (~20 MB), a SOFTWARE hive of ~60 MB (a realistic share of it
is COM class registrations), RCM Admin/Operational logs with thousands of records. Built on
demand, never committed. The licensing fault inside is the "license server unreachable" case.
"""
from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from rdsla.sample_data.forge.build import _hive_bytes, machine_files
from rdsla.sample_data.forge.evtx_writer import EventRecord
from rdsla.sample_data.forge.machine import software_tree
from rdsla.sample_data.forge.regtree import REG_DWORD, REG_EXPAND_SZ, REG_SZ
from rdsla.sample_data.forge.scenarios import COLLECTED, license_server_unreachable
from rdsla.sample_data.forge.windows_events import RCM, RCM_GUID, noise_events, rcm_licensing_event


def _bulk_software(root, rng: random.Random, target_bytes: int) -> None:
    """COM registrations until the hive reaches about ``target_bytes`` (~570 bytes a class)."""
    classes = root.key(r"Classes\CLSID", root.last_write)
    n = target_bytes // 570
    for i in range(n):
        clsid = "{%08X-%04X-%04X-%04X-%012X}" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                                 rng.getrandbits(16), rng.getrandbits(48))
        k = classes.key(clsid)
        k.set("", REG_SZ, f"Contoso Component {i}")
        k.key("InprocServer32").set("", REG_EXPAND_SZ, f"%SystemRoot%\\System32\\contoso{i % 977}.dll").set(
            "ThreadingModel", REG_SZ, "Both")
        if i % 5 == 0:
            k.set("AppID", REG_SZ, clsid).set("Flags", REG_DWORD, i % 7)


def build_large(out: Path) -> list[tuple[Path, int]]:
    scenario = license_server_unreachable()
    rdsh = next(m for m in scenario.machines if m.name == "RDSH01")
    rdsh.registry_form = "hive"
    rng = random.Random("large")
    extra = noise_events(rng, rdsh.fqdn, COLLECTED - timedelta(days=60), COLLECTED, 60_000)
    rdsh.events += extra
    for i in range(4000):
        when = COLLECTED - timedelta(minutes=13 * i)
        rdsh.events.append(rcm_licensing_event(1131, when, rdsh.fqdn, rdsh.build, ["LS01.contoso.local"]))
    for i in range(6000):    # RCM/Operational: 261 "Listener RDP-Tcp received a connection", not licensing
        rdsh.events.append(EventRecord(provider=RCM, provider_guid=RCM_GUID, event_id=261,
                                       time=COLLECTED - timedelta(minutes=7 * i), channel=RCM + "/Operational",
                                       computer=rdsh.fqdn, level=4, keywords=0x4000000000000000,
                                       process_id=1204, thread_id=2210, user_sid="S-1-5-20",
                                       data={"listenerName": "RDP-Tcp"}))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for rel, data in machine_files(scenario, rdsh).items():
        if rel.endswith("SOFTWARE.hiv"):
            software = software_tree(rdsh)
            _bulk_software(software, rng, 60 * 1024 * 1024)
            data = _hive_bytes(software, "SOFTWARE")
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append((path, len(data)))
    ls = next(m for m in scenario.machines if m.name == "LS01")
    for rel, data in machine_files(scenario, ls).items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append((path, len(data)))
    return written
