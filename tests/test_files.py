"""Files written whole or not at all, with one naming scheme for what is in progress, and
durably: each rename, and each folder made on the way, is fsynced into its parent."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from servers import free_port
from supermark_ops import files, results
from supermark_ops.backup.store import Store
from supermark_ops.s3 import Bucket


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


def test_a_secret_file_has_its_mode_from_the_first_byte(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    stale = files.partial(path)
    stale.write_bytes(b"left by a killed run")
    stale.chmod(0o644)
    old = os.umask(0o022)
    try:
        with files.atomic_write(path, mode=0o600) as out:
            assert stat.S_IMODE(os.fstat(out.fileno()).st_mode) == 0o600
            out.write(b"secret")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"secret"
    assert not stale.exists()


def test_results_have_one_shape_and_old_state_files_read_the_same(tmp_path: Path) -> None:
    assert set(results.ok(rows=3)) == {"ok", "reason", "at", "rows"}
    failed = results.failed("disk full", backup="x")
    assert failed["ok"] is False and failed["reason"] == "disk full" and failed["backup"] == "x"
    old = tmp_path / "drill-last.json"
    old.write_text('{"passed": false, "reason": "row counts differ", "at": "2026-11-29T05:00:00+00:00"}')
    assert results.read(old)["ok"] is False


class DurabilityLog:
    """What reached the kernel: each rename, each folder created, each fsync of a folder, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, Path]] = []
        fsync, replace, mkdir = os.fsync, os.replace, os.mkdir

        def logged_fsync(fd: int) -> None:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                self.events.append(("fsync-dir", Path(os.readlink(f"/proc/self/fd/{fd}"))))
            fsync(fd)

        def logged_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            replace(src, dst, *args, **kwargs)
            self.events.append(("rename", Path(dst).resolve()))

        def logged_mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
            mkdir(path, *args, **kwargs)
            self.events.append(("mkdir", Path(path).resolve()))

        monkeypatch.setattr(os, "fsync", logged_fsync)
        monkeypatch.setattr(os, "replace", logged_replace)
        monkeypatch.setattr(os, "mkdir", logged_mkdir)

    def undurable(self) -> list[str]:
        """Renames and new folders whose folder was not fsynced after them."""
        missing = []
        for i, (kind, path) in enumerate(self.events):
            if kind in ("rename", "mkdir") and ("fsync-dir", path.parent) not in self.events[i + 1 :]:
                missing.append(f"{kind} {path}")
        return missing


def test_a_write_into_new_folders_is_durable_to_the_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = DurabilityLog(monkeypatch)
    files.write_json(tmp_path / "state" / "sub" / "backup-last.json", {"ok": True})
    assert ("rename", tmp_path / "state" / "sub" / "backup-last.json") in log.events
    assert [e for e in log.events if e[0] == "mkdir"] == [
        ("mkdir", tmp_path / "state"),
        ("mkdir", tmp_path / "state" / "sub"),
    ]
    assert log.undurable() == []


def test_documents_and_manifests_land_durably(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The document fetch, the index and a manifest: every rename and every new folder is fsynced
    into its parent (a real S3 server serves the documents)."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s",
                              region_name="us-east-1")  # fmt: skip
        client.create_bucket(Bucket="docs")
        for i in range(3):
            client.put_object(Bucket="docs", Key=f"team/doc-{i}.pdf", Body=f"document {i}".encode())
        store = Store(tmp_path / "backups")
        log = DurabilityLog(monkeypatch)
        store.prepare()
        documents = store.mirror(Bucket(endpoint, "docs", "k", "s"))
        store.write_manifest("supermark-20261129T031500Z", {"documents": documents}, None)
    finally:
        server.stop()
    renamed = {p for kind, p in log.events if kind == "rename"}
    assert {store.object_path(d["sha256"]) for d in documents.values()} <= renamed
    assert {
        store.root / "documents" / "index.json",
        store.manifest_path("supermark-20261129T031500Z"),
    } <= renamed
    assert len([e for e in log.events if e[0] == "mkdir" and e[1].parent == store.root / "documents"]) == 3
    assert log.undurable() == []
