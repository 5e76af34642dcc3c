"""What the backup, drill and restore runs share: the config read into the pieces a run needs,
the lock that keeps runs from overlapping, how an outcome is recorded and alerted, and the check
of a local backup before anything is restored from it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from supermark_ops import alerts, files, http, pg, results
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.offsite import Offsite
from supermark_ops.backup.retention import Policy
from supermark_ops.backup.store import Store
from supermark_ops.config import AlertSettings, App, BackupConfig
from supermark_ops.locks import single_run
from supermark_ops.s3 import Bucket


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
    compress: int
    state_dir: Path
    ping_url: str
    alerts: AlertSettings
    app: App
    verify: str | bool  # HTTPS trust: True, or the config's CA bundle
    warnings: tuple[str, ...]

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
            policy = Policy(cfg.keep.daily, cfg.keep.weekly, cfg.keep.monthly)
        except ValueError as exc:
            raise BackupError(f"keep: {exc}") from None
        return cls(
            host=cfg.host or socket.gethostname(),
            store=Store(cfg.directory),
            client=pg.Client(container=cfg.postgres.container),
            db=pg.socket_endpoint(
                cfg.postgres.user, cfg.postgres.database, cfg.postgres.host, cfg.postgres.port
            ),
            documents=Bucket.of(docs, cfg.ca_file) if docs else None,
            offsite=Offsite(Bucket.of(off, cfg.ca_file), off.age_recipient) if off else None,
            policy=policy,
            compress=cfg.compress,
            state_dir=cfg.state_dir,
            ping_url=cfg.ping_url,
            alerts=cfg.alerts,
            app=cfg.app,
            verify=http.verify(cfg.ca_file),
            warnings=tuple(warnings),
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
def locked(setup: Setup) -> Iterator[None]:
    with single_run(setup.state_dir / "backup.lock") as got:
        if not got:
            raise BackupError("Another backup, drill or restore is running (it holds backup.lock).")
        yield


def checked(setup: Setup, name: str) -> dict[str, Any]:
    """The manifest of a local backup whose dump and documents match it."""
    store = setup.store
    manifest = store.manifest(name)
    if files.sha256_file(store.dump_path(name)) != manifest["dump"]["sha256"]:
        raise BackupError(f"{name}.dump does not match the sha256 in its manifest: it is damaged")
    setup.client.check_archive(store.dump_path(name))
    bad = store.missing_objects(manifest["documents"], rehash=True)
    if bad:
        raise BackupError(f"{len(bad)} documents of {name} are missing or damaged, e.g. {bad[0]}")
    return manifest
