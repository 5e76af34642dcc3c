"""One check per outside service; each returns "" (fine) or the problem, naming what to fix."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests

# What Supermark's token needs (lib/tinybird: it appends events to datasources and reads the
# endpoints' pipes), and nothing broader: a leaked app token must not change or drop anything.
REQUIRED_TINYBIRD_SCOPES = ("DATASOURCES:READ", "DATASOURCES:APPEND", "PIPES:READ")


def reach(url: str, timeout: float, verify: str | bool = True) -> str:
    """Name the layer that fails on the way to `url`: DNS, TCP, or TLS ("" when all answer)."""
    parts = urlsplit(url)
    host, https = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    if parts.scheme not in ("http", "https") or not host:
        return f"{url} is not an http(s) URL"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"DNS: {host} does not resolve ({exc.strerror}); check the name and the droplet's resolver"
    family, kind, proto, _, address = addresses[0]
    try:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        sock.connect(address)
    except OSError as exc:
        return f"TCP: {host}:{port} ({address[0]}) does not accept connections: {exc.strerror or exc}"
    with sock:
        if not https:
            return ""
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
        if verify is False:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            with context.wrap_socket(sock, server_hostname=host):
                return ""
        except ssl.SSLCertVerificationError as exc:
            return f"TLS: the certificate of {host} does not verify ({exc.verify_message})"
        except (ssl.SSLError, OSError) as exc:
            return f"TLS: the handshake with {host}:{port} failed ({type(exc).__name__}: {exc})"


def _get(url: str, token: str, timeout: float, verify: str | bool) -> requests.Response | str:
    """An authenticated GET, or the layer that failed (reach's words)."""
    problem = reach(url, timeout, verify)
    if problem:
        return problem
    try:
        return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return f"{urlsplit(url).netloc} did not answer: {type(exc).__name__}"


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def tinybird_scopes(
    api_url: str, token: str, admin_token: str, timeout: float = 10, verify: str | bool = True
) -> str:
    """The app's token carries exactly DATASOURCES:READ, DATASOURCES:APPEND and PIPES:READ.

    A token cannot read its own scopes: Tinybird's Token API (GET /v0/tokens) needs a token with
    the ADMIN or TOKENS scope, the one the datasources are pushed with.
    """
    url = api_url.rstrip("/") + "/v0/tokens"
    resp = _get(url, admin_token, timeout, verify)
    if isinstance(resp, str):
        return f"Tinybird: {resp}"
    if resp.status_code in (401, 403):
        return (
            f"Tinybird refused the admin token ({resp.status_code}) at {url}: "
            "supermark_tinybird_admin_token must be a workspace token with the ADMIN or TOKENS scope"
        )
    body = _json(resp)
    if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("tokens"), list):
        return f"Tinybird answered {resp.status_code} at {url} without a token list"
    entry = next((t for t in body["tokens"] if isinstance(t, dict) and t.get("token") == token), None)
    if entry is None:
        return (
            "Tinybird: supermark_tinybird_token is not a token of this workspace "
            "(check the token, the workspace and supermark_tinybird_api_url, which is per region)"
        )
    name = entry.get("name", "?")
    scopes = [s.get("type", "") for s in entry.get("scopes", []) if isinstance(s, dict)]
    broader = sorted({s for s in scopes if s not in REQUIRED_TINYBIRD_SCOPES})
    missing = [s for s in REQUIRED_TINYBIRD_SCOPES if s not in scopes]
    if broader:
        return (
            f"Tinybird token '{name}' has the scope {', '.join(broader)}, broader than the app needs: "
            f"give it only {', '.join(REQUIRED_TINYBIRD_SCOPES)} (DATASOURCES:APPEND, not DATASOURCES:CREATE "
            "or ADMIN: a leaked app token must not change or drop data)"
        )
    if missing:
        need = ", ".join(REQUIRED_TINYBIRD_SCOPES)
        return f"Tinybird token '{name}' lacks the scope {', '.join(missing)}: the app needs {need}"
    return ""


def tinybird_token(api_url: str, token: str, timeout: float = 10, verify: str | bool = True) -> str:
    """The app's own token is accepted (what the monitor asks: it holds no admin token)."""
    url = api_url.rstrip("/") + "/v0/datasources"
    resp = _get(url, token, timeout, verify)
    if isinstance(resp, str):
        return f"Tinybird: {resp}"
    if resp.status_code in (401, 403):
        return f"Tinybird refused the app's token ({resp.status_code}) at {url}"
    if resp.status_code != 200:
        return f"Tinybird answered {resp.status_code} at {url}"
    return ""


def trigger(api_url: str, secret_key: str, timeout: float = 10, verify: str | bool = True) -> str:
    """Trigger.dev answers the secret key: DNS, then TCP, then TLS, then the key (401)."""
    url = api_url.rstrip("/") + "/api/v1/runs?page%5Bsize%5D=1"
    resp = _get(url, secret_key, timeout, verify)
    if isinstance(resp, str):
        return f"Trigger.dev: {resp}"
    if resp.status_code == 401:
        return (
            f"Trigger.dev refused the secret key (401) at {urlsplit(api_url).netloc}: use the project's "
            "secret key (tr_prod_...) of the environment the tasks are deployed to"
        )
    if resp.status_code != 200:
        return f"Trigger.dev answered {resp.status_code} at {url}"
    return ""


def qstash(
    api_url: str,
    token: str,
    current_key: str,
    next_key: str,
    timeout: float = 10,
    verify: str | bool = True,
) -> str:
    """QStash accepts the token, and its signing keys are the ones the app verifies callbacks with."""
    url = api_url.rstrip("/") + "/v2/keys"
    resp = _get(url, token, timeout, verify)
    if isinstance(resp, str):
        return f"QStash: {resp}"
    if resp.status_code in (401, 403):
        return f"QStash refused the token ({resp.status_code}) at {url}: supermark_qstash_token"
    body = _json(resp)
    if resp.status_code != 200 or not isinstance(body, dict):
        return f"QStash answered {resp.status_code} at {url} without the signing keys"
    wrong = [
        name
        for name, mine, theirs in (
            ("supermark_qstash_current_signing_key", current_key, body.get("current")),
            ("supermark_qstash_next_signing_key", next_key, body.get("next")),
        )
        if mine != theirs
    ]
    if wrong:
        return (
            f"QStash: {' and '.join(wrong)} differ from the keys QStash signs with: "
            "callbacks would be refused; copy both from the QStash console"
        )
    return ""


def gotenberg(base_url: str, timeout: float = 10, verify: str | bool = True) -> str:
    """Gotenberg's /health says up, with LibreOffice (the engine of the Office conversion) up."""
    url = base_url.rstrip("/") + "/health"
    problem = reach(url, timeout, verify)
    if problem:
        return f"Gotenberg: {problem}"
    try:
        resp = requests.get(url, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return f"Gotenberg did not answer at {url}: {type(exc).__name__}"
    body = _json(resp)
    if resp.status_code != 200 or not isinstance(body, dict) or body.get("status") != "up":
        return f"Gotenberg is not up at {url} ({resp.status_code})"
    down = _down(body.get("details", {}).items())
    return f"Gotenberg: {', '.join(down)} down" if down else ""


def _down(details: Iterable[tuple[str, Any]]) -> list[str]:
    return sorted(name for name, d in details if isinstance(d, dict) and d.get("status") != "up")
