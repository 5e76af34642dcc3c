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


# The app's service names, as the seed's JSON shows them.
SERVICE_NAMES = {"resend": "email", "tinybird": "tinybird", "trigger": "trigger"}


def app_services(base_url: str, timeout: float, verify: str | bool = True) -> dict[str, Result]:
    """/api/health/services: always HTTP 200, so its body is what counts.

    "degraded", or a critical service that is not available, is unhealthy;
    an optional service that is off is not_configured, not an alarm.
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
    for key, name in SERVICE_NAMES.items():
        info = services.get(key)
        if not isinstance(info, dict) or not info.get("configured"):
            results[name] = off(f"{key} is not configured (optional)")
        elif info.get("available"):
            results[name] = ok()
        else:
            results[name] = bad(f"{key} is configured but not available")
    return results


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
