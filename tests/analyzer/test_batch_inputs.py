"""What one bundle is (DESIGN.md, batch inputs) and where its results may be written."""
from __future__ import annotations

import zipfile
from pathlib import Path

from rdsla.analyzer.batch_inputs import expand_inputs, inside, safe_dir_name


def _names(exp) -> list[str]:
    return sorted(Path(b.name).name for b in exp.bundles)


def test_folder_of_bundles_children_are_bundles_loose_files_are_reported(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.reg").write_text("x")
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as z:
        z.writestr("x.reg", "x")
    (tmp_path / "c.zip").write_bytes(b"not a zip")                  # a zip by name: a bundle, it will fail
    (tmp_path / "renamed.bin").write_bytes((tmp_path / "b.zip").read_bytes())   # a zip by content
    (tmp_path / "README.txt").write_text("notes")
    exp = expand_inputs([str(tmp_path)])
    assert _names(exp) == ["a", "b.zip", "c.zip", "renamed.bin"]
    assert any("README.txt" in m and "skipped" in m for m in exp.messages)
    assert exp.input_dirs == [str(tmp_path.resolve())]


def test_folder_of_plain_files_is_one_bundle_and_a_zip_input_is_one_bundle(tmp_path):
    up = tmp_path / "upload"
    up.mkdir()
    (up / "System.evtx").write_bytes(b"ElfFile\x00")
    (up / "system.reg").write_text("x")
    z = tmp_path / "one.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a/b.reg", "x")
    exp = expand_inputs([str(up), str(z), str(up)])                 # duplicates collapse
    assert [b.name for b in exp.bundles] == [str(up), str(z)]
    assert exp.bundles[0].size == 8 + 1 and exp.opened == 3


def test_missing_input_is_a_bundle_to_fail_not_dropped(tmp_path):
    exp = expand_inputs([str(tmp_path / "nope")])
    assert exp.opened == 0 and len(exp.bundles) == 1 and exp.bundles[0].fingerprint == "missing"


def test_fingerprint_changes_when_a_file_changes(tmp_path):
    (tmp_path / "b").mkdir()
    f = tmp_path / "b" / "x.reg"
    f.write_text("x")
    first = expand_inputs([str(tmp_path)]).bundles[0].fingerprint
    f.write_text("xy")
    assert expand_inputs([str(tmp_path)]).bundles[0].fingerprint != first


def test_safe_dir_names_never_escape_and_never_collide():
    hostile = ["..", "../../etc", "..\\..\\x", "<script>alert(1)</script>", "", "CON", "a" * 300, "\u202e\u0000x"]
    names = [safe_dir_name(h, f"/k/{i}") for i, h in enumerate(hostile)]
    assert len(set(names)) == len(names)
    for n in names:
        assert "/" not in n and "\\" not in n and not n.startswith(".") and len(n) <= 71
        assert all(c.isalnum() and c.isascii() or c in "._-" for c in n)
    assert safe_dir_name("same", "/a") != safe_dir_name("same", "/b")


def test_inside(tmp_path):
    assert inside(str(tmp_path / "x" / "y"), str(tmp_path)) and inside(str(tmp_path), str(tmp_path))
    assert not inside(str(tmp_path.parent / "other"), str(tmp_path))
