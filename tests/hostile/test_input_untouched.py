"""The input is never modified and temporary files never outlive a run (issue 10, item 3):
every input file is hashed (content, mode, size, mtime) before and after ``analyze`` and
``batch``; rdsla's temporary folders are gone after a run, a parser error and a Ctrl-C."""
from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

from tests.hostile.conftest import inventory, keypacks_csv, make_zip, reg_text, run, tree_digest

FIXTURES = Path(__file__).resolve().parents[1] / "parsers" / "fixtures" / "licensing"


def _hive(computer="LS01") -> bytes:
    from tests.fuzz.seeds import system_tree
    from rdsla.sample_data.forge.regf_writer import build_hive
    data, _ = build_hive(system_tree(computer, (computer,), many=3, blob=64), file_name="SYSTEM",
                         timestamp=__import__("tests.fuzz.seeds", fromlist=["WHEN"]).WHEN)
    return data


def _dirty_hive() -> bytes:
    from tests.fuzz.seeds import WHEN, system_tree
    from rdsla.sample_data.forge.regf_writer import build_hive
    data, _ = build_hive(system_tree("RDSH02", ("LS01",), many=3, blob=64), file_name="SYSTEM", timestamp=WHEN, dirty=True)
    return data


@pytest.fixture
def upload(tmp_path, real_evtx_small) -> tuple[Path, list[Path]]:
    """A folder bundle with every artifact kind (a zip among them, holding a hive: the hive
    reader copies zip members to a temporary file), plus loose real EVTX files read in place."""
    b = tmp_path / "upload"
    (b / "MSRD-Results-RDSH01").mkdir(parents=True)
    (b / "MSRD-Results-RDSH01" / "RDSH01_TS.reg").write_bytes(reg_text())
    (b / "MSRD-Results-LS01").mkdir()
    (b / "MSRD-Results-LS01" / "LS01_SYSTEM.hiv").write_bytes(_hive())
    (b / "RDSH02_SYSTEM.hiv").write_bytes(_dirty_hive())
    (b / "RDSH02_SYSTEM.hiv.LOG1").write_bytes(b"\0" * 512)         # a broken transaction log
    for name in ("LS01_rdls_LicenseKeyPacks.html", "issued_export.csv", "keypacks_wmic.txt", "RDSH01_rdsh_GracePeriod.txt"):
        (b / name).write_bytes((FIXTURES / name).read_bytes())
    make_zip(b / "LS02.zip", {"LS02_SYSTEM.hiv": _hive("LS02"), "LS02_KeyPacks.csv": keypacks_csv()})
    os.chmod(b / "RDSH01_rdsh_GracePeriod.txt", 0o444)
    return b, real_evtx_small


@pytest.fixture
def real_evtx_small(request) -> list[Path]:
    from tests.conftest import REALDATA
    folder = REALDATA / "evtx"
    return sorted(p for p in folder.glob("*.evtx") if p.stat().st_size < 100_000)[:2] if folder.is_dir() else []


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """rdsla's temporary files go to a folder of this test only (other engineers share /tmp)."""
    d = tmp_path / "systmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    monkeypatch.setenv("TMPDIR", str(d))
    return d


def leftovers(d: Path) -> list[str]:
    """Entries left in the temporary folder, except multiprocessing's own ``pymp-*`` folder (made
    once per process by the standard library for the process pool, removed at interpreter exit)."""
    return sorted(p.name for p in d.iterdir() if not p.name.startswith("pymp-"))


def test_analyze_does_not_touch_the_input(tmp_path, upload, capsys, private_tmp):
    bundle, loose = upload
    before = tree_digest(bundle, *loose)
    out = tmp_path / "out"
    code, _, err = run(capsys, "analyze", str(bundle), *map(str, loose), "-o", str(out / "report.html"),
                       "--json", str(out / "findings.json"), "--md", str(out / "summary.md"), "--jobs", "2")
    assert code in (0, 1), err
    assert (out / "findings.json").is_file()
    assert tree_digest(bundle, *loose) == before
    for cmd in (["inventory", "--json"], ["hosts", "--json"], ["export", "--frame", "registry", "--format", "jsonl"]):
        code, _, err = run(capsys, cmd[0], str(bundle), *cmd[1:], "--jobs", "1")
        assert code == 0, (cmd, err)
    assert tree_digest(bundle, *loose) == before
    assert leftovers(private_tmp) == [], "temporary files left behind"


def test_output_inside_the_input_is_refused(tmp_path, upload, capsys):
    bundle, _ = upload
    before = tree_digest(bundle)
    for args in (["-o", str(bundle / "report.html")], ["--json", str(bundle / "sub" / "f.json")],
                 ["--format", "html,json", "--out-dir", str(bundle / "MSRD-Results-LS01")]):
        code, _, err = run(capsys, "analyze", str(bundle), "--jobs", "1", "--quiet", *args)
        assert code == 2 and "never writes into its input" in err, (args, err)
    assert tree_digest(bundle) == before


@pytest.mark.skipif(importlib.util.find_spec("rdsla.analyzer.batch") is None, reason="analyzer.batch not written yet")
def test_batch_does_not_touch_the_input(tmp_path, upload, capsys, private_tmp):
    bundle, _ = upload
    cases = tmp_path / "cases"
    cases.mkdir()
    bundle.rename(cases / "case1")
    make_zip(cases / "case2.zip", {"RDSH01_TS.reg": reg_text(), "LS01_KeyPacks.csv": keypacks_csv()})
    (cases / "case3").mkdir()
    (cases / "case3" / "garbage.bin").write_bytes(b"\x00\x01garbage")
    before = tree_digest(cases)
    code, _, err = run(capsys, "batch", str(cases), "-o", str(tmp_path / "triage"), "--jobs", "1", "--quiet")
    assert code in (0, 1, 3), err
    assert tree_digest(cases) == before
    assert any((tmp_path / "triage").iterdir())
    assert leftovers(private_tmp) == [], "temporary files left behind"


def _zip_with_hive(tmp_path) -> Path:
    return make_zip(tmp_path / "upload.zip", {"LS01_SYSTEM.hiv": _hive(), "RDSH01_TS.reg": reg_text()})


def test_temp_files_removed_after_a_parser_error(tmp_path, capsys, private_tmp, monkeypatch):
    import regipy.registry

    def broken(*a, **k):
        # the temporary copy of the zip member exists now: fail while it does
        assert any(private_tmp.iterdir()), "the hive reader was expected to use a temporary copy"
        raise RuntimeError("simulated parser failure")

    monkeypatch.setattr(regipy.registry, "RegistryHive", broken)
    z = _zip_with_hive(tmp_path)
    rows = inventory(capsys, str(z))
    hive = rows["upload.zip!/LS01_SYSTEM.hiv"]
    assert hive["status"] == "failed" and hive["warnings"], hive
    assert rows["upload.zip!/RDSH01_TS.reg"]["status"] == "ok"
    assert leftovers(private_tmp) == [], "temporary files left behind after an error"


def test_temp_files_removed_after_ctrl_c(tmp_path, capsys, private_tmp, monkeypatch):
    import regipy.registry

    seen_file = tmp_path / "seen.txt"      # hives are parsed in a worker process: record there

    def interrupted(*a, **k):
        seen_file.write_text("\n".join(sorted(p.name for p in private_tmp.iterdir())))
        raise KeyboardInterrupt

    monkeypatch.setattr(regipy.registry, "RegistryHive", interrupted)
    # a clean hive in a zip is read through a memfd where the platform has one (parsers/hive.py):
    # take the temporary copy, the path every hive with transaction logs and every other platform takes
    monkeypatch.delattr(os, "memfd_create", raising=False)
    z = _zip_with_hive(tmp_path)
    code, out, err = run(capsys, "analyze", str(z), "--jobs", "1", "--quiet", "-o", str(tmp_path / "r.html"))
    assert code == 130 and "interrupted" in err, (code, err)
    assert seen_file.exists() and seen_file.read_text(), "the interrupt was expected while a temporary copy existed"
    assert leftovers(private_tmp) == [], "temporary files left behind after Ctrl-C"
    assert not (tmp_path / "r.html").exists(), "a partial report was written after Ctrl-C"


def test_ctrl_c_in_a_text_parser(tmp_path, capsys, private_tmp, monkeypatch):
    import rdsla.parsers.licensing as licensing

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(licensing, "parse", interrupted)
    z = make_zip(tmp_path / "upload.zip", {"LS01_KeyPacks.csv": keypacks_csv(), "RDSH01_TS.reg": reg_text()})
    before = tree_digest(z)
    code, _, err = run(capsys, "inventory", str(z), "--json", "--jobs", "1")
    assert code == 130, err
    assert tree_digest(z) == before
    assert leftovers(private_tmp) == []
