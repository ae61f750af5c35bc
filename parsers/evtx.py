"""EVTX -> the `events` frame (issue 4): Rust `evtx` by default, python-evtx as fallback.

The Rust backend is used unless ``options.evtx_backend == "python"``, it cannot be imported,
or it reads nothing of the file; a last chunk cut short (which the Rust decoder skips) is
read with python-evtx into the same rows. Never raises: damage is counted in
``records_lost`` with chunk/record positions in the warnings (status "partial"); input that
is not EVTX at all (:mod:`parsers.evtx_sniff` says what is: a file header, or a first chunk
behind a wiped one) gives status "failed".
"""
from __future__ import annotations

import io
from collections import Counter
from typing import Optional

from rdsla.core.facts import COLLECTED_AT, EVENT_LOG
from rdsla.parsers.base import ParseOptions, ParseResult, Source
from rdsla.parsers.evtx_messages import load_messages
from rdsla.parsers.evtx_rows import RowSink
from rdsla.parsers.evtx_rust import RustDecoder
from rdsla.parsers.evtx_skim import skim
from rdsla.parsers.evtx_sniff import CHUNK_MAGIC, CHUNK_SIZE, HEAD_NEEDED, HEADER_SIZE, sniff

try:        # loaded with this module, so a pool's forked workers inherit it (analyzer.pipeline)
    import evtx as _rust  # noqa: F401
except ImportError:
    _rust = None


def parse(source: Source, options: ParseOptions) -> ParseResult:
    try:
        head = source.read_head(HEAD_NEEDED)
    except Exception as exc:
        return ParseResult.failed(f"{source.display}: cannot read ({type(exc).__name__}: {exc})")
    if not head:
        return ParseResult.failed(f"{source.display}: empty file")
    if sniff(head) is None:         # what intake recognized as EVTX (parsers.evtx_sniff)
        return ParseResult.failed(f"{source.display}: not an EVTX file (no ElfFile header, no ElfChnk chunk "
                                  f"at offset {HEADER_SIZE})")

    backend = options.evtx_backend
    sink, errors, notes = None, [], []
    data = None
    if not source.local_path:       # a zip member: read once, for the skim and the decoder
        try:
            data = source.read_bytes()
        except Exception:           # noqa: BLE001 - each decoder below reports it as before
            data = None
    if options.skim and not options.all_events:
        skimmed = skim(source, options, data)     # a log no declared event can be in (issue 20)
        if skimmed is not None:
            sink = skimmed.sink
            notes.append(f"{source.display}: {skimmed.note}")
    if sink is None and backend != "python":
        try:
            sink, errors = _run_rust(source, options, data)
        except ImportError:
            notes.append(f"{source.display}: Rust evtx decoder not importable: python-evtx used")
        except Exception as exc:
            notes.append(f"{source.display}: file header: Rust evtx decoder failed "
                         f"({type(exc).__name__}: {exc}): python-evtx used")
        if sink is not None and _truncated(source):
            # the Rust decoder skips a last chunk cut short: python-evtx reads that chunk's
            # complete records into the same rows (only that chunk: python-evtx is ~1,000x slower)
            try:
                from rdsla.parsers.evtx_python import PythonDecoder, open_buffer
                tail = PythonDecoder(sink)
                tail.tail(open_buffer(source))
                errors = errors + tail.errors
            except Exception as exc:
                errors = errors + [(f"truncated last chunk unreadable ({type(exc).__name__}: {exc})", 1)]
        if sink is not None and errors and sink.records_read == 0:
            notes.append(f"{source.display}: the Rust decoder read no record: python-evtx used")
            sink = None
    if sink is None:
        try:
            sink, errors = _run_python(source, options)
        except Exception as exc:
            return ParseResult.failed(f"{source.display}: not decodable "
                                      f"({type(exc).__name__}: {exc})")

    result = ParseResult()
    for note in notes:
        result.warnings.append(note)
    for message, lost in errors:
        result.warn(f"{source.display}: {message}", lost)
    messages = load_messages(getattr(source, "companions", ()), result.warnings.append)
    frame = sink.frame(messages)
    if frame is not None:             # a skimmed log has no rows
        result.frames["events"] = frame
    result.records_read = sink.records_read
    result.computers = dict(sink.computers.most_common())
    result.event_stats = sink.event_stats()
    if sink.records_read == 0 and errors:
        result.status = "failed"
    newest = _newest(sink.newest)
    if newest is not None:     # "now" for the bundle counts every record, not only the kept ones
        result.facts.append({"host": None, "name": COLLECTED_AT, "value": newest, "origin": "evtx",
                             "locator": {}, "detail": {"newest record": newest.isoformat()}})
    channels = Counter()
    for (channel, _provider, _event_id, _relevant), n in sink.stats.items():
        if channel:
            channels[str(channel)] += n
    if channels:               # what this log covers (core.coverage): its channel and time span
        oldest = _newest(sink.oldest)
        result.facts.append({"host": None, "name": EVENT_LOG, "origin": "evtx", "locator": {},
                             "value": {"channel": channels.most_common(1)[0][0], "first": oldest, "last": newest,
                                       "records": sink.records_read},
                             "detail": {"channels": dict(channels)}})
    return result


def _newest(text):
    import pandas as pd
    try:
        when = pd.Timestamp(text) if text else None
    except (ValueError, OverflowError):
        return None
    if when is None or pd.isna(when):
        return None
    return (when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")).to_pydatetime()


def _run_rust(source: Source, options: ParseOptions, data: Optional[bytes] = None):
    import evtx  # ImportError -> python-evtx
    sink = RowSink(options.all_events, options.events)
    target = source.local_path or io.BytesIO(data if data is not None else source.read_bytes())
    decoder = RustDecoder(sink)
    # one decoding thread: analyze runs one worker process per core, batch one bundle per core
    decoder.run(evtx.PyEvtxParser(target, number_of_threads=1))
    return sink, decoder.errors


def _run_python(source: Source, options: ParseOptions):
    from rdsla.parsers.evtx_python import PythonDecoder, open_buffer
    sink = RowSink(options.all_events, options.events)
    decoder = PythonDecoder(sink)
    decoder.run(open_buffer(source))
    return sink, decoder.errors


def _truncated(source: Source) -> bool:
    """Whether the file ends inside a chunk that starts with a chunk signature."""
    if source.size <= HEADER_SIZE or (source.size - HEADER_SIZE) % CHUNK_SIZE == 0:
        return False
    offset = HEADER_SIZE + (source.size - HEADER_SIZE) // CHUNK_SIZE * CHUNK_SIZE
    try:
        with source.open() as fh:
            fh.seek(offset)
            return fh.read(8) == CHUNK_MAGIC       # else slack after the last chunk
    except Exception:
        return False
