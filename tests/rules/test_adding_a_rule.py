"""Adding a rule is one module in rules/pack (CONTRIBUTING.md): its metadata declares the events
it reads, its relations and its fix; nothing else is registered anywhere. The test registers a
rule exactly as a pack module does (``@rule(RuleMeta(...))``) and runs a whole analysis."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import rdsla
from rdsla.analyzer import pipeline
from rdsla.rules import meta
from rdsla.rules.api import RuleMeta, events_evidence, rule
from rdsla.rules.registry import load_rules

writer = pytest.importorskip("rdsla.sample_data.forge.evtx_writer")
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture()
def new_rule(monkeypatch):
    load_rules()
    monkeypatch.setattr(meta, "_PACK", list(meta._PACK))      # registered only for this test

    @rule(RuleMeta(id="RDSLIC-999", title="License processing is slow", severity="warning", kind="symptom",
                   events=("license_processing_slow",), remediation=("Check the license server's load.",)))
    def slow(ctx):
        ev = ctx.events(ctx.host.name, "rcm", [20497])
        if len(ev):
            return [ctx.detected(f"{ctx.host.name} logged 20497 x{len(ev)}.", events_evidence(ev))]
        return [ctx.not_detected()]
    return slow


def test_a_new_rule_needs_no_other_file(tmp_path, new_rule):
    folder = tmp_path / "MSRD-Results-RDSH01"
    folder.mkdir()
    writer.write_evtx(folder / "RDSH01_RCM-Admin.evtx", [
        writer.EventRecord(RCM, 20497, T0 + timedelta(minutes=i), f"{RCM}/Admin", "RDSH01.corp.example",
                           level=3, data={}) for i in range(3)] + [
        writer.EventRecord(RCM, 50283, T0, f"{RCM}/Admin", "RDSH01.corp.example", level=3, data={"param1": "LS01"})])
    assert "license_processing_slow" in pipeline.declared_needs().events
    result = rdsla.analyze(str(folder), jobs=0)
    found = [f for f in result.findings if f.rule_id == "RDSLIC-999" and f.state == "detected"]
    assert found and found[0].host == "RDSH01" and "x3" in found[0].summary
    assert found[0].remediation == ["Check the license server's load."]
    assert {e.detail["event_id"] for e in found[0].evidence} == {20497}
