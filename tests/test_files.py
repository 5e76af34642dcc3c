"""Files written whole or not at all, with one naming scheme for what is in progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from supermark_ops import files, results


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    files.write_json(path, {"ok": True})
    with pytest.raises(RuntimeError), files.atomic_write(path) as out:
        out.write(b'{"half": ')
        assert Path(out.name) == files.partial(path) == tmp_path / ".state.json.partial"
        raise RuntimeError("killed")
    assert results.read(path)["ok"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_complete_write_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "x.bin"
    with files.atomic_write(path) as out:
        out.write(b"new")
    assert path.read_bytes() == b"new" and not files.partial(path).exists()
    assert files.sha256_file(path) == "11507a0e2f5e69d5dfa40a62a1bd7b6ee57e6bcd85c67c9b8431b36fff21c437"


def test_results_have_one_shape_and_old_state_files_read_the_same(tmp_path: Path) -> None:
    assert set(results.ok(rows=3)) == {"ok", "reason", "at", "rows"}
    failed = results.failed("disk full", backup="x")
    assert failed["ok"] is False and failed["reason"] == "disk full" and failed["backup"] == "x"
    old = tmp_path / "drill-last.json"
    old.write_text('{"passed": false, "reason": "row counts differ", "at": "2026-11-29T05:00:00+00:00"}')
    assert results.read(old)["ok"] is False
