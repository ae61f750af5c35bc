"""CSV cells a spreadsheet will not run: bundle text is hostile until escaped.

A cell starting with ``= + - @`` (or a tab/CR before one) is a formula to Excel and
LibreOffice; a leading apostrophe makes it text and is not shown. Reference: OWASP, "CSV
Injection".
"""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value
