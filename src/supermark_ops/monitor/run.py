"""One monitor run: every configured check, bounded in time, never overlapping.

Reads the YAML config the monitor role writes, prints the result as JSON in
the seed's shape ({"postgres": "healthy", "email": "not_configured", ...}
plus "status", "checked_at" and "details"), keeps it in the state directory,
and alerts on change through the shared alerts module.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from supermark_ops import alerts
from supermark_ops.config import load_mapping
from supermark_ops.locks import single_run
from supermark_ops.monitor import checks
from supermark_ops.monitor.checks import Result

log = logging.getLogger("supermark_ops.monitor")


class MonitorError(Exception):
    """A problem with the monitor itself (config, lock); the message says what to fix."""


@dataclass
class Outcome:
    report: dict[str, Any]
    alerts: list[alerts.Alert]
    failed_channels: list[str]
    skipped: bool = False

    @property
    def healthy(self) -> bool:
        return self.report.get("status") == alerts.HEALTHY


def load_config(path: Path) -> dict[str, Any]:
    return load_mapping(path, "monitor", MonitorError)


def plan(cfg: dict[str, Any]) -> dict[str, Callable[[], Result | dict[str, Result]]]:
    """The checks the config asks for, as calls; each returns a Result (or several)."""
    t = float(cfg.get("timeout", 10))
    todo: dict[str, Callable[[], Result | dict[str, Result]]] = {}
    if ca_file := cfg.get("ca_file"):
        # A private CA (a test ACME server, an internal CA): requests and the TLS check trust this bundle.
        os.environ["REQUESTS_CA_BUNDLE"] = ca_file
    if url := cfg.get("app_url"):
        todo["app"] = lambda: checks.app_health(url, t)
        todo["services"] = lambda: checks.app_services(url, t)
    if pg := cfg.get("postgres"):
        todo["postgres"] = lambda: checks.postgres(pg["command"], t)
    if st := cfg.get("storage"):
        todo["storage"] = lambda: checks.storage(
            st["endpoint"], st["bucket"], st["access_key"], st["secret_key"], st.get("region", "us-east-1"), t
        )
    if cp := cfg.get("compose"):
        todo["compose"] = lambda: checks.compose_services(cp["project"], cp["services"], t)
    if bk := cfg.get("backups"):
        todo["backups"] = lambda: checks.newest_backup(
            Path(bk["directory"]), float(bk.get("max_age_hours", 26))
        )
        if drill := bk.get("drill_result"):
            todo["drill"] = lambda: checks.restore_drill(Path(drill))
    if dk := cfg.get("disk"):
        todo["disk"] = lambda: checks.disk(dk.get("paths", ["/"]), float(dk.get("max_percent", 85)))
    if mem := cfg.get("memory"):
        todo["memory"] = lambda: checks.memory(float(mem.get("max_percent", 90)))
    if tls := cfg.get("tls"):
        todo["tls"] = lambda: checks.tls_certificate(
            tls["host"],
            int(tls.get("port", 443)),
            float(tls.get("min_days", 14)),
            t,
            server_name=tls.get("server_name"),
            cafile=tls.get("cafile", ca_file),
        )
    return todo


def run_checks(cfg: dict[str, Any]) -> dict[str, Result]:
    """Run the checks in parallel; one that overruns the budget is unhealthy, not a hang."""
    todo = plan(cfg)
    budget = float(cfg.get("timeout", 10)) + 5
    results: dict[str, Result] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(todo)))
    futures = {name: pool.submit(fn) for name, fn in todo.items()}
    for name, future in futures.items():
        try:
            value = future.result(timeout=budget)
        except FutureTimeout:
            value = checks.bad(f"check did not finish within {budget:g} s")
        except Exception as exc:  # a check that crashes reports, it does not stop the run
            value = checks.bad(f"check failed: {type(exc).__name__}: {exc}")
        if isinstance(value, dict):
            results.update(value)
        else:
            results[name] = value
    pool.shutdown(wait=False, cancel_futures=True)
    return results


def report(results: dict[str, Result], now: datetime) -> dict[str, Any]:
    statuses = {name: r.status for name, r in results.items()}
    overall = alerts.UNHEALTHY if alerts.UNHEALTHY in statuses.values() else alerts.HEALTHY
    details = {name: {"status": r.status, "reason": r.reason, **r.details} for name, r in results.items()}
    return {**statuses, "status": overall, "checked_at": now.isoformat(), "details": details}


def run(cfg: dict[str, Any], now: datetime | None = None, send: bool = True) -> Outcome:
    state_dir = Path(cfg.get("state_dir", "/var/lib/supermark-ops"))
    with single_run(state_dir / "monitor.lock") as got_lock:
        if not got_lock:
            log.warning(
                "a previous monitor run still holds %s; skipping this one", state_dir / "monitor.lock"
            )
            return Outcome({}, [], [], skipped=True)
        now = now or datetime.now(UTC)
        result = report(run_checks(cfg), now)
        alerts.write_json_atomic(state_dir / "monitor-last.json", result)
        tracker = alerts.IncidentTracker(
            state_dir / "monitor-incidents.json",
            host=str(cfg.get("host") or socket.gethostname()),
            resend_after=timedelta(hours=float((cfg.get("alerts") or {}).get("resend_hours", 6))),
        )
        statuses = {name: (d["status"], d["reason"]) for name, d in result["details"].items()}
        due = tracker.update(statuses, now)
        failed = alerts.dispatch(due, alerts.channels(cfg.get("alerts") or {})) if send else []
        for line in (
            f"{n}: {d['status']}{' - ' + d['reason'] if d['reason'] else ''}"
            for n, d in result["details"].items()
        ):
            log.info(line)
        return Outcome(result, due, failed)
