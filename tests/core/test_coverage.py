"""Collection coverage (issue 17 item 2): which subtrees each registry artifact holds, each
log's channel and span, the per-host Coverage and its questions, and the collect-next lines."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rdsla.analyzer.hosts import coverage_of
from rdsla.core import facts as F
from rdsla.core.coverage import BY_ID, ITEMS, Coverage, LogSpan, collect_line
from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.registry import exported_roots, parse
from rdsla.sample_data.forge.machine import Machine, software_tree, system_tree
from rdsla.sample_data.forge.reg_text import render_reg_export, render_reg_query
from rdsla.sample_data.forge.regf_writer import write_hive

T0 = datetime(2024, 1, 10, 8, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
TS = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"
POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"


def _machine(**kw) -> Machine:
    base = dict(name="RDSH01", os="2019", domain="contoso.local", roles=frozenset({"session_host"}),
                installed=T0, deployment_mode=4, deployment_servers=["LS01.contoso.local"], certificate=True,
                grace_start=T0)
    base.update(kw)
    return Machine(**base)


def _covers(path, kind) -> list[str]:
    result = parse(Source(display=str(path), chain=(str(path),), size=path.stat().st_size, kind=kind), ParseOptions())
    found = [f for f in result.facts if f["name"] == F.REGISTRY_COVERAGE]
    assert len(found) == 1, result.facts
    return found[0]["value"]


def test_a_hive_covers_itself(tmp_path):
    write_hive(tmp_path / "SYSTEM.hiv", system_tree(_machine(), NOW), file_name="SYSTEM", timestamp=NOW)
    write_hive(tmp_path / "SOFTWARE.hiv", software_tree(_machine()), file_name="SOFTWARE", timestamp=NOW)
    assert _covers(tmp_path / "SYSTEM.hiv", "hive") == ["HKLM\\SYSTEM"]
    assert _covers(tmp_path / "SOFTWARE.hiv", "hive") == ["HKLM\\SOFTWARE"]


def test_a_per_key_export_covers_its_key_only(tmp_path):
    """MSRD-Collect's <HOST>_reg_System-CCS-Control-TerminalServer.txt: reg export of one key."""
    tree = system_tree(_machine(), NOW)
    node = tree.key(r"ControlSet001\Control\Terminal Server")
    path = tmp_path / "RDSH01_reg_System-CCS-Control-TerminalServer.txt"
    path.write_bytes(render_reg_export(node, "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server"))
    assert _covers(path, "reg_export") == [TS]


def test_whole_hive_text_forms_cover_the_hive(tmp_path):
    tree = software_tree(_machine())
    (tmp_path / "sw.reg").write_bytes(render_reg_export(tree, "HKEY_LOCAL_MACHINE\\SOFTWARE"))
    (tmp_path / "sw.txt").write_text(render_reg_query(tree, "HKEY_LOCAL_MACHINE\\SOFTWARE"), encoding="utf-8")
    assert _covers(tmp_path / "sw.reg", "reg_export") == ["HKLM\\SOFTWARE"]
    assert _covers(tmp_path / "sw.txt", "reg_query") == ["HKLM\\SOFTWARE"]      # the root has no values


def test_exported_roots():
    keys = [("SYSTEM", r"CurrentControlSet\Control\Terminal Server"),
            ("SYSTEM", r"CurrentControlSet\Control\Terminal Server\RCM"),
            ("SOFTWARE", r"Policies\Microsoft\Windows NT\Terminal Services")]
    assert exported_roots(keys) == [("SYSTEM", r"CurrentControlSet\Control\Terminal Server"),
                                    ("SOFTWARE", r"Policies\Microsoft\Windows NT\Terminal Services")]
    # reg query of a key without values prints only its subkeys: siblings stand for the parent
    assert exported_roots([("SYSTEM", "A\\B\\C"), ("SYSTEM", "A\\B\\D")]) == [("SYSTEM", "A\\B")]


def test_event_log_fact_has_channel_and_span(tmp_path):
    from rdsla.parsers.evtx import parse as parse_evtx
    from rdsla.sample_data.forge.evtx_writer import write_evtx
    from rdsla.sample_data.forge.windows_events import rcm_licensing_event
    records = [rcm_licensing_event(1131, NOW - timedelta(days=d), "RDSH01", 17763, ["LS01"]) for d in (30, 2, 9)]
    path = tmp_path / "RDSH01_TerminalServicesRemoteConnectionManager-Admin.evtx"
    with open(path, "wb") as fh:
        write_evtx(fh, sorted(records, key=lambda r: r.time))
    for backend in ("rust", "python"):
        result = parse_evtx(Source(display=str(path), chain=(str(path),), size=path.stat().st_size, kind="evtx"),
                            ParseOptions(evtx_backend=backend))
        (log,) = [f["value"] for f in result.facts if f["name"] == F.EVENT_LOG]
        assert log["channel"] == "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin"
        assert log["first"] == NOW - timedelta(days=30) and log["last"] == NOW - timedelta(days=2), backend
        assert log["records"] == 3


def _facts():
    return [
        {"name": F.REGISTRY_COVERAGE, "value": [TS], "source": "a/RDSH01_reg_System-CCS-Control-TerminalServer.txt"},
        {"name": F.REGISTRY_COVERAGE, "value": ["HKLM\\SYSTEM"], "source": "a/RDSH01_SYSTEM.hiv"},
        {"name": F.EVENT_LOG, "source": "a/RDSH01_System.evtx",
         "value": {"channel": "System", "first": NOW - timedelta(days=12), "last": NOW, "records": 900}},
        {"name": F.GRACE_DAYS_LEFT, "value": 0, "source": "a/RDSH01_rdsh_GracePeriod.txt"},
    ]


def test_coverage_of_a_host_answers_what_was_collected():
    cov = coverage_of(_facts(), None, None)
    assert cov.hives == {"HKLM\\SYSTEM": ["a/RDSH01_SYSTEM.hiv"]}
    assert cov.keys == {TS: ["a/RDSH01_reg_System-CCS-Control-TerminalServer.txt"]}
    assert cov.registry(TS + r"\RCM\Licensing Core") and cov.registry(TS.lower())
    assert cov.registry(r"HKLM\SYSTEM\CurrentControlSet\Services\TermService")      # the hive holds it
    assert not cov.registry(POLICY)                                                  # no SOFTWARE: unknown
    assert cov.has("key.terminal_server") and cov.has("log.system") and cov.has("export.grace_period")
    assert not cov.has("key.policy") and not cov.has("log.rcm_admin") and not cov.has("export.keypacks")
    assert cov.newest == NOW and cov.log("system").records == 900
    summary = cov.summary({"session_host"})
    assert "SOFTWARE hive" in summary["missing"] and "System log" in summary["collected"]


def test_a_per_key_export_never_covers_its_siblings():
    cov = Coverage(keys={TS: ["x"]})
    assert cov.registry(TS) and not cov.registry(r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal ServerX")
    assert not cov.registry(r"HKLM\SYSTEM\CurrentControlSet\Services\TermService\Parameters\LicenseServers")


def test_every_item_names_a_command_for_the_host():
    for item in ITEMS:
        line = collect_line("RDSH01", item.id)
        assert line.startswith("RDSH01: ") and "{host}" not in line
        assert item.command.split()[0] in ("reg", "wevtutil", "wmic", "Get-CimInstance", "net"), item.id
    assert "RDSH01_reg_SW-Policies-MS-WinNT-TerminalServices.txt" in collect_line("RDSH01", "key.policy")
    assert set(BY_ID) == {i.id for i in ITEMS}


def test_a_command_is_one_shell_line_and_what_to_tell_the_customer_is_its_note():
    """The report's copy button pastes ``command``: no prose, no alternative in it."""
    for item in ITEMS:
        words = item.command.lower().replace("(", " ").replace(")", " ").replace(",", " ").split()
        assert "\n" not in item.command and not {"if", "or", "say", "so"} & set(words), item.id
    policy = BY_ID["key.policy"]
    assert policy.command.endswith("{host}_reg_SW-Policies-MS-WinNT-TerminalServices.txt")
    assert "say so" in policy.note and "reg save HKLM\\SOFTWARE {host}_SOFTWARE.hiv" in policy.note
    assert collect_line("RDSH01", "key.policy").endswith("RDSH01_SOFTWARE.hiv)")


def test_coverage_to_dict_lists_collected_and_missing():
    cov = coverage_of(_facts(), None, None)
    d = cov.to_dict({"session_host"})
    assert d["logs"]["System"]["records"] == 900 and d["logs"]["System"]["first"].startswith("2024-04-19")
    assert "System log" in d["collected"] and "RemoteConnectionManager/Admin log" in d["missing"]
    assert LogSpan("System").to_dict()["first"] is None


@pytest.mark.parametrize("name", ["license-server-unreachable", "gpo-overrides-deployment.zip"])
def test_hosts_json_has_coverage_per_host(name, capsys):
    import json
    from pathlib import Path

    from rdsla.analyzer.cli import main
    path = Path(__file__).resolve().parents[2] / "sample_data" / "bundles" / name
    assert main(["hosts", str(path), "--json", "--jobs", "0"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for h in doc["hosts"]:
        cov = h["coverage"]
        assert set(cov) >= {"hives", "keys", "logs", "exports", "collected", "missing"}, h["name"]
        assert "System log" in cov["collected"], h["name"]


def test_report_host_cards_show_collected_and_missing():
    from pathlib import Path

    from rdsla.analyzer.pipeline import analyze
    from rdsla.reports.html import render
    path = Path(__file__).resolve().parents[2] / "sample_data" / "bundles" / "license-server-unreachable"
    page = render(analyze([str(path)], jobs=0))
    assert page.count('class="coverage-collected"') == 2 and page.count('class="coverage-missing"') == 2
    assert "RemoteConnectionManager/Admin log" in page and "record(s)" in page


def test_the_licensing_log_of_a_session_host_follows_its_version():
    from rdsla.core.coverage import licensing_log_items
    assert licensing_log_items("2016") == ("log.system",)
    assert licensing_log_items("2019") == licensing_log_items("2025") == ("log.rcm_admin",)
    assert licensing_log_items("") == ("log.system", "log.rcm_admin")
