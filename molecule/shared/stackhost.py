"""What the stack and cutover scenarios' verify steps share: commands on the test host, HTTPS
through its proxy verified against Pebble's root, the app's env file, psql and presigned URLs.

Imported by molecule/stack/tests and molecule/cutover/tests (their conftest.py puts this folder
on the path); every function asserts that its command worked.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import pytest

DOMAIN = "supermark.test"
FILES = f"files.{DOMAIN}"
ROOT_CA = "/tmp/pebble-root.pem"
ENV_FILE = "/opt/supermark/app/supermark.env"


def sh(host: Any, cmd: str) -> str:
    result = host.run(cmd)
    assert result.rc == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return str(result.stdout)


def curl(host: Any, url: str, *args: str, out: str = "/tmp/curl-body") -> tuple[int, str]:
    """HTTPS through the proxy on 127.0.0.1, verified against Pebble's root: status and body."""
    name = re.sub(r"^https?://([^/:]+).*", r"\1", url)
    port = 443 if url.startswith("https") else 80
    status = sh(
        host,
        f"curl -sS --cacert {ROOT_CA} --resolve {name}:{port}:127.0.0.1 "
        f"-o {out} -w '%{{http_code}}' " + " ".join(shlex.quote(a) for a in args) + f" {shlex.quote(url)}",
    )
    body = host.file(out).content.decode(errors="replace") if host.file(out).exists else ""
    return int(status), body


def env_file(host: Any, path: str = ENV_FILE) -> dict[str, str]:
    """KEY='value' lines, as Compose reads them (single quotes: literal)."""
    content = sh(host, f"cat {path}")
    pairs = (line.split("=", 1) for line in content.splitlines() if line and not line.startswith("#"))
    return {key: re.sub(r"^'(.*)'$", r"\1", value) for key, value in pairs}


def psql(host: Any, sql: str) -> str:
    return sh(
        host,
        "docker compose -f /opt/supermark/postgres/compose.yml exec -T postgres "
        f"psql -X -At -U supermark -d supermark -c {shlex.quote(sql)}",
    ).strip()


@pytest.fixture(scope="module", autouse=True)
def pebble_root(host: Any) -> None:
    """Pebble's issuing root, from its management API (it changes on each Pebble start)."""
    fmt = '{{(index .NetworkSettings.Networks "supermark_edge").IPAddress}}'
    ip = sh(host, f"docker inspect -f '{fmt}' supermark-standin-pebble").strip()
    sh(host, f"curl -sSk https://{ip}:15000/roots/0 -o {ROOT_CA}")


def presign(host: Any, key: str, method: str, expires: int = 300) -> str:
    """A presigned URL from the app (its boto3, its keys), as the real app makes them."""
    token = env_file(host)["INTERNAL_API_KEY"]
    status, body = curl(
        host,
        f"https://{DOMAIN}/api/standin/presign?key={key}&method={method}&expires={expires}",
        "-H",
        f"Authorization: Bearer {token}",
    )
    assert status == 200, body
    url = json.loads(body)["url"]
    assert url.startswith(f"https://{FILES}/supermark-documents/"), url
    return str(url)
