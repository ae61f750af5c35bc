"""rdsla inventory (issue 23 item 10): a host x expected-artifact grid with the ask-list that
follows from it (core.coverage's items and commands), paths whole and relative to the input."""
from __future__ import annotations

import json
from pathlib import Path

from rdsla.analyzer.cli import main
from rdsla.core import coverage
from rdsla.reports.inventory_grid import coverage_grid, relative_path

BUNDLES = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
PARTIAL = BUNDLES / "healthy-gpo-without-policy-export"      # MSRD per-key exports, no policy key, no LS Admin log


def _inventory(capsys, *argv):
    assert main(["inventory", *argv, "--jobs", "0"]) == 0
    return capsys.readouterr().out


def test_json_grid_and_asks_follow_the_coverage(capsys):
    doc = json.loads(_inventory(capsys, str(PARTIAL), "--json"))
    assert doc["coverage"]["hosts"] == ["LS01", "RDSH01"]
    items = {i["id"]: i["states"] for i in doc["coverage"]["items"]}
    assert items["key.terminal_server"] == {"LS01": None, "RDSH01": "collected"}      # not expected of an LS
    assert items["hive.system"] == {"LS01": "by_keys", "RDSH01": "by_keys"}
    assert items["log.lic_admin"]["LS01"] == "missing"
    asked = {(a["host"], a["item"]) for a in doc["ask"]}
    missing = {(h, i) for i, states in items.items() for h, s in states.items() if s == "missing"}
    # every missing item is asked for once, except the SOFTWARE hive the policy key's command offers
    assert asked == {x for x in missing if not (x[1] == "hive.software" and (x[0], "key.policy") in missing)}
    ask = next(a for a in doc["ask"] if a["item"] == "log.lic_admin")
    assert ask["command"] == coverage.BY_ID["log.lic_admin"].command.format(host="LS01")
    assert ask["roles"] == ["licensing"]
    for a in doc["artifacts"]:
        assert a["relative_path"] == a["path"][len("healthy-gpo-without-policy-export/"):]
    assert not any(("LS01", "export.keypacks") == x for x in asked)       # what the bundle holds is never asked


def test_text_shows_marks_whole_paths_and_the_ask_list(capsys):
    out = _inventory(capsys, str(PARTIAL))
    assert "EXPECTED ARTIFACTS PER HOST" in out and "ASK THE CUSTOMER FOR" in out
    row = next(line for line in out.splitlines() if line.startswith("TerminalServices-Licensing/Admin log"))
    assert row.split()[-2:] == ["✗", "·"]
    assert "LS01 (license server):" in out
    long = "MSRD-Results-RDSH01/RDSH01_EventLogs/RDSH01_TerminalServicesRemoteConnectionManager-Operational.evtx"
    assert any(line.startswith(long + " ") for line in out.splitlines())         # not cut at the left
    assert "ARTIFACTS (paths relative to healthy-gpo-without-policy-export)" in out


def test_a_complete_bundle_asks_for_nothing_it_holds(capsys):
    doc = json.loads(_inventory(capsys, str(BUNDLES / "cals-exhausted"), "--json"))
    held = {(i["id"], h) for i in doc["coverage"]["items"] for h, s in i["states"].items() if s == "collected"}
    assert held and not {(a["item"], a["host"]) for a in doc["ask"]} & held


def test_relative_paths():
    assert relative_path("x.zip!/a/b.evtx", ["x.zip"]) == "a/b.evtx"
    assert relative_path("up/a/b.evtx", ["up"]) == "a/b.evtx"
    assert relative_path("up/a/b.evtx", ["up", "other"]) == "up/a/b.evtx"
    assert relative_path("upper/a.evtx", ["up"]) == "upper/a.evtx"


def test_hosts_without_artifacts_get_no_column():
    from rdsla.core.coverage import Coverage
    from rdsla.core.model import Fact, HostProfile
    named = HostProfile(name="LS-OLD", coverage=Coverage())
    own = HostProfile(name="RDSH01", coverage=Coverage(hives={"HKLM\\SYSTEM": ["s"]}), artifacts=["s"],
                      roles={"session_host": Fact(True, "registry")})
    grid = coverage_grid([named, own])
    assert grid["hosts"] == ["RDSH01"] and grid["named_only"] == ["LS-OLD"]
    assert all(a["host"] == "RDSH01" for a in grid["ask"])
