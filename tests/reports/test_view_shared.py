"""The view data shared by the HTML report, findings.json and the Markdown summary (issue 20 item
4): built once per analysis, rebuilt when what it was built from changes, gone with the analysis;
and the numpy groupings behind it (event counts, CAL pools, event groups) on edge rows."""
from __future__ import annotations

import copy
import gc
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from rdsla.core.frames import empty_frame, make_frame
from rdsla.core.model import Evidence
from rdsla.reports import findings_json, html, markdown, view_shared
from rdsla.reports.view_event_groups import EventGroups

BUNDLES = Path(__file__).resolve().parents[2] / "sample_data" / "bundles"
T0 = pd.Timestamp("2024-11-05 10:15:00", tz="UTC")
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"


@pytest.fixture(scope="module")
def analysis():
    from rdsla.analyzer.pipeline import analyze
    return analyze([str(BUNDLES / "gpo-overrides-deployment.zip")], jobs=0)


def test_the_three_outputs_group_the_events_once(analysis, monkeypatch):
    built = []
    original = EventGroups.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)
    monkeypatch.setattr(EventGroups, "__init__", counting)
    fresh = copy.copy(analysis)            # a new analysis object: nothing shared yet
    findings_json.render(fresh)
    html.render(fresh)
    markdown.render(fresh)
    assert len(built) == 1
    assert view_shared.event_index(fresh) is view_shared.event_index(fresh)
    assert view_shared.pool_groups(fresh) is view_shared.pool_groups(fresh)


def test_each_output_reads_the_same_whether_or_not_another_was_rendered_first(analysis):
    alone = [render(copy.copy(analysis)) for render in (findings_json.render, html.render, markdown.render)]
    together = copy.copy(analysis)
    assert [render(together) for render in (markdown.render, html.render, findings_json.render)] == alone[::-1]


def test_new_evidence_or_a_new_frame_is_not_answered_from_the_old_entry(analysis):
    a = copy.copy(analysis)
    a.findings = copy.deepcopy(analysis.findings)
    first = view_shared.event_index(a)
    assert view_shared.event_index(a) is first
    events = a.frames["events"]
    row = next(r for _, r in events.iterrows() if (str(r["source"]), int(r["record_id"])) not in first.groups().cited)
    cited = Evidence(frame="events", source=str(row["source"]), locator={"record_id": int(row["record_id"])})
    a.findings[0].evidence.append(cited)
    second = view_shared.event_index(a)
    assert second is not first and (str(row["source"]), int(row["record_id"])) in second.groups().cited
    a.frames = {**a.frames, "keypacks": empty_frame("keypacks")}
    assert view_shared.pool_groups(a) == []
    a.frames = {**a.frames, "events": events.iloc[:10]}
    assert len(view_shared.event_index(a).groups().gid) == 10


def test_an_entry_goes_with_its_analysis(analysis):
    gc.collect()
    before = len(view_shared._SHARED)
    a = copy.copy(analysis)
    view_shared.event_index(a)
    assert len(view_shared._SHARED) == before + 1
    del a
    gc.collect()
    assert len(view_shared._SHARED) == before


def test_an_object_without_weak_references_is_served_unshared():
    class Plain:
        __slots__ = ("findings", "frames")
    p = Plain()
    p.frames, p.findings = {"events": empty_frame("events"), "artifacts": empty_frame("artifacts")}, []
    assert view_shared.artifacts(p) == [] and view_shared.event_index(p) is not view_shared.event_index(p)


def _event(host, eid, level, hours, provider=RCM, legacy=None, message="m", source_name="TermService"):
    return {"host": host, "channel": "System", "provider": provider, "source_name": source_name, "event_id": eid,
            "legacy_event_id": legacy, "level": level, "time": None if hours is None else T0 - timedelta(hours=hours),
            "record_id": int(hours or 0) + 1000, "data": {}, "message": message, "source": f"{host}/System.evtx"}


def test_event_counts_per_host_legacy_id_and_provider():
    from rdsla.reports.diff_facts import event_counts
    frame = make_frame("events", [
        _event("RDSH01", 1128, 2, 1), _event("RDSH01", 1128, 3, 200),       # one current, one history
        _event("RDSH01", 50280, 5, None, legacy=1128),                        # legacy id, no time, verbose
        _event("RDSH01", 1128, 4, 2, provider=None),                           # no provider: its source name
        _event("LS01", 1128, 4, 3),
    ])
    rows = event_counts(frame, T0, 7)
    assert [(r["host"], r["event_id"], r["provider"]) for r in rows] == [
        ("LS01", 1128, RCM), ("RDSH01", 1128, RCM), ("RDSH01", 1128, "TermService")]
    r = rows[1]
    assert (r["count"], r["current"], r["level"]) == (3, 1, 2)
    assert r["first"] == (T0 - timedelta(hours=200)).isoformat() and r["last"] == (T0 - timedelta(hours=1)).isoformat()
    assert rows[2]["level"] == 4 and rows[2]["first"] == rows[2]["last"]
    assert event_counts(make_frame("events", [_event("X", 1, 0, None)]), T0, 7)[0]["first"] is None


def test_event_groups_put_a_record_without_time_last_and_an_unknown_level_with_information():
    frame = make_frame("events", [_event("RDSH01", 9999, 7, None, message="same"),
                                  _event("RDSH01", 9999, 7, 5, message="same"),
                                  _event("rdsh01", 9999, None, 2, message="same")])
    g = EventGroups(frame)
    assert len(g) == 1
    s = g.stats[0]
    assert s["count"] == 3 and s["severity"] == 3 and s["first"] is None and s["last"] == T0 - timedelta(hours=2)
    assert s["host"] == "rdsh01"                                  # the newest record speaks for the group


def test_cal_pools_group_missing_keys_together_and_sum_through_cal_counts():
    from rdsla.reports.diff_facts import cal_pool
    from rdsla.reports.view_calpool import keypack_rows
    kp = make_frame("keypacks", [
        {"license_server": "LS01", "keypack_id": "2", "cal_version": "2019", "cal_type": "per_user", "total": 10,
         "issued": 10, "available": 0, "unlimited": False, "builtin": False, "temporary": False,
         "expires": T0 + timedelta(days=30), "status": "active", "source": "a.csv"},
        {"license_server": "LS01", "keypack_id": "1", "cal_version": "2019", "cal_type": "per_user", "total": 5,
         "issued": None, "available": None, "unlimited": None, "builtin": False, "temporary": True,
         "expires": T0 + timedelta(days=3), "status": None, "source": "b.csv"},
        {"license_server": None, "keypack_id": None, "cal_version": None, "cal_type": None, "total": 4294967295,
         "issued": 1, "available": None, "unlimited": None, "builtin": True, "temporary": False,
         "expires": None, "status": None, "source": "c.csv"},
    ])
    issued = make_frame("issued", [{"license_server": "LS01", "cal_version": "2019", "cal_type": "per_user"}] * 3)
    pools = cal_pool(kp, issued)
    assert [(p["license_server"], p["cal_version"]) for p in pools] == [(None, None), ("LS01", "2019")]
    assert pools[0]["total"] == "unlimited" and pools[0]["builtin"] and pools[0]["expires"] is None
    p = pools[1]
    assert (p["packs"], p["keypack_ids"], p["issued_rows"], p["temporary"]) == (2, ["1", "2"], 3, True)
    assert (p["total"], p["issued"], p["available"]) == (15, "unknown", "unknown")
    assert p["expires"] == (T0 + timedelta(days=3)).isoformat()
    rows = keypack_rows(kp, issued)
    assert [r["cal_version"] for r in rows] == ["built-in", "2019"] and rows[1]["status"] == "active"
    assert rows[1]["sources"] == ["a.csv", "b.csv"] and rows[1]["flags"] == "temporary"
