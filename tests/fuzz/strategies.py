"""Hypothesis strategies for the text formats, generated from their grammars (not mutated)."""
from __future__ import annotations

from hypothesis import strategies as st

from rdsla.parsers.licensing_sniff import LICENSING_FIELDS

_name_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")
names = st.text(_name_chars, max_size=40)
KEYS = (r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server",
        r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Control\Terminal Server\RCM\Licensing Core",
        r"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\TermService\Parameters\LicenseServers",
        r"HKEY_LOCAL_MACHINE\SYSTEM\Select", r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services",
        r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName", r"HKEY_CURRENT_USER\x",
        r"HKLM\OFFLINE_SYS\ControlSet002\Control", r"HKEY_LOCAL_MACHINE")
key_paths = st.one_of(st.sampled_from(KEYS), st.builds(lambda k, n: k + "\\" + n, st.sampled_from(KEYS), names), names)
hex_bytes = st.lists(st.one_of(st.integers(0, 255).map(lambda b: f"{b:02x}"), st.sampled_from(["zz", "", "100", "-1", " 0"])),
                     max_size=40).map(",".join)


def _quoted(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


reg_value_data = st.one_of(
    names.map(_quoted), names,
    st.integers(-1, 2**40).map(lambda n: f"dword:{n:08x}" if n >= 0 else "dword:-1"),
    st.tuples(st.one_of(st.integers(0, 0x1_0000_0000).map(lambda n: f"{n:x}"), st.sampled_from(["", "z", "-1", "7", "b"])),
              hex_bytes).map(lambda t: f"hex({t[0]}):{t[1]}"),
    hex_bytes.map(lambda h: f"hex:{h}"), st.just("-"), st.just(""),
)
reg_value_line = st.builds(lambda n, d: f"{n}={d}", st.one_of(names.map(_quoted), st.just("@"), names), reg_value_data)
reg_key_line = st.builds(lambda dash, k: f"[{dash}{k}]", st.sampled_from(["", "-"]), key_paths)
reg_export_text = st.builds(
    lambda header, lines, eol: header + eol + eol.join(lines) + eol,
    st.sampled_from(["Windows Registry Editor Version 5.00", "REGEDIT4", "\ufeffWindows Registry Editor Version 5.00"]),
    st.lists(st.one_of(reg_key_line, reg_value_line, reg_value_line, names, st.just(""), st.just("  00,01,\\")), max_size=40),
    st.sampled_from(["\r\n", "\n", "\r"]))

REG_TYPES = ("REG_SZ", "REG_EXPAND_SZ", "REG_MULTI_SZ", "REG_DWORD", "REG_QWORD", "REG_BINARY", "REG_NONE",
             "REG_DWORD_BIG_ENDIAN", "REG_LINK", "REG_RESOURCE_LIST", "REG_FOO")
query_value_line = st.builds(lambda n, t, d: f"    {n}    {t}    {d}".rstrip() if d is not None else f"    {n}    {t}",
                             st.one_of(names, st.just("(Default)")), st.sampled_from(REG_TYPES),
                             st.one_of(st.none(), names, st.integers(-2**70, 2**70).map(hex), hex_bytes.map(lambda h: h.replace(",", "").upper()),
                                       st.lists(names, max_size=5).map("\\0".join)))
reg_query_text = st.builds(lambda lines, eol: eol + eol.join(lines) + eol,
                           st.lists(st.one_of(key_paths, query_value_line, query_value_line, st.just(""), names), max_size=40),
                           st.sampled_from(["\r\n", "\n"]))

FIELDS = st.sampled_from(LICENSING_FIELDS + ("ExpirationDate", "IssueDate", "KeyPackId", "ProductVersion", "PSComputerName"))
cell = st.one_of(names, st.integers(-2**64, 2**64).map(str), st.sampled_from(
    ["", "4294967295", "-1", "20241105101500.000000+060", "11/05/2024 10:15:00", "05.11.2024", "2024-02-30T25:61:61",
     "True", "False", "Per User", "Per Device", "Windows Server 2022", "Activated", "NaN", "1e309", "0x10"]))


def _csv(header, rows, sep):
    q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
    return "\r\n".join([sep.join(q(h) for h in header)] + [sep.join(q(c) for c in r) for r in rows]) + "\r\n"


licensing_csv_text = st.builds(_csv, st.lists(FIELDS, min_size=2, max_size=12),
                               st.lists(st.lists(cell, max_size=14), max_size=20), st.sampled_from([",", ";", "\t"]))


def _html(header, rows):
    th = "".join(f"<th>{h}</th>" for h in header)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>\n" for r in rows)
    return f"<html><body><table>\n<tr>{th}</tr>\n{trs}</table></body></html>"


licensing_html_text = st.builds(_html, st.lists(FIELDS, min_size=1, max_size=12), st.lists(st.lists(cell, max_size=14), max_size=20))
licensing_plain_text = st.lists(st.one_of(st.builds(lambda f, c: f"{f} : {c}", FIELDS, cell),
                                          st.builds(lambda f, c: f"{f}={c}", FIELDS, cell), names, st.just("")),
                                max_size=40).map("\r\n".join)
encodings = st.sampled_from(["utf-8", "utf-16", "utf-8-sig", "cp1252", "utf-16-le"])


def encode(text: str, enc: str) -> bytes:
    if enc == "utf-16":
        return b"\xff\xfe" + text.encode("utf-16-le", "surrogatepass")
    return text.encode(enc, "surrogatepass" if enc.startswith("utf") else "replace")
