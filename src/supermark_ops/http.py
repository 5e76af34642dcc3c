"""HTTP, one way: the retry loop of every API client (DigitalOcean, S3) and the wait for an
app's /api/health (the supermark role after a start, a restore, the monitor's check).

TLS trust is given per request (`verify`: True for the public CAs, or a CA bundle's path, as
the test host's ACME CA needs); nothing sets REQUESTS_CA_BUNDLE for the whole process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

Sleep = Callable[[float], None]


def verify(ca_file: str) -> str | bool:
    """requests' `verify` for a config's optional CA bundle."""
    return ca_file or True


def retryable(status: int) -> bool:
    """Rate limited or a server error: worth another try."""
    return status == 429 or status >= 500


def retry_delay(resp: requests.Response, default: float) -> float:
    """What the server asks for (Retry-After seconds, or RateLimit-Reset as a Unix time), else `default`."""
    retry_after = resp.headers.get("Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    reset = resp.headers.get("RateLimit-Reset")
    if reset is not None:
        try:
            return max(0.0, min(60.0, float(reset) - time.time()))
        except ValueError:
            pass
    return default


def send(
    attempt: Callable[[], requests.Response],
    *,
    attempts: int,
    backoff: float = 1.0,
    sleep: Sleep = time.sleep,
) -> requests.Response:
    """Make a request, again after a connection error, a 429 or a 5xx, up to `attempts` tries.

    `attempt` sends it once (signing it afresh and rewinding its body). The n-th retry waits
    backoff * 2**n seconds, or what the server asks. Returns the last response (the caller
    judges its status); raises the last requests.RequestException when no try got an answer.
    """
    for n in range(attempts):
        last = n == attempts - 1
        try:
            resp = attempt()
        except requests.RequestException:
            if last:
                raise
            sleep(backoff * 2**n)
            continue
        if last or not retryable(resp.status_code):
            return resp
        sleep(retry_delay(resp, backoff * 2**n))
    raise ValueError("attempts must be at least 1")


def app_health(url: str, timeout: float, verify: str | bool = True) -> str:
    """GET an app's /api/health (its real SELECT 1 through Prisma): "" when it answers 200
    {"status": "ok"}, else what it did instead."""
    try:
        resp = requests.get(url, timeout=timeout, headers={"Accept": "application/json"}, verify=verify)
    except requests.Timeout:
        return f"{url} did not answer within {timeout:g} s"
    except requests.RequestException as exc:
        return f"{url} unreachable: {type(exc).__name__}"
    try:
        body = resp.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return f"{url} answered {resp.status_code} without JSON"
    if resp.status_code == 200 and body.get("status") == "ok":
        return ""
    return f"{url} answered {resp.status_code}: {body.get('message') or body.get('status') or 'no status'}"


def wait_healthy(
    url: str,
    timeout: float,
    verify: str | bool = True,
    interval: float = 2.0,
    sleep: Sleep = time.sleep,
) -> str:
    """Ask /api/health every `interval` seconds until it is ok ("") or `timeout` seconds pass
    (then the last answer, said plainly). A slow first start is normal: give it minutes."""
    deadline = time.monotonic() + timeout
    while True:
        problem = app_health(url, min(10.0, max(1.0, timeout)), verify)
        if not problem:
            return ""
        if time.monotonic() + interval > deadline:
            return f"not healthy within {timeout:g} s; last answer: {problem}"
        sleep(interval)
