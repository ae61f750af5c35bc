"""rdsla diff (issue 21 item 1): two findings documents compared; the sample pairs; the CLI.

The pair tests analyze four bundles once per module (``jobs=0``: in this process)."""
from __future__ import annotations

import copy
import json
import re
from html import unescape
from pathlib import Path

import pytest

from rdsla.analyzer.cli import main
from rdsla.reports.diff import compare, render_markdown
from rdsla.reports.diff_view import render_html

REPO = Path(__file__).resolve().parents[2]
PAIRS = REPO / "sample_data" / "pairs"
PAIR_NAMES = sorted(p.name for p in PAIRS.iterdir() if (p / "expected_diff.json").is_file())


# ------------------------------------------------------------------ compare, on small documents

def _finding(rule, host, state="detected", kind="cause", severity="error", summary=""):
    return {"rule_id": rule, "host": host, "state": state, "kind": kind, "severity": severity, "title": f"title {rule}",
            "summary": summary or f"{rule} on {host}", "evidence": [], "remediation": [], "collect": []}


def _host(name, mode=4, origin="group_policy", servers=("LS01.contoso.local",), cert=True, days=None):
    return {"name": name, "aliases": [], "licensing_mode": {"value": mode, "origin": origin, "evidence": []},
            "licensing_mode_name": {2: "per_device", 4: "per_user"}[mode],
            "license_servers": {"value": list(servers), "origin": origin, "evidence": []},
            "license_server_candidates": [{"value": list(servers), "origin": origin, "evidence": []}],
            "licensing_certificate": {"value": cert, "origin": "registry", "evidence": []},
            "grace_period": {"days_left": days, "ends": None, "expired_events": []},
            "roles": {"session_host": {"value": True, "origin": "registry", "evidence": []}},
            "os_version": {"value": "2019", "origin": "registry", "evidence": []}}


def _doc(findings, hosts, pool=(), events=(), as_of="2024-11-05T10:15:00+00:00"):
    return {"schema": "rdsla.findings/1", "as_of": as_of, "inputs": ["x"], "hosts": hosts,
            "root_causes": [{"rule_id": f["rule_id"], "host": f["host"], "confidence": 0.8, "title": f["title"],
                             "summary": f["summary"]} for f in findings if f["state"] == "detected" and f["kind"] == "cause"],
            "findings": findings, "artifacts": [], "messages": [], "cal_pool": list(pool),
            "event_counts": list(events), "current_days": 7}


def _keys(items):
    return {(e["rule_id"], e["host"]) for e in items}


def test_causes_are_matched_by_rule_and_host():
    before = _doc([_finding("RDSLIC-003", "RDSH01"), _finding("RDSLIC-004", "RDSH01"), _finding("RDSLIC-006", "LS01"),
                   _finding("RDSLIC-007", "RDSH02"), _finding("RDSLIC-101", "RDSH01", kind="symptom", severity="critical")],
                  [_host("RDSH01"), _host("RDSH02"), _host("LS01")])
    after = _doc([_finding("RDSLIC-003", "RDSH01", "not_detected"), _finding("RDSLIC-004", "rdsh01"),
                  _finding("RDSLIC-006", "LS01", "not_checked"), _finding("RDSLIC-004", "RDSH02", severity="warning"),
                  _finding("RDSLIC-202", None, kind="info", severity="info")],
                 [_host("RDSH01"), _host("LS01")])
    d = compare(before, after)
    c = d["causes"]
    assert _keys(c["resolved"]) == {("RDSLIC-003", "RDSH01")}
    assert _keys(c["persisting"]) == {("RDSLIC-004", "rdsh01")}          # host names compare case-insensitively
    assert _keys(c["unverified"]) == {("RDSLIC-006", "LS01"), ("RDSLIC-007", "RDSH02")}  # not checked / host gone
    assert _keys(c["new"]) == {("RDSLIC-004", "RDSH02")}
    assert _keys(d["symptoms"]["resolved"]) == {("RDSLIC-101", "RDSH01")}
    assert d["exit_code"] == 1 and {(r["rule_id"], r["severity"]) for r in d["remaining"]} == {("RDSLIC-004", "error")}
    assert compare(before, after, fail_on="critical")["exit_code"] == 0
    assert {(r["host"], r["severity"]) for r in compare(before, after, fail_on="warning")["remaining"]} == {
        ("rdsh01", "error"), ("RDSH02", "warning")}
    persisting = c["persisting"][0]
    assert persisting["before"]["root_cause_rank"] == 2 and persisting["after"]["root_cause_rank"] == 1


def test_nothing_remains_after_a_fix_gives_exit_0():
    before = _doc([_finding("RDSLIC-003", "RDSH01")], [_host("RDSH01")])
    after = _doc([_finding("RDSLIC-003", "RDSH01", "not_detected"),
                  _finding("RDSLIC-012", "LS01", severity="warning")], [_host("RDSH01")])
    d = compare(before, after)
    assert d["exit_code"] == 0 and _keys(d["causes"]["new"]) == {("RDSLIC-012", "LS01")}
    assert compare(before, after, fail_on="warning")["exit_code"] == 1


def test_configuration_pool_and_event_rates():
    before = _doc([], [_host("RDSH01", servers=["LS-OLD.contoso.local"], cert=False, days=0), _host("RDSH02")],
                  pool=[{"license_server": "LS01", "cal_version": "2019", "cal_type": "per_user", "total": 50,
                         "issued": 50, "available": 0, "packs": 1, "builtin": False, "temporary": False}],
                  events=[{"host": "RDSH01", "event_id": 1131, "provider": "TermService", "key": "license_server_unreachable",
                           "level": 2, "count": 270, "current": 42, "first": "2024-09-21T10:15:00+00:00",
                           "last": "2024-11-05T06:15:00+00:00"}])
    after = _doc([], [_host("RDSH01", mode=2, origin="deployment"), _host("LS02")],
                 pool=[{"license_server": "LS01", "cal_version": "2019", "cal_type": "per_user", "total": 100,
                        "issued": 52, "available": 48, "packs": 2, "builtin": False, "temporary": False},
                       {"license_server": "LS01", "cal_version": None, "cal_type": "per_device", "total": "unlimited",
                        "issued": 0, "available": "unlimited", "packs": 1, "builtin": True, "temporary": False}],
                 events=[{"host": "RDSH01", "event_id": 1128, "provider": "TermService", "key": "grace_period_expired",
                          "level": 3, "count": 7, "current": 7, "first": None, "last": None}])
    d = compare(before, after)
    hosts = {h["name"]: h for h in d["hosts"]}
    changes = {c["field"]: (c["before"], c["after"]) for c in hosts["RDSH01"]["changes"]}
    assert changes["licensing mode"] == ("per user (4) (Group Policy)", "per device (2) (deployment (RCM / RDMS))")
    assert changes["license servers"] == ("LS-OLD.contoso.local (Group Policy)",
                                          "LS01.contoso.local (deployment (RCM / RDMS))")
    assert changes["LS certificate"] == ("absent", "present")
    assert changes["grace period"] == ("0 day(s) left", "unknown")
    assert hosts["RDSH02"]["status"] == "before only" and hosts["LS02"]["status"] == "after only"
    assert [c["field"] for c in hosts["LS02"]["changes"]] == ["in the upload"]
    pool = {(p["cal_version"], p["cal_type"]): p for p in d["cal_pool"]}
    assert pool[("2019", "per_user")]["change"] == "changed"
    assert pool[("2019", "per_user")]["delta"] == {"total": 50, "issued": 2, "available": 48}
    assert pool[(None, "per_device")]["change"] == "added" and pool[(None, "per_device")]["delta"]["total"] is None
    ev = {e["event_id"]: e for e in d["events"]}
    assert ev[1131]["change"] == "stopped" and ev[1131]["before"]["per_day"] == 6.0 and ev[1131]["after"] is None
    assert ev[1128]["change"] == "new" and ev[1128]["after"]["per_day"] == 1.0
    md = render_markdown(d)
    assert "| RDSH01 | LS certificate | absent | present |" in md
    assert "| LS01 | 2019 per user | changed | 50 → 100 | 50 → 52 | 0 → 48 |" in md


def test_a_findings_document_without_the_new_fields_still_compares():
    before = _doc([_finding("RDSLIC-003", "RDSH01")], [_host("RDSH01")])
    for k in ("cal_pool", "event_counts", "current_days"):
        del before[k]
    d = compare(before, _doc([], [_host("RDSH01")]))
    assert d["before"]["facts"] is False and d["after"]["facts"] is True
    assert "predates CAL pool" in render_html(d)


def test_hostile_strings_are_escaped_in_every_output():
    evil = "<script>window.__pwned=1</script>"
    before = _doc([_finding("RDSLIC-003", evil, summary=evil)], [_host(evil)])
    after = _doc([], [_host(evil, servers=[evil + "|*x*"])])
    d = compare(before, after)
    html = render_html(d)
    assert evil not in html and "&lt;script&gt;" in html
    assert "<script" not in html.lower()                      # the diff page has no script at all
    assert "script-src 'none'" in unescape(html)
    md = render_markdown(d)
    assert "<script>" not in md and "\\|\\*x\\*" in md


def test_not_a_findings_document_is_refused(tmp_path, capsys):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"schema": "something/1"}))
    good = tmp_path / "f.json"
    good.write_text(json.dumps(_doc([], [])))
    assert main(["diff", str(bad), str(good), "--quiet"]) == 2
    assert "not a findings.json written by rdsla" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "missing"), str(good), "--quiet"]) == 2


# ------------------------------------------------------------------ the sample pairs

@pytest.fixture(scope="module")
def pair_results(tmp_path_factory):
    from rdsla.diff import diff
    out = {}
    for name in PAIR_NAMES:
        out[name] = diff(str(PAIRS / name / "before"), str(PAIRS / name / "after"), jobs=0)
    return out


def test_there_are_two_pairs():
    assert PAIR_NAMES == ["fix-moved-problem", "gpo-fix-worked"]
    for name in PAIR_NAMES:
        assert sorted(p.name for p in (PAIRS / name).iterdir()) == ["after", "before", "expected_diff.json"]
        assert not list((PAIRS / name).rglob("expected.json"))       # a pair side is not a bundle


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_each_pair_lists_the_expected_causes(pair_results, name):
    expected = json.loads((PAIRS / name / "expected_diff.json").read_text())
    d = pair_results[name].document
    for category in ("resolved", "new", "persisting"):
        want = {(x["rule_id"], x["host"]) for x in expected[category]}
        may = {(x["rule_id"], x["host"]) for x in expected["may_also"].get(category, [])}
        got = _keys(d["causes"][category])
        assert want <= got, (category, want, got)
        extra = {(e["rule_id"], e["host"]) for e in d["causes"][category]
                 if e["severity"] in ("error", "critical")} - want - may
        assert not extra, (category, extra)
    assert not d["causes"]["unverified"], d["causes"]["unverified"]
    assert d["exit_code"] == expected["exit_code"]


def test_the_pairs_show_what_the_customer_changed(pair_results):
    gpo = pair_results["gpo-fix-worked"].document
    rdsh = next(h for h in gpo["hosts"] if h["name"] == "RDSH01")
    changes = {c["field"]: (c["before"], c["after"]) for c in rdsh["changes"]}
    assert changes["license servers"] == ("LS-OLD.contoso.local (Group Policy)", "LS01.contoso.local (Group Policy)")
    assert changes["LS certificate"] == ("absent", "present")
    ev = {e["event_id"]: e for e in gpo["events"]}
    assert ev[1131]["change"] == "stopped" and ev[1131]["before"]["current"] > 0
    pool = [p for p in gpo["cal_pool"] if p["change"] == "changed"]
    assert [(p["cal_version"], p["delta"]["issued"]) for p in pool] == [("2012", 12)]

    moved = pair_results["fix-moved-problem"].document
    status = {h["name"]: h["status"] for h in moved["hosts"]}
    assert status == {"LS01": "before only", "LS02": "after only", "RDSH01": "both"}
    ev = {e["event_id"]: e for e in moved["events"]}
    assert ev[18]["change"] == "new" and ev[1131]["change"] == "stopped"
    assert {p["license_server"] for p in moved["cal_pool"] if p["change"] == "added"} == {"LS02"}


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_cli_writes_html_json_md_and_exits_by_the_remaining_causes(pair_results, name, tmp_path, capsys):
    expected = json.loads((PAIRS / name / "expected_diff.json").read_text())
    before, after = PAIRS / name / "before", PAIRS / name / "after"
    rc = main(["diff", str(before), str(after), "-o", str(tmp_path / "d.html"), "--json", str(tmp_path / "d.json"),
               "--md", str(tmp_path / "d.md"), "--jobs", "0"])
    assert rc == expected["exit_code"]
    out = capsys.readouterr().out
    assert out.startswith("rdsla diff: before as of 2024-11-05") and "d.html" in out
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["schema"] == "rdsla.diff/1" and doc["causes"] == pair_results[name].document["causes"]
    html = (tmp_path / "d.html").read_text()
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1))
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and "script-src 'none'" in csp
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    md = (tmp_path / "d.md").read_text()
    for x in expected["resolved"]:
        assert f"`{x['rule_id']}`" in md
    # each side may be a findings.json written by rdsla analyze: the same causes
    fb, fa = tmp_path / "before.json", tmp_path / "after.json"
    assert main(["analyze", str(before), "--json", str(fb), "--quiet", "--jobs", "0"]) in (0, 1)
    assert main(["analyze", str(after), "--json", str(fa), "--quiet", "--jobs", "0"]) in (0, 1)
    assert main(["diff", str(fb), str(fa), "--json", str(tmp_path / "d2.json"), "--quiet"]) == expected["exit_code"]
    assert json.loads((tmp_path / "d2.json").read_text())["causes"] == doc["causes"]
    # --fail-on critical: no error-level cause counts
    assert main(["diff", str(fb), str(fa), "--quiet", "--fail-on", "critical"]) == 0


def test_diff_refuses_to_write_into_an_input_folder(tmp_path, capsys):
    before = PAIRS / "gpo-fix-worked" / "before"
    rc = main(["diff", str(before), str(PAIRS / "gpo-fix-worked" / "after"), "-o", str(before / "d.html"),
               "--jobs", "0", "--quiet"])
    assert rc == 2 and not (before / "d.html").exists()
    assert "refusing to write inside the input folder" in capsys.readouterr().err


def test_pairs_regenerate_byte_for_byte(tmp_path):
    from rdsla.sample_data.forge.pairs import build_pairs
    build_pairs(tmp_path)
    made = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(PAIRS): p.read_bytes() for p in PAIRS.rglob("*") if p.is_file()}
    assert set(made) == set(committed), "run: python -m rdsla.sample_data.forge.pairs"
    stale = sorted(str(k) for k in made if made[k] != committed[k])
    assert not stale, f"stale pair files (run: python -m rdsla.sample_data.forge.pairs): {stale[:5]}"


def test_compare_does_not_modify_its_inputs():
    before = _doc([_finding("RDSLIC-003", "RDSH01")], [_host("RDSH01")])
    after = _doc([], [_host("RDSH01")])
    b, a = copy.deepcopy(before), copy.deepcopy(after)
    compare(before, after)
    assert before == b and after == a


def test_each_side_has_its_own_collection_time_and_window(pair_results, tmp_path, capsys):
    """--before-as-of / --after-as-of and --window / --before-window / --after-window reach their
    own side: BEFORE judged 45 days after its collection has no current 1131 left (its events are
    history) while AFTER keeps its own time; the result equals the diff of two findings.json
    analyzed with the same options; a findings.json side refuses a time or window of its own."""
    before, after = PAIRS / "gpo-fix-worked" / "before", PAIRS / "gpo-fix-worked" / "after"
    default = pair_results["gpo-fix-worked"].document
    late = "2024-12-20T10:00:00+00:00"
    rc = main(["diff", str(before), str(after), "--before-as-of", late, "--after-window", "3", "--jobs", "0",
               "--json", str(tmp_path / "d.json"), "-o", str(tmp_path / "d.html"), "--quiet"])
    doc = json.loads((tmp_path / "d.json").read_text())
    assert doc["before"]["as_of"] == late and doc["after"]["as_of"] == default["after"]["as_of"] != late
    assert (doc["before"]["current_days"], doc["after"]["current_days"]) == (7, 3)
    ev = {e["event_id"]: e for e in doc["events"]}
    assert default["causes"]["resolved"] and ev[1131]["before"]["current"] == 0 < ev[1131]["before"]["count"]
    assert not doc["causes"]["resolved"]           # nothing current before: nothing to resolve
    assert "the 7 days before the first upload" in (tmp_path / "d.html").read_text() and rc in (0, 1)
    # the same as comparing the two sides analyzed apart with those options
    fb, fa = tmp_path / "b.json", tmp_path / "a.json"
    assert main(["analyze", str(before), "--as-of", late, "--json", str(fb), "--quiet", "--jobs", "0"]) in (0, 1)
    assert main(["analyze", str(after), "--window", "3", "--json", str(fa), "--quiet", "--jobs", "0"]) in (0, 1)
    assert main(["diff", str(fb), str(fa), "--json", str(tmp_path / "d2.json"), "--quiet"]) == rc
    again = json.loads((tmp_path / "d2.json").read_text())
    assert (again["causes"], again["events"]) == (doc["causes"], doc["events"])
    # --window applies to both; a findings.json keeps its time and window
    assert main(["diff", str(fb), str(fa), "--window", "3", "--quiet"]) == 2
    assert "b.json: the before side is a findings.json whose current window is 7 days, not 3" in capsys.readouterr().err
    assert main(["diff", str(fb), str(after), "--before-as-of", late, "--quiet", "--jobs", "0"]) == 2
    assert "b.json: the before side is a findings.json, analyzed as of" in capsys.readouterr().err
    assert main(["diff", str(fb), str(fa), "--after-window", "3", "--quiet"]) == rc
    with pytest.raises(SystemExit):
        main(["diff", "--help"])
    usage = capsys.readouterr().out
    assert all(o in usage for o in ("--before-as-of", "--after-as-of", "--window", "--before-window", "--after-window"))
