"""Bounds on python-evtx's binary-XML walk, so a hostile record costs a bounded time and heap.

python-evtx (0.8.1) builds a node object per binary-XML token: a damaged record whose tokens
run on (a run of 0x00 bytes inside an element is a chain of one-byte "end of stream" nodes
that does not end the element) or whose templates overlap costs hundreds of thousands of
nodes. The fuzz corpus input
``tests/fuzz/corpus/evtx/a598da286f18.bin`` (69 KB) made 400,000 nodes, 18 s and 116 MB for
one record.

What bounds the walk (References: libyal "Windows XML Event Log (EVTX)" format, sections
"Chunk" and "Binary XML"; Microsoft [MS-EVEN6] 3.1.4.7.2 "BinXml"):

* an end-of-stream token (0x00) ends a fragment, never an element's content: inside an
  element it is damage (python-evtx alone took each one as a one-byte child and read on);
* a record, its templates and its substitutions live inside the record's 64 KiB chunk:
  the decoder (``parsers.evtx_python``) hands python-evtx a copy of one chunk at a time, so
  no read leaves it;
* node budgets, measured on the first 24 chunks of every real log in ``../shared/realdata``
  and of every sample bundle log (python-evtx makes ~1 node per record byte): a record takes
  at most ~630 nodes and a chunk's records together at most ~43,000, so
  ``RECORD_NODE_BUDGET`` and ``CHUNK_NODE_BUDGET`` are 26x and 6x above any real log. A
  record over budget is "undecodable" (one record lost); a chunk over budget loses its
  remaining records, counted, in one message;
* python-evtx keeps every template it parsed for the chunk's life: ``release_templates`` drops
  them once they may hold ``TEMPLATE_CACHE_NODES``, so the heap stays ~30 MB at most.
"""
from __future__ import annotations

import itertools
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional

import Evtx.Nodes as e_nodes
from Evtx.BinaryParser import ParseException

RECORD_NODE_BUDGET = 16_384      # real records: at most ~630
CHUNK_NODE_BUDGET = 262_144      # real chunks: at most ~43,000
TEMPLATE_CACHE_NODES = 32_768    # nodes a chunk's parsed templates may hold (~600 bytes each)
_END_OF_STREAM = e_nodes.SYSTEM_TOKENS.EndOfStreamToken


class BudgetExceeded(ParseException):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class RecordBudgetExceeded(BudgetExceeded):
    """One record asked python-evtx for more nodes than any real record needs."""


class ChunkBudgetExceeded(BudgetExceeded):
    """The records of one chunk together asked for more nodes than any real chunk needs."""


@dataclass
class _Budget:
    """One thread's budgets. A plain object fetched once per walk: threading.local attribute
    access per node would cost ~15% of the decode."""
    record_left: Optional[int] = None    # None: not decoding a record (no bound)
    chunk_left: int = 0
    record_budget: int = RECORD_NODE_BUDGET
    chunk_budget: int = CHUNK_NODE_BUDGET
    released_at: int = 0                 # chunk_left when the chunk's templates were last dropped

    def exceeded(self):
        if self.record_left <= 0:
            raise RecordBudgetExceeded(f"binary XML of more than {self.record_budget:,} nodes")
        raise ChunkBudgetExceeded(f"the chunk's records took more than {self.chunk_budget:,} nodes")


_local = threading.local()


def _current() -> _Budget:
    try:
        return _local.budget
    except AttributeError:
        _local.budget = _Budget()
        return _local.budget


@contextmanager
def chunk_scope(budget: Optional[int] = None):
    """Nodes spent by every record of one chunk together (default CHUNK_NODE_BUDGET)."""
    b = _current()
    b.chunk_left = b.chunk_budget = b.released_at = CHUNK_NODE_BUDGET if budget is None else budget
    try:
        yield
    finally:
        b.chunk_left = b.released_at = 0


@contextmanager
def record_scope(budget: Optional[int] = None):
    """Nodes spent while one record is decoded (default RECORD_NODE_BUDGET); in a chunk_scope."""
    b = _current()
    b.record_left = b.record_budget = RECORD_NODE_BUDGET if budget is None else budget
    try:
        yield
    finally:
        b.record_left = None


def release_templates(chunk) -> None:
    """Drop the chunk's parsed templates once they may hold more than TEMPLATE_CACHE_NODES
    nodes: python-evtx keeps every template it parsed for the chunk's life, so without this a
    chunk of damaged records holds every node they made. Real chunks never reach it; a dropped
    template is parsed again when a record uses it."""
    b = _current()
    if b.released_at - b.chunk_left > TEMPLATE_CACHE_NODES:
        chunk._templates = None
        b.released_at = b.chunk_left


def _children(self, max_children=None, end_tokens=[e_nodes.SYSTEM_TOKENS.EndOfStreamToken]):  # noqa: B006 (python-evtx's signature)
    """python-evtx's ``BXmlNode._children`` with the end-of-stream rule and the node budget."""
    ret = []
    ofs = self.tag_length()
    start = self.offset()
    budget = _current()
    for _ in (range(max_children) if max_children else itertools.count()):
        at = start + ofs
        left = budget.record_left
        if left is not None:
            if left <= 0 or budget.chunk_left <= 0:
                budget.exceeded()
            budget.record_left = left - 1
            budget.chunk_left -= 1
        token = self.unpack_byte(ofs) & 0x0F
        if token == _END_OF_STREAM and token not in end_tokens:
            # python-evtx would take it as a one-byte child and read on: a run of zero bytes
            # inside an element becomes thousands of nodes
            raise ParseException(f"end-of-stream token inside an element at {at:#x}")
        try:
            child = e_nodes.node_dispatch_table[token](self._buf, at, self._chunk, self)
        except IndexError:
            raise ParseException(f"Unexpected token {token:02X} at {at}") from None
        ret.append(child)
        ofs += child.length()
        if token in end_tokens or child.find_end_of_stream():
            break
    return ret


def install() -> None:
    """Replace python-evtx's child walk (idempotent). Only rdsla's decoder uses python-evtx."""
    e_nodes.BXmlNode._children = _children
