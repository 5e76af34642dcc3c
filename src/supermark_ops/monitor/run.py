"""One monitor run: every configured check, bounded in time, never overlapping.

Reads the config the monitor role writes (config.MonitorConfig), prints the result as JSON in
the tools' one shape (`ok`, `reason`, `at`) with the seed's fields beside it ({"postgres":
"healthy", "email": "not_configured", ...} and "details"), keeps it in the state directory,
and alerts on change through the shared alerts module.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from supermark_ops import alerts, external, files, http, pg, results
from supermark_ops.config import MonitorConfig
from supermark_ops.locks import single_run
from supermark_ops.monitor import checks
from supermark_ops.monitor.checks import Result
from supermark_ops.s3 import Bucket

log = logging.getLogger("supermark_ops.monitor")


@dataclass
class Outcome:
    report: dict[str, Any]
    alerts: list[alerts.Alert]
    failed_channels: list[str]
    skipped: bool = False

    @property
    def healthy(self) -> bool:
        return self.report.get("ok") is True


def plan(cfg: MonitorConfig) -> dict[str, Callable[[], Result | dict[str, Result]]]:
    """The checks the config asks for, as calls; each returns a Result (or several)."""
    t, verify = cfg.timeout, http.verify(cfg.ca_file)
    todo: dict[str, Callable[[], Result | dict[str, Result]]] = {}
    if url := cfg.app_url:
        todo["app"] = lambda: checks.app_health(url, t, verify)
        expected = cfg.services.expected
        todo["services"] = lambda: checks.app_services(url, t, verify, expected)
    if pgs := cfg.postgres:
        client = pg.Client(container=pgs.container)
        endpoint = pg.socket_endpoint(pgs.user, pgs.database, pgs.host, pgs.port)
        todo["postgres"] = lambda: checks.postgres(client, endpoint, t)
    if st := cfg.storage:
        bucket = Bucket.of(st, cfg.ca_file)
        todo["storage"] = lambda: checks.storage(bucket, t)
    if cp := cfg.compose:
        todo["compose"] = lambda: checks.compose_services(cp.project, cp.services, t)
    if bk := cfg.backups:
        todo["backups"] = lambda: checks.newest_backup(bk.directory, bk.max_age_hours)
        if drill := bk.drill_result:
            todo["drill"] = lambda: checks.restore_drill(drill)
    if dk := cfg.disk:
        todo["disk"] = lambda: checks.disk(dk.paths, dk.max_percent)
    if mem := cfg.memory:
        todo["memory"] = lambda: checks.memory(mem.max_percent)
    svc = cfg.services
    if tb := svc.tinybird:
        todo["probe:tinybird"] = lambda: checks.external(external.tinybird_token(tb.api_url, tb.token, t))
    if tr := svc.trigger:
        todo["probe:trigger"] = lambda: checks.external(external.trigger(tr.api_url, tr.secret_key, t))
    if qs := svc.qstash:
        todo["probe:webhooks"] = lambda: checks.external(
            external.qstash(qs.api_url, qs.token, qs.current_signing_key, qs.next_signing_key, t)
        )
    if box := svc.conversion_container:
        todo["conversion"] = lambda: checks.container_health(box, t)
    if tls := cfg.tls:
        todo["tls"] = lambda: checks.tls_certificate(
            tls.host,
            tls.port,
            tls.min_days,
            t,
            server_name=tls.server_name or None,
            cafile=tls.cafile or cfg.ca_file or None,
        )
    return todo


def run_checks(cfg: MonitorConfig) -> dict[str, Result]:
    """Run the checks in parallel; one that overruns the budget is unhealthy, not a hang."""
    todo = plan(cfg)
    budget = cfg.timeout + 5
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
    probes = {n.removeprefix("probe:"): results.pop(n) for n in list(results) if n.startswith("probe:")}
    return checks.fold(results, probes)


def report(results: dict[str, Result], now: datetime) -> dict[str, Any]:
    """The one result shape, with the seed's word per check beside it and each check's details."""
    problems = [f"{name}: {r.reason}" for name, r in results.items() if r.status == alerts.UNHEALTHY]
    details = {name: {"status": r.status, "reason": r.reason, **r.details} for name, r in results.items()}
    return {
        **{name: r.status for name, r in results.items()},
        "ok": not problems,
        "reason": "; ".join(problems),
        "at": now.isoformat(),
        "details": details,
    }


def run(cfg: MonitorConfig, now: datetime | None = None, send: bool = True) -> Outcome:
    state_dir = cfg.state_dir
    with single_run(state_dir / "monitor.lock") as got_lock:
        if not got_lock:
            log.warning(
                "a previous monitor run still holds %s; skipping this one", state_dir / "monitor.lock"
            )
            return Outcome({}, [], [], skipped=True)
        now = now or datetime.now(UTC)
        verify = http.verify(cfg.ca_file)
        if send:  # the dead-man's switch: a run that could not start never gets here
            alerts.ping(cfg.ping_url, "start", verify=verify)
        result = report(run_checks(cfg), now)
        files.write_json(state_dir / "monitor-last.json", result)
        tracker = alerts.IncidentTracker(
            state_dir / "monitor-incidents.json",
            host=cfg.host or socket.gethostname(),
            resend_after=timedelta(hours=cfg.alerts.resend_hours),
        )
        statuses = {name: (d["status"], d["reason"]) for name, d in result["details"].items()}
        due = tracker.update(statuses, now)
        channels = alerts.channels(cfg.alerts, verify)
        failed = alerts.dispatch(due, channels) if send else []
        if send:
            event: alerts.PingEvent = "success" if result["ok"] else "fail"
            alerts.ping(cfg.ping_url, event, results.dumps(result), verify=verify)
        for line in (
            f"{n}: {d['status']}{' - ' + d['reason'] if d['reason'] else ''}"
            for n, d in result["details"].items()
        ):
            log.info(line)
        return Outcome(result, due, failed)
