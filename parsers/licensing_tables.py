"""Readers for the text forms RD Licensing data arrives in: rows of ``{field: text}`` with line numbers.

PowerShell and wmic print the same WMI objects ([S14] Win32_TSLicenseKeyPack, [S15]
Win32_TSIssuedLicense, [S16] Win32_TSLicenseServer, [S18] Win32_TSLicenseReport*) as
Export-Csv, ConvertTo-Html, Format-Table, Format-List, ``wmic ... get`` tables, ``wmic
/format:list`` and MOF ``instance of`` blocks. Each reader only splits text into rows; what
the fields mean is :mod:`parsers.licensing_normalize`'s business. Nothing here raises on bad
input: a row that cannot be read becomes a warning naming its line.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from rdsla.parsers.text import decode_text

Known = Callable[[str], bool]      # is this a field name a licensing row can have?


@dataclass
class Row:
    fields: dict[str, str]
    line: int                       # 1-based line (HTML: source line of the <tr>)
    form: str                       # csv | html | table | wmic | list | kv | mof | preamble
    section: Optional[str] = None   # WMI class from #TYPE, __CLASS, "instance of", a heading
    section_host: Optional[str] = None


@dataclass
class Tables:
    rows: list[Row] = field(default_factory=list)
    free: list[tuple[int, str]] = field(default_factory=list)   # lines that are no row
    warnings: list[str] = field(default_factory=list)
    lost: int = 0

    def warn(self, line: int, message: str, lost: int = 0) -> None:
        self.warnings.append(f"line {line}: {message}")
        self.lost += lost


# --------------------------------------------------------------------------- decoding

def decode(data: bytes) -> str:
    """The text of an export (parsers.text.decode_text); ``\\r\\r\\n`` (wmic redirected to a
    file) counts as one line end."""
    return decode_text(data).replace("\r\r\n", "\n").lstrip("\ufeff")


def lines_of(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


# --------------------------------------------------------------------------- CSV

_CHECKMK = re.compile(r"^<<<[^>]*?(?::sep\((\d+)\))?[^>]*>>>\s*$")
_TYPE = re.compile(r"^#TYPE\s+(.*)$")


def _class_of(type_name: str) -> str:
    """``System.Management.ManagementObject#root\\cimv2\\Win32_TSLicenseKeyPack`` -> class."""
    return re.split(r"[#\\/]", type_name.strip())[-1].strip()


def pick_delimiter(line: str) -> str:
    counts = {d: _count_outside_quotes(line, d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


def _count_outside_quotes(line: str, ch: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            n += 1
    return n


def read_csv(text: str, known: Known) -> Tables:
    """Export-Csv (``#TYPE`` or not, ``,`` ``;`` or tab), Checkmk ``<<<section:sep(44)>>>``,
    and CSV reports with a key,value preamble before their header (the header is the first
    row naming two known fields)."""
    out = Tables()
    lines = lines_of(text)
    header: Optional[list[str]] = None
    delim: Optional[str] = None
    section: Optional[str] = None
    i = 0
    while i < len(lines):
        start = i
        logical = lines[i]
        while logical.count('"') % 2 and i + 1 < len(lines):      # quoted field over lines
            i += 1
            logical += "\n" + lines[i]
        i += 1
        stripped = logical.strip()
        if not stripped:
            continue
        m = _TYPE.match(stripped)
        if m:
            section, header = _class_of(m.group(1)), None
            continue
        m = _CHECKMK.match(stripped)
        if m:
            header, section = None, stripped.strip("<>").split(":")[0]
            delim = chr(int(m.group(1))) if m.group(1) else None
            continue
        d = delim or pick_delimiter(logical) if header is None else delim
        try:
            cells = next(csv.reader([logical], delimiter=d or ","))
        except (csv.Error, StopIteration) as exc:
            out.warn(start + 1, f"unreadable CSV line ({exc})", lost=1)
            continue
        cells = [c.strip() for c in cells]
        if header is None:
            if sum(1 for c in cells if known(c)) >= 2:
                header, delim = cells, d
            elif len(cells) >= 2 and cells[0]:
                out.rows.append(Row({cells[0]: cells[1]}, start + 1, "preamble", section))
            else:
                out.free.append((start + 1, stripped))
            continue
        if cells == header:
            continue                                            # header repeated (appended exports)
        if len(cells) != len(header):
            extra = cells[len(header):]
            if len(cells) > len(header) and not any(extra):
                cells = cells[:len(header)]
            else:
                out.warn(start + 1, f"ragged CSV row: {len(cells)} fields, the header has {len(header)}", lost=1)
                continue
        out.rows.append(Row(dict(zip(header, cells)), start + 1, "csv", section))
    return out


# --------------------------------------------------------------------------- HTML

def read_html(text: str, known: Known) -> Tables:
    """ConvertTo-Html tables (MSRD-Collect ``<HOST>_rdls_LicenseKeyPacks.html``), also the
    ``-As List`` form (two cells per row, ``Name:`` then value)."""
    import lxml.html

    out = Tables()
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        doc = lxml.html.document_fromstring(text)
    except Exception as exc:  # noqa: BLE001 - lxml raises several types on garbage
        out.warn(1, f"unreadable HTML ({exc})")
        return out
    for table in doc.iter("table"):
        trs = [tr for tr in table.iter("tr")]
        header: Optional[list[str]] = None
        as_list: dict[str, str] = {}
        list_line = 0
        for tr in trs:
            ths = [c.text_content().strip() for c in tr if c.tag == "th"]
            tds = [c.text_content().strip() for c in tr if c.tag == "td"]
            line = tr.sourceline or 0
            if ths and not tds:
                header = ths
                continue
            if header is None:
                if len(tds) == 2 and tds[0].endswith(":") and known(tds[0][:-1]):
                    list_line = list_line or line
                    as_list[tds[0][:-1].strip()] = tds[1]
                    continue
                if sum(1 for c in tds if known(c)) >= 2:
                    header = tds                              # header written with <td>
                continue
            if not tds:
                continue
            if len(tds) != len(header):
                out.warn(line, f"ragged HTML row: {len(tds)} cells, the header has {len(header)}", lost=1)
                continue
            out.rows.append(Row(dict(zip(header, tds)), line, "html"))
        if as_list:
            out.rows.append(Row(as_list, list_line, "html"))
    return out


# --------------------------------------------------------------------------- text (FT, FL, wmic, MOF)

_DASHES = re.compile(r"^[ \t]*-{2,}(?:[ \t]+-{2,})+[ \t]*$")
_LIST = re.compile(r"^([A-Za-z_][\w.]*)\s*:(?!\\)\s?(.*)$")           # Format-List  Name : value
_KV = re.compile(r"^([A-Za-z_][\w.]*)=(.*)$")                        # wmic /format:list  Name=value
_MOF = re.compile(r"^\s+([A-Za-z_]\w*)\s*=\s*(.*?);?\s*$")           # MOF  \tName = value;
_INSTANCE = re.compile(r"^\s*instance of\s+(\w+)", re.I)
_HEADING = re.compile(r"^(Win32_\w+)(?:\s+(\S+))?\s*$")              # rds-lic-svr-chk section heading


def _strip_hash_prefix(lines: list[str]) -> list[str]:
    """The excerpt in RDS_LICENSING.md 6 comes with ``#`` before every line."""
    body = [ln for ln in lines if ln.strip()]
    if body and all(ln.startswith("#") for ln in body) and not any(ln.startswith("#TYPE") for ln in body):
        return [ln[1:] if ln.startswith("#") else ln for ln in lines]
    return lines


def _header_starts(line: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group(0)) for m in re.finditer(r"\S+", line)]


def _cut(line: str, starts: list[int], lows: Optional[list[int]] = None) -> Optional[list[str]]:
    """Cells of a fixed-width row; None when a value runs across a column boundary.

    Format-Table right-aligns numbers under right-aligned dashes, so a number wider than its
    header starts left of its dash run: the cut then moves left to a space, but never
    before ``lows[k]`` (the end of the previous dash run)."""
    cuts = [0]
    for k, s in enumerate(starts[1:], start=1):
        lo = lows[k] if lows else s
        p = s
        if s < len(line) and not line[s - 1].isspace() and not line[s].isspace():
            p = next((q + 1 for q in range(s - 1, lo - 1, -1) if line[q].isspace()), -1)
            if p < 0:
                return None
        cuts.append(p)
    cuts.append(max(len(line), cuts[-1]) + 1)
    return [line[cuts[k]:cuts[k + 1]].strip() for k in range(len(starts))]


def read_text(text: str, known: Known) -> Tables:
    """Format-Table (header over a dashes line), wmic tables (header of known field names,
    values aligned under them), Format-List records, wmic ``/format:list`` and MOF blocks;
    everything else is kept as free lines for the line-pattern readers."""
    out = Tables()
    lines = _strip_hash_prefix(lines_of(text))
    section: Optional[str] = None
    section_host: Optional[str] = None
    record: dict[str, str] = {}
    rec_line, rec_form = 0, ""
    last_key: Optional[str] = None

    def flush() -> None:
        nonlocal record, last_key
        if record:
            sec = record.get("__CLASS") or section
            out.rows.append(Row(record, rec_line, rec_form, sec, section_host))
        record, last_key = {}, None

    i = 0
    n = len(lines)
    while i < n:
        line = lines[i].rstrip()
        no = i + 1
        # Format-Table: header line, then a line of dash runs
        if line.strip() and i + 1 < n and _DASHES.match(lines[i + 1]) and not record:
            runs = [(m.start(), m.end()) for m in re.finditer(r"-+", lines[i + 1])]
            starts = [a for a, _ in runs]
            names = [line[s:(starts[k + 1] if k + 1 < len(starts) else len(line))].strip()
                     for k, s in enumerate(starts)]
            if all(names) and any(known(x) for x in names):
                lows = [0] + [b + 1 for _, b in runs[:-1]]
                i = _read_fixed(lines, i + 2, starts, names, "table", section, section_host, out, lows)
                continue
        # wmic table: a header of known field names, two or more spaces apart
        heads = _header_starts(line)
        if len(heads) >= 3 and not record and sum(1 for _, h in heads if known(h)) >= 2 \
                and not _LIST.match(line) and all(" " not in c for c in re.split(r" {2,}", line.strip())):
            i = _read_fixed(lines, i + 1, [s for s, _ in heads], [h for _, h in heads], "wmic",
                            section, section_host, out)
            continue
        m = _INSTANCE.match(line)
        if m:
            flush()
            section, rec_line, rec_form = m.group(1), no, "mof"
            i += 1
            continue
        if line.strip() in ("{", "};", "}"):
            if line.strip() != "{":
                flush()
            i += 1
            continue
        mm = _MOF.match(lines[i]) if rec_form == "mof" else None
        if mm:
            record[mm.group(1)] = mm.group(2).strip().strip('"')
            i += 1
            continue
        ml = _LIST.match(line)
        mk = _KV.match(line) if not ml else None
        if ml or mk:
            key, value = (ml or mk).group(1), ((ml or mk).group(2) or "").strip()
            form = "list" if ml else "kv"
            if key in record:                      # a new object starts without a blank line
                flush()
            if not record:
                rec_line, rec_form = no, form
            record[key] = value
            last_key = key
            i += 1
            continue
        if record and last_key and line[:1].isspace() and line.strip() and rec_form == "list":
            record[last_key] = (record[last_key] + " " + line.strip()).strip()   # wrapped value
            i += 1
            continue
        flush()
        if rec_form == "mof":
            rec_form = ""
        if line.strip():
            h = _HEADING.match(line.strip())
            if h:
                section, section_host = h.group(1), h.group(2)
            out.free.append((no, line.strip()))
        i += 1
    flush()
    return out


def _read_fixed(lines: list[str], i: int, starts: list[int], names: list[str], form: str,
                section: Optional[str], section_host: Optional[str], out: Tables,
                lows: Optional[list[int]] = None) -> int:
    """Rows of a fixed-width table from line index ``i`` to the first blank line."""
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            break
        if _DASHES.match(line):
            i += 1
            continue
        cells = _cut(line, starts, lows)
        if cells is None:
            out.warn(i + 1, f"{form} row does not line up with its header columns", lost=1)
        else:
            out.rows.append(Row(dict(zip(names, cells)), i + 1, form, section, section_host))
        i += 1
    return i
