"""The off-site copy: the same backups in an S3-compatible bucket (Spaces, another provider).

    <prefix>supermark-<time>.dump[.age]           the dump (age-encrypted when a recipient is set)
    <prefix>supermark-<time>.manifest.json        uploaded last: the copy is complete
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
from pathlib import Path
from typing import Any

from supermark_ops import files
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.retention import NAME, Backup, Policy, plan
from supermark_ops.backup.store import Store
from supermark_ops.results import Progress, no_progress
from supermark_ops.s3 import Bucket, S3Error


@dataclass(frozen=True)
class Offsite:
    bucket: Bucket
    age_recipient: str = ""

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
        names: dict[str, bool] = {}
        for obj in self.bucket.list("supermark-"):
            stem = obj.key.split(".", 1)[0]
            if NAME.match(stem):
                names[stem] = names.get(stem, False) or obj.key == f"{stem}.manifest.json"
        return [Backup(n, verified=v) for n, v in sorted(names.items())]

    def manifest(self, name: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.json"
            self.bucket.download(f"{name}.manifest.json", path)
            data: dict[str, Any] = json.loads(path.read_text())
            return data

    def apply_retention(self, policy: Policy, store: Store) -> list[str]:
        """The same keep counts as at home; then documents no kept manifest refers to go.
        A kept backup's manifest is read from the local folder when it is there (the same file)."""
        keep, delete = plan(self.backups(), policy)
        for name in sorted(delete):
            for key in (f"{name}.manifest.json", f"{name}.dump{self.suffix}", f"{name}.dump"):
                if self.bucket.head(key):
                    self.bucket.delete(key)
        wanted: set[str] = set()
        for name in keep:
            try:
                local = store.manifest_path(name).exists()
                docs = (store.manifest(name) if local else self.manifest(name))["documents"]
            except S3Error:
                continue  # unfinished: it refers to nothing yet
            wanted |= {f"documents/{m['sha256']}{self.suffix}" for m in docs.values()}
        if not keep:
            return sorted(delete)  # never prune documents with no manifest to go by
        for obj in self.bucket.list("documents/"):
            if obj.key not in wanted and _is_document_key(obj.key):
                self.bucket.delete(obj.key)
        return sorted(delete)

    def download(self, store: Store, name: str, identity: Path | None, step: Progress = no_progress) -> None:
        """An off-site backup into the local folder (documents only where missing), checked."""
        manifest_tmp = files.partial(store.manifest_path(name))
        self.bucket.download(f"{name}.manifest.json", manifest_tmp)
        manifest = json.loads(manifest_tmp.read_text())
        for meta in manifest["documents"].values():
            target = store.object_path(meta["sha256"])
            if not target.exists():
                step(f"off-site: document {meta['sha256'][:12]}")
                target.parent.mkdir(exist_ok=True, mode=0o700)
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
