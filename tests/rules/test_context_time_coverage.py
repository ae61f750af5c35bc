"""The rules' two questions of issue 17: "was X collected from this host?" (Context.collected,
not_collected with collect-next lines) and "is this evidence of today?" (Context.current /
history / success_after)."""
from __future__ import annotations

from datetime import timedelta

from rdsla.core.coverage import Coverage, LogSpan
from rdsla.core.model import Evidence, Fact
from rdsla.rules.api import Bundle, Context
from rdsla.rules.registry import get_rule
from tests.rules.test_rules import AS_OF, event, keypack, license_server, make_analysis, session_host

POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services"
TS = r"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server"


def _ctx(analysis, host=None, rule="RDSLIC-004"):
    return Context(Bundle(analysis), get_rule(rule).meta, host)


def test_collected_asks_the_profiles_coverage():
    sh = session_host()
    sh.coverage = Coverage(keys={TS: ["RDSH01_reg_System-CCS-Control-TerminalServer.txt"]},
                           logs={"System": LogSpan("System", AS_OF - timedelta(days=20), AS_OF, 500)})
    ctx = _ctx(make_analysis([sh, license_server()]), sh)
    assert ctx.collected(sh, "key.terminal_server") and ctx.collected("RDSH01", TS + r"\RCM\Licensing Core")
    assert not ctx.collected(sh, "key.policy") and not ctx.collected(sh, POLICY)
    assert ctx.collected(sh, "log.system") and ctx.collected(sh, "System")
    assert not ctx.collected(sh, "log.rcm_admin") and not ctx.licensing_log_collected(sh)   # a 2019 host


def test_a_profile_built_by_hand_counts_the_artifacts_present():
    sh = session_host()
    ctx = _ctx(make_analysis([sh, license_server()]), sh)
    assert sh.coverage is None
    assert ctx.collected(sh, "key.policy") and ctx.collected(sh, "log.system")


def test_not_collected_names_the_host_and_the_command():
    sh = session_host()
    sh.coverage = Coverage()
    f = _ctx(make_analysis([sh, license_server()]), sh).not_collected(sh, "key.policy", "log.rcm_admin")
    assert f.state == "not_checked" and f.rule_id == "RDSLIC-004"
    assert f.collect[0].startswith("RDSH01: ") and 'reg export "HKLM\\SOFTWARE\\Policies' in f.collect[0]
    assert "wevtutil epl Microsoft-Windows-TerminalServices-RemoteConnectionManager/Admin" in f.collect[1]
    assert "RDSH01" in f.summary


def test_current_and_history_split_at_the_window():
    sh = session_host()
    evs = [event("RDSH01", 1131, days_ago=d, data={"param1": "LS01"}) for d in (40, 8, 6.5, 1)]
    analysis = make_analysis([sh, license_server()], events=evs)
    ctx = _ctx(analysis, sh)
    df = ctx.events("RDSH01", "rcm", [1131])
    assert len(ctx.current(df)) == 2 and len(ctx.history(df)) == 2
    analysis.window_days = 10
    ctx = _ctx(analysis, sh)
    assert len(ctx.current(df)) == 3 and len(ctx.history(df)) == 1


def test_success_after_issuance_or_clean_logons():
    sh = session_host(mode=2)
    issued = [{"license_server": "LS01", "keypack_id": "3", "cal_version": "2019", "cal_type": "per_device",
               "issued_to": "PC-0001", "issued_on": AS_OF - timedelta(days=3), "expires_on": AS_OF + timedelta(days=80),
               "status": "temporary", "source": "LS01/LS01_rdls_IssuedLicenses.html"}]
    analysis = make_analysis([sh, license_server()], keypacks=[keypack(cal_type="per_device")], issued=issued,
                             events=[event("RDSH01", 1131, days_ago=40)])
    ctx = _ctx(analysis, sh)
    assert ctx.success_after(sh, AS_OF - timedelta(days=40))                      # issued 3 days ago
    assert not ctx.success_after(sh, AS_OF - timedelta(days=2))
    # logons since, and no licensing error after the old one
    sh2 = session_host(mode=4)
    sh2.logon_times = [AS_OF - timedelta(days=d) for d in (20, 5, 1)]
    sh2.last_logon = Fact(sh2.logon_times[-1], "event", [Evidence("events", "RDSH01/LSM.evtx", {"record_id": 9})])
    analysis = make_analysis([sh2, license_server()], events=[event("RDSH01", 1131, days_ago=40)])
    ctx = _ctx(analysis, sh2)
    assert ctx.success_after(sh2, AS_OF - timedelta(days=40))[0].note.startswith("3 logon(s) since")
    analysis = make_analysis([sh2, license_server()], events=[event("RDSH01", 1131, days_ago=d) for d in (40, 2)])
    assert not _ctx(analysis, sh2).success_after(sh2, AS_OF - timedelta(days=40))      # errors go on
    # an Entra ID Per User lookup failing (50214 = 1062) beside the logons is no success either
    analysis = make_analysis([sh2, license_server()], events=[event("RDSH01", 1131, days_ago=40),
                                                              event("RDSH01", 1062, manifest=True, days_ago=2)])
    assert not _ctx(analysis, sh2).success_after(sh2, AS_OF - timedelta(days=40))


def test_window_option_reaches_the_analysis(tmp_path, capsys):
    from pathlib import Path

    import pytest

    import rdsla
    from rdsla.analyzer.cli import main
    from rdsla.api import ArgumentError
    bundle = Path(__file__).resolve().parents[2] / "sample_data" / "bundles" / "license-server-unreachable"
    reading = rdsla.read(bundle, jobs=0)
    assert reading.analyze().analysis.window_days == 7
    assert reading.analyze(window=2.5).analysis.window_days == 2.5
    with pytest.raises(ArgumentError):
        reading.analyze(window=0)
    with pytest.raises(SystemExit):
        main(["analyze", str(bundle), "--window", "-3"])
    assert main(["analyze", str(bundle), "--window", "3", "--jobs", "0", "--quiet"]) == 1
