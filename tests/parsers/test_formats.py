"""Format detection belongs to the parsers (issue 16, item 4): each format module declares a
Format, rdsla.parsers lists them and picks the answer, intake asks it."""
import pytest

from rdsla import parsers
from rdsla.parsers.formats import CERTAIN, HEAD_BYTES, THRESHOLD, Format, Sniff

INVENTORY_KINDS = {"evtx", "hive", "reg_export", "reg_query", "licensing_csv", "licensing_html",
                   "licensing_text", "system_info", "unknown"}   # DESIGN.md, inventory contract (+ issue 23)


def test_the_formats_yield_exactly_the_inventory_kinds():
    kinds = {k for f in parsers.registered_formats() for k in f.kinds}
    assert kinds == INVENTORY_KINDS


def test_every_parseable_kind_has_its_parser_and_unknown_has_none():
    from rdsla.parsers import evtx, licensing, registry, systeminfo
    expected = {"evtx": evtx.parse, "hive": registry.parse, "reg_export": registry.parse,
                "reg_query": registry.parse, "licensing_csv": licensing.parse,
                "licensing_html": licensing.parse, "licensing_text": licensing.parse,
                "system_info": systeminfo.parse}
    assert {k: parsers.parser_for(k) for k in expected} == expected
    with pytest.raises(KeyError):
        parsers.parser_for("unknown")


def test_a_sniff_answers_only_kinds_its_format_declares():
    from tests.parsers.test_sniff import CASES
    for fmt in parsers.registered_formats():
        for head, _ in CASES:
            found = fmt.sniff(head)
            assert found is None or (found.kind in fmt.kinds and 0 < found.confidence <= 1), (fmt, head[:20])


def test_intake_head_covers_what_the_evtx_sniff_needs():
    from rdsla.parsers.evtx_sniff import HEAD_NEEDED
    assert HEAD_BYTES >= HEAD_NEEDED


def _fmt(kind, confidence, calls=None):
    def sniff(head):
        if calls is not None:
            calls.append(kind)
        return Sniff(kind, confidence, f"{kind} says so") if confidence else None
    return Format(kinds=(kind,), sniff=sniff, parse=None)


def test_the_most_confident_answer_wins_and_ties_go_to_the_first_listed():
    head = b"anything at all"
    assert parsers.recognize(head, [_fmt("a", 0.6), _fmt("b", 0.9), _fmt("c", 0.7)]).kind == "b"
    assert parsers.recognize(head, [_fmt("a", 0.8), _fmt("b", 0.8)]).kind == "a"
    assert parsers.recognize(head, [_fmt("b", 0.8), _fmt("a", 0.8)]).kind == "b"


def test_a_signature_ends_the_asking():
    calls = []
    found = parsers.recognize(b"x", [_fmt("a", 0.5, calls), _fmt("b", CERTAIN, calls), _fmt("c", CERTAIN, calls)])
    assert found.kind == "b" and calls == ["a", "b"]


def test_below_the_threshold_a_guess_is_unknown_with_the_guess_in_its_reason():
    found = parsers.recognize(b"plain words\n", [_fmt("a", THRESHOLD / 2)])
    assert found.kind == "unknown" and "a weak sign of a" in found.reason
    assert parsers.recognize(b"plain words\n", [_fmt("a", THRESHOLD)]).kind == "a"


def test_a_sniff_that_raises_costs_only_its_own_answer():
    def broken(head):
        raise IndexError("bug")
    bad = Format(kinds=("x",), sniff=broken, parse=None)
    assert parsers.recognize(b"x", [bad, _fmt("a", 0.9)]).kind == "a"
    found = parsers.recognize(b"x", [bad])
    assert found.kind == "unknown" and "IndexError: bug" in found.reason


def test_a_new_format_is_one_module(tmp_path, monkeypatch):
    """Declaring a Format in a module and listing it is all intake needs."""
    (tmp_path / "rdsla_demo_format.py").write_text(
        "from rdsla.parsers.formats import CERTAIN, Format, Sniff\n"
        "def sniff(head):\n"
        "    return Sniff('demo', CERTAIN, 'DEMO signature') if head.startswith(b'DEMO') else None\n"
        "def parse(source, options):\n"
        "    return 'parsed'\n"
        "FORMAT = Format(kinds=('demo',), sniff=sniff, parse='rdsla_demo_format:parse')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(parsers, "FORMATS", parsers.FORMATS + ("rdsla_demo_format:FORMAT",))
    parsers.registered_formats.cache_clear()
    try:
        assert parsers.recognize(b"DEMO\x00\x01").kind == "demo"
        assert parsers.parser_for("demo")(None, None) == "parsed"
        assert parsers.recognize(b"ElfFile\x00").kind == "evtx"
    finally:
        monkeypatch.undo()
        parsers.registered_formats.cache_clear()
    with pytest.raises(KeyError):
        parsers.parser_for("demo")


def test_importing_the_parsers_package_imports_no_format(tmp_path):
    """rdsla --version imports rdsla.parsers (through parsers.base); recognition is loaded on
    first use, the parse modules when a file of their kind is parsed."""
    import ast
    import subprocess
    import sys
    code = ("import sys, rdsla.parsers; "
            "print(sorted(m for m in sys.modules if m.startswith('rdsla.parsers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = ("import sys; from rdsla.parsers import recognize; recognize(b'ElfFile\\x00'); "
            "print(sorted(m for m in sys.modules if m.startswith('rdsla.parsers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(ast.literal_eval(out))
    assert loaded == {"rdsla.parsers.formats", "rdsla.parsers.text", "rdsla.parsers.evtx_sniff",
                      "rdsla.parsers.registry_sniff", "rdsla.parsers.licensing_sniff",
                      "rdsla.parsers.systeminfo_sniff"}
