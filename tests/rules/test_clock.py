"""Clock skew near 1131s is evidence RDSLIC-004 names (rules/clock.py), never a cause of its own."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from rdsla.core.needs import UndeclaredNeed
from rdsla.rules.clock import KERBEROS_MAX_SKEW, duration
from tests.rules.test_rules import (AS_OF, detected, event, findings, healthy, license_server, make_analysis,
                                    session_host)

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "evtx"


def clock_set(host, *, days_ago, by, provider="Microsoft-Windows-Kernel-General"):
    when = AS_OF - timedelta(days=days_ago)
    old = when - by
    return {"host": host, "channel": "System", "provider": provider, "source_name": None, "event_id": 1,
            "legacy_event_id": 1, "level": 4, "time": when, "record_id": 77, "computer": host,
            "data": {"NewTime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "OldTime": old.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
            "message": "", "source": f"{host}/System.evtx"}


def w32time(host, event_id, *, days_ago):
    row = clock_set(host, days_ago=days_ago, by=timedelta(0), provider="Microsoft-Windows-Time-Service")
    row.update(event_id=event_id, legacy_event_id=event_id, data={}, level=3)
    return row


def unreachable(*clock_rows):
    return make_analysis([session_host(), license_server()],
                         events=[event("RDSH01", 1131, days_ago=1, data={"param1": "LS01"}), *clock_rows])


def test_a_clock_set_by_47_minutes_near_the_errors_is_named_with_its_evidence():
    f = detected("RDSLIC-004", unreachable(clock_set("RDSH01", days_ago=1.2, by=timedelta(minutes=47))))
    assert f and "the clock of RDSH01 was 47 min behind" in f[0].summary
    assert "w32tm" in f[0].summary
    assert any(e.detail.get("event_id") == 1 for e in f[0].evidence)


def test_the_license_servers_clock_counts_too_and_ahead_is_said():
    f = detected("RDSLIC-004", unreachable(clock_set("LS01", days_ago=0.5, by=-timedelta(hours=2, minutes=5))))
    assert "the clock of LS01 was 2 h 5 min ahead" in f[0].summary


def test_small_or_distant_corrections_and_unrelated_hosts_are_not_named():
    for row in (clock_set("RDSH01", days_ago=1, by=timedelta(seconds=40)),          # NTP's usual step
                clock_set("RDSH01", days_ago=5, by=timedelta(hours=3)),              # days away from the errors
                clock_set("FS01", days_ago=1, by=timedelta(hours=3))):               # a machine not on the path
        f = detected("RDSLIC-004", unreachable(row))
        assert f and "clock" not in f[0].summary, row
    assert KERBEROS_MAX_SKEW == timedelta(minutes=5)


def test_time_service_trouble_is_named():
    f = detected("RDSLIC-004", unreachable(w32time("RDSH01", 129, days_ago=1), w32time("RDSH01", 36, days_ago=1.1)))
    assert "the time service of RDSH01 was not synchronizing (W32Time 36/129 x2)" in f[0].summary


def test_skew_alone_is_no_cause():
    """A clock jump on a host whose licensing works gives no finding of any rule."""
    a = make_analysis([session_host(), license_server()],
                      events=[clock_set("RDSH01", days_ago=1, by=timedelta(hours=3)), w32time("RDSH01", 36, days_ago=1)])
    assert not detected("RDSLIC-004", a)
    assert not detected("RDSLIC-004", healthy())


def test_only_004_declares_the_clock_events():
    from rdsla.rules.registry import get_rule
    from rdsla.rules.context import Bundle, Context
    meta = get_rule("RDSLIC-001").meta
    ctx = Context(Bundle(unreachable()), meta, None)
    with pytest.raises(UndeclaredNeed):
        ctx.events("RDSH01", "clock", [1])


def test_duration_words():
    assert duration(timedelta(minutes=47)) == "47 min"
    assert duration(timedelta(hours=2)) == "2 h"
    assert duration(timedelta(days=3, hours=1)) == "3 days"


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_real_system_logs_keep_kernel_general_1_with_its_times():
    """The declared need makes the parsers keep Kernel-General 1, with NewTime/OldTime readable."""
    from rdsla.analyzer.pipeline import declared_needs
    from rdsla.parsers.base import ParseOptions, Source
    from rdsla.parsers.evtx import parse
    from rdsla.rules.clock import _when
    path = REALDATA / "Win10_Belkasoft_System.evtx"
    source = Source(display=path.name, chain=(str(path),), size=path.stat().st_size, kind="evtx")
    ev = parse(source, ParseOptions(events=declared_needs().events)).frames["events"]
    kept = ev[(ev["provider"] == "Microsoft-Windows-Kernel-General") & (ev["event_id"] == 1)]
    assert len(kept)
    for data in kept["data"]:
        assert _when(data["NewTime"]) is not None and _when(data["OldTime"]) is not None
