"""parsers.bxml_budget: python-evtx's binary-XML walk stays in its chunk and within budgets,
and the decoder turns an exceeded budget into counted losses, not a hang or a heap blow-up."""
from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

import Evtx.Evtx as e_evtx
import Evtx.Nodes as e_nodes
import Evtx.BinaryParser as e_bp
from Evtx.BinaryParser import ParseException

from rdsla.parsers import bxml_budget
from rdsla.parsers.evtx_python import CHUNK_SIZE, PythonDecoder  # importing it installs the patched walk
from rdsla.parsers.evtx_rows import RowSink
from tests.parsers.test_evtx_forge import parse_file, records, writer

OPEN_ELEMENT = bytes([0x01, 0, 0, 0, 0, 0, 0, 0x00, 0x01, 0, 0])   # name string at chunk offset 0x100
CLOSE_START = 0x02                                                  # one byte, never ends an element


def element(children: bytes) -> e_nodes.OpenStartElementNode:
    """An element at offset 0x200 of a chunk, with ``children`` bytes."""
    buf = bytearray(CHUNK_SIZE)
    buf[:8] = b"ElfChnk\x00"
    body = OPEN_ELEMENT + bytes([CLOSE_START]) + children
    buf[0x200:0x200 + len(body)] = body
    chunk = e_evtx.ChunkHeader(bytes(buf), 0)
    return e_nodes.OpenStartElementNode(chunk._buf, 0x200, chunk, chunk)


def test_a_run_of_zero_bytes_inside_an_element_is_damage():
    # python-evtx alone takes each 0x00 as a one-byte "end of stream" child and reads on
    # (65,000 nodes here; ~400,000 for the fuzz corpus input a598da286f18.bin)
    with pytest.raises(ParseException, match="end-of-stream token inside an element at 0x20c"):
        element(b"").children()


def test_record_and_chunk_budgets():
    run = bytes([CLOSE_START]) * 5000
    with bxml_budget.chunk_scope(), bxml_budget.record_scope(100):
        with pytest.raises(bxml_budget.RecordBudgetExceeded, match="more than 100 nodes"):
            element(run).children()
    with bxml_budget.chunk_scope(150):
        with bxml_budget.record_scope(100):
            with pytest.raises(bxml_budget.RecordBudgetExceeded):
                element(run).children()
        with bxml_budget.record_scope(100):
            with pytest.raises(bxml_budget.ChunkBudgetExceeded, match="more than 150 nodes"):
                element(run).children()
    # outside a record nothing is counted: the walk ends where the chunk's bytes end
    with pytest.raises(e_bp.OverrunBufferException):
        element(run * 20).children()


def decode(path, monkeypatch=None, **budgets):
    if monkeypatch:
        for name, value in budgets.items():
            monkeypatch.setattr(bxml_budget, name, value)
    with open(path, "rb") as fh:
        return decode_bytes(fh.read())


def decode_bytes(data: bytes):
    sink = RowSink(all_events=True)
    decoder = PythonDecoder(sink)
    decoder.run(data)
    return sink, decoder.errors


@pytest.fixture(scope="module")
def forge_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("budget") / "System.evtx"
    writer.write_evtx(path, records(60))
    return path


def test_real_sized_budgets_lose_nothing_and_released_templates_change_nothing(forge_file, monkeypatch):
    parsed = []     # template offsets python-evtx parses (once per chunk while none is dropped)
    add_template = e_evtx.ChunkHeader.add_template

    def counted(chunk, offset, *args, **kwargs):
        parsed.append(offset)
        return add_template(chunk, offset, *args, **kwargs)

    monkeypatch.setattr(e_evtx.ChunkHeader, "add_template", counted)
    sink, errors = decode(forge_file)
    assert sink.records_read == 64 and errors == []
    kept = len(parsed)
    parsed.clear()
    again, errors = decode(forge_file, monkeypatch, TEMPLATE_CACHE_NODES=0)   # drop after every record
    assert errors == [] and again.cols == sink.cols and again.stats == sink.stats
    assert len(parsed) > kept          # the dropped templates were parsed again


def test_an_exceeded_record_budget_loses_that_record_only(forge_file, monkeypatch):
    sink, errors = decode(forge_file, monkeypatch, RECORD_NODE_BUDGET=30)
    assert sink.records_read == 0 and len(errors) == 64
    assert all("RecordBudgetExceeded" in message and lost == 1 for message, lost in errors)


def test_an_exceeded_chunk_budget_loses_the_rest_of_the_chunk_once(forge_file, monkeypatch):
    full, _ = decode(forge_file)
    # the forge's 64 records take ~7,000 nodes: the first ones take ~240, the rest ~100
    sink, errors = decode(forge_file, monkeypatch, CHUNK_NODE_BUDGET=3000)
    assert len(errors) == 1
    message, lost = errors[0]
    assert message.startswith("chunk 0: the chunk's records took more than 3,000 nodes at record ")
    assert message.endswith("rest of chunk lost")
    assert 10 <= sink.records_read < 40 and sink.records_read + lost == full.records_read == 64


def test_a_damaged_count_cannot_send_python_evtx_through_the_rest_of_the_file(tmp_path):
    path = tmp_path / "System.evtx"
    writer.write_evtx(path, records(3))
    data = bytearray(path.read_bytes())
    chunk = e_evtx.ChunkHeader(bytes(data), 0x1000)
    root = e_evtx.Record(bytes(data), 0x1200, chunk).root()
    at = root.offset() + root.tag_and_children_length()       # record 1's substitution count
    data[at:at + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    data += bytes(4 << 20)   # python-evtx read on to the end of the file: 30 s, 270 MB at 16 MB
    sink, errors = decode_bytes(bytes(data))
    assert errors == [("chunk 0: record 1 undecodable (it refers past the end of its chunk)", 1)]
    assert sink.records_read == 6


def test_the_fuzz_input_that_made_400000_nodes_is_cheap_now():
    data = (Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "evtx" / "a598da286f18.bin").read_bytes()
    sink = RowSink(all_events=False)
    tracemalloc.start()
    try:
        PythonDecoder(sink).run(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20     # was 116 MB
