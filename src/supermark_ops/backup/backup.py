"""`supermark-ops backup run`: the nightly backup (the database dump, the documents, the
manifest), then the off-site copy and retention; the outcome recorded, alerted and pinged."""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supermark_ops import __version__, files, results
from supermark_ops.backup.common import Setup, locked, report
from supermark_ops.backup.errors import BackupError
from supermark_ops.backup.retention import backup_name, plan
from supermark_ops.config import BackupConfig
from supermark_ops.errors import OpsError
from supermark_ops.pg import Snapshot, sql
from supermark_ops.results import Progress, no_progress

log = logging.getLogger("supermark_ops.backup")


def _dump(setup: Setup, name: str, step: Progress) -> dict[str, Any]:
    """pg_dump -Fc (compressed as the config says) into the folder, with the row counts of the
    snapshot it read (so a drill can compare exactly while the app keeps writing); read back and
    checked before it is committed."""
    store = setup.store
    final = store.dump_path(name)
    step("database dump")
    try:
        with files.atomic_write(final) as out, Snapshot(setup.client, setup.db) as snapshot:
            tables = {table: int(count) for table, count in snapshot.query(sql.ROW_COUNTS)}
            info = setup.client.dump(setup.db, out, ["-Z", setup.compress, *snapshot.dump_args()])
            out.flush()
            step("checking the dump")
            setup.client.check_archive(Path(out.name))
            if files.sha256_file(Path(out.name)) != info.sha256:
                raise BackupError(f"{out.name} does not read back as written (a disk problem?)")
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BackupError(
                f"{store.root} is full: the dump did not fit. Free space or move backup_dir; "
                "the earlier backups are untouched."
            ) from None
        raise BackupError(f"Writing the dump failed: {exc}") from None
    return {
        "file": final.name,
        "size": info.size,
        "sha256": info.sha256,
        "server_version": snapshot.server_version,
        "tables": tables,
    }


def backup(
    setup: Setup,
    now: datetime | None = None,
    step: Progress = no_progress,
    retention: bool = True,
    offsite: bool = True,
    safety: bool = False,
) -> dict[str, Any]:
    """One backup: dump, documents, manifest; then off-site and retention. Raises BackupError
    when the local backup could not be made; an off-site failure is reported in the result.
    A restore's safety backup (`safety`) is marked so, and retention keeps it for a while."""
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
    except (OpsError, OSError) as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"Copying the documents failed: {exc}") from None
    store.write_manifest(
        name,
        {
            "name": name,
            "taken_at": now.isoformat(),
            "host": setup.host,
            "tool_version": __version__,
            "dump": {k: dump[k] for k in ("file", "size", "sha256")},
            "server_version": dump["server_version"],
            "tables": dump["tables"],
            "documents": documents,
            "documents_bytes": sum(int(d["size"]) for d in documents.values()),
            **({"safety": True} if safety else {}),
        },
        setup.signing_key,
    )
    result = results.ok(
        at=now.isoformat(),
        backup=name,
        dump_bytes=dump["size"],
        tables=len(dump["tables"]),
        rows=sum(dump["tables"].values()),
        documents=len(documents),
        warnings=list(setup.warnings),
    )
    if setup.offsite and offsite:
        try:
            result["offsite_documents_sent"] = setup.offsite.upload(store, name, step)
        except (OpsError, OSError) as exc:
            result.update(ok=False, reason=f"off-site copy failed (the local backup {name} is kept): {exc}")
    # Retention only after a wholly successful run: while the off-site copy fails, nothing
    # is deleted here either.
    if retention and result["ok"]:
        step("retention")
        result["deleted"] = apply_retention(setup, now)
        if setup.offsite and offsite:
            try:
                result["offsite_deleted"], skipped = setup.offsite.apply_retention(
                    setup.policy, store, setup.signing_key, now
                )
                result["warnings"] += skipped
            except OpsError as exc:
                result.update(
                    ok=False, reason=f"off-site retention failed (nothing was deleted there): {exc}"
                )
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def apply_retention(setup: Setup, now: datetime | None = None) -> list[str]:
    """Delete what the policy lets go (our names only), then documents nothing kept refers to."""
    store = setup.store
    backups = [
        replace(b, safety=bool(b.verified and store.manifest(b.name).get("safety"))) for b in store.backups()
    ]
    keep, delete = plan(backups, setup.policy, now)
    for name in sorted(delete):
        store.delete(name)
    complete = [name for name in keep if store.complete(name)]
    # Without a single manifest to go by, no document is pruned.
    if complete:
        store.prune_objects({d["sha256"] for n in complete for d in store.manifest(n)["documents"].values()})
    return sorted(delete)


def run_backup(cfg: BackupConfig, step: Progress = no_progress, send: bool = True) -> dict[str, Any]:
    """The timer's entry point: a backup, its outcome recorded, alerted and pinged."""
    setup = Setup.of(cfg)
    try:
        with locked(setup, step=step):
            result = backup(setup, step=step)
    except OpsError as exc:
        result = results.failed(str(exc))
    except Exception as exc:  # a bug must still alert, not only leave a traceback in the journal
        log.exception("backup crashed")
        result = results.failed(f"{type(exc).__name__}: {exc}")
    if result["ok"]:
        log.info("backup %s done: %s", result["backup"], result)
    else:
        log.error("backup FAILED: %s", result["reason"])
    result["alerts_failed"] = report(setup, "backup", result, send)
    return result
