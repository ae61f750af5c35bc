"""The forge's hives must read the same in every independent reader a support engineer might use
(regipy, hivex's hivexregedit/hivexml, reglookup), and follow the regf layout rules (libyal's
"Windows NT Registry File (REGF) format", msuhanov's regf specification) that readers rely on."""
from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
from datetime import datetime, timedelta, timezone
from functools import reduce
from operator import xor
from urllib.parse import unquote, unquote_to_bytes

import pytest
from lxml import etree
from regipy.registry import RegistryHive

from rdsla.sample_data.forge.regf_writer import (
    BIG_DATA_SEGMENT, REG_BINARY, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_NONE, REG_QWORD,
    REG_SZ, RegKey, build_hive, name_hash, system_skeleton, write_hive,
)
from rdsla.sample_data.forge.regtree import TYPE_NAMES, filetime, sort_key

T0 = datetime(2024, 3, 5, 9, 30, 15, 123456, tzinfo=timezone.utc)
BIG = bytes((i * 7 + 3) & 0xFF for i in range(40_000))
HIVEXREGEDIT, HIVEXML, REGLOOKUP = (shutil.which(n) for n in ("hivexregedit", "hivexml", "reglookup"))


def rich_tree(seed: int = 7) -> RegKey:
    """Every value type, big data, 600 subkeys (ri over lh leaves), non-ASCII names, a class
    name, an empty key and a (Default) value; `seed` only changes the insertion order."""
    rng = random.Random(seed)
    root = RegKey("ROOT", T0)
    types = root.key("Types", T0 + timedelta(hours=1))
    types.class_name = "ShellClass"
    for name, vtype, data in [
        ("", REG_SZ, "the default"),
        ("Sz", REG_SZ, 'C:\\Path "quoted", 100%'),
        ("EmptySz", REG_SZ, ""),
        ("Tiny", REG_SZ, "a"),  # 4 bytes with its NUL: stored inline
        ("Expand", REG_EXPAND_SZ, "%SystemRoot%\\System32"),
        ("Multi", REG_MULTI_SZ, ["LS01.contoso.com", "LS02.contoso.com"]),
        ("Dword", REG_DWORD, 0xDEADBEEF),
        ("Qword", REG_QWORD, 0x0123456789ABCDEF),
        ("Binary", REG_BINARY, bytes(range(32))),
        ("Small", REG_BINARY, b"\x01\x02"),
        ("Nothing", REG_NONE, b""),
        ("Big", REG_BINARY, BIG),
    ]:
        types.set(name, vtype, data)
    root.key("Empty", T0 + timedelta(days=1))
    many = root.key("Many", T0)
    numbers = list(range(600))
    rng.shuffle(numbers)
    for n in numbers:
        many.key(f"Key{n:03d}", T0 + timedelta(seconds=n)).set("Index", REG_DWORD, n)
    intl = root.key("Müller", T0 + timedelta(minutes=5))
    intl.set("東京", REG_SZ, "Tōkyō")
    intl.key("東京").set("Ort", REG_SZ, "Zürich")
    names = ["b", "A_", "a", "AB"]
    rng.shuffle(names)
    for name in names:
        root.key("Order").key(name)
    return root


def system_tree() -> RegKey:
    root = system_skeleton(T0, current=1)
    root.key(r"ControlSet001\Control\Terminal Server\RCM\Licensing Core").set("LicensingMode", REG_DWORD, 4)
    root.key(r"ControlSet001\Services\TermService\Parameters\LicenseServers").set(
        "SpecifiedLicenseServers", REG_MULTI_SZ, ["LS01.contoso.com"])
    root.key(r"ControlSet002\Control\Terminal Server\RCM\Licensing Core").set("LicensingMode", REG_DWORD, 5)
    return root


def expected(root: RegKey) -> dict[str, dict]:
    """path ("" = root) -> last-write FILETIME, class name, {value name: (type, raw bytes)}."""
    return {path: {"time": filetime(key.last_write), "class": key.class_name,
                   "values": {v.name: (v.type, v.raw()) for v in key.values}}
            for path, key in root.walk("")}


@pytest.fixture(scope="module")
def hives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hives")
    out = {}
    for name, tree in (("rich", rich_tree()), ("system", system_tree())):
        path = folder / name.upper()
        stats = write_hive(path, tree, file_name=name.upper(), timestamp=T0 + timedelta(days=2))
        out[name] = (tree, path, stats)
    return out


# --- regipy ------------------------------------------------------------------------------------

def regipy_view(vtype: int, raw: bytes):
    """What regipy returns for these raw bytes (strings without NULs, empty MULTI_SZ items dropped)."""
    if vtype in (REG_SZ, REG_EXPAND_SZ):
        return raw.decode("utf-16-le").rstrip("\0")
    if vtype == REG_MULTI_SZ:
        return [s for s in raw.decode("utf-16-le").split("\0") if s]
    if vtype in (REG_DWORD, REG_QWORD):
        return int.from_bytes(raw, "little")
    return raw


@pytest.mark.parametrize("name", ["rich", "system"])
def test_regipy_reads_every_key_time_class_and_value(hives, name):
    tree, path, stats = hives[name]
    want = expected(tree)
    hive = RegistryHive(str(path))
    walked = {s.path.lstrip("\\") for s in hive.recurse_subkeys(fetch_values=False)}
    assert walked | {""} == set(want)
    assert stats["keys"] == len(want)
    assert stats["values"] == sum(len(node["values"]) for node in want.values())
    type_codes = {v: k for k, v in TYPE_NAMES.items()}
    keys = regipy_keys(hive)  # one walk: get_key per key is quadratic in a 600-subkey key
    assert set(keys) == set(want)
    for key_path, key in keys.items():
        node = want[key_path]
        assert key.header.last_modified == node["time"], key_path
        got_class = key.get_class_name() if key.header.class_name_size else None
        assert got_class == node["class"], key_path
        got = {("" if v.name == "(default)" else v.name): (type_codes[v.value_type], v.value)
               for v in key.iter_values(trim_values=False)}
        assert got == {n: (t, regipy_view(t, raw)) for n, (t, raw) in node["values"].items()}, key_path
    if name == "rich":
        assert hive.get_key("\\Types").get_value("Big") == BIG


def regipy_keys(hive) -> dict:
    out = {}

    def visit(nk, path):
        out[path] = nk
        if nk.header.subkey_count:
            for sub in nk.iter_subkeys():
                visit(sub, f"{path}\\{sub.name}" if path else sub.name)

    visit(hive.root, "")
    return out


def test_regipy_sees_subkeys_in_windows_order(hives):
    """Upper-case compare: '_' (0x5F) sorts after letters, unlike a lower-case compare."""
    hive = RegistryHive(str(hives["rich"][1]))
    assert [k.name for k in hive.get_key("\\Order").iter_subkeys()] == ["a", "AB", "A_", "b"]
    many = [k.name for k in hive.get_key("\\Many").iter_subkeys()]
    assert many == [f"Key{n:03d}" for n in range(600)]


def test_system_hive_has_select_and_both_control_sets(hives):
    hive = RegistryHive(str(hives["system"][1]))
    assert hive.get_key("\\Select").get_value("Current") == 1
    lic = hive.get_key("\\ControlSet001\\Control\\Terminal Server\\RCM\\Licensing Core")
    assert lic.get_value("LicensingMode") == 4
    assert {k.name for k in hive.root.iter_subkeys()} >= {"ControlSet001", "ControlSet002", "Select"}


# --- hivex ---------------------------------------------------------------------------------------

def parse_dot_reg(text: str) -> dict[str, dict[str, tuple[int, bytes]]]:
    """A .reg text (hivexregedit's: REG_SZ as hex(1), REG_BINARY as hex(3)) -> path -> values."""
    text = re.sub(r"\\\r?\n\s*", "", text)
    keys: dict[str, dict] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("["):
            current = keys.setdefault(line[1:-1].lstrip("\\"), {})
            continue
        if not line or current is None:
            continue
        if line.startswith("@="):
            name, rest = "", line[2:]
        else:
            m = re.match(r'"((?:[^"\\]|\\.)*)"=(.*)$', line)
            name, rest = re.sub(r"\\(.)", r"\1", m[1]), m[2]
        if rest.startswith("dword:"):
            current[name] = (REG_DWORD, int(rest[6:], 16).to_bytes(4, "little"))
        elif rest.startswith('"'):
            current[name] = (REG_SZ, re.sub(r"\\(.)", r"\1", rest[1:-1]).encode("utf-16-le") + b"\0\0")
        else:
            m = re.match(r"hex(?:\(([0-9a-fA-F]+)\))?:(.*)$", rest)
            vtype = int(m[1], 16) if m[1] else REG_BINARY
            current[name] = (vtype, bytes.fromhex(m[2].replace(",", "")))
    return keys


def _decode_perl_lines(raw: bytes) -> str:
    """hivexregedit prints Latin-1 names as bytes and wider ones as UTF-8, line by line."""
    lines = []
    for line in raw.split(b"\n"):
        try:
            lines.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(line.decode("latin-1"))
    return "\n".join(lines)


@pytest.mark.skipif(not HIVEXREGEDIT, reason="hivexregedit (libwin-hivex-perl) is not installed")
@pytest.mark.parametrize("name", ["rich", "system"])
def test_hivexregedit_exports_the_same_keys_and_values(hives, name):
    tree, path, _ = hives[name]
    run = subprocess.run([HIVEXREGEDIT, "--export", str(path), "\\"], capture_output=True, check=True)
    got = parse_dot_reg(_decode_perl_lines(run.stdout))
    assert got == {p: node["values"] for p, node in expected(tree).items()}


@pytest.mark.skipif(not HIVEXML, reason="hivexml (libhivex-bin) is not installed")
@pytest.mark.parametrize("name", ["rich", "system"])
def test_hivexml_reads_the_same_tree_and_times(hives, name):
    tree, path, _ = hives[name]
    doc = etree.fromstring(subprocess.run([HIVEXML, str(path)], capture_output=True, check=True).stdout)
    got = {}

    def visit(node, prefix):
        got[prefix] = node.findtext("mtime")
        for child in node.findall("node"):
            visit(child, f"{prefix}\\{child.get('name')}" if prefix else child.get("name"))

    visit(doc.find("node"), "")
    want = {p: tree.key(p).last_write.strftime("%Y-%m-%dT%H:%M:%SZ") if p else tree.last_write.strftime(
        "%Y-%m-%dT%H:%M:%SZ") for p in expected(tree)}
    assert got == want


# --- reglookup -----------------------------------------------------------------------------------

def reglookup_view(vtype: int, raw: bytes):
    if vtype in (REG_SZ, REG_EXPAND_SZ):
        return raw.decode("utf-16-le").rstrip("\0")
    if vtype == REG_MULTI_SZ:
        return "|".join(s for s in raw.decode("utf-16-le").split("\0") if s)
    if vtype in (REG_DWORD, REG_QWORD):
        return int.from_bytes(raw, "little")
    return raw


@pytest.mark.skipif(not REGLOOKUP, reason="reglookup is not installed")
@pytest.mark.parametrize("name", ["rich", "system"])
def test_reglookup_lists_the_same_keys_times_and_values(hives, name):
    """reglookup 1.0.1 escapes UTF-16 names byte by byte, so only ASCII paths are compared."""
    tree, path, _ = hives[name]
    out = subprocess.run([REGLOOKUP, "-H", str(path)], capture_output=True, check=True).stdout.decode("ascii")
    keys, values = {}, {}
    for line in out.splitlines():
        row_path, row_type, row_value, row_time = line.split(",")
        if row_type == "KEY":
            keys[unquote(row_path).strip("/").replace("/", "\\")] = row_time
            continue
        key_path, _, value_name = row_path.rpartition("/")
        if row_type in ("DWORD", "QWORD"):
            data = int(row_value, 16)
        elif row_type in ("SZ", "EXPAND_SZ", "MULTI_SZ"):
            data = unquote(row_value)
        else:
            data = b"" if row_value == "(null)" else unquote_to_bytes(row_value)
        values[(unquote(key_path).strip("/").replace("/", "\\"), unquote(value_name))] = (row_type, data)
    want = expected(tree)
    ascii_paths = [p for p in want if p.isascii()]
    assert {p: keys[p] for p in ascii_paths} == {
        p: (tree.key(p) if p else tree).last_write.strftime("%Y-%m-%d %H:%M:%S") for p in ascii_paths}
    for p in ascii_paths:
        for vname, (vtype, raw) in want[p]["values"].items():
            if vname.isascii():
                assert values[(p, vname)] == (TYPE_NAMES[vtype][4:], reglookup_view(vtype, raw)), (p, vname)
    assert len(keys) == len(want)


# --- layout rules ----------------------------------------------------------------------------------

class Cells:
    """Just enough of a regf reader to check what the independent readers do not verify."""

    def __init__(self, data: bytes):
        self.data = data

    def cell(self, offset: int) -> bytes:
        size = -struct.unpack_from("<i", self.data, 4096 + offset)[0]
        assert size > 0 and size % 8 == 0, f"cell {offset:#x} not allocated or misaligned"
        return self.data[4096 + offset + 4: 4096 + offset + size]

    def nk(self, offset: int) -> dict:
        c = self.cell(offset)
        assert c[:2] == b"nk"
        f = struct.unpack_from("<HQIIIIIIIIII", c, 2)
        name_len, class_len = struct.unpack_from("<HH", c, 72)
        flags = f[0]
        raw = c[76:76 + name_len]
        return {"flags": flags, "subkeys": f[4], "subkey_list": f[6], "values": f[8], "value_list": f[9],
                "sk": f[10], "name": raw.decode("ascii" if flags & 0x20 else "utf-16-le"),
                "max_lengths": struct.unpack_from("<IIII", c, 52)}

    def subkey_offsets(self, list_offset: int) -> list[tuple[str, int, int]]:
        """(signature, offset, hash) of every subkey, leaves in order."""
        c = self.cell(list_offset)
        sig, count = c[:2], struct.unpack_from("<H", c, 2)[0]
        if sig == b"ri":
            return [e for leaf in struct.unpack_from(f"<{count}I", c, 4) for e in self.subkey_offsets(leaf)]
        assert sig == b"lh" and count <= 507
        return [(sig.decode(), *struct.unpack_from("<II", c, 4 + 8 * i)) for i in range(count)]

    def child(self, nk_offset: int, name: str) -> int:
        node = self.nk(nk_offset)
        return next(off for _, off, _ in self.subkey_offsets(node["subkey_list"]) if self.nk(off)["name"] == name)

    def values(self, nk_offset: int) -> dict[str, tuple[int, int, int]]:
        node = self.nk(nk_offset)
        out = {}
        for vk_off in struct.unpack_from(f"<{node['values']}I", self.cell(node["value_list"])):
            c = self.cell(vk_off)
            assert c[:2] == b"vk"
            name_len, size, data_off, vtype, flags = struct.unpack_from("<HIIIH", c, 2)
            out[c[20:20 + name_len].decode("ascii" if flags & 1 else "utf-16-le")] = (size, data_off, vtype)
        return out


def lh_hash(name: str) -> int:
    """msuhanov: hash = hash * 37 + upper-cased character, over the name's UTF-16 code units."""
    h = 0
    for unit in struct.unpack(f"<{len(name)}H", name.upper().encode("utf-16-le")):
        h = (h * 37 + unit) % 2**32
    return h


def test_lh_hash_matches_the_spec():
    assert name_hash("ab") == 65 * 37 + 66
    assert name_hash("Müller") == lh_hash("Müller")
    assert name_hash("x" * 40) == lh_hash("x" * 40)  # wraps modulo 2**32


@pytest.fixture(scope="module")
def rich_bytes(hives):
    return hives["rich"][1].read_bytes()


def test_base_block_is_clean_and_checksummed(rich_bytes):
    data = rich_bytes
    sig, seq1, seq2, stamp, major, minor, ftype, fmt, root, bins_size, cluster = struct.unpack_from(
        "<4sIIQIIIIIII", data, 0)
    assert (sig, seq1 == seq2, major, minor, ftype, fmt, cluster) == (b"regf", True, 1, 5, 0, 1, 1)
    assert stamp == filetime(T0 + timedelta(days=2))
    assert bins_size == len(data) - 4096 and bins_size % 4096 == 0
    assert data[48:48 + 8].decode("utf-16-le") == "RICH"
    assert struct.unpack_from("<I", data, 508)[0] == reduce(xor, struct.unpack_from("<127I", data, 0))
    assert Cells(data).nk(root)["flags"] == 0x2C


def test_hive_bins_tile_the_file_with_cells(rich_bytes):
    data, at, bins = rich_bytes, 4096, 0
    while at < len(data):
        sig, offset, size = struct.unpack_from("<4sII", data, at)
        assert (sig, offset, size % 4096) == (b"hbin", at - 4096, 0)
        cell = at + 32
        while cell < at + size:
            cell_size = abs(struct.unpack_from("<i", data, cell)[0])
            assert cell_size >= 8 and cell_size % 8 == 0
            cell += cell_size
        assert cell == at + size, "cells must end exactly at the bin's end"
        at, bins = at + size, bins + 1
    assert at == len(data) and bins > 1


def test_cells_follow_the_regf_rules(hives, rich_bytes):
    cells = Cells(rich_bytes)
    root = struct.unpack_from("<I", rich_bytes, 36)[0]
    sk = cells.nk(root)["sk"]
    sk_cell = cells.cell(sk)
    assert sk_cell[:2] == b"sk"
    flink, blink, refs = struct.unpack_from("<III", sk_cell, 4)
    assert (flink, blink, refs) == (sk, sk, hives["rich"][2]["keys"])

    many = cells.child(root, "Many")
    entries = cells.subkey_offsets(cells.nk(many)["subkey_list"])
    assert cells.cell(cells.nk(many)["subkey_list"])[:2] == b"ri" and len(entries) == 600
    names = [cells.nk(off)["name"] for _, off, _ in entries]
    assert names == sorted(names, key=sort_key)
    assert all(h == lh_hash(n) for (_, _, h), n in zip(entries, names))

    # largest subkey name, subkey class, value name (UTF-16 bytes) and value data
    assert cells.nk(root)["max_lengths"] == (len("Müller") * 2, len("ShellClass") * 2, 0, 0)
    assert cells.nk(cells.child(root, "Types"))["max_lengths"] == (0, 0, len("EmptySz") * 2, len(BIG))
    types = cells.values(cells.child(root, "Types"))
    size, data_off, vtype = types["Dword"]
    assert (size, data_off, vtype) == (0x80000004, 0xDEADBEEF, REG_DWORD)
    assert types["Tiny"][0] == 0x80000004
    size, db_off, _ = types["Big"]
    db = cells.cell(db_off)
    count, seg_list = struct.unpack_from("<HI", db, 2)
    assert (db[:2], size, count) == (b"db", len(BIG), -(-len(BIG) // BIG_DATA_SEGMENT))
    segments = struct.unpack_from(f"<{count}I", cells.cell(seg_list))
    assert b"".join(cells.cell(s)[:BIG_DATA_SEGMENT] for s in segments)[:len(BIG)] == BIG


def test_same_tree_gives_the_same_bytes_whatever_the_insertion_order():
    first, _ = build_hive(rich_tree(seed=1), timestamp=T0)
    again, _ = build_hive(rich_tree(seed=1), timestamp=T0)
    shuffled, _ = build_hive(rich_tree(seed=99), timestamp=T0)
    assert first == again == shuffled


def test_dirty_hive_has_unequal_sequence_numbers_and_a_valid_checksum():
    data, _ = build_hive(system_tree(), timestamp=T0, dirty=True)
    seq1, seq2 = struct.unpack_from("<II", data, 4)
    assert seq1 != seq2
    assert struct.unpack_from("<I", data, 508)[0] == reduce(xor, struct.unpack_from("<127I", data, 0))


def test_duplicate_subkey_names_and_naive_times_are_refused():
    root = RegKey("ROOT", T0)
    root.subkeys += [RegKey("Dup", T0), RegKey("DUP", T0)]
    with pytest.raises(ValueError):
        build_hive(root, timestamp=T0)
    with pytest.raises(ValueError):
        build_hive(RegKey("ROOT", datetime(2024, 1, 1)), timestamp=T0)


def test_key_and_set_get_or_create_case_insensitively():
    root = RegKey("ROOT", T0)
    a = root.key(r"Software\Policies")
    assert root.key(r"SOFTWARE\policies") is a and len(root.subkeys) == 1
    a.set("LicensingMode", REG_DWORD, 2).set("licensingmode", REG_DWORD, 4)
    assert [(v.name, v.data) for v in a.values] == [("licensingmode", 4)]
