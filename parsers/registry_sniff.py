"""How the three registry forms look from their first bytes, and their format entries.

* ``hive``: a binary hive's base block starts ``regf`` (msuhanov, "Windows registry file format
  specification", "Base block");
* ``reg_export``: regedit / ``reg export`` text starts with ``Windows Registry Editor Version
  5.00`` or ``REGEDIT4`` (https://support.microsoft.com/help/310516, ".reg file syntax");
* ``reg_query``: ``reg query KEY /s`` output has a line that is a key with its root, and value
  lines indented by four spaces, ``name    REG_TYPE    data``
  (https://learn.microsoft.com/windows-server/administration/windows-commands/reg-query).

All three are read by :func:`parsers.registry.parse`. Apart from the readers so that
recognizing a file imports none of them.
"""
from __future__ import annotations

import re
from typing import Optional

from rdsla.parsers.formats import CERTAIN, STRONG, Format, Sniff
from rdsla.parsers.text import decode_head

REGF_MAGIC = b"regf"
REG_EXPORT_HEADERS = ("Windows Registry Editor Version 5.00", "REGEDIT4")
_REG_QUERY_KEY = re.compile(r"^HKEY_(LOCAL_MACHINE|CURRENT_USER|USERS|CLASSES_ROOT|CURRENT_CONFIG)\\|^HK(LM|CU|U|CR|CC)\\", re.M)
_REG_QUERY_VALUE = re.compile(r"^ {4}\S.*? {4}REG_[A-Z_]+( {4}|$)", re.M)
_PARSE = "rdsla.parsers.registry:parse"


def sniff_hive(head: bytes) -> Optional[Sniff]:
    return Sniff("hive", CERTAIN, "regf signature") if head.startswith(REGF_MAGIC) else None


def sniff_reg_export(head: bytes) -> Optional[Sniff]:
    text = decode_head(head)
    if text is not None and text.lstrip("\ufeff \t\r\n").startswith(REG_EXPORT_HEADERS):
        return Sniff("reg_export", CERTAIN, "reg export header")
    return None


def sniff_reg_query(head: bytes) -> Optional[Sniff]:
    text = decode_head(head)
    if text is not None and _REG_QUERY_KEY.search(text) and _REG_QUERY_VALUE.search(text):
        return Sniff("reg_query", STRONG, "reg query key and value lines")
    return None


HIVE = Format(kinds=("hive",), sniff=sniff_hive, parse=_PARSE)
REG_EXPORT = Format(kinds=("reg_export",), sniff=sniff_reg_export, parse=_PARSE)
REG_QUERY = Format(kinds=("reg_query",), sniff=sniff_reg_query, parse=_PARSE)
