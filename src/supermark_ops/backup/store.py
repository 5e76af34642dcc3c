"""The local backup folder: what is in it, and how things get in and out safely.

    <dir>/supermark-20261129T031500Z.dump           pg_dump -Fc
    <dir>/supermark-20261129T031500Z.manifest.json  written last: the backup is complete
    <dir>/documents/ab/ab12...                       the bucket's objects, by content sha256
    <dir>/documents/index.json                       key -> etag, size, sha256 (the incremental mirror)

A backup without its manifest is unfinished (a run that failed or was
killed). Every file here is written through supermark_ops.files (a
`.<name>.partial` name, fsynced, renamed), so a crash never leaves a half file
under a real name. Only names in this format are ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supermark_ops import files
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.retention import NAME, Backup
from supermark_ops.s3 import Bucket

PARTIAL = re.compile(r"^\.supermark-\d{8}T\d{6}Z\..*\.partial$|^\.[0-9a-f]{64}\.partial$")


@dataclass(frozen=True)
class Store:
    root: Path

    def dump_path(self, name: str) -> Path:
        return self.root / f"{name}.dump"

    def manifest_path(self, name: str) -> Path:
        return self.root / f"{name}.manifest.json"

    def object_path(self, sha256: str) -> Path:
        return self.root / "documents" / sha256[:2] / sha256

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root / "documents").mkdir(exist_ok=True, mode=0o700)

    def clean_partials(self) -> list[str]:
        """Temporary files a killed run left behind (ours by name only)."""
        removed = []
        documents = self.root / "documents"
        for path in [
            *self.root.glob(".*.partial"),
            *documents.glob(".*.partial"),
            *documents.glob("*/.*.partial"),
        ]:
            if PARTIAL.match(path.name):
                path.unlink()
                removed.append(path.name)
        return removed

    def backups(self) -> list[Backup]:
        """Our backups here: complete (with a manifest) or not. Other files are not ours."""
        names = {p.name.split(".", 1)[0] for p in self.root.glob("supermark-*.*")}
        return [Backup(n, verified=self.manifest_path(n).exists()) for n in sorted(names) if NAME.match(n)]

    def manifest(self, name: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.manifest_path(name).read_text())
        except (OSError, ValueError) as exc:
            raise BackupError(f"The manifest of {name} cannot be read: {exc}") from None
        return data

    def newest_complete(self) -> str:
        complete = [b.name for b in self.backups() if b.verified]
        if not complete:
            raise BackupError(f"No complete backup in {self.root}: run `supermark-ops backup run` first.")
        return max(complete)

    def write_manifest(self, name: str, data: dict[str, Any]) -> None:
        files.write_json(self.manifest_path(name), data)

    def delete(self, name: str) -> None:
        if not NAME.match(name):
            raise BackupError(f"{name!r} is not a supermark-ops backup name; it is never deleted")
        for path in (self.dump_path(name), self.manifest_path(name)):
            path.unlink(missing_ok=True)

    # -- documents -------------------------------------------------------------

    def index(self) -> dict[str, dict[str, Any]]:
        path = self.root / "documents" / "index.json"
        data: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        return data

    def mirror(self, bucket: Bucket) -> dict[str, dict[str, Any]]:
        """Bring the bucket's objects here, fetching only new or changed ones; returns the
        bucket's listing as key -> {sha256, size, etag} (what this backup refers to)."""
        old = self.index()
        now: dict[str, dict[str, Any]] = {}
        try:
            for obj in bucket.list():
                known = old.get(obj.key)
                if (
                    known
                    and known["etag"] == obj.etag
                    and known["size"] == obj.size
                    and self.object_path(known["sha256"]).exists()
                ):
                    now[obj.key] = known
                    continue
                now[obj.key] = {**self._fetch(bucket, obj.key), "etag": obj.etag}
        finally:
            # What was fetched stays known even if the listing broke off half way.
            files.write_json(self.root / "documents" / "index.json", {**old, **now})
        return now

    def _fetch(self, bucket: Bucket, key: str) -> dict[str, Any]:
        # Named by the key until the content's sha256 is known.
        tmp = files.partial(self.root / "documents" / hashlib.sha256(key.encode()).hexdigest())
        bucket.download(key, tmp)
        sha = files.sha256_file(tmp)
        final = self.object_path(sha)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        files.commit(tmp, final)
        return {"sha256": sha, "size": final.stat().st_size}

    def missing_objects(self, documents: dict[str, dict[str, Any]], rehash: bool = False) -> list[str]:
        """Keys whose object is absent here (or, with rehash, does not match its sha256)."""
        bad = []
        for key, meta in documents.items():
            path = self.object_path(meta["sha256"])
            if not path.exists() or (rehash and files.sha256_file(path) != meta["sha256"]):
                bad.append(key)
        return bad

    def prune_objects(self, keep: set[str]) -> int:
        """Delete stored objects no remaining manifest refers to; returns how many."""
        removed = 0
        for path in self._objects():
            if path.name not in keep:
                path.unlink()
                removed += 1
        return removed

    def _objects(self) -> Iterator[Path]:
        for sub in (self.root / "documents").iterdir():
            if sub.is_dir() and len(sub.name) == 2:
                yield from (p for p in sub.iterdir() if re.fullmatch(r"[0-9a-f]{64}", p.name))
