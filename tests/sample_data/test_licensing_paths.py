"""Issue 23 "Done when": on every sample bundle findings.json has ``verdict`` and
``licensing_paths`` consistent with the expected cause: complete healthy samples are healthy
with every path ok; healthy samples with missing inputs are inconclusive with no path false; a
cause's session hosts have no working path, and the step the cause breaks is false."""
from __future__ import annotations

import json
import zipfile

import pytest

from rdsla.analyzer.verdict import missing_inputs
from rdsla.reports.findings_json import findings_document
from rdsla.rules.meta import remediation_texts
from rdsla.rules.registry import load_rules
from tests.sample_data.test_bundles import NAMES, _analysis, bundle_path

# The step of the path a cause breaks (RDS_LICENSING.md 0 steps 3-6); other causes (certificates,
# groups, workgroup rules) break licensing beyond these steps: their paths are only never "ok".
BROKEN_STEP = {"RDSLIC-001": "configured", "RDSLIC-002": "cals_ok", "RDSLIC-004": "reachable",
               "RDSLIC-011": "reachable", "RDSLIC-005": "ls_activated", "RDSLIC-006": "cals_ok",
               "RDSLIC-007": "cals_ok", "RDSLIC-008": "cals_ok", "RDSLIC-009": "cals_ok", "RDSLIC-010": "cals_ok",
               "RDSLIC-019": "ls_running", "RDSLIC-022": "ls_running", "RDSLIC-025": "cals_ok",
               "RDSLIC-026": "cals_ok"}


def expected(name: str) -> dict:
    path = bundle_path(name)
    if path.is_file():
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read("expected.json"))
    return json.loads((path / "expected.json").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_verdict_and_licensing_paths_agree_with_the_expected_cause(name):
    analysis = _analysis(name)
    doc = findings_document(analysis)
    exp = expected(name)
    verdict, paths = doc["verdict"], doc["licensing_paths"]
    session_hosts = [h.name for h in analysis.hosts if h.has_role("session_host")]
    assert [p["host"] for p in paths] == session_hosts and paths, name
    for p in paths:
        assert p["host"] in {h["name"] for h in doc["hosts"]}
        assert p["source"] in ("group_policy", "deployment", "discovery", "none", None)
        for step in ("reachable", "ls_running", "ls_activated", "cals_ok", "ok"):
            assert p[step] in (True, False, None)
        steps = [p[s] for s in ("reachable", "ls_running", "ls_activated", "cals_ok")]
        assert p["ok"] == (False if False in steps or p["evidence"]["configured"]["value"] is False else
                           True if p["license_server"] and p["reachable"] and p["cals_ok"] else None)
    if not exp["root_causes"]:
        if missing_inputs(analysis):
            assert verdict["state"] == "inconclusive", verdict
            assert all(p["ok"] is not False for p in paths), paths
        else:
            assert verdict["state"] == "healthy", verdict
            assert all(p["ok"] is True for p in paths), [(p["host"], p["evidence"]) for p in paths if not p["ok"]]
            for p in paths:          # says why, per session host
                assert f"{p['host']} -> {p['license_server']}" in verdict["summary"]
        return
    assert verdict["state"] == "cause"
    top = doc["root_causes"][0]
    assert top["rule_id"] in exp["root_causes"] and top["chain"][0]["rule_id"] == top["rule_id"]
    hosts = {exp["host"], *exp["alt_hosts"]}            # the session hosts named, else all of the cause's server
    affected = [p for p in paths if p["host"] in hosts] or [p for p in paths if p["license_server"] in hosts]
    assert affected, (name, paths)
    assert all(p["ok"] is not True for p in affected), affected
    # the fix's first step is this bundle's: it names the machines of the cause (issue 23 item 4)
    finding = next(f for f in doc["findings"] if f["rule_id"] == top["rule_id"] and f["host"] == top["host"]
                   and f["state"] == "detected")
    first = finding["remediation"][0]
    general = remediation_texts().get(top["rule_id"]) or \
        list(next(r.meta for r in load_rules() if r.meta.id == top["rule_id"]).remediation)
    assert top["host"] in first and first not in general, first
    assert not general or finding["remediation"][1:] == general       # the general steps follow
    step = BROKEN_STEP.get(top["rule_id"])
    if step:
        assert any(p[step] is False if step != "configured" else p["evidence"]["configured"]["value"] is False
                   for p in affected), (step, affected)


def test_the_chain_shows_a_cause_and_the_cause_it_leads_to_as_one():
    """gpo-overrides-deployment: the policy names LS-OLD (003), which is unreachable (004); the
    grace period then expires (101): one chain, 004 not a competing cause."""
    doc = findings_document(_analysis("gpo-overrides-deployment"))
    chain = doc["root_causes"][0]["chain"]
    assert [c["rule_id"] for c in chain if c["kind"] == "cause"] == ["RDSLIC-003", "RDSLIC-004"]
    assert "RDSLIC-101" in [c["rule_id"] for c in chain if c["kind"] == "symptom"]
    assert "chain" not in doc["verdict"]
    fix = next(f for f in doc["findings"] if f["rule_id"] == "RDSLIC-003" and f["state"] == "detected")["remediation"]
    assert "LicenseServers = LS-OLD.contoso.local" in fix[0] and "LS01" in fix[0]
