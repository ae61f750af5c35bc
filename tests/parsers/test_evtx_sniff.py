"""The EVTX format recognizes its files (parsers.evtx_sniff), also behind a wiped header.

Bug 2 (issue 16): an EVTX whose 4096-byte file header is wiped but whose chunks are intact was
skipped by intake as unknown binary, although parsers/evtx.parse recovers it from its chunks.
"""
import json
from datetime import datetime, timedelta, timezone

import pytest

from rdsla.analyzer.bundle import open_bundle
from rdsla.analyzer.cli import main
from rdsla.analyzer.pipeline import ingest
from rdsla.parsers.base import ParseOptions

writer = pytest.importorskip("rdsla.sample_data.forge.evtx_writer")

RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager"
T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=timezone.utc)
HEADER = 4096


def _forged_evtx(path, count=30):
    """Records of ~6 KB, so that a few fill several chunks (python-evtx reads a wiped file)."""
    rec = writer.EventRecord
    records = [rec(RCM, 1128, T0 + timedelta(minutes=i), "System", "RDSH01.corp.example",
                   event_source_name="TermService", qualifiers=49152, level=3, data=["x" * 3000])
               for i in range(count)]
    return writer.write_evtx(path, records)


def _wipe_header(path, fill: bytes):
    data = bytearray(path.read_bytes())
    assert data[:8] == b"ElfFile\x00" and data[HEADER:HEADER + 8] == b"ElfChnk\x00"
    data[:HEADER] = (fill * HEADER)[:HEADER]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("fill", [b"\x00", b"\xde\xad\xbe\xef\x01", b"X"], ids=["zeros", "garbage", "text"])
def test_evtx_with_wiped_header_is_recognized_and_read(tmp_path, capsys, fill):
    """Bug 2: the EVTX format recognizes the file by its first chunk; inventory reads its records."""
    folder = tmp_path / "upload"
    folder.mkdir()
    log = folder / "RDSH01_System.evtx"
    written = _forged_evtx(log)
    assert written["chunks"] >= 2
    _wipe_header(log, fill)
    assert main(["inventory", "--json", str(folder)]) == 0
    rows = json.loads(capsys.readouterr().out)["artifacts"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["kind"] == "evtx", row
    assert row["status"] in ("ok", "partial"), row
    assert row["records_read"] == written["records"], row


def test_real_evtx_with_wiped_header_is_ingested(realdata, tmp_path):
    """The same on a real log (open_bundle + ingest): every record of its chunks is read."""
    data = bytearray((realdata / "evtx" / "Win10_Belkasoft_TerminalServices-RemoteConnectionManager%4Admin.evtx").read_bytes())
    intact = tmp_path / "intact"
    wiped = tmp_path / "wiped"
    intact.mkdir()
    wiped.mkdir()
    (intact / "System.evtx").write_bytes(bytes(data))
    data[:HEADER] = bytes(HEADER)
    (wiped / "System.evtx").write_bytes(bytes(data))
    assert [s.kind for s in open_bundle([str(wiped)]).sources] == ["evtx"]
    options = ParseOptions(all_events=True)
    before = ingest([str(intact)], options, jobs=0).frames["artifacts"].iloc[0]
    after = ingest([str(wiped)], options, jobs=0).frames["artifacts"].iloc[0]
    assert after["kind"] == "evtx"
    assert after["records_read"] == before["records_read"] > 0


def test_signature_or_first_chunk_and_nothing_else():
    from rdsla.parsers.evtx_sniff import sniff
    from rdsla.parsers.formats import CERTAIN, STRONG
    chunk = b"ElfChnk\x00" + bytes(120)
    assert sniff(b"ElfFile\x00" + bytes(HEADER)).confidence == CERTAIN
    assert sniff(bytes(HEADER) + chunk).confidence == STRONG
    assert sniff(b"X" * HEADER + chunk).kind == "evtx"
    assert sniff(bytes(HEADER - 1) + chunk) is None          # a chunk where no chunk starts
    assert sniff(bytes(HEADER) + b"ElfChnk") is None          # cut inside the signature
    assert sniff(bytes(2 * HEADER)) is None


def test_the_parser_refuses_what_the_sniff_refuses(tmp_path):
    """One owner: parsers.evtx.parse checks its input with the format's sniff."""
    from rdsla.parsers.base import Source
    from rdsla.parsers.evtx import parse
    odd = tmp_path / "odd.evtx"
    odd.write_bytes(bytes(HEADER - 1) + b"ElfChnk\x00" + bytes(70000))
    res = parse(Source(display="odd.evtx", chain=(str(odd),), size=odd.stat().st_size, kind="evtx"), ParseOptions())
    assert res.status == "failed" and "not an EVTX file" in res.warnings[0]
