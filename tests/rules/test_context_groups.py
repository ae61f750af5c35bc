"""Pre-grouped event access (issue 20 item 4): the rules' questions ("any 1128 of RDSH01?",
"which 1128s?") are answered from groups and counts made once per analysis, with the same rows,
in the same order, as filtering the events frame each time; a rule that changes what it got
changes nobody else's."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from rdsla.core import catalog
from rdsla.core.model import HostProfile
from rdsla.rules.api import Bundle, Context
from tests.rules.test_rules import artifact, event, make_analysis, session_host


def analysis():
    rows = [event("RDSH01", 1128, days_ago=d) for d in (1, 2, 3)] + \
        [event("RDSH01", 1128, manifest=True, days_ago=4), event("rdsh01.contoso.local", 1129, days_ago=5),
         event("RDSH02", 1128, classic_name=True, days_ago=6), event("LS01", 7036, family="scm"),
         event("LS01", 21, family="ls")]
    hosts = [session_host("RDSH01"), session_host("RDSH02"), HostProfile(name="LS01")]
    arts = [artifact("RDSH01/System.evtx", "evtx", "RDSH01"), artifact("LS01/SYSTEM", "hive", "LS01"),
            artifact("EMPTY/System.evtx", "evtx", "EMPTY")]
    return make_analysis(hosts, events=rows, artifacts=arts)


def reader(bundle):
    """A check that declared the RCM events these tests read."""
    meta = SimpleNamespace(id="RDSLIC-299", events=tuple(catalog.keys_for("rcm", [1128, 1129, 1069])))
    return Context(bundle, meta, None)


def filtered(bundle, host, family, ids):
    ev = bundle.events
    if host is not None:
        ev = ev[ev["_host"] == host]
    if family is not None:
        ev = ev[ev["_family"] == family]
    return ev[ev["_legacy"].isin(ids)] if ids else ev


def test_groups_and_counts_answer_like_a_filter_of_the_frame():
    bundle = Bundle(analysis())
    ctx = reader(bundle)
    for host in ("RDSH01", "RDSH02", "LS01", "NOBODY", None):
        for family in ("rcm", "ls", "scm", None):
            expected = filtered(bundle, host, family, ())
            assert bundle.events_of(host, family)["record_id"].tolist() == expected["record_id"].tolist()
            assert bundle.count(host, family) == len(expected)
            for ids in ([1128], [1128, 1129], [1069]):
                assert bundle.count(host, family, ids) == len(filtered(bundle, host, family, ids))
                if family == "rcm":
                    got = ctx.events(host, "rcm", ids)
                    assert got["record_id"].tolist() == filtered(bundle, host, "rcm", ids)["record_id"].tolist()
    assert bundle.count("RDSH01", "rcm", [1128]) == 4          # the 2019+ 50280 counts as 1128


def test_has_events_and_artifacts_come_from_the_groups():
    bundle = Bundle(analysis())
    ctx = reader(bundle)
    assert ctx.has_events("RDSH01") and ctx.has_events("RDSH01", "rcm") and not ctx.has_events("RDSH01", "scm")
    assert ctx.has_events("EMPTY", "rcm")                    # an EVTX of it, though no event was kept
    assert not ctx.has_events("EMPTY", "scm") and not ctx.has_events("NOBODY")
    assert bundle.artifacts_of("LS01")["path"].tolist() == ["LS01/SYSTEM"]
    assert not len(bundle.artifacts_of("NOBODY"))


def test_a_rule_changing_its_events_changes_only_its_own_copy():
    bundle = Bundle(analysis())
    ctx = reader(bundle)
    first = ctx.events("RDSH01", "rcm", [1128])
    first["mine"] = 1
    again = ctx.events("RDSH01", "rcm", [1128])
    assert "mine" not in again.columns and "mine" not in bundle.events.columns


def test_families_come_from_provider_or_classic_source_name():
    """One family per distinct source (issue 20): the provider or the classic source name
    (either may name it, case-insensitive); an event of no known source is 'other'."""
    rows = [event("RDSH01", 1128), event("RDSH01", 1128, classic_name=True), event("LS01", 21, family="ls"),
            event("LS01", 7036, family="scm"),
            {**event("LS01", 7036, family="scm"), "provider": None, "source_name": "SERVICE CONTROL MANAGER"},
            {**event("LS01", 1, family="scm"), "provider": "Some-Other-Provider"}]
    bundle = Bundle(make_analysis([HostProfile(name="RDSH01"), HostProfile(name="LS01")], events=rows))
    by_record = dict(zip(bundle.events["record_id"], bundle.events["_family"]))
    assert [by_record[r["record_id"]] for r in rows] == ["rcm", "rcm", "ls", "scm", "scm", "other"]


def test_key_packs_and_issued_of_a_server_are_selected_once_and_copied():
    from tests.rules.test_rules import keypack
    kp = [keypack("LS01", kid="1"), keypack("ls01.contoso.com", kid="2"), keypack("LS02", kid="3")]
    analysis_ = make_analysis([HostProfile(name="LS01"), HostProfile(name="LS02")], keypacks=kp)
    ctx = reader(Bundle(analysis_))
    first = ctx.keypacks("LS01")
    assert first["keypack_id"].tolist() == ["1", "2"] and ctx.keypacks("LS02")["keypack_id"].tolist() == ["3"]
    assert not len(ctx.keypacks("NOBODY")) and len(ctx.keypacks()) == 3
    first["mine"] = 1                                    # a rule's change stays in its copy
    assert "mine" not in ctx.keypacks("LS01").columns and "mine" not in analysis_.frames["keypacks"].columns


def test_positions_and_records_of_the_events_are_those_of_the_frame():
    """Bundle.positions (issue 20): the rows of a host (or of every host) with these legacy ids,
    as a filter of the frame gives them; the records of the catalog's events are made once, with
    the values of their rows (core.evidence.rows hands them out for any frame cut from them);
    an event no rule may read (kept by --all-events) has none made, and rows() makes it."""
    from rdsla.core.evidence import RECORD, records, rows
    bundle = Bundle(analysis())
    for host in ("RDSH01", "RDSH02", "NOBODY", None):
        for ids in ([1128], [1128, 1129], [21]):
            family = "ls" if ids == [21] else "rcm"
            expected = filtered(bundle, host, family, ids)["record_id"].tolist()
            assert bundle.events.iloc[bundle.positions(host, family, ids)]["record_id"].tolist() == expected
    ctx = reader(bundle)
    picked = ctx.events(None, "rcm", [1128, 1129])
    assert [dict(r) for r in rows(picked)] == records(picked.drop(columns=[RECORD]))
    assert [dict(r) for r in rows(picked)] == records(filtered(bundle, None, "rcm", [1128, 1129]).drop(columns=[RECORD]))
    again = rows(ctx.current(ctx.events(None, "rcm", [1128, 1129])))
    assert all(a is b for a, b in zip(again, rows(picked)))              # made once, handed out
    joined = pd.concat([picked.iloc[:2], picked.iloc[:1].assign(**{RECORD: [None]})])
    assert [dict(r) for r in rows(joined)] == records(joined.drop(columns=[RECORD]))   # a row without one
    other = bundle.events[bundle.events["_legacy"] == 7036]           # SCM 7036 is a catalog event
    assert [r is not None for r in other[RECORD]] == [True]
    loud = Bundle(make_analysis([HostProfile(name="DC01")], events=[{**event("DC01", 4624, family="other"),
                                                                      "provider": "Microsoft-Windows-Security-Auditing"}]))
    assert loud.events[RECORD].tolist() == [None]                     # not in the catalog: no rule reads it
    assert rows(loud.events)[0]["event_id"] == 4624


def test_current_and_history_split_at_the_window():
    """current/history keep the rows on their side of the window, in order, whether the window
    keeps some, all or none of them."""
    rows = [event("RDSH01", 1128, days_ago=d) for d in (12, 9, 3, 1)]
    ctx = reader(Bundle(make_analysis([session_host("RDSH01")], events=rows)))
    ev = ctx.events("RDSH01", "rcm", [1128])
    now, old = ctx.current(ev), ctx.history(ev)
    assert now["record_id"].tolist() == ev["record_id"].tolist()[2:]
    assert old["record_id"].tolist() == ev["record_id"].tolist()[:2]
    assert ctx.current(now)["record_id"].tolist() == now["record_id"].tolist() and not len(ctx.history(now))
    assert ctx.history(old)["record_id"].tolist() == old["record_id"].tolist() and not len(ctx.current(old))


def test_purchased_packs_of_a_server_are_selected_once_and_copied():
    from tests.rules.test_rules import keypack
    kp = [keypack("LS01", kid="1"), keypack("LS01", kid="2", builtin=True), keypack("LS01", kid="3", temporary=True),
          keypack("LS02", kid="4")]
    ctx = reader(Bundle(make_analysis([HostProfile(name="LS01"), HostProfile(name="LS02")], keypacks=kp)))
    first = ctx.purchased_keypacks("LS01")
    assert first["keypack_id"].tolist() == ["1"] and ctx.purchased_keypacks("LS02")["keypack_id"].tolist() == ["4"]
    first["mine"] = 1
    assert "mine" not in ctx.purchased_keypacks("LS01").columns
