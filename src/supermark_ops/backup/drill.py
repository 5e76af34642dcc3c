"""`supermark-ops backup drill`: the newest backup restored into a scratch database and its
row counts compared with the manifest's (taken in the dump's own snapshot)."""

from __future__ import annotations

import logging
import time
from typing import Any

from supermark_ops import results
from supermark_ops.backup.common import Setup, checked, locked, report
from supermark_ops.backup.errors import BackupError
from supermark_ops.config import BackupConfig
from supermark_ops.results import Progress, no_progress

log = logging.getLogger("supermark_ops.backup")


def drill(
    setup: Setup, scratch: str = "supermark_restore_drill", step: Progress = no_progress
) -> dict[str, Any]:
    """Restore the newest backup into a scratch database and compare its row counts."""
    name = setup.store.newest_complete()
    started = time.monotonic()
    step(f"checking {name}")
    # Made before manifests were signed is fine here (nothing leaves the scratch database);
    # a manifest that does not match its signature fails the drill.
    manifest = checked(setup, name, allow_unsigned=True)
    step("restoring into a scratch database")
    into = setup.db.on(scratch)
    try:
        setup.client.replace_database(into, setup.store.dump_path(name))
        counts = setup.client.row_counts(into)
    finally:
        setup.client.drop_database(setup.db, scratch)
    expected = {k: int(v) for k, v in manifest["tables"].items()}
    diff = sorted(
        f"{t}: {expected.get(t, 'absent')} in the manifest, {counts.get(t, 'absent')} restored"
        for t in expected.keys() | counts.keys()
        if expected.get(t) != counts.get(t)
    )
    if diff:
        raise BackupError(f"{name} restored with different row counts: " + "; ".join(diff[:5]))
    return results.ok(
        backup=name,
        tables=len(counts),
        rows=sum(counts.values()),
        documents=len(manifest["documents"]),
        seconds=round(time.monotonic() - started, 1),
    )


def run_drill(cfg: BackupConfig, step: Progress = no_progress, send: bool = True) -> dict[str, Any]:
    setup = Setup.of(cfg)
    at = results.now()
    try:
        with locked(setup, step=step):
            result = {**drill(setup, step=step), "at": at}
        log.info("restore drill passed: %s", result)
    except Exception as exc:  # any failure of the drill is a failed drill, and alerts
        result = results.failed(str(exc) or type(exc).__name__, at=at)
        log.error("restore drill FAILED: %s", exc)
    result["alerts_failed"] = report(setup, "drill", result, send)
    return result
