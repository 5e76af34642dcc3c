"""`supermark-ops backup list|restore`: the backups here and off-site; a restore stops the app,
takes a safety backup of what is there, puts the database and the documents back, starts the
app and waits for it to answer healthy."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

from supermark_ops import http, results
from supermark_ops.backup import signing
from supermark_ops.backup.backup import backup
from supermark_ops.backup.common import Setup, checked, locked
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.store import check_name
from supermark_ops.config import BackupConfig
from supermark_ops.errors import OpsError
from supermark_ops.results import Progress, no_progress

log = logging.getLogger("supermark_ops.backup")


def listing(setup: Setup) -> list[dict[str, Any]]:
    """Every backup here and off-site; a local one whose manifest lost its dump is marked broken."""
    store = setup.store
    rows = [
        {
            "name": b.name,
            "where": "local",
            "complete": b.verified,
            **({"broken": True} if store.broken(b.name) else {}),
        }
        for b in store.backups()
    ]
    if setup.offsite:
        rows += [
            {"name": b.name, "where": "off-site", "complete": b.verified} for b in setup.offsite.backups()
        ]
    return sorted(rows, key=lambda r: (r["name"], r["where"]))


def _docker(*args: str) -> None:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")


def restore(
    setup: Setup,
    name: str = "",
    from_offsite: bool = False,
    identity: Path | None = None,
    step: Progress = no_progress,
    allow_unsigned: bool = False,
) -> dict[str, Any]:
    """Stop the app, take a safety backup, restore the database and the documents, start the app.
    The backup's manifest must be signed by our key; `allow_unsigned` (with a name: the operator
    picks it, never "the newest") lets one made before manifests were signed through, loudly."""
    store = setup.store
    if name:
        check_name(name)
    elif allow_unsigned:
        raise BackupError("--allow-unsigned needs --name: say which unsigned backup you checked and trust.")
    store.prepare()
    if from_offsite:
        if not setup.offsite:
            raise BackupError("No off-site copy is configured (backup_offsite).")
        newest = not name
        name = name or max((b.name for b in setup.offsite.backups() if b.verified), default="")
        if not name:
            raise BackupError("The off-site bucket holds no complete backup.")
        if not store.manifest_path(name).exists():
            step(f"fetching {name} from off-site")
            try:
                setup.offsite.download(store, name, identity, setup.signing_key, allow_unsigned, step)
            except BackupError as exc:
                if not newest:
                    raise
                raise BackupError(f"{exc} (it is the newest there; --name picks another)") from None
    name = name or store.newest_complete()
    if not store.manifest_path(name).exists():
        raise BackupError(f"No complete backup named {name} here: `supermark-ops backup list` shows them.")
    step(f"checking {name}")
    manifest = checked(setup, name, allow_unsigned)
    warnings = []
    if signing.status(manifest, setup.signing_key) == "unsigned":
        warnings.append(f"RESTORED AN UNSIGNED BACKUP ({name}), as --allow-unsigned asked")
        log.warning(warnings[-1])
    container = setup.app.container
    if container:
        step("stopping the app")
        _docker("stop", container)
    try:
        step("safety backup of the current state")
        # No retention and no upload: nothing may be deleted while restoring.
        safety = backup(setup, retention=False, offsite=False, safety=True)
        step(f"restoring the database from {name}")
        setup.client.replace_database(setup.db, store.dump_path(name))
        uploaded = 0
        if setup.documents and manifest["documents"]:
            step("restoring documents")
            present = {o.key: o for o in setup.documents.list()}
            for key, meta in sorted(manifest["documents"].items()):
                there = present.get(key)
                if there is None or there.etag != meta.get("etag") or there.size != meta["size"]:
                    setup.documents.upload(key, store.object_path(meta["sha256"]), meta["sha256"])
                    uploaded += 1
    except (OpsError, OSError) as exc:
        raise BackupError(
            f"Restoring {name} failed: {exc}. The state before the restore is in the safety backup "
            "(see `supermark-ops backup list`); the app is stopped."
        ) from None
    if container:
        step("starting the app")
        _docker("start", container)
        if setup.app.health_url:
            step("waiting for /api/health")
            problem = http.wait_healthy(setup.app.health_url, setup.app.health_timeout, setup.verify)
            if problem:
                raise BackupError(f"The app did not become healthy after the restore: {problem}")
    return results.ok(
        restored=name,
        safety_backup=safety["backup"],
        documents_uploaded=uploaded,
        rows=sum(int(v) for v in manifest["tables"].values()),
        warnings=warnings,
    )


def run_restore(
    cfg: BackupConfig,
    name: str = "",
    from_offsite: bool = False,
    identity: Path | None = None,
    step: Progress = no_progress,
    allow_unsigned: bool = False,
) -> dict[str, Any]:
    setup = Setup.of(cfg)
    with locked(setup, wait_for_migration=False):
        return restore(setup, name, from_offsite, identity, step, allow_unsigned)
