"""One decoder for every text export (.reg, reg query, licensing text)."""
import pytest

from rdsla.parsers.text import decode_text

TEXT = "KeyPackId : 4\r\nProductVersion : Windows Server 2008 oder Windows Server 2008 R2 Müller\r\n"


@pytest.mark.parametrize("data", [
    b"\xff\xfe" + TEXT.encode("utf-16-le"),          # Out-File, regedit
    TEXT.encode("utf-16-le"),                        # wmic > file (no BOM)
    b"\xfe\xff" + TEXT.encode("utf-16-be"),
    b"\xef\xbb\xbf" + TEXT.encode("utf-8"),          # Export-Csv (PowerShell 5)
    TEXT.encode("utf-8"),
    TEXT.encode("cp1252"),                           # ANSI code page: not valid UTF-8
])
def test_every_windows_encoding_gives_the_same_text(data):
    assert decode_text(data) == TEXT


def test_odd_trailing_byte_of_utf16_is_dropped_not_fatal():
    assert decode_text(b"\xff\xfe" + "ab".encode("utf-16-le") + b"x") == "ab"
