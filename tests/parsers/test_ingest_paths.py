"""The cheaper ways parsers read their input (issue 20): zips kept open for a bundle's reads,
hives opened without a temporary copy, the licensing sniff's quick refusal. Each must read
exactly what the plain way reads."""
from __future__ import annotations

import os
import re
import zipfile
from datetime import datetime, timezone

import pandas as pd
import pytest

from rdsla.parsers import base
from rdsla.parsers.base import ParseOptions, Source, zips_kept_open
from rdsla.parsers.licensing_sniff import _FIELD_RE, LICENSING_FIELDS, sniff
from rdsla.parsers.registry import parse
from rdsla.sample_data.forge.machine import Machine, system_tree
from rdsla.sample_data.forge.regf_writer import build_hive

T0 = datetime(2024, 1, 10, 8, 0, tzinfo=timezone.utc)


def _member(zip_path, name) -> Source:
    with zipfile.ZipFile(zip_path) as zf:
        size = zf.getinfo(name).file_size
    return Source(display=f"{zip_path}!/{name}", chain=(str(zip_path), name), size=size, kind="hive")


def _hive_bytes() -> bytes:
    m = Machine(name="RDSH01", os="2019", domain="contoso.local", roles=frozenset({"session_host"}), installed=T0,
                policy_mode=4, policy_servers=["LS01"], deployment_mode=2, deployment_servers=["LS09"],
                certificate=True, grace_start=T0)
    data, _ = build_hive(system_tree(m, T0), file_name="SYSTEM", timestamp=T0)
    return data


def test_zips_kept_open_read_the_same_bytes_and_open_each_zip_once(tmp_path, monkeypatch):
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", b"alpha" * 100)
        zf.writestr("b/c.txt", b"gamma")
    opened = []
    real = base.open_zip
    monkeypatch.setattr(base, "open_zip", lambda f: opened.append(f) or real(f))
    plain = [_member(path, n).read_bytes() for n in ("a.txt", "b/c.txt")]
    assert len(opened) == 2
    opened.clear()
    with zips_kept_open():
        kept = [_member(path, n).read_bytes() for n in ("a.txt", "b/c.txt")]
        kept.append(_member(path, "a.txt").read_head(5))
        with zips_kept_open():                  # nested: the same open zip
            kept.append(_member(path, "b/c.txt").read_bytes())
        cached = list(base._kept.zips.values())
        # a file replaced meanwhile is opened anew, never read through the stale directory
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("a.txt", b"new content, longer than before")
        os.utime(path, ns=(1, 1))
        kept.append(_member(path, "a.txt").read_bytes())
    assert kept[:2] == plain and kept[2] == b"alpha" and kept[3] == b"gamma"
    assert kept[4] == b"new content, longer than before"
    assert len(opened) == 2
    assert base._kept.zips is None and all(zf.fp is None for zf in cached)       # closed at the end


@pytest.mark.parametrize("memfd", [True, False])
def test_hive_in_a_zip_reads_as_the_same_hive_on_disk(tmp_path, monkeypatch, memfd):
    data = _hive_bytes()
    (tmp_path / "SYSTEM").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.writestr("LS01/SYSTEM", data)
    if not memfd:       # a platform without memfd: the temporary copy
        monkeypatch.delattr(os, "memfd_create", raising=False)
    elif not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        pytest.skip("no memfd on this platform")
    from regipy.registry import RegistryHive
    opened: list[str] = []

    class Recording(RegistryHive):
        def __init__(self, path, *args, **kwargs):
            opened.append(str(path))
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr("regipy.registry.RegistryHive", Recording)
    on_disk = parse(Source(display="SYSTEM", chain=(str(tmp_path / "SYSTEM"),), size=len(data), kind="hive"),
                    ParseOptions())
    zipped = parse(_member(tmp_path / "b.zip", "LS01/SYSTEM"), ParseOptions())
    # the path each way took: the file itself, then the memfd or the temporary copy (never both)
    assert opened[0] == str(tmp_path / "SYSTEM") and len(opened) == 2
    assert opened[1].startswith("/proc/self/fd/") if memfd else "rdsla-hive-" in opened[1]
    assert zipped.computers == on_disk.computers == {"RDSH01": 1}
    pd.testing.assert_frame_equal(zipped.frames["registry"], on_disk.frames["registry"], check_exact=True)
    assert zipped.warnings == on_disk.warnings and zipped.status == on_disk.status == "ok"


@pytest.mark.parametrize("cut", [200, 6000])
def test_damaged_hive_in_a_zip_reads_as_the_same_damaged_hive_on_disk(tmp_path, cut):
    data = _hive_bytes()[:4096 + cut]          # cut inside the root hive bin / after the root key
    (tmp_path / "SYSTEM").write_bytes(data)
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.writestr("SYSTEM", data)
    on_disk = parse(Source(display="SYSTEM", chain=(str(tmp_path / "SYSTEM"),), size=len(data), kind="hive"),
                    ParseOptions())
    zipped = parse(_member(tmp_path / "b.zip", "SYSTEM"), ParseOptions())
    assert zipped.status == on_disk.status != "ok"
    assert [w.replace(f"{tmp_path / 'b.zip'}!/", "") for w in zipped.warnings] == on_disk.warnings
    assert set(zipped.frames) == set(on_disk.frames)


@pytest.mark.parametrize("text", [
    "Name,Value\nfoo,bar\n", "KeyPackId,ProductVersion,TypeAndModel\n1,2,3\n", "keypackid;x;y\n",
    "LICENSE CONNECTIVITY STATUS: true\n", "nothing here at all " * 500, "ID \u212aeyPackId stra\u00dfe\n",
    "\u017fomething KeyPackId", "Zeichen: \u00e4\u00f6\u00fc IssuedCount", "\ufeffKeyPackId,TotalLicenses,x\n",
    "\ufeffName,Value\n", "\u212aEYPACKID", "Issued\u0130d", "\u0131ssuedcount", "LICEN\u017fESERVERVERSION ja",
    "Stra\u00dfe ohne Feld\n" * 50, "\u017fIssuedToUser \u0131sLSAvailable \u0130ssuingCals \u212aEYPACKTYPE",
    "Grace period days left? 12\nactivation status: 1\nDaysLeft DAYSLEFT daysleft\n" * 20,
])
def test_licensing_sniff_refuses_quickly_only_what_the_field_search_refuses(text):
    plain = re.compile("|".join(re.escape(f) for f in LICENSING_FIELDS), re.IGNORECASE)   # the search as it was
    assert [m.group(0) for m in _FIELD_RE.finditer(text)] == [m.group(0) for m in plain.finditer(text)]
    found = {m.group(0).lower() for m in plain.finditer(text[:65536])}
    result = sniff(text.encode("utf-8"))
    assert (result is None) == (not found)
    if result is not None and result.kind == "licensing_text":
        assert result.reason.endswith(", ".join(sorted(found)[:4]))


def test_a_hive_that_passes_the_artifact_timeout_is_a_failed_artifact(tmp_path, monkeypatch):
    """The clean-hive path catches what regipy raises on damaged input; it must not swallow the
    pipeline's timer (which would parse the hive again through the temporary copy, unlimited)."""
    import time
    from regipy.registry import RegistryHive
    from rdsla.analyzer.pipeline import parse_source
    from rdsla.core.limits import Limits
    opened: list[str] = []

    class Slow(RegistryHive):
        def __init__(self, path, *args, **kwargs):
            opened.append(str(path))
            time.sleep(1.0)
            super().__init__(path, *args, **kwargs)

    monkeypatch.setattr("regipy.registry.RegistryHive", Slow)
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.writestr("LS01/SYSTEM", _hive_bytes())
    result = parse_source(_member(tmp_path / "b.zip", "LS01/SYSTEM"),
                          ParseOptions(limits=Limits(artifact_seconds=0.2)))
    assert result.status == "failed" and "took longer than 0.2 s" in " ".join(result.warnings)
    assert len(opened) == 1
