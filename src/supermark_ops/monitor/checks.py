"""The monitor's checks. Each returns healthy, unhealthy or not_configured, and a reason.

Unlike the seed's monitor (a grep for "unhealthy", a word the app never
says), every check here can fail: /api/health runs a real database query,
/api/health/services is read for "degraded" and for critical services that
are not available, and the stack's parts are asked directly.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from supermark_ops import http, pg, results
from supermark_ops.alerts import HEALTHY, NOT_CONFIGURED, UNHEALTHY
from supermark_ops.s3 import Bucket, S3Error


@dataclass
class Result:
    status: str
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def ok(reason: str = "", **details: Any) -> Result:
    return Result(HEALTHY, reason, details)


def bad(reason: str, **details: Any) -> Result:
    return Result(UNHEALTHY, reason, details)


def off(reason: str) -> Result:
    return Result(NOT_CONFIGURED, reason)


def app_health(base_url: str, timeout: float, verify: str | bool = True) -> Result:
    """GET /api/health: the app's own SELECT 1 through Prisma."""
    problem = http.app_health(base_url.rstrip("/") + "/api/health", timeout, verify)
    return bad(problem) if problem else ok()


# The monitor's word for each optional service of /api/health/services (the seed's names where
# it has them), and where the app reports it. Webhook delivery and OAuth are groups: QStash or
# BullMQ, Google or LinkedIn.
SERVICES: dict[str, tuple[str, ...]] = {
    "email": ("resend",),
    "tinybird": ("tinybird",),
    "trigger": ("trigger",),
    "webhooks": ("webhooks.qstash", "webhooks.bullmq"),
    "redis": ("redis",),
    "passkeys": ("passkeys",),
    "oauth": ("oauth.google", "oauth.linkedin"),
}


def _entry(services: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = services
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _service(name: str, services: dict[str, Any], expected: bool) -> Result:
    """One optional service: off is not_configured (never an alarm); on and not available, or
    switched on by the deploy while the app reports it off, is unhealthy."""
    parts = {path: _entry(services, path) for path in SERVICES[name]}
    # OAuth entries have no "configured": an ID and a secret make a provider available.
    on = [p for p, e in parts.items() if e.get("configured", e.get("available"))]
    up = [p for p in on if parts[p].get("available")]
    if not on:
        if expected:
            return bad(f"{name} was switched on by the deploy, but the app reports it not configured")
        return off(f"{name} is not configured (optional)")
    down = [p for p in on if p not in up]
    if down:
        return bad(f"{', '.join(down)} configured but not available", configured=on)
    return ok(configured=on)


def app_services(
    base_url: str, timeout: float, verify: str | bool = True, expected: Sequence[str] = ()
) -> dict[str, Result]:
    """/api/health/services: always HTTP 200, so its body is what counts.

    "degraded", or a critical service that is not available, is unhealthy; an optional service
    that is off is not_configured, unless the deploy switched it on (`expected`).
    """
    url = base_url.rstrip("/") + "/api/health/services"
    try:
        resp = requests.get(url, timeout=timeout, headers={"Accept": "application/json"}, verify=verify)
        status, body = resp.status_code, resp.json()
    except requests.RequestException as exc:
        return {"services": bad(f"{url} unreachable: {type(exc).__name__}")}
    except ValueError:
        status, body = resp.status_code, None
    if status != 200 or not isinstance(body, dict) or not isinstance(body.get("services"), dict):
        return {"services": bad(f"{url} answered {status} without the services report")}
    services: dict[str, Any] = body["services"]
    results: dict[str, Result] = {}
    down = [
        name
        for name, info in services.items()
        if isinstance(info, dict) and info.get("critical") and not info.get("available")
    ]
    if body.get("status") != "healthy" or down:
        why = f"critical services not available: {', '.join(sorted(down))}" if down else ""
        results["services"] = bad(why or f"the app reports '{body.get('status')}'")
    else:
        results["services"] = ok()
    for name in SERVICES:
        results[name] = _service(name, services, name in expected)
    return results


def external(problem: str) -> Result:
    """An outside service's own check (supermark_ops.external): "" is healthy."""
    return bad(problem) if problem else ok()


def fold(results: dict[str, Result], probes: dict[str, Result]) -> dict[str, Result]:
    """A switched-on service is healthy only when the app reports it available AND its own
    check passes: a failed probe turns the app's word for it unhealthy, with the probe's reason."""
    out = dict(results)
    for name, probe in probes.items():
        mine = out.get(name)
        if mine is None or (mine.status != UNHEALTHY and probe.status == UNHEALTHY):
            out[name] = probe
    return out


def compose_services(project: str, expected: Sequence[str], timeout: float, docker: str = "docker") -> Result:
    """Each expected Compose service has a running container, healthy where it has a healthcheck."""
    try:
        out = subprocess.run(
            [docker, "compose", "-p", project, "ps", "--all", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        return bad(f"docker compose ps failed: {type(exc).__name__}")
    rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
    by_service = {row.get("Service"): row for row in rows}
    problems = []
    for service in expected:
        row = by_service.get(service)
        if row is None:
            problems.append(f"{service}: no container")
        elif row.get("State") != "running":
            problems.append(f"{service}: {row.get('State')}")
        elif row.get("Health") not in ("", None, "healthy"):
            problems.append(f"{service}: {row.get('Health')}")
    return bad("; ".join(problems)) if problems else ok(services=sorted(expected))


def container_health(container: str, timeout: float, docker: str = "docker") -> Result:
    """A container of the stack runs and its own health check passes (Docker ran it last)."""
    try:
        proc = subprocess.run(
            [docker, "inspect", "-f", "{{json .State}}", container],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return bad(f"docker inspect {container} failed: {type(exc).__name__}")
    if proc.returncode != 0:
        return bad(f"{container}: no such container")
    state = json.loads(proc.stdout)
    health = (state.get("Health") or {}).get("Status", "")
    if state.get("Status") != "running":
        return bad(f"{container} is {state.get('Status')}")
    if health not in ("", "healthy"):
        log = (state.get("Health") or {}).get("Log") or [{}]
        said = str(log[-1].get("Output", "")).strip()[-200:]
        return bad(f"{container} is {health}" + (f": {said}" if said else ""))
    return ok(container=container)


def postgres(client: pg.Client, endpoint: pg.Endpoint, timeout: float) -> Result:
    """pg_isready, run where Postgres is reachable (in the stack's container: docker exec)."""
    try:
        proc = client.isready(endpoint, timeout)
    except subprocess.TimeoutExpired:
        return bad(f"pg_isready did not answer within {timeout:g} s")
    except OSError as exc:
        return bad(f"cannot run pg_isready ({client.describe()}): {exc.strerror}")
    except pg.PgError as exc:
        return bad(str(exc))
    if proc.returncode == 0:
        return ok()
    says = (proc.stdout or proc.stderr).strip().splitlines()
    meaning = {1: "rejecting connections", 2: "no response", 3: "bad parameters"}.get(
        proc.returncode, "failed"
    )
    return bad(f"Postgres {meaning}: {says[-1] if says else proc.returncode}")


def storage(bucket: Bucket, timeout: float) -> Result:
    """The app's bucket answers a signed HEAD request (once: a health check does not retry)."""
    try:
        replace(bucket, attempts=1, timeout=timeout).check()
    except S3Error as exc:
        return bad(str(exc))
    return ok()


def newest_backup(directory: Path, max_age_hours: float, now: datetime | None = None) -> Result:
    """The newest backup manifest is younger than the threshold."""
    now = now or datetime.now(UTC)
    if not directory.is_dir():
        return bad(f"backup directory {directory} does not exist")
    manifests = sorted(directory.glob("*.manifest.json"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        return bad(f"no backup in {directory}")
    age_h = (now.timestamp() - manifests[-1].stat().st_mtime) / 3600
    if age_h > max_age_hours:
        return bad(
            f"newest backup is {age_h:.1f} h old (limit {max_age_hours:g} h)", newest=manifests[-1].name
        )
    return ok(newest=manifests[-1].name, age_hours=round(age_h, 1))


def restore_drill(result_file: Path) -> Result:
    """The last restore drill passed (the drill writes its result here)."""
    if not result_file.exists():
        return bad(f"no restore drill has run ({result_file} missing)")
    try:
        data = results.read(result_file)
    except ValueError:
        return bad(f"{result_file} is not JSON")
    if data.get("ok") is True:
        return ok(at=data.get("at"))
    return bad(
        f"the last restore drill failed: {data.get('reason', 'no reason recorded')}", at=data.get("at")
    )


def disk(paths: Sequence[str], max_percent: float) -> Result:
    usage = {}
    for path in paths:
        total, used, _free = shutil.disk_usage(path)
        usage[path] = round(100 * used / total, 1) if total else 0.0
    full = [f"{p} {pct}%" for p, pct in usage.items() if pct > max_percent]
    return bad(f"disk over {max_percent:g}%: {', '.join(full)}", usage=usage) if full else ok(usage=usage)


def memory(max_percent: float, meminfo: Path = Path("/proc/meminfo")) -> Result:
    values = {}
    for line in meminfo.read_text().splitlines():
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0])
    used = 100 * (1 - values["MemAvailable"] / values["MemTotal"])
    if used > max_percent:
        return bad(f"memory {used:.0f}% used (limit {max_percent:g}%)", percent=round(used, 1))
    return ok(percent=round(used, 1))


def tls_certificate(
    host: str,
    port: int,
    min_days: float,
    timeout: float,
    server_name: str | None = None,
    cafile: str | None = None,
) -> Result:
    """The certificate served for the public name is valid for more than min_days."""
    context = ssl.create_default_context(cafile=cafile)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=server_name or host) as tls,
        ):
            cert = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        return bad(f"certificate for {server_name or host} does not verify: {exc.verify_message}")
    except (OSError, ssl.SSLError) as exc:
        return bad(f"TLS to {host}:{port} failed: {type(exc).__name__}")
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str((cert or {})["notAfter"])), UTC)
    days = (not_after - datetime.now(UTC)).total_seconds() / 86400
    if days < min_days:
        return bad(f"certificate expires in {days:.1f} days (renew before {min_days:g})", days=round(days, 1))
    return ok(days=round(days, 1))
