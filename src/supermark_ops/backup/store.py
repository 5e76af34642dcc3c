"""The local backup folder: what is in it, and how things get in and out safely.

    <dir>/supermark-20261129T031500Z.dump           pg_dump -Fc
    <dir>/supermark-20261129T031500Z.manifest.json  written last: the backup is complete
    <dir>/documents/ab/ab12...                       the bucket's objects, by content sha256
    <dir>/documents/index.json                       key -> etag, size, sha256 (the incremental mirror)

A backup without its manifest is unfinished (a run that failed or was
killed); one with a manifest but no dump is broken (listed, never restored).
Every file here is written through supermark_ops.files (a `.<name>.partial`
name, fsynced, renamed), so a crash never leaves a half file under a real
name. Only names in this format are ever deleted, and no path is built from a
name or a hash that is not in its format (a manifest may come from off-site).
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
from supermark_ops.backup import signing
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.retention import NAME, Backup
from supermark_ops.s3 import Bucket

PARTIAL = re.compile(r"^\.supermark-\d{8}T\d{6}Z\..*\.partial$|^\.[0-9a-f]{64}\.partial$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def check_name(name: str) -> str:
    """A backup name in our format, before any path is built from it."""
    if not isinstance(name, str) or not NAME.match(name):
        raise BackupError(f"{name!r} is not a supermark-ops backup name (supermark-YYYYMMDDTHHMMSSZ)")
    return name


def check_manifest(manifest: object, name: str) -> dict[str, Any]:
    """A manifest's shape, and every name and hash in it in its format, before anything is fetched
    or a path is built from it (a manifest may come from off-site)."""
    check_name(name)
    if not isinstance(manifest, dict):
        raise BackupError(f"The manifest of {name} is not a JSON object: it is refused")
    dump, documents, tables = manifest.get("dump"), manifest.get("documents"), manifest.get("tables")
    if manifest.get("name", name) != name or not isinstance(dump, dict) or not isinstance(documents, dict):
        raise BackupError(f"The manifest of {name} does not describe {name}: it is refused")
    check_sha256(dump.get("sha256"))
    for meta in documents.values():
        if not isinstance(meta, dict) or not isinstance(meta.get("size"), int):
            raise BackupError(f"The manifest of {name} lists a document without its size: it is refused")
        check_sha256(meta.get("sha256"))
    if not isinstance(tables, dict) or not all(isinstance(v, int) for v in tables.values()):
        raise BackupError(f"The manifest of {name} has no row counts: it is refused")
    return manifest


def check_sha256(value: object) -> str:
    """A document's content hash (64 hex digits), before any path is built from it."""
    if not isinstance(value, str) or not SHA256.match(value):
        raise BackupError(
            f"{str(value)[:80]!r} is not a document sha256 (64 hex digits): the manifest is refused"
        )
    return value


@dataclass(frozen=True)
class Store:
    root: Path

    def dump_path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.dump"

    def manifest_path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.manifest.json"

    def object_path(self, sha256: str) -> Path:
        return self.root / "documents" / sha256[:2] / check_sha256(sha256)

    def prepare(self) -> None:
        files.ensure_dir(self.root / "documents", mode=0o700)

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
        """Our backups here: complete (a manifest and its dump) or not. Other files are not ours."""
        names = {p.name.split(".", 1)[0] for p in self.root.glob("supermark-*.*")}
        return [Backup(n, verified=self.complete(n)) for n in sorted(names) if NAME.match(n)]

    def complete(self, name: str) -> bool:
        return self.manifest_path(name).exists() and self.dump_path(name).exists()

    def broken(self, name: str) -> bool:
        """A manifest without its dump (an interrupted delete, a lost file): never restorable."""
        return self.manifest_path(name).exists() and not self.dump_path(name).exists()

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

    def write_manifest(self, name: str, data: dict[str, Any], key: bytes | None) -> None:
        """Written last, signed when there is a key: the backup is complete."""
        files.write_json(self.manifest_path(name), signing.sign(data, key) if key else data)

    def delete(self, name: str) -> None:
        """The manifest goes first (durably): a delete cut short leaves an unfinished backup,
        never a manifest that promises a dump that is gone."""
        manifest, dump = self.manifest_path(name), self.dump_path(name)
        manifest.unlink(missing_ok=True)
        files.fsync_dir(self.root)
        dump.unlink(missing_ok=True)

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
        files.ensure_dir(final.parent, mode=0o700)
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
