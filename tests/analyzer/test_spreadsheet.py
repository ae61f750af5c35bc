"""analyzer.spreadsheet: CSV cells that a spreadsheet would run become text."""
from rdsla.analyzer.spreadsheet import safe_cell


def test_formula_starts_get_an_apostrophe_and_the_rest_is_untouched():
    for text in ("=HYPERLINK(1)", "+1+1", "-2+3", "@SUM(A1)", "\t=x", "\r=x"):
        assert safe_cell(text) == "'" + text
    assert safe_cell(-5) == -5 and safe_cell(None) == "" and safe_cell("RDSH01") == "RDSH01"
    assert safe_cell("") == "" and safe_cell("a=b") == "a=b"
