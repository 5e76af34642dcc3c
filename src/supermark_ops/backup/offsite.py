"""The off-site copy: the same backups in an S3-compatible bucket (Spaces, another provider).

    <prefix>supermark-<time>.dump[.age]           the dump (age-encrypted when a recipient is set)
    <prefix>supermark-<time>.manifest.json        uploaded last: the copy is complete (signed)
    <prefix>documents/<sha256>[.age]              each document once, by content

Encryption uses age with a public recipient: the droplet can encrypt, only the
holder of the identity (kept off the droplet) can decrypt.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from supermark_ops import files
from supermark_ops.backup import signing
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.retention import NAME, Backup, Policy, plan
from supermark_ops.backup.store import Store, check_manifest, check_name
from supermark_ops.errors import OpsError
from supermark_ops.results import Progress, no_progress
from supermark_ops.s3 import Bucket


@dataclass(frozen=True)
class Offsite:
    bucket: Bucket
    age_recipient: str = ""
    prune: Bucket | None = None  # the keys retention deletes with, when the uploading keys cannot

    @property
    def suffix(self) -> str:
        return ".age" if self.age_recipient else ""

    def _put(self, key: str, path: Path) -> None:
        if not self.age_recipient:
            self.bucket.upload(key, path, files.sha256_file(path))
            return
        if shutil.which("age") is None:
            raise BackupError("Off-site encryption needs the age program: apt-get install age.")
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            sealed = Path(tmp) / "sealed"
            result = subprocess.run(
                ["age", "-r", self.age_recipient, "-o", str(sealed), str(path)],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise BackupError(f"age could not encrypt {path.name}: {result.stderr.strip()}")
            self.bucket.upload(key, sealed, files.sha256_file(sealed))

    def upload(self, store: Store, name: str, step: Progress = no_progress) -> int:
        """The backup's documents not yet there, its dump, then its manifest. Returns objects sent."""
        manifest = store.manifest(name)
        there = {o.key for o in self.bucket.list("documents/")}
        sent = 0
        for sha in sorted({m["sha256"] for m in manifest["documents"].values()}):
            key = f"documents/{sha}{self.suffix}"
            if key not in there:
                step(f"off-site: document {sha[:12]}")
                self._put(key, store.object_path(sha))
                sent += 1
        step("off-site: dump")
        self._put(f"{name}.dump{self.suffix}", store.dump_path(name))
        # The manifest stays readable (sizes, counts, hashes; no document content) so that
        # listing and retention work without the key.
        self.bucket.upload(
            f"{name}.manifest.json", store.manifest_path(name), files.sha256_file(store.manifest_path(name))
        )
        return sent

    def backups(self) -> list[Backup]:
        """Our names in the bucket; complete when both the manifest and the dump are there."""
        keys: dict[str, set[str]] = {}
        for obj in self.bucket.list("supermark-"):
            stem = obj.key.split(".", 1)[0]
            if NAME.match(stem):
                keys.setdefault(stem, set()).add(obj.key)
        return [
            Backup(n, verified=f"{n}.manifest.json" in k and bool({f"{n}.dump", f"{n}.dump.age"} & k))
            for n, k in sorted(keys.items())
        ]

    def manifest(self, name: str) -> dict[str, Any]:
        """A manifest from the bucket, its shape and every name and hash in it checked."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.json"
            self.bucket.download(f"{check_name(name)}.manifest.json", path)
            try:
                data = json.loads(path.read_text())
            except ValueError:
                raise BackupError(f"The off-site manifest of {name} is not JSON: it is refused") from None
            return check_manifest(data, name)

    def apply_retention(
        self, policy: Policy, store: Store, key: bytes | None, now: datetime | None = None
    ) -> tuple[list[str], list[str]]:
        """The same keep counts as at home, over the backups whose manifests our key signed; then
        documents no manifest there refers to go. Every manifest is read first (from the local
        folder when it is there, the same file): a read that fails stops it all before anything is
        deleted. A manifest that is unsigned or not ours is left alone, and so are its documents.
        Returns (deleted, warnings)."""
        listed = self.backups()
        manifests: dict[str, dict[str, Any]] = {}
        for backup in listed:
            if not backup.verified:
                continue  # unfinished: it refers to nothing yet
            try:
                local = store.manifest_path(backup.name).exists()
                manifests[backup.name] = (
                    check_manifest(store.manifest(backup.name), backup.name)
                    if local
                    else self.manifest(backup.name)
                )
            except OpsError as exc:
                raise BackupError(
                    f"reading the manifest of {backup.name} failed, so nothing is pruned: {exc}"
                ) from None
        foreign = {n for n, m in manifests.items() if signing.status(m, key) != "signed"}
        warnings = (
            [
                f"off-site: {len(foreign)} backups without this host's signature are left alone "
                f"({', '.join(sorted(foreign)[:3])}{', ...' if len(foreign) > 3 else ''}): made before "
                "manifests were signed, or not made here. Delete them by hand once you no longer need them."
            ]
            if foreign
            else []
        )
        keep, delete = plan([b for b in listed if b.name not in foreign], policy, now)
        deleter = self.prune or self.bucket
        for name in sorted(delete):
            for obj_key in (f"{name}.manifest.json", f"{name}.dump{self.suffix}", f"{name}.dump"):
                if self.bucket.head(obj_key):
                    deleter.delete(obj_key)
        if not keep:
            return sorted(delete), warnings  # never prune documents with no manifest to go by
        wanted = {
            f"documents/{m['sha256']}{self.suffix}"
            for name, manifest in manifests.items()
            if name in keep or name in foreign
            for m in manifest["documents"].values()
        }
        for obj in self.bucket.list("documents/"):
            if obj.key not in wanted and _is_document_key(obj.key):
                deleter.delete(obj.key)
        return sorted(delete), warnings

    def download(
        self,
        store: Store,
        name: str,
        identity: Path | None,
        key: bytes | None,
        allow_unsigned: bool = False,
        step: Progress = no_progress,
    ) -> None:
        """An off-site backup into the local folder (documents only where missing), checked: its
        manifest is ours (signed by our key) before anything it names is fetched."""
        manifest_tmp = files.partial(store.manifest_path(name))
        self.bucket.download(f"{name}.manifest.json", manifest_tmp)
        try:
            try:
                data = json.loads(manifest_tmp.read_text())
            except ValueError:
                raise BackupError(f"The off-site manifest of {name} is not JSON: it is refused") from None
            manifest = check_manifest(data, name)
            signing.require(manifest, key, name, allow_unsigned)
        except BackupError:
            manifest_tmp.unlink()
            raise
        for meta in manifest["documents"].values():
            target = store.object_path(meta["sha256"])
            if not target.exists():
                step(f"off-site: document {meta['sha256'][:12]}")
                files.ensure_dir(target.parent, mode=0o700)
                self._get(f"documents/{meta['sha256']}{self.suffix}", target, meta["sha256"], identity)
        step("off-site: dump")
        self._get(f"{name}.dump{self.suffix}", store.dump_path(name), manifest["dump"]["sha256"], identity)
        files.commit(manifest_tmp, store.manifest_path(name))

    def _get(self, key: str, dest: Path, sha256: str, identity: Path | None) -> None:
        tmp = files.partial(dest)
        self.bucket.download(key, tmp)
        if key.endswith(".age"):
            if identity is None:
                tmp.unlink()
                raise BackupError("The off-site copy is encrypted: pass --identity with the age key file.")
            sealed = tmp.with_name(tmp.name + ".age")
            tmp.replace(sealed)
            result = subprocess.run(
                ["age", "-d", "-i", str(identity), "-o", str(tmp), str(sealed)],
                capture_output=True,
                text=True,
            )
            sealed.unlink()
            if result.returncode != 0:
                raise BackupError(f"age could not decrypt {key}: {result.stderr.strip()}")
        if files.sha256_file(tmp) != sha256:
            tmp.unlink()
            raise BackupError(f"{key} from off-site does not match the sha256 in its manifest")
        files.commit(tmp, dest)


def _is_document_key(key: str) -> bool:
    name = key.removeprefix("documents/").removesuffix(".age")
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)
