"""Sample pairs for ``rdsla diff``: one case uploaded twice, before and after a fix.

``python -m rdsla.sample_data.forge.pairs`` writes ``sample_data/pairs/<name>/before/``,
``.../after/`` (folders, as collectors write them) and ``<name>/expected_diff.json`` (DESIGN.md
"Layout"), byte for byte the same on every run. The *before* side of each pair is a committed
scenario of :mod:`scenarios`, unchanged; the *after* side is the same deployment collected again
a week later, after the customer's fix:

- ``gpo-fix-worked``: the GPO pointed RDSH01 at the retired LS-OLD (RDSLIC-003, with 1131
  naming LS-OLD: RDSLIC-004). The policy now names LS01; the session host has talked to LS01
  since (X509 certificate values written, the grace-period value rewritten when the license
  server was configured: RDS_LICENSING.md section 0a), and LS01 has issued per-user CALs.
  Both causes resolved; nothing new.
- ``fix-moved-problem``: RDSH01 could not reach LS01 (RDSLIC-004). Instead of opening RPC to
  LS01, the customer built a new license server LS02, pointed the deployment at it, and never
  activated it: LS02 logs event 18, reports "not activated", holds only the built-in and a
  temporary pack and issues temporary Per Device CALs (RDS_LICENSING.md 1.3 (18), 5 #5). The
  reachability cause is resolved and a license-server cause is new on LS02.

Support asks the customer to clear the session host's logs after the fix and to collect again
after a few days of use; so the after side's session-host logs start at the fix, and older
events cannot speak for the new state.
"""
from __future__ import annotations

import json
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from rdsla.sample_data.forge import build
from rdsla.sample_data.forge.exports import IssuedLicense, KeyPack, builtin_pack
from rdsla.sample_data.forge.machine import Machine
from rdsla.sample_data.forge.scenarios import (COLLECTED, DOMAIN, LS, LicenseServerState, Scenario, days, every,
                                               gpo_overrides_deployment, license_server_unreachable)
from rdsla.sample_data.forge.windows_events import licensing_event, service_state_event

PAIRS_DIR = Path(__file__).resolve().parents[1] / "pairs"
FIXED = COLLECTED + timedelta(days=1, hours=-1, minutes=-15)      # 2024-11-06 09:00 UTC: the fix
AFTER = COLLECTED + days(8)                                       # 2024-11-13 10:15 UTC: second upload


@dataclass
class Pair:
    name: str
    notes: str
    before: Scenario
    after: Scenario
    resolved: list[tuple[str, str]]
    new: list[tuple[str, str]]
    persisting: list[tuple[str, str]]
    exit_code: int
    may_also: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def expected(self) -> dict:
        """expected_diff.json: the causes (rule id, host) the diff must list in each category;
        ``may_also`` those it may list there too (general causes a specific one outranks)."""
        def items(pairs):
            return [{"rule_id": r, "host": h} for r, h in pairs]
        return {"resolved": items(self.resolved), "new": items(self.new), "persisting": items(self.persisting),
                "may_also": {k: items(v) for k, v in sorted(self.may_also.items())},
                "exit_code": self.exit_code, "notes": self.notes}


def _machine(m: Machine, **changes) -> Machine:
    """``m`` collected again: same configuration but ``changes``; its own events are not copied
    (each after side says which it logged), the noise is the forge's."""
    return replace(m, events=[], **changes)


def gpo_fix_worked() -> Pair:
    before = gpo_overrides_deployment()
    cb, rdsh, ls = before.machines
    fqdn_ls01 = f"LS01.{DOMAIN}"
    rdsh2 = _machine(rdsh, policy_servers=[fqdn_ls01], certificate=True, grace_start=FIXED, noise=400)
    ls2 = _machine(ls, noise=400)
    ls2.events.append(licensing_event(4, ls2.installed + days(2), ls2.fqdn, 4, [ls2.name]))
    ls2.events.append(service_state_event(AFTER - days(6.5), ls2.fqdn, "Remote Desktop Licensing", "running",
                                          "TermServLicensing"))
    state = before.license_servers["LS01"]
    packs = [p if p.cal_version is None else replace(p, issued=p.issued + 12) for p in state.packs]
    after = replace(before, name="gpo-fix-worked-after", machines=[_machine(cb, noise=400), rdsh2, ls2],
                    license_servers={"LS01": replace(state, packs=packs)}, root_causes=[], host=None,
                    symptoms=[], notes="the GPO now names LS01")
    return Pair("gpo-fix-worked", "the GPO named the retired LS-OLD; it now names LS01: both causes resolved, "
                "nothing new, exit 0", before, after,
                resolved=[("RDSLIC-003", "RDSH01"), ("RDSLIC-004", "RDSH01")], new=[], persisting=[], exit_code=0)


def fix_moved_problem() -> Pair:
    before = license_server_unreachable()
    rdsh = before.machines[0]
    fqdn_ls02 = f"LS02.{DOMAIN}"
    rdsh2 = _machine(rdsh, deployment_servers=[fqdn_ls02], certificate=True, noise=400)
    installed = FIXED - timedelta(hours=20)
    ls02 = Machine(name="LS02", os="2022", domain=DOMAIN, roles=frozenset({LS}), installed=installed, noise=400,
                   registry_form="query")
    ls02.events.append(service_state_event(installed + timedelta(hours=1), ls02.fqdn, "Remote Desktop Licensing",
                                           "running", "TermServLicensing"))
    for t in every(installed + timedelta(hours=2), AFTER, timedelta(hours=12)):
        ls02.events.append(licensing_event(18, t, ls02.fqdn, 3, ["LS02"]))
    temporary = KeyPack(3, "2022", "per_device", 4294967295, 9, keypack_type=4)
    issued = []
    for i in range(9):               # first connections of Per Device clients: temporary CALs (90 days)
        when = FIXED + timedelta(hours=2 + 17 * i)
        issued.append(IssuedLicense(10 + i, 3, f"CONTOSO\\user{i:03d}", f"PC-{40 + i:04d}", when, when + days(90), 1))
    state = LicenseServerState(activated=False, packs=[builtin_pack(2), temporary], issued=issued, lic_svr_chk=True)
    after = replace(before, name="fix-moved-problem-after", machines=[rdsh2, ls02], license_servers={"LS02": state},
                    root_causes=["RDSLIC-005"], host="LS02", alt_hosts=["RDSH01"], symptoms=[],
                    notes="the deployment now names LS02, which was never activated")
    return Pair("fix-moved-problem", "RDSH01 could not reach LS01; the customer pointed it at a new LS02 that was "
                "never activated: reachability resolved, LS02 not activated is new, exit 1", before, after,
                resolved=[("RDSLIC-004", "RDSH01")], new=[("RDSLIC-005", "LS02")], persisting=[], exit_code=1,
                may_also={"new": [("RDSLIC-006", "LS02")]})     # no permanent CAL on LS02; 005 outranks it


PAIRS: list[Callable[[], Pair]] = [gpo_fix_worked, fix_moved_problem]


@contextmanager
def _collected_at(when: datetime):
    """The forge's writers take the collection time from ``build.COLLECTED`` (log noise, hive
    times, registry last writes): set it for one side."""
    saved = build.COLLECTED
    build.COLLECTED = when
    try:
        yield
    finally:
        build.COLLECTED = saved


def side_files(s: Scenario, collected: datetime) -> dict[str, bytes]:
    """The files of one side, without ``expected.json`` (which marks a bundle, not a pair side)."""
    files: dict[str, bytes] = {}
    with _collected_at(collected):
        for m in s.machines:
            files.update(build.machine_files(s, m))
    return files


def _write_folder(target: Path, files: dict[str, bytes]) -> None:
    if target.exists():
        shutil.rmtree(target)
    for rel, data in sorted(files.items()):
        p = target / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def write_pair(pair: Pair, out_dir: Path) -> Path:
    root = out_dir / pair.name
    root.mkdir(parents=True, exist_ok=True)
    _write_folder(root / "before", side_files(pair.before, COLLECTED))
    _write_folder(root / "after", side_files(pair.after, AFTER))
    (root / "expected_diff.json").write_text(json.dumps(pair.expected(), indent=2) + "\n", encoding="utf-8")
    return root


def build_pairs(out_dir: Path = PAIRS_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_pair(factory(), out_dir) for factory in PAIRS]


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m rdsla.sample_data.forge.pairs", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PAIRS_DIR, help=f"where pairs go (default {PAIRS_DIR})")
    args = parser.parse_args(argv)
    for path in build_pairs(args.out):
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        print(f"{size / 1e6:8.2f} MB  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
