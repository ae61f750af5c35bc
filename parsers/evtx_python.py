"""Pure-Python EVTX decoding (python-evtx) with one extraction plan per template.

DESIGN.md "Performance": instead of rendering XML for every record, each binary-XML template
is rendered once with marker strings in place of its substitutions, parsed with lxml into the
row fields, and kept as a plan; a record then only needs its substitution values. Records
with embedded binary XML (BXml substitutions) are rendered whole as a fallback.

python-evtx's ``Evtx.records()`` trusts the header's chunk count (1,675 of 60,189 records on
the dirty real System.evtx): chunks are walked to the end of the file instead, and records
are walked with explicit magic/size checks so a damaged record costs only its chunk's rest.
"""
from __future__ import annotations

import datetime as dt
import logging
import mmap
import re
import struct
from typing import Optional

from lxml import etree

import Evtx.BinaryParser as e_bp
import Evtx.Evtx as e_evtx
import Evtx.Nodes as e_nodes
import Evtx.Views as e_views

from rdsla.parsers import bxml_budget
from rdsla.parsers.evtx_rows import RowSink

bxml_budget.install()
# python-evtx logs "Unexpected token encountered" (naming no file) for a damaged template table;
# the records that need those templates are reported as undecodable, with file and chunk
logging.getLogger("Evtx").setLevel(logging.ERROR)

CHUNK_SIZE = 0x10000
FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
_MARK = re.compile("\ue000(\\d+)\ue001")
_EPOCH = dt.datetime(1601, 1, 1)
_ITEM_SEP = "\ue002"
_CR = "\ue003"   # joins a string array's items while a record is rendered whole
_FIELDS = ("provider", "source_name", "event_id", "qualifiers", "level", "time",
           "record_id", "channel", "computer", "user_sid")


class _Marker:
    """Stands in for a substitution while a template is rendered once."""

    def __init__(self, index: int):
        self.text = f"\ue000{index}\ue001"

    def string(self) -> str:
        return self.text


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text_of(elem) -> str:
    """XML counterpart of evtx_rows.text_of: leaf text, or children's texts joined."""
    children = [c for c in elem if isinstance(c.tag, str)]
    if not children:
        return elem.text or ""
    return ", ".join(_text_of(c) for c in children)


def xml_fields(event) -> tuple[dict, list]:
    """Row fields (strings, possibly with markers) and data pairs from an <Event> element."""
    row: dict = dict.fromkeys(_FIELDS)
    pairs: list[tuple[str, str]] = []
    for part in event:
        name = _local(part.tag)
        if name == "System":
            for f in part:
                tag = _local(f.tag)
                if tag == "Provider":
                    row["provider"] = f.get("Name")
                    row["source_name"] = f.get("EventSourceName")
                elif tag == "EventID":
                    row["event_id"] = f.text
                    row["qualifiers"] = f.get("Qualifiers")
                elif tag == "Level":
                    row["level"] = f.text
                elif tag == "TimeCreated":
                    row["time"] = f.get("SystemTime")
                elif tag == "EventRecordID":
                    row["record_id"] = f.text
                elif tag == "Channel":
                    row["channel"] = f.text
                elif tag == "Computer":
                    row["computer"] = f.text
                elif tag == "Security":
                    row["user_sid"] = f.get("UserID")
        elif name == "EventData":
            unnamed = 0
            binary = None
            for d in part:
                tag = _local(d.tag)
                if tag == "Data" and d.get("Name") is None:
                    unnamed += 1
                    text = d.text or ""
                    pairs.append((None, text.split(_ITEM_SEP) if _ITEM_SEP in text else text))
                elif tag == "Data":
                    pairs.append((d.get("Name"), _text_of(d)))
                elif tag == "Binary":
                    binary = d.text or ""
                elif tag:
                    pairs.append((tag, _text_of(d)))
            if binary is not None:
                pairs.append(("Binary", binary))
        elif name == "UserData":
            for child in part:
                if isinstance(child.tag, str):
                    seen: dict[str, str] = {}
                    for f in child:
                        if isinstance(f.tag, str):
                            key, text = _local(f.tag), _text_of(f)
                            seen[key] = f"{seen[key]}, {text}" if key in seen else text
                    pairs.extend(seen.items())
                    break
    return row, pairs


class Plan:
    """The fields of one template with substitution indexes in place of values."""

    def __init__(self, template_xml: str):
        event = etree.fromstring(template_xml.encode("utf-8"), _PARSER)
        row, pairs = xml_fields(event)
        self.row = {k: _compile(v) for k, v in row.items()}
        self.pairs = [(_compile(k), _compile(v)) for k, v in pairs]
        self.indexes = {int(i) for i in _MARK.findall(etree.tostring(event, encoding="unicode"))}

    def fill(self, values: list) -> tuple[dict, dict]:
        row = {k: _apply(p, values) for k, p in self.row.items()}
        return row, pairs_to_data((_apply(kp, values), _apply(vp, values))
                                  for kp, vp in self.pairs)


def pairs_to_data(pairs) -> dict:
    """Data pairs -> dict: unnamed Data (key None) numbered Data1..n, string arrays spread."""
    data: dict[str, str] = {}
    unnamed = 0
    for key, value in pairs:
        if isinstance(value, str) and _CR in value:
            value = value.replace(_CR, "\r")
        elif isinstance(value, list):
            value = [v.replace(_CR, "\r") if v else v for v in value]
        if key is None:
            for item in (value if isinstance(value, list) else [value]):
                unnamed += 1
                data[f"Data{unnamed}"] = item if item is not None else ""
            continue
        if isinstance(value, list):
            value = ", ".join(value)
        if key == "Binary" and not value:
            continue
        if key in data:                 # repeated name: the Rust decoder's name_1, name_2...
            n = 1
            while f"{key}_{n}" in data:
                n += 1
            key = f"{key}_{n}"
        data[key] = value if value is not None else ""
    if "Binary" in data:
        data["Binary"] = data.pop("Binary")
    return data


_PARSER = etree.XMLParser(recover=True, huge_tree=True, resolve_entities=False)


def _compile(text):
    """None | ("const", str) | ("sub", i) | ("mix", [str | int ...])."""
    if text is None:
        return None
    parts = _MARK.split(text)
    if len(parts) == 1:
        return ("const", text)
    if len(parts) == 3 and parts[0] == "" and parts[2] == "":
        return ("sub", int(parts[1]))
    return ("mix", [int(p) if i % 2 else p for i, p in enumerate(parts)])


def _apply(plan, values):
    if plan is None:
        return None
    kind, arg = plan
    if kind == "const":
        return arg
    if kind == "sub":
        return values[arg] if arg < len(values) else None
    return "".join(p if isinstance(p, str) else _flat(values[p] if p < len(values) else "")
                   for p in arg)


def _flat(value) -> str:
    if isinstance(value, list):
        return ", ".join(value)
    return value or ""


def _filetime_text(ticks: int) -> Optional[str]:
    """FILETIME as the Rust decoder prints it (microseconds, truncated), exact integers."""
    try:
        t = _EPOCH + dt.timedelta(microseconds=ticks // 10)
    except OverflowError:
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sub_text(sub) -> Optional[str]:
    """A substitution value as text, in the Rust decoder's JSON formatting."""
    if isinstance(sub, e_nodes.NullTypeNode):
        return None
    if isinstance(sub, e_nodes.BinaryTypeNode):
        return sub.binary().hex().upper()
    if isinstance(sub, e_nodes.FiletimeTypeNode):
        return _filetime_text(sub.unpack_qword(0))
    if isinstance(sub, e_nodes.SystemtimeTypeNode):
        return sub.systemtime().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(sub, e_nodes.BooleanTypeNode):
        return "true" if sub.string() == "True" else "false"
    if isinstance(sub, (e_nodes.WstringTypeNode, e_nodes.StringTypeNode)):
        return sub.string().rstrip("\x00")
    if isinstance(sub, e_nodes.Hex32TypeNode):
        return f"0x{sub.unpack_dword(0):x}"
    if isinstance(sub, e_nodes.Hex64TypeNode):
        return f"0x{sub.unpack_qword(0):x}"
    if isinstance(sub, e_nodes.WstringArrayTypeNode):
        text = bytes(sub.binary()).decode("utf-16-le", "replace")
        items = text.split("\x00")
        return items[:-1] if items and items[-1] == "" else items
    if isinstance(sub, e_nodes.GuidTypeNode):
        return sub.string().strip("{}").upper()
    return sub.string()


class _Text:
    """A substitution whose text is ours (sub_text), for python-evtx's renderer."""

    def __init__(self, text):
        text = _ITEM_SEP.join(text) if isinstance(text, list) else (text or "")
        self.text = text.replace("\r", _CR)   # XML parsing would turn \r\n into \n

    def string(self) -> str:
        return self.text


def render_xml(root) -> str:
    """A whole record as XML, values formatted like the Rust decoder (nested BXml too)."""
    subs = root.substitutions()
    nested = {}
    stand_ins = []
    for i, sub in enumerate(subs):
        if isinstance(sub, e_nodes.BXmlTypeNode):
            nested[i] = render_xml(sub.root())
            stand_ins.append(_Marker(i))
        else:
            stand_ins.append(_Text(sub_text(sub)))
    xml = e_views.render_root_node_with_subs(root, stand_ins)
    for i, inner in nested.items():
        xml = xml.replace(f"&#57344;{i}&#57345;", inner).replace(_Marker(i).text, inner)
    return xml


class PythonDecoder:
    """Walks every chunk and record of a file into a RowSink; ``errors`` lists (message, lost)."""

    def __init__(self, sink: RowSink):
        self.sink = sink
        self.plans: dict[tuple[int, int], Optional[Plan]] = {}   # (chunk offset, template offset)
        self._chunk_key = 0
        self.errors: list[tuple[str, int]] = []

    def run(self, buf) -> None:
        first = self._first_chunk(buf)
        ofs, number = first, 0
        while ofs + CHUNK_SIZE <= len(buf):
            self._chunk(buf, ofs, number)
            ofs += CHUNK_SIZE
            number += 1
        self.tail(buf)

    @staticmethod
    def _first_chunk(buf) -> int:
        header = e_evtx.FileHeader(buf, 0)
        return header.header_chunk_size() if buf[:8] == FILE_MAGIC else 0x1000

    def tail(self, buf) -> None:
        """The records of a last chunk cut short (the Rust decoder skips such a chunk)."""
        first = self._first_chunk(buf)
        number = max(len(buf) - first, 0) // CHUNK_SIZE
        ofs = first + number * CHUNK_SIZE
        if ofs + 0x200 <= len(buf) and buf[ofs:ofs + 8] == CHUNK_MAGIC:
            before = self.sink.records_read
            expected = _records_in(buf, ofs)
            self._chunk(buf, ofs, number)
            got = self.sink.records_read - before
            self.errors.append((f"chunk {number}: truncated ({len(buf) - ofs} of {CHUNK_SIZE} "
                                f"bytes), {got} of {expected} records read",
                                max(expected - got, 1)))

    def _chunk(self, buf, ofs: int, number: int) -> None:
        magic = bytes(buf[ofs:ofs + 8])
        if magic != CHUNK_MAGIC:
            if any(buf[ofs:ofs + 0x200]):
                self.errors.append((f"chunk {number}: bad chunk magic {magic!r}", 0))
            return
        # python-evtx gets a copy of this chunk only: everything a record refers to lies in its
        # chunk, and python-evtx would otherwise follow a damaged count or offset through the
        # whole file (a bad substitution count in a 16 MB file: 30 s and 270 MB for one record)
        self._chunk_key = ofs
        with bxml_budget.chunk_scope():
            self._records(bytes(buf[ofs:ofs + CHUNK_SIZE]), number)

    def _records(self, data: bytes, number: int) -> None:
        """The records of one chunk, ``data`` (CHUNK_SIZE bytes, fewer for a truncated tail)."""
        chunk = e_evtx.ChunkHeader(data, 0)
        end = min(max(chunk.next_record_offset(), 0x200), len(data))
        rec_ofs = 0x200
        last_num = chunk.log_last_record_number()
        while rec_ofs + 24 <= end:
            size = struct.unpack_from("<I", data, rec_ofs + 4)[0]
            num = struct.unpack_from("<Q", data, rec_ofs + 8)[0]
            if data[rec_ofs:rec_ofs + 4] != RECORD_MAGIC or size < 28 or \
                    rec_ofs + size > len(data) or \
                    struct.unpack_from("<I", data, rec_ofs + size - 4)[0] != size:
                self.errors.append((f"chunk {number}: bad record header at offset "
                                    f"{rec_ofs:#x} (record {num}), rest of chunk lost",
                                    _rest_of_chunk(last_num, num)))
                return
            try:
                with bxml_budget.record_scope():
                    self._record(e_evtx.Record(data, rec_ofs, chunk))
            except bxml_budget.ChunkBudgetExceeded as exc:
                self.errors.append((f"chunk {number}: {exc.what} at record {num}, "
                                    f"rest of chunk lost", _rest_of_chunk(last_num, num)))
                return
            except e_bp.OverrunBufferException:
                self.errors.append((f"chunk {number}: record {num} undecodable (it refers past "
                                    f"the end of its chunk)", 1))
            except Exception as exc:  # python-evtx raises many kinds on damaged records
                self.errors.append((f"chunk {number}: record {num} undecodable "
                                    f"({type(exc).__name__}: {exc})"[:300], 1))
            bxml_budget.release_templates(chunk)
            rec_ofs += size

    def _record(self, record) -> None:
        root = record.root()
        subs = root.substitutions()
        plan = self._plan(root)
        values = [sub_text(s) for s in subs]
        if plan is None or any(isinstance(subs[i], e_nodes.BXmlTypeNode)
                               for i in plan.indexes if i < len(subs)):
            # embedded binary XML: render this record whole (System fields still from the plan)
            event = etree.fromstring(render_xml(root).encode("utf-8"), _PARSER)
            fields, pairs = xml_fields(event)
            data = pairs_to_data(pairs)
            if plan is not None:
                fields = plan.fill(values)[0]
        else:
            fields, data = plan.fill(values)
        self.sink.offer(fields["channel"], fields["provider"], fields["source_name"],
                        _int(fields["event_id"]), _int(fields["qualifiers"]),
                        _int(fields["level"]), fields["time"],
                        _int(fields["record_id"]) or record.record_num(),
                        fields["computer"], fields["user_sid"], data)

    def _plan(self, root) -> Optional[Plan]:
        instance = root.template_instance()
        key = (self._chunk_key, instance.template_offset())
        if key not in self.plans:
            try:
                n = len(root.substitutions())
                xml = e_views.render_root_node_with_subs(root, [_Marker(i) for i in range(n)])
                self.plans[key] = Plan(xml)
            except Exception:
                self.plans[key] = None
        return self.plans[key]


def _int(value) -> Optional[int]:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _rest_of_chunk(last_num: int, num: int) -> int:
    """Records lost from record ``num`` to the chunk's last (1 when the header is implausible)."""
    return max(1, last_num - num + 1) if 0 <= last_num - num < 1 << 16 else 1


def _records_in(buf, ofs: int) -> int:
    try:
        chunk = e_evtx.ChunkHeader(buf, ofs)
        n = chunk.log_last_record_number() - chunk.log_first_record_number() + 1
        return n if 0 < n < 1 << 16 else 1
    except Exception:
        return 1


def open_buffer(source):
    """An mmap of a local file, else the bytes (zip members are read into memory)."""
    if source.local_path:
        with open(source.local_path, "rb") as fh:
            try:
                return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:   # empty file
                return b""
    return source.read_bytes()
