"""What the backup, drill and restore runs share: the config read into the pieces a run needs,
the lock that keeps runs from overlapping, how an outcome is recorded and alerted, and the check
of a local backup before anything is restored from it."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from supermark_ops import alerts, files, http, locks, pg, results
from supermark_ops.backup import signing
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.offsite import Offsite
from supermark_ops.backup.retention import Policy
from supermark_ops.backup.store import Store, check_manifest
from supermark_ops.config import AlertSettings, App, BackupConfig, BucketSettings
from supermark_ops.locks import single_run
from supermark_ops.results import Progress, no_progress
from supermark_ops.s3 import Bucket

# The timers wait this long for a migration (it holds <state_dir>/migrate.lock) before failing.
MIGRATION_WAIT_SECONDS = 6 * 3600

# pg_dump -Z: what PostgreSQL 16 takes (a bare digit is a gzip level, the setting's old form).
# zstd, the default, dumps faster than gzip into a smaller file (docs/benchmarks/backup.md);
# pg_restore reads any of them, so older gzip dumps still restore.
_COMPRESSION = re.compile(r"none|[0-9]|gzip(:[1-9])?|lz4(:([1-9]|1[0-2]))?|zstd(:([1-9]|1[0-9]|2[0-2]))?")


def compression(value: str) -> str:
    """The config's compress, checked before any dump (pg_dump would refuse it mid-run)."""
    if not _COMPRESSION.fullmatch(value):
        raise BackupError(
            f"compress: {value!r} is not a pg_dump compression: use zstd[:1-22], lz4[:1-12], gzip[:1-9], "
            "a gzip level 0-9 or none (backup_compress; the default is zstd:1)."
        )
    return value


@dataclass(frozen=True)
class Setup:
    """The config, read into the pieces a run needs."""

    host: str
    store: Store
    client: pg.Client  # psql, pg_dump, pg_restore inside the stack's Postgres container
    db: pg.Endpoint  # the app's database, on the container's local socket
    documents: Bucket | None
    offsite: Offsite | None
    policy: Policy
    compress: str  # pg_dump -Z
    state_dir: Path
    ping_url: str
    alerts: AlertSettings
    app: App
    verify: str | bool  # HTTPS trust: True, or the config's CA bundle
    warnings: tuple[str, ...]
    signing_key: bytes | None = None  # signs manifests; a restore refuses one it did not sign

    @classmethod
    def of(cls, cfg: BackupConfig) -> Setup:
        off, docs = cfg.offsite, cfg.documents
        warnings = []
        if off and (off.same_host or (docs and off.endpoint == docs.endpoint)):
            warnings.append(
                "WARNING: the off-site copy goes to object storage on this same droplet: it is NOT off-site "
                "and is lost with the droplet. Point backup_offsite at Spaces or another provider."
            )
        try:
            policy = Policy(cfg.keep.daily, cfg.keep.weekly, cfg.keep.monthly, cfg.keep.safety_days)
        except ValueError as exc:
            raise BackupError(f"keep: {exc}") from None
        key = signing.load_key(cfg.signing_key_file) if cfg.signing_key_file else None
        if key is None:
            warnings.append(
                "WARNING: no signing_key_file: manifests are not signed, and a restore refuses unsigned ones "
                "without --allow-unsigned. The backup role sets it (backup_signing_key)."
            )
        prune = None
        if off and off.prune_access_key:
            prune = Bucket.of(
                BucketSettings(
                    off.endpoint, off.bucket, off.prune_access_key, off.prune_secret_key,
                    off.region, off.prefix, off.attempts,
                ),
                cfg.ca_file,
            )  # fmt: skip
        return cls(
            host=cfg.host or socket.gethostname(),
            store=Store(cfg.directory),
            client=pg.Client(container=cfg.postgres.container),
            db=pg.socket_endpoint(
                cfg.postgres.user, cfg.postgres.database, cfg.postgres.host, cfg.postgres.port
            ),
            documents=Bucket.of(docs, cfg.ca_file) if docs else None,
            offsite=Offsite(Bucket.of(off, cfg.ca_file), off.age_recipient, prune) if off else None,
            policy=policy,
            compress=compression(cfg.compress),
            state_dir=cfg.state_dir,
            ping_url=cfg.ping_url,
            alerts=cfg.alerts,
            app=cfg.app,
            verify=http.verify(cfg.ca_file),
            warnings=tuple(warnings),
            signing_key=key,
        )


def report(setup: Setup, check: str, outcome: dict[str, Any], send: bool = True) -> list[str]:
    """Record the outcome (the monitor reads it); alert on a failure (and once on recovery); ping."""
    files.write_json(setup.state_dir / f"{check}-last.json", outcome)
    status = alerts.HEALTHY if outcome["ok"] else alerts.UNHEALTHY
    # Every failed run alerts (resend interval 0): a nightly job fails at most once a night.
    tracker = alerts.IncidentTracker(setup.state_dir / f"{check}-incidents.json", setup.host, timedelta(0))
    due = tracker.update({check: (status, outcome.get("reason", ""))})
    failed = alerts.dispatch(due, alerts.channels(setup.alerts, setup.verify)) if send else []
    if setup.ping_url and send:
        event: alerts.PingEvent = "success" if outcome["ok"] else "fail"
        alerts.ping(setup.ping_url, event, results.dumps(outcome), verify=setup.verify)
    return failed


@contextmanager
def locked(setup: Setup, wait_for_migration: bool = True, step: Progress = no_progress) -> Iterator[None]:
    """One backup, drill or restore at a time; none while a migration (`supermark-ops migrate`)
    rewrites the database: the timers wait for it to end, a restore (`wait_for_migration` False)
    is refused."""
    with single_run(setup.state_dir / "backup.lock") as got:
        if not got:
            raise BackupError("Another backup, drill or restore is running (it holds backup.lock).")
        migration = setup.state_dir / "migrate.lock"
        timeout = MIGRATION_WAIT_SECONDS if wait_for_migration else 0
        with locks.shared(migration, timeout, lambda: step("waiting for the migration to finish")) as free:
            if not free:
                raise BackupError(
                    f"A migration is running (it holds {migration})"
                    + (f" and did not end within {timeout // 3600} h" if timeout else "")
                    + ": run this again when it has finished."
                )
            yield


def checked(setup: Setup, name: str, allow_unsigned: bool = False) -> dict[str, Any]:
    """The manifest of a local backup, signed by our key, whose dump and documents match it."""
    store = setup.store
    if store.broken(name):
        raise BackupError(
            f"{name} has a manifest but no dump (a delete cut short, or a lost file): it cannot be restored. "
            "`supermark-ops backup list` shows the others."
        )
    manifest = check_manifest(store.manifest(name), name)
    signing.require(manifest, setup.signing_key, name, allow_unsigned)
    if files.sha256_file(store.dump_path(name)) != manifest["dump"]["sha256"]:
        raise BackupError(f"{name}.dump does not match the sha256 in its manifest: it is damaged")
    setup.client.check_archive(store.dump_path(name))
    bad = store.missing_objects(manifest["documents"], rehash=True)
    if bad:
        raise BackupError(f"{len(bad)} documents of {name} are missing or damaged, e.g. {bad[0]}")
    return manifest
