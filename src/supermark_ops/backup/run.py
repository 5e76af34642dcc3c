"""Backup, restore drill and restore, as the timers and the operator run them.

Reads the YAML config the backup role writes. Each run takes a lock (runs
never overlap), reports through the shared alerts (the monitor's channels)
and an optional healthchecks.io-style ping URL, and records its outcome in
the state directory, where the monitor reads it.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from supermark_ops import __version__, alerts
from supermark_ops.backup.database import Database
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.offsite import Offsite
from supermark_ops.backup.retention import Policy, backup_name, plan
from supermark_ops.backup.store import Store, fsync_dir, sha256_file
from supermark_ops.config import load_mapping
from supermark_ops.locks import single_run
from supermark_ops.s3 import Bucket, S3Error

log = logging.getLogger("supermark_ops.backup")
Step = Callable[[str], None]


def load_config(path: Path) -> dict[str, Any]:
    data = load_mapping(path, "backup", BackupError)
    if "directory" not in data or "postgres" not in data:
        raise BackupError(f"{path} must have at least 'directory' and 'postgres'.")
    return data


def _bucket(cfg: dict[str, Any]) -> Bucket:
    return Bucket(
        endpoint=cfg["endpoint"],
        bucket=cfg["bucket"],
        access_key=cfg["access_key"],
        secret_key=cfg["secret_key"],
        region=cfg.get("region", "us-east-1"),
        prefix=cfg.get("prefix", ""),
        attempts=int(cfg.get("attempts", 3)),
    )


@dataclass(frozen=True)
class Setup:
    """The config, read into the pieces a run needs."""

    host: str
    store: Store
    db: Database
    documents: Bucket | None
    offsite: Offsite | None
    policy: Policy
    compress: int
    state_dir: Path
    ping_url: str
    alerts: dict[str, Any]
    warnings: tuple[str, ...]

    @classmethod
    def of(cls, cfg: dict[str, Any]) -> Setup:
        pg = cfg["postgres"]
        off = cfg.get("offsite") or None
        docs = cfg.get("documents") or None
        warnings = []
        if off and (off.get("same_host") or (docs and off["endpoint"] == docs["endpoint"])):
            warnings.append(
                "WARNING: the off-site copy goes to object storage on this same droplet: it is NOT off-site "
                "and is lost with the droplet. Point backup_offsite at Spaces or another provider."
            )
        keep = cfg.get("keep") or {}
        if ca_file := cfg.get("ca_file"):
            # A private CA (the test host's ACME CA, a company CA): every HTTPS request trusts it.
            os.environ["REQUESTS_CA_BUNDLE"] = ca_file
        return cls(
            host=str(cfg.get("host") or socket.gethostname()),
            store=Store(Path(cfg["directory"])),
            db=Database(pg["container"], pg.get("user", "supermark"), pg.get("database", "supermark")),
            documents=_bucket(docs) if docs else None,
            offsite=Offsite(_bucket(off), off.get("age_recipient", "")) if off else None,
            policy=Policy(keep.get("daily", 7), keep.get("weekly", 4), keep.get("monthly", 6)),
            compress=int(cfg.get("compress", 6)),
            state_dir=Path(cfg.get("state_dir", "/var/lib/supermark-ops")),
            ping_url=str(cfg.get("ping_url") or ""),
            alerts=cfg.get("alerts") or {},
            warnings=tuple(warnings),
        )


def _report(setup: Setup, check: str, outcome: dict[str, Any], send: bool = True) -> list[str]:
    """Record the outcome; alert on a failure (and once on recovery); ping."""
    alerts.write_json_atomic(setup.state_dir / f"{check}-last.json", outcome)
    status = alerts.HEALTHY if outcome["passed"] else alerts.UNHEALTHY
    # Every failed run alerts (resend interval 0): a nightly job fails at most once a night.
    tracker = alerts.IncidentTracker(setup.state_dir / f"{check}-incidents.json", setup.host, timedelta(0))
    due = tracker.update({check: (status, outcome.get("reason", ""))})
    failed = alerts.dispatch(due, alerts.channels(setup.alerts)) if send else []
    if setup.ping_url and send:
        alerts.ping(setup.ping_url, outcome["passed"])
    return failed


@contextmanager
def _locked(setup: Setup) -> Iterator[None]:
    with single_run(setup.state_dir / "backup.lock") as got:
        if not got:
            raise BackupError("Another backup, drill or restore is running (it holds backup.lock).")
        yield


# -- backup ------------------------------------------------------------------


def _dump(setup: Setup, name: str, step: Step) -> dict[str, Any]:
    store = setup.store
    final, partial = store.dump_path(name), store.partial(store.dump_path(name))
    step("database dump")
    try:
        with partial.open("wb") as out:
            info = setup.db.dump(out, setup.compress)
            out.flush()
            os.fsync(out.fileno())
        step("checking the dump")
        setup.db.check_archive(partial)
        if sha256_file(partial) != info.sha256:
            raise BackupError(f"{partial} does not read back as written (a disk problem?)")
        partial.replace(final)
        fsync_dir(store.root)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise BackupError(
                f"{store.root} is full: the dump did not fit. Free space or move backup_dir; "
                "the earlier backups are untouched."
            ) from None
        raise BackupError(f"Writing the dump failed: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {
        "file": final.name,
        "size": info.size,
        "sha256": info.sha256,
        "server_version": info.server_version,
        "tables": info.tables,
    }


def backup(
    setup: Setup,
    now: datetime | None = None,
    step: Step = lambda _: None,
    retention: bool = True,
    offsite: bool = True,
) -> dict[str, Any]:
    """One backup: dump, documents, manifest; then off-site and retention. Raises BackupError
    when the local backup could not be made; an off-site failure is reported in the result."""
    for warning in setup.warnings:
        log.warning(warning)
    store = setup.store
    store.prepare()
    for leftover in store.clean_partials():
        log.info("removed %s, left by an interrupted run", leftover)
    given = now
    now = now or datetime.now(UTC)
    while store.dump_path(backup_name(now)).exists():
        if given:
            raise BackupError(f"{backup_name(now)} exists already; backups are at most one a second.")
        time.sleep(0.2)  # names are per second: a backup right after another waits for the next one
        now = datetime.now(UTC)
    name = backup_name(now)
    started = time.monotonic()
    dump = _dump(setup, name, step)
    documents: dict[str, dict[str, Any]] = {}
    try:
        if setup.documents:
            step("documents")
            documents = store.mirror(setup.documents)
            missing = store.missing_objects(documents)
            if missing:
                raise BackupError(f"{len(missing)} documents did not arrive, e.g. {missing[0]}")
    except (S3Error, OSError) as exc:
        raise BackupError(f"Copying the documents failed: {exc}") from None
    manifest = {
        "name": name,
        "taken_at": now.isoformat(),
        "host": setup.host,
        "tool_version": __version__,
        "dump": {k: dump[k] for k in ("file", "size", "sha256")},
        "server_version": dump["server_version"],
        "tables": dump["tables"],
        "documents": documents,
        "documents_bytes": sum(int(d["size"]) for d in documents.values()),
    }
    store.write_manifest(name, manifest)
    result: dict[str, Any] = {
        "passed": True,
        "at": now.isoformat(),
        "backup": name,
        "dump_bytes": dump["size"],
        "tables": len(dump["tables"]),
        "rows": sum(dump["tables"].values()),
        "documents": len(documents),
        "warnings": list(setup.warnings),
    }
    if setup.offsite and offsite:
        try:
            result["offsite_documents_sent"] = setup.offsite.upload(store, name, step)
        except (S3Error, BackupError, OSError) as exc:
            result.update(
                passed=False, reason=f"off-site copy failed (the local backup {name} is kept): {exc}"
            )
    # Retention only after a wholly successful run: while the off-site copy fails, nothing
    # is deleted here either.
    if retention and result["passed"]:
        step("retention")
        result["deleted"] = apply_retention(setup)
        if setup.offsite and offsite:
            try:
                result["offsite_deleted"] = setup.offsite.apply_retention(setup.policy, store)
            except (S3Error, BackupError) as exc:
                result.update(passed=False, reason=f"off-site retention failed: {exc}")
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def apply_retention(setup: Setup) -> list[str]:
    """Delete what the policy lets go (our names only), then documents nothing kept refers to."""
    store = setup.store
    keep, delete = plan(store.backups(), setup.policy)
    for name in sorted(delete):
        store.delete(name)
    complete = [name for name in keep if store.manifest_path(name).exists()]
    # Without a single manifest to go by, no document is pruned.
    if complete:
        store.prune_objects({d["sha256"] for n in complete for d in store.manifest(n)["documents"].values()})
    return sorted(delete)


def run_backup(cfg: dict[str, Any], step: Step = lambda _: None, send: bool = True) -> dict[str, Any]:
    """The timer's entry point: a backup, its outcome recorded, alerted and pinged."""
    setup = Setup.of(cfg)
    try:
        with _locked(setup):
            result = backup(setup, step=step)
    except BackupError as exc:
        result = {"passed": False, "at": datetime.now(UTC).isoformat(), "reason": str(exc)}
    except Exception as exc:  # a bug must still alert, not only leave a traceback in the journal
        log.exception("backup crashed")
        result = {
            "passed": False,
            "at": datetime.now(UTC).isoformat(),
            "reason": f"{type(exc).__name__}: {exc}",
        }
    if result["passed"]:
        log.info("backup %s done: %s", result["backup"], result)
    else:
        log.error("backup FAILED: %s", result["reason"])
    result["alerts_failed"] = _report(setup, "backup", result, send)
    return result


# -- restore drill -------------------------------------------------------------


def _checked(setup: Setup, name: str) -> dict[str, Any]:
    """The manifest of a local backup whose dump and documents match it."""
    store = setup.store
    manifest = store.manifest(name)
    if sha256_file(store.dump_path(name)) != manifest["dump"]["sha256"]:
        raise BackupError(f"{name}.dump does not match the sha256 in its manifest: it is damaged")
    setup.db.check_archive(store.dump_path(name))
    bad = store.missing_objects(manifest["documents"], rehash=True)
    if bad:
        raise BackupError(f"{len(bad)} documents of {name} are missing or damaged, e.g. {bad[0]}")
    return manifest


def drill(
    setup: Setup, scratch: str = "supermark_restore_drill", step: Step = lambda _: None
) -> dict[str, Any]:
    """Restore the newest backup into a scratch database and compare its row counts."""
    name = setup.store.newest_complete()
    started = time.monotonic()
    step(f"checking {name}")
    manifest = _checked(setup, name)
    step("restoring into a scratch database")
    setup.db.recreate(scratch)
    try:
        setup.db.restore(setup.store.dump_path(name), scratch)
        counts = setup.db.counts(scratch)
    finally:
        setup.db.drop(scratch)
    expected = {k: int(v) for k, v in manifest["tables"].items()}
    diff = sorted(
        f"{t}: {expected.get(t, 'absent')} in the manifest, {counts.get(t, 'absent')} restored"
        for t in expected.keys() | counts.keys()
        if expected.get(t) != counts.get(t)
    )
    if diff:
        raise BackupError(f"{name} restored with different row counts: " + "; ".join(diff[:5]))
    return {
        "passed": True,
        "backup": name,
        "tables": len(counts),
        "rows": sum(counts.values()),
        "documents": len(manifest["documents"]),
        "seconds": round(time.monotonic() - started, 1),
    }


def run_drill(cfg: dict[str, Any], step: Step = lambda _: None, send: bool = True) -> dict[str, Any]:
    setup = Setup.of(cfg)
    at = datetime.now(UTC).isoformat()
    try:
        with _locked(setup):
            result = {**drill(setup, step=step), "at": at}
        log.info("restore drill passed: %s", result)
    except Exception as exc:  # any failure of the drill is a failed drill, and alerts
        result = {"passed": False, "at": at, "reason": str(exc) or type(exc).__name__}
        log.error("restore drill FAILED: %s", exc)
    result["alerts_failed"] = _report(setup, "drill", result, send)
    return result


# -- restore -------------------------------------------------------------------


def listing(setup: Setup) -> list[dict[str, Any]]:
    rows = [{"name": b.name, "where": "local", "complete": b.verified} for b in setup.store.backups()]
    if setup.offsite:
        rows += [
            {"name": b.name, "where": "off-site", "complete": b.verified} for b in setup.offsite.backups()
        ]
    return sorted(rows, key=lambda r: (r["name"], r["where"]))


def _docker(*args: str) -> None:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            resp = requests.get(url, timeout=5)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(2)
    raise BackupError(f"The app did not become healthy at {url} within {timeout:.0f} s ({last}).")


def restore(
    setup: Setup,
    app: dict[str, Any],
    name: str = "",
    from_offsite: bool = False,
    identity: Path | None = None,
    step: Step = lambda _: None,
) -> dict[str, Any]:
    """Stop the app, take a safety backup, restore the database and the documents, start the app."""
    store = setup.store
    store.prepare()
    if from_offsite:
        if not setup.offsite:
            raise BackupError("No off-site copy is configured (backup_offsite).")
        name = name or max((b.name for b in setup.offsite.backups() if b.verified), default="")
        if not name:
            raise BackupError("The off-site bucket holds no complete backup.")
        if not store.manifest_path(name).exists():
            step(f"fetching {name} from off-site")
            setup.offsite.download(store, name, identity, step)
    name = name or store.newest_complete()
    if not store.manifest_path(name).exists():
        raise BackupError(f"No complete backup named {name} here: `supermark-ops backup list` shows them.")
    step(f"checking {name}")
    manifest = _checked(setup, name)
    container = app.get("container", "")
    if container:
        step("stopping the app")
        _docker("stop", container)
    try:
        step("safety backup of the current state")
        # No retention and no upload: nothing may be deleted while restoring.
        safety = backup(setup, retention=False, offsite=False)
        step(f"restoring the database from {name}")
        setup.db.recreate(setup.db.database)
        setup.db.restore(store.dump_path(name), setup.db.database)
        uploaded = 0
        if setup.documents and manifest["documents"]:
            step("restoring documents")
            present = {o.key: o for o in setup.documents.list()}
            for key, meta in sorted(manifest["documents"].items()):
                there = present.get(key)
                if there is None or there.etag != meta.get("etag") or there.size != meta["size"]:
                    setup.documents.upload(key, store.object_path(meta["sha256"]), meta["sha256"])
                    uploaded += 1
    except (BackupError, S3Error, OSError) as exc:
        raise BackupError(
            f"Restoring {name} failed: {exc}. The state before the restore is in the safety backup "
            "(see `supermark-ops backup list`); the app is stopped."
        ) from None
    if container:
        step("starting the app")
        _docker("start", container)
        if app.get("health_url"):
            step("waiting for /api/health")
            wait_healthy(app["health_url"], float(app.get("health_timeout", 180)))
    return {
        "passed": True,
        "restored": name,
        "safety_backup": safety["backup"],
        "documents_uploaded": uploaded,
        "rows": sum(int(v) for v in manifest["tables"].values()),
    }


def run_restore(
    cfg: dict[str, Any],
    name: str = "",
    from_offsite: bool = False,
    identity: Path | None = None,
    step: Step = lambda _: None,
) -> dict[str, Any]:
    setup = Setup.of(cfg)
    with _locked(setup):
        return restore(setup, cfg.get("app") or {}, name, from_offsite, identity, step)
