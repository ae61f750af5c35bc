"""Verdict: specific beats general, agreement beats a single signal, symptoms linked, healthy -> none."""
from __future__ import annotations

from datetime import timedelta

from rdsla.core.model import Evidence, Finding
from rdsla.analyzer.verdict import confidence, rank, score
from rdsla.rules.engine import run_rules
from tests.rules.test_rules import (AS_OF, BUILTIN, event, healthy, keypack, license_server, make_analysis,
                                    session_host)


def analyse(a):
    a.findings = run_rules(a)
    a.root_causes = rank(a)
    return a


def test_healthy_bundle_has_no_root_cause():
    a = analyse(healthy())
    assert a.root_causes == []


def test_specific_not_activated_beats_general_no_cals():
    # LS01 unactivated: event 18 and only the built-in pack -> 005 and 006 both detected
    a = analyse(make_analysis([session_host(mode=2), license_server(activated=False)], keypacks=[BUILTIN],
                              events=[event("LS01", 18, family="ls"), event("LS01", 22, family="ls"),
                                      event("LS01", 21, family="ls"), event("RDSH01", 1128, manifest=True)]))
    ids = [rc.rule_id for rc in a.root_causes]
    assert "RDSLIC-006" in ids and ids[0] == "RDSLIC-005"
    assert ids.index("RDSLIC-005") < ids.index("RDSLIC-006")
    assert a.root_causes[0].host == "LS01"


def test_specific_version_beats_general():
    # 2019 host, only 2016 CALs: 008 (specific) and 006 (no usable CALs, with more evidence rows)
    a = analyse(make_analysis([session_host(os="2019", mode=2), license_server()],
                              keypacks=[BUILTIN, keypack(version="2016", cal_type="per_device")],
                              events=[event("LS01", 21, family="ls"), event("LS01", 22, family="ls")]))
    ids = [rc.rule_id for rc in a.root_causes]
    assert ids[0] == "RDSLIC-008" and "RDSLIC-006" in ids
    assert a.root_causes[0].host == "RDSH01" and a.root_causes[0].related_hosts == ["LS01"]


def test_specific_type_beats_general():
    # Per Device host, only Per User CALs: 007 and 006 (no usable Per Device pack at all). The
    # reverse, a Per User host with only Per Device CALs, has 006 as compliance only (not enforced).
    a = analyse(make_analysis([session_host(mode=2), license_server()],
                              keypacks=[BUILTIN, keypack(cal_type="per_user")]))
    ids = [rc.rule_id for rc in a.root_causes]
    assert ids[:1] == ["RDSLIC-007"] and "RDSLIC-006" in ids


def test_agreement_beats_single_signal():
    # 001: registry (nothing configured) + event 1130 agree; 018: one event only
    a = analyse(make_analysis([session_host(servers=None)],
                              events=[event("RDSH01", 1130), event("RDSH01", 1061, days_ago=0)]))
    ids = [rc.rule_id for rc in a.root_causes]
    assert ids[0] == "RDSLIC-001" and "RDSLIC-018" in ids
    top, other = a.root_causes[0], a.root_causes[ids.index("RDSLIC-018")]
    assert top.confidence > other.confidence
    assert 0 < other.confidence < top.confidence <= 1


def test_score_counts_independent_kinds_not_rows():
    ev = [Evidence("events", "s", {"record_id": i}, {}) for i in range(10)]
    one_kind = Finding("RDSLIC-004", "detected", "error", "cause", "t", host="H", evidence=ev)
    mixed = Finding("RDSLIC-004", "detected", "error", "cause", "t", host="H", evidence=ev[:1] + [
        Evidence("registry", "s", {"key": "k", "value": "v"}, {}), Evidence("keypacks", "s", {"keypack_id": "1"}, {})])
    assert score(mixed) > score(one_kind)
    assert confidence(score(mixed)) > confidence(score(one_kind))


def test_symptoms_are_linked_to_the_causes_that_explain_them():
    a = analyse(make_analysis([session_host(servers=None)],
                              events=[event("RDSH01", 1130, manifest=True), event("RDSH01", 1128, manifest=True)]))
    top = a.root_causes[0]
    assert top.rule_id == "RDSLIC-001"
    assert {"RDSLIC-101", "RDSLIC-103"} <= set(top.symptoms)
    grace = next(f for f in a.findings if f.rule_id == "RDSLIC-101" and f.state == "detected")
    assert "RDSLIC-001" in grace.explains


def test_symptom_on_session_host_links_cause_on_its_license_server():
    a = analyse(make_analysis([session_host(mode=2), license_server(activated=False)], keypacks=[BUILTIN],
                              events=[event("LS01", 18, family="ls"), event("RDSH01", 1128)]))
    rc = next(r for r in a.root_causes if r.rule_id == "RDSLIC-005")
    assert rc.host == "LS01" and "RDSLIC-101" in rc.symptoms


def test_symptoms_without_cause_give_no_root_cause():
    a = analyse(make_analysis([session_host(), license_server()], keypacks=[keypack()],
                              events=[event("RDSH01", 1128, days_ago=3)]))
    assert any(f.rule_id == "RDSLIC-101" and f.state == "detected" for f in a.findings)
    assert a.root_causes == []


def test_info_and_not_checked_never_become_causes():
    a = make_analysis([session_host(), license_server()], keypacks=[keypack()],
                      events=[event("LS01", 44, family="ls")])
    a.findings = run_rules(a) + [Finding("RDSLIC-004", "not_checked", "error", "cause", "t", host="RDSH01")]
    assert rank(a) == []


def test_specific_outranks_general_with_more_evidence():
    """DESIGN.md: a specific cause outranks 006 even when 006 has more independent evidence."""
    from tests.rules.test_rules import make_analysis as mk
    a = mk([session_host(), license_server()])
    general = Finding("RDSLIC-006", "detected", "error", "cause", "no CALs", host="LS01", related_hosts=["RDSH01"],
                      evidence=[Evidence("keypacks", "kp", {"keypack_id": "1"}, {"license_server": "LS01"}),
                                Evidence("events", "ls", {"record_id": 1}, {"host": "LS01"}),
                                Evidence("registry", "r", {"key": "k", "value": "v"}, {"host": "RDSH01"})])
    specific = Finding("RDSLIC-005", "detected", "error", "cause", "not activated", host="LS01",
                       evidence=[Evidence("events", "ls", {"record_id": 2}, {"host": "LS01"})])
    assert score(general) > score(specific)
    a.findings = [general, specific]
    assert [rc.rule_id for rc in rank(a)] == ["RDSLIC-005", "RDSLIC-006"]
    # without the specific cause, 006 stands alone at the top
    a.findings = [general]
    assert [rc.rule_id for rc in rank(a)] == ["RDSLIC-006"]
    # an unrelated host's specific cause does not demote it
    other = Finding("RDSLIC-005", "detected", "error", "cause", "x", host="LS99",
                    evidence=[Evidence("events", "ls", {"record_id": 3}, {"host": "LS99"})])
    a.findings = [general, other]
    assert [rc.rule_id for rc in rank(a)][0] == "RDSLIC-006"


def test_rule_relations_come_from_rule_metadata():
    """DESIGN.md, "Ranking between overlapping causes": the specific causes outrank 006 and the
    relation is read from RuleMeta.outranks (a new rule declares it; verdict.py holds no table)."""
    from rdsla.analyzer.verdict import relations
    from rdsla.rules.registry import load_rules
    specifics, not_blocking, blocking_only = relations()
    assert {"RDSLIC-005", "RDSLIC-007", "RDSLIC-008", "RDSLIC-009"} <= specifics["RDSLIC-006"]
    metas = {r.meta.id: r.meta for r in load_rules()}
    for general, better in specifics.items():
        assert all(general in metas[b].outranks for b in better)
    assert not_blocking == {m.id for m in metas.values() if m.kind == "cause" and not m.blocks_licensing}
    assert blocking_only == {"RDSLIC-101", "RDSLIC-102"}


def test_confidence_is_monotone_in_the_evidence():
    """Adding evidence never lowers the score or the confidence (issue 18 item 4)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    frames = st.sampled_from(["events", "registry", "keypacks", "issued", "artifacts"])
    hosts = st.sampled_from(["RDSH01", "LS01", "RDSH02", None])
    ev = st.builds(lambda fr, h, i: Evidence(fr, "s", {"row": i}, {"host": h} if h else {}), frames, hosts,
                   st.integers(0, 50))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(ev, max_size=8), st.lists(ev, min_size=1, max_size=4), st.integers(0, 3), st.integers(0, 3))
    def check(base, extra, n1, n2):
        a = Finding("RDSLIC-004", "detected", "error", "cause", "t", host="H", evidence=base)
        b = Finding("RDSLIC-004", "detected", "error", "cause", "t", host="H", evidence=base + extra)
        assert score(b, max(n1, n2)) >= score(a, min(n1, n2))
        assert confidence(score(b, max(n1, n2))) >= confidence(score(a, min(n1, n2)))
        assert 0 <= confidence(score(b)) <= 0.97

    check()


def test_inconclusive_when_the_inputs_that_matter_were_not_collected():
    from rdsla.analyzer.verdict import conclude
    from rdsla.core.coverage import Coverage, LogSpan
    sh, ls = session_host(), license_server()
    a = analyse(make_analysis([sh, ls], keypacks=[keypack()]))
    assert conclude(a)["state"] == "healthy"
    sh.coverage = Coverage(hives={"HKLM\\SYSTEM": ["s"]}, logs={
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin": LogSpan("x", None, None, 3)})
    verdict = conclude(analyse(make_analysis([sh, ls], keypacks=[keypack()])))
    assert verdict["state"] == "inconclusive" and "not enough collected" in verdict["summary"]
    assert [c.split(":")[0] for c in verdict["collect"]] == ["RDSH01"] and "SOFTWARE" in verdict["collect"][0]
    cause = analyse(make_analysis([session_host(servers=None), ls], events=[event("RDSH01", 1130, days_ago=1)]))
    assert conclude(cause)["state"] == "cause"


def test_confidence_factors_say_what_raised_and_lowered_it():
    # 008 (specific) and 006 (general, outranked): the factors add up to the score and name the demotion
    from rdsla.analyzer.verdict import confidence_factors
    a = analyse(make_analysis([session_host(os="2019", mode=2), license_server()],
                              keypacks=[BUILTIN, keypack(version="2016", cal_type="per_device")],
                              events=[event("LS01", 21, family="ls"), event("LS01", 22, family="ls")]))
    for rc in a.root_causes:
        factors = confidence_factors(a, rc)
        assert factors and {x["effect"] for x in factors} <= {"raised", "lowered"}
        assert abs(sum(x["points"] for x in factors) - rc.score) < 0.02
        raised = [x for x in factors if x["effect"] == "raised"]
        assert raised and all(x["points"] > 0 for x in raised)
        demoted = [x for x in factors if "outranks it" in x["text"]]
        assert bool(demoted) == (rc.rule_id == "RDSLIC-006")
        assert round(confidence(rc.score) * (0.8 if demoted else 1.0), 2) == rc.confidence
    general = next(rc for rc in a.root_causes if rc.rule_id == "RDSLIC-006")
    assert any("RDSLIC-008" in x["text"] for x in confidence_factors(a, general))
