"""Declared needs (issue 16, item 2): what the parsers keep is what rules, the host-profile
builder and the report declare; reading anything undeclared is an error, not a silent miss."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rdsla.analyzer import hosts
from rdsla.analyzer.pipeline import declared_needs, ingest
from rdsla.core import catalog
from rdsla.core.needs import UndeclaredNeed
from rdsla.parsers.base import ParseOptions
from rdsla.rules import api
from rdsla.rules.registry import load_rules

writer = pytest.importorskip("rdsla.sample_data.forge.evtx_writer")
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


def test_every_declaration_names_catalog_entries():
    known = catalog.keys()
    assert hosts.NEEDS.events <= known
    for r in load_rules():
        assert set(r.meta.events) <= known, r.meta.id


def test_the_keep_filter_is_the_union_of_the_declarations():
    needs = declared_needs()
    declared = set(hosts.NEEDS.events)
    for r in load_rules():
        declared |= set(r.meta.events)
    assert declared <= needs.events
    assert "os_version_at_boot" in needs.events            # bug 1: the host profile's 6009


def test_an_event_nobody_declared_is_not_kept(tmp_path):
    """The catalog knows EventLog 6009; only its declaration by the profile builder keeps it."""
    path = tmp_path / "System.evtx"
    writer.write_evtx(path, [writer.EventRecord("EventLog", 6009, T0, "System", "RDSH01.corp.example",
                                                qualifiers=32768, event_source_name="EventLog",
                                                data=["10.00.", "17763", "Multiprocessor Free", "0"])])
    everything = set(catalog.keys())
    kept = ingest([str(tmp_path)], ParseOptions(events=frozenset(everything - {"os_version_at_boot"})), jobs=0)
    assert len(kept.frames["events"]) == 0
    kept = ingest([str(tmp_path)], ParseOptions(), jobs=0)            # the declarations
    assert kept.frames["events"]["event_id"].tolist() == [6009]


def test_the_os_build_comes_from_event_6009_in_a_normal_analysis(tmp_path, capsys):
    """Bug 1: hosts._os read EventLog 6009, which the parsers dropped unless --all-events."""
    import json

    from rdsla.analyzer.cli import main
    bundle = tmp_path / "MSRD-Results-RDSH01"
    bundle.mkdir()
    writer.write_evtx(bundle / "RDSH01_System.evtx", [
        writer.EventRecord("EventLog", 6009, T0, "System", "RDSH01.corp.example", qualifiers=32768,
                           event_source_name="EventLog", data=["10.00.", "17763", "Multiprocessor Free", "0"]),
        writer.EventRecord("Microsoft-Windows-TerminalServices-RemoteConnectionManager", 1130,
                           T0 + timedelta(minutes=5), "System", "RDSH01.corp.example", qualifiers=49152,
                           event_source_name="TermService", level=3, data=[]),
    ])
    assert main(["hosts", str(bundle), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    host = next(h for h in out["hosts"] if h["name"] == "RDSH01")
    assert host["os_build"]["value"] == 17763 and host["os_build"]["origin"] == "event"


def test_a_rule_reading_an_undeclared_event_raises():
    meta = api.RuleMeta(id="RDSLIC-900", title="t", severity="info", kind="info",
                        events=("license_server_unreachable",))
    analysis = _empty_analysis()
    ctx = api.Context(api.Bundle(analysis), meta, None)
    assert len(ctx.events("RDSH01", "rcm", [1131])) == 0          # declared: fine
    with pytest.raises(UndeclaredNeed, match="1128"):
        ctx.events("RDSH01", "rcm", [1128])
    with pytest.raises(ValueError, match="not in the event catalog"):
        api.RuleMeta(id="RDSLIC-901", title="t", severity="info", kind="info", events=("no_such_event",))


def test_the_profile_builder_reading_an_undeclared_event_raises():
    assert "rdsh_service_crashed" not in hosts.NEEDS.events
    with pytest.raises(UndeclaredNeed, match="rdsh_service_crashed"):
        hosts._Events([]).of("rdsh_service_crashed")


def _empty_analysis():
    from rdsla.core.frames import empty_frame
    from rdsla.core.model import Analysis
    frames = {name: empty_frame(name) for name in ("events", "registry", "keypacks", "issued", "artifacts")}
    return Analysis(inputs=[], as_of=T0, as_of_origin="option", frames=frames)


def test_registry_reads_are_declared_and_the_parsers_read_only_declared_keys(tmp_path):
    """The registry half: hosts.NEEDS.registry is what the registry parsers read (through the
    pipeline's ParseOptions.registry), and the builder reading any other key raises."""
    from rdsla.core import registry_keys
    assert declared_needs().registry == hosts.NEEDS.registry == frozenset(registry_keys.declared_lines())
    export = tmp_path / "RDSH01_reg_System-CCS-Control-TerminalServer.txt"
    export.write_bytes("\ufeffWindows Registry Editor Version 5.00\r\n\r\n"
                       "[HKEY_LOCAL_MACHINE\\SYSTEM\\Select]\r\n\"Current\"=dword:00000001\r\n\r\n"
                       "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server]\r\n"
                       "\"fDenyTSConnections\"=dword:00000000\r\n\r\n"
                       "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Terminal Server\\WinStations]\r\n"
                       "\"x\"=dword:00000001\r\n".encode("utf-16-le"))
    keys = set(ingest([str(tmp_path)], ParseOptions(), jobs=0).frames["registry"]["key_ccs"])
    assert "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server" in keys
    assert not any(k.endswith("WinStations") for k in keys)          # nobody declared it
    only = frozenset({"SYSTEM\\Select"})
    keys = set(ingest([str(tmp_path)], ParseOptions(registry=only), jobs=0).frames["registry"]["key_ccs"])
    assert keys == {"HKLM\\SYSTEM\\Select"}
    reg = hosts._Registry(empty_frame_of("registry"))
    assert reg.get("HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server", "fDenyTSConnections") is None
    with pytest.raises(UndeclaredNeed, match="WinStations"):
        reg.get("HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations", "x")


def empty_frame_of(name):
    from rdsla.core.frames import empty_frame
    return empty_frame(name)
