"""parsers.evtx on real files: fields, relevance, counts, recovery, failure (issue 4)."""
from pathlib import Path

import pandas as pd
import pytest

from rdsla.parsers.base import ParseOptions, Source
from rdsla.parsers.evtx import parse


def src(path: Path) -> Source:
    return Source(display=path.name, chain=(str(path),), size=path.stat().st_size, kind="evtx")


def real(realdata, name):
    return realdata / "evtx" / name


def test_scm_events_about_rd_services_are_kept_and_everything_is_counted(realdata):
    res = parse(src(real(realdata, "python-evtx_system.evtx")), ParseOptions())
    ev = res.frames["events"]
    assert res.status == "ok" and res.records_read == 1601 and res.records_lost == 0
    # only the 7036 events about Remote Desktop Services (TermService), not the redirector,
    # EventLog 6009 at each boot (the OS build the host profile reads when no SOFTWARE hive came)
    # TermDD 50 (an RDP protocol-stream error, RDSLIC-014's corroboration) and Kernel-General 1
    # (the clock set: RDSLIC-004 names a skew); Time-Service 50 (a W32Time warning) is not kept
    assert set(ev["event_id"]) == {7036, 6009, 50, 1}
    assert set(ev.loc[ev["event_id"] == 50, "provider"]) == {"TermDD"}
    assert set(ev.loc[ev["event_id"] == 1, "provider"]) == {"Microsoft-Windows-Kernel-General"}
    scm, boot = ev[ev["event_id"] == 7036], ev[ev["event_id"] == 6009]
    assert set(scm["provider"]) == {"Service Control Manager"} and set(boot["provider"]) == {"EventLog"}
    assert all(d["param1"] == "Remote Desktop Services" for d in scm["data"])
    assert all({"NewTime", "OldTime"} <= set(d) for d in ev.loc[ev["event_id"] == 1, "data"])
    assert all(m.startswith("The Remote Desktop Services service entered the ") for m in scm["message"])
    assert all(m.startswith("Microsoft (R) Windows (R) 6.01. 7601") for m in boot["message"]), boot["message"].tolist()
    assert sum(s["count"] for s in res.event_stats) == 1601
    kept = sum(s["count"] for s in res.event_stats if s["relevant"])
    assert kept == len(ev) > 0
    assert res.computers == {"WKS-WIN764BITB.shieldbase.local": 1601}
    assert ev["host"].isna().all() and ev["source"].isna().all()


def test_fields_of_a_classic_termservice_event(realdata):
    res = parse(src(real(realdata, "Win10_Belkasoft_System.evtx")), ParseOptions(all_events=True))
    ev = res.frames["events"]
    assert len(ev) == res.records_read == 1766
    row = ev[(ev.event_id == 1056) & (ev.record_id == 152)].iloc[0]
    assert row.provider == "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
    assert row.source_name == "TermService"
    assert row.qualifiers == 49152 and row.level == 4 and row.channel == "System"
    assert row.time == pd.Timestamp("2020-08-01T18:48:57.458070Z")
    assert row.data == {"Data1": "DESKTOP-23PS6ES", "Binary": "1DFAC0D5F7573BF536DAAD08198AED9CDD89A450"}
    assert str(ev["time"].dtype) == "datetime64[ns, UTC]"


def test_channel_comes_from_the_record_and_userdata_is_flattened(realdata):
    path = real(realdata, "velociraptor_RDPAuth_RemoteConnectionManager.evtx")
    ev = parse(src(path), ParseOptions(all_events=True)).frames["events"]
    assert set(ev["channel"]) == {"Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"}
    row = ev[ev.event_id == 1149].iloc[0]
    assert set(row.data) == {"Param1", "Param2", "Param3"}


def test_rcm_1136_is_relevant_by_default(realdata):
    path = real(realdata, "Win10_Belkasoft_TerminalServices-RemoteConnectionManager%4Operational.evtx")
    res = parse(src(path), ParseOptions())
    ev = res.frames["events"]
    assert list(ev["event_id"].unique()) == [1136] and len(ev) == 22
    assert (ev["legacy_event_id"] == 1136).all()
    assert (ev["message"] == "RD Session Host Server role is not installed.").all()
    assert res.records_read == 252


@pytest.mark.parametrize("name, read, min_lost", [
    ("omerbenamram_sample_with_a_bad_chunk_magic.evtx", 270, 2),
    ("omerbenamram_sample-with-zero-data-size-event_System.evtx", 335, 1),
])
def test_damaged_files_are_read_as_far_as_possible(realdata, name, read, min_lost):
    res = parse(src(real(realdata, name)), ParseOptions(all_events=True))
    assert res.status == "partial"
    assert res.records_read == read == len(res.frames["events"])
    assert res.records_lost >= min_lost
    assert any("chunk" in w or "record" in w for w in res.warnings)


def test_dirty_header_file_is_read_whole(realdata):
    path = real(realdata, "Srv2012R2_StolenSzechuan_TerminalServices-RemoteConnectionManager%4Operational.evtx")
    res = parse(src(path), ParseOptions())
    assert res.records_read == 1942 and res.status == "ok"
    assert len(res.frames["events"]) == 0     # 261/1149 are not licensing events
    assert {(s["event_id"], s["count"]) for s in res.event_stats} == {(261, 1938), (1149, 4)}


def test_not_evtx_and_empty_inputs_fail_with_a_message(tmp_path):
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    text = tmp_path / "notes.evtx"
    text.write_text("hello, not an event log\n" * 100)
    for path in (empty, text):
        res = parse(src(path), ParseOptions())
        assert res.status == "failed" and res.warnings


def test_truncated_last_chunk_is_partial_and_never_raises(realdata, tmp_path):
    data = real(realdata, "velociraptor_RDPAuth_System.evtx").read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[:0x1000 + 0x8000])          # half of the first chunk
    for backend in ("rust", "python"):
        res = parse(src(cut), ParseOptions(evtx_backend=backend, all_events=True))
        assert res.status in ("partial", "failed")
        assert res.records_read < 186


def test_flipped_bytes_inside_a_record_cost_at_most_its_chunk(realdata, tmp_path):
    data = bytearray(real(realdata, "velociraptor_RDPAuth_System.evtx").read_bytes())
    data[0x1000 + 0x2000:0x1000 + 0x2040] = b"\xff" * 0x40
    bad = tmp_path / "flipped.evtx"
    bad.write_bytes(bytes(data))
    res = parse(src(bad), ParseOptions(all_events=True))
    assert res.status == "partial" and res.records_lost >= 1
    assert 0 < res.records_read < 186


# -- both backends give the same frame --------------------------------------------------------

FAST_FILES = [
    "velociraptor_RDPAuth_RemoteConnectionManager.evtx",
    "velociraptor_RDPAuth_LocalSessionManager.evtx",
    "hayabusa_ID302_RDS_Gateway_Logon_Logoff.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-RemoteConnectionManager%4Admin.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-RDPClient%4Operational.evtx",
    "Win10_Belkasoft_TerminalServices-RemoteConnectionManager%4Admin.evtx",
    "Srv2022_APTSimulatorVM_TerminalServices-LocalSessionManager%4Operational.evtx",
]


def _same_frames(path: Path):
    a = parse(src(path), ParseOptions(evtx_backend="rust", all_events=True))
    b = parse(src(path), ParseOptions(evtx_backend="python", all_events=True))
    assert a.records_read == b.records_read
    pd.testing.assert_frame_equal(a.frames["events"], b.frames["events"])
    assert a.event_stats == b.event_stats and a.computers == b.computers


@pytest.mark.parametrize("name", FAST_FILES)
def test_backends_agree_on_small_real_files(realdata, name):
    _same_frames(real(realdata, name))


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    "velociraptor_RDPAuth_System.evtx", "python-evtx_system.evtx", "Win10_Belkasoft_System.evtx",
    "Srv2022_APTSimulatorVM_System.evtx", "plaso_System.evtx",
    "Win10_Belkasoft_TerminalServices-RemoteConnectionManager%4Operational.evtx",
    "Win10_Belkasoft_TerminalServices-LocalSessionManager%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-LocalSessionManager%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_TerminalServices-RemoteConnectionManager%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_RemoteDesktopServices-RdpCoreTS%4Operational.evtx",
    "Srv2012R2_StolenSzechuan_Security.evtx",
    "Srv2012R2_StolenSzechuan_System.evtx",
])
def test_backends_agree_on_larger_real_files(realdata, name):
    _same_frames(real(realdata, name))


def test_python_backend_reads_past_a_stale_header_chunk_count(realdata):
    path = real(realdata, "Srv2012R2_StolenSzechuan_TerminalServices-RemoteConnectionManager%4Admin.evtx")
    res = parse(src(path), ParseOptions(evtx_backend="python", all_events=True))
    assert res.records_read == 4 and set(res.frames["events"]["event_id"]) == {20499}


def test_a_damaged_mta_companion_does_not_cost_the_log(realdata, tmp_path):
    mta = tmp_path / "System_1033.MTA"
    mta.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    log = real(realdata, "python-evtx_system.evtx")
    comp = Source(display="System_1033.MTA", chain=(str(mta),), size=mta.stat().st_size)
    source = Source(display=log.name, chain=(str(log),), size=log.stat().st_size, kind="evtx",
                    companions=(comp,))
    res = parse(source, ParseOptions())
    assert res.status == "ok" and len(res.frames["events"]) > 0
    messages = res.frames["events"]["message"]
    assert (messages.str.startswith("The Remote Desktop Services") | messages.str.startswith("Microsoft (R) Windows")
            | messages.str.startswith("The RDP protocol component")
            | messages.str.startswith("The system time has changed to")).all()
