"""The stack after site.yml, an upgrade to v2 and a rolled-back v3 (side_effect.yml).

Everything goes through the proxy over HTTPS with certificates Pebble issued
through HTTP-01, checked against Pebble's root; S3 requests hit the stand-in
that verifies SigV4 the way MinIO does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from stackhost import DOMAIN, ENV_FILE, FILES, ROOT_CA, curl, env_file, presign, psql, sh

testinfra_hosts = ["ubuntu2404"]


# The scenario's "vault" (host_vars/ubuntu2404.yml): secrets with / $ # @ ? " and spaces.
VAULT = yaml.safe_load((Path(__file__).parents[1] / "host_vars/ubuntu2404.yml").read_text())


def test_health_through_the_proxy_over_https(host: Any) -> None:
    status, body = curl(host, f"https://{DOMAIN}/api/health")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_services_report_optional_services_off(host: Any) -> None:
    status, body = curl(host, f"https://{DOMAIN}/api/health/services")
    services = json.loads(body)["services"]
    assert status == 200
    assert services["storage"]["available"] and services["database"]["available"]
    assert not services["tinybird"]["configured"] and not services["trigger"]["configured"]
    assert not services["resend"]["configured"] and not services["webhooks"]["qstash"]["configured"]


# What the switches put in the env file (side_effect turns them all on, then off again).
SWITCH_ENV = (
    "RESEND_API_KEY",
    "TINYBIRD_TOKEN",
    "TRIGGER_SECRET_KEY",
    "TRIGGER_API_URL",
    "NEXT_PRIVATE_CONVERSION_BASE_URL",
    "QSTASH_TOKEN",
    "QSTASH_CURRENT_SIGNING_KEY",
    "QSTASH_NEXT_SIGNING_KEY",
)


def test_switches_turned_off_leave_no_variable_and_no_conversion_service(host: Any) -> None:
    """side_effect ran with every switch on, then a deploy without them: they are off again."""
    env = env_file(host)
    assert [name for name in SWITCH_ENV if name in env] == []
    assert sh(host, "docker ps -a --filter name=gotenberg --format '{{.Names}}'").strip() == ""
    assert not host.file("/opt/supermark/conversion").exists
    monitor = yaml.safe_load(sh(host, "cat /etc/supermark-ops/monitor.yml"))
    assert "services" not in monitor or not monitor["services"].get("expected")
    assert "gotenberg" not in monitor["compose"]["services"]


def test_http_redirects_to_https_and_headers_are_set(host: Any) -> None:
    out = sh(host, f"curl -sSI --resolve {DOMAIN}:80:127.0.0.1 http://{DOMAIN}/documents")
    assert out.startswith("HTTP/1.1 308"), out
    assert f"location: https://{DOMAIN}/documents" in out.lower()
    head = sh(
        host,
        f"curl -sS -D - -o /dev/null --cacert {ROOT_CA} --resolve {DOMAIN}:443:127.0.0.1 "
        f"https://{DOMAIN}/api/health",
    ).lower()
    assert "strict-transport-security: max-age=31536000" in head
    assert "x-content-type-options: nosniff" in head
    assert "server:" not in head


def test_challenge_path_answers_the_probe(host: Any) -> None:
    out = sh(
        host,
        f"curl -sS --resolve {DOMAIN}:80:127.0.0.1 http://{DOMAIN}/.well-known/acme-challenge/supermark-ops-probe",
    )
    assert out.startswith("supermark-ops-probe-")


def test_presigned_upload_downloads_byte_identical(host: Any) -> None:
    key = f"docs/{uuid.uuid4().hex}.pdf"
    sh(host, "head -c 3000000 /dev/urandom > /tmp/upload.bin")
    status, _ = curl(host, presign(host, key, "put"), "-X", "PUT", "--data-binary", "@/tmp/upload.bin")
    assert status == 200
    status, _ = curl(host, presign(host, key, "get"), out="/tmp/download.bin")
    assert status == 200
    assert sh(host, "sha256sum < /tmp/upload.bin") == sh(host, "sha256sum < /tmp/download.bin")


def test_anonymous_tampered_and_expired_requests_are_refused(host: Any) -> None:
    key = f"docs/{uuid.uuid4().hex}.txt"
    sh(host, "echo secret-document > /tmp/small.txt")
    assert curl(host, presign(host, key, "put"), "-X", "PUT", "--data-binary", "@/tmp/small.txt")[0] == 200
    assert curl(host, f"https://{FILES}/supermark-documents/{key}")[0] == 403
    good = presign(host, key, "get")
    flip = {"1": "2"}
    tampered = re.sub(r"X-Amz-Signature=(.)", lambda m: "X-Amz-Signature=" + flip.get(m[1], "1"), good)
    assert curl(host, tampered)[0] == 403
    expiring = presign(host, key, "get", expires=1)
    sh(host, "sleep 2")
    status, body = curl(host, expiring)
    assert status == 403 and "expired" in body


ADMIN_CALL = """
import hashlib, json, sys, requests
from supermark_ops.s3 import sign_v4
url, key, secret = sys.argv[1:4]
body = json.dumps({"op": "get-anonymous", "bucket": "supermark-documents"}).encode()
sha = hashlib.sha256(body).hexdigest()
resp = requests.post(url, data=body, headers=sign_v4("POST", url, key, secret, "us-east-1", sha),
                     verify="/tmp/pebble-root.pem", timeout=10)
print(resp.status_code, resp.text)
"""


def test_minio_admin_api_is_refused_at_the_proxy(host: Any) -> None:
    """MinIO's own APIs (/minio/...) with the root keys: answered on the host's backend network,
    refused from outside, through the proxy."""
    env = dict(
        line.split("=", 1)
        for line in sh(host, "cat /opt/supermark/minio/minio.env").splitlines()
        if "=" in line
    )
    key, secret = (env[k].strip("'") for k in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"))
    fmt = '{{(index .NetworkSettings.Networks "supermark_backend").IPAddress}}'
    minio = sh(host, f"docker inspect -f '{fmt}' supermark-minio-1").strip()
    python = "/opt/supermark-ops/venv/bin/python"

    def call(url: str) -> str:
        return sh(
            host, f"{python} -c {shlex.quote(ADMIN_CALL)} {url} {shlex.quote(key)} {shlex.quote(secret)}"
        )

    # The signed admin call works where MinIO listens (so the refusal below is the proxy's doing).
    assert call(f"http://{minio}:9000/minio/admin/standin").startswith("200 ")
    outside = call(f"https://{FILES}/minio/admin/standin")
    assert outside.startswith("403 Not served here: MinIO's own APIs"), outside
    for path in ("/minio/admin/v3/info", "/minio/health/live", "/minio/v2/metrics/cluster", "/minio"):
        status, body = curl(host, f"https://{FILES}{path}")
        assert status == 403 and body.startswith("Not served here"), (path, status, body)


def test_cors_only_for_the_app_origin(host: Any) -> None:
    url = f"https://{FILES}/supermark-documents/x"
    ok = sh(
        host,
        f"curl -sS -D - -o /dev/null -X OPTIONS --cacert {ROOT_CA} --resolve {FILES}:443:127.0.0.1 "
        f"-H 'Origin: https://{DOMAIN}' -H 'Access-Control-Request-Method: PUT' {url}",
    ).lower()
    assert f"access-control-allow-origin: https://{DOMAIN}" in ok
    status, _ = curl(
        host,
        url,
        "-X",
        "OPTIONS",
        "-H",
        "Origin: https://evil.example",
        "-H",
        "Access-Control-Request-Method: PUT",
    )
    assert status == 403


def test_upload_size_is_limited(host: Any) -> None:
    """The test host's limit is 8 MB. Caddy 2.6 (the stand-in) answers 502 where newer Caddy
    says 413; either way the object must not be stored, and a body under the limit must pass."""
    key = f"docs/{uuid.uuid4().hex}.bin"
    sh(host, "head -c 9000000 /dev/zero > /tmp/too-big.bin")
    status, _ = curl(host, presign(host, key, "put"), "-X", "PUT", "--data-binary", "@/tmp/too-big.bin")
    assert status in (413, 502)
    assert curl(host, presign(host, key, "get"))[0] == 404
    sh(host, "head -c 7000000 /dev/zero > /tmp/fits.bin")
    assert curl(host, presign(host, key, "put"), "-X", "PUT", "--data-binary", "@/tmp/fits.bin")[0] == 200


def test_only_ssh_http_https_listen_beyond_loopback(host: Any) -> None:
    listening = sh(host, "ss -ltnH").split("\n")
    ports = set()
    for line in filter(None, listening):
        address = line.split()[3]
        ip, port = address.rsplit(":", 1)
        if ip not in ("127.0.0.1", "[::1]") and not ip.startswith("127."):
            ports.add(int(port))
    assert ports == {22, 80, 443}
    for service in ("postgres", "minio", "app"):
        assert sh(host, f"docker port supermark-{service}-1").strip() == ""


def test_app_reaches_its_own_public_name(host: Any) -> None:
    code = (
        "import ssl, urllib.request; ctx = ssl.create_default_context(cafile='/tmp/ca.pem'); "
        f"print(urllib.request.urlopen('https://{DOMAIN}/api/health', context=ctx).status)"
    )
    sh(host, f"docker cp {ROOT_CA} supermark-app-1:/tmp/ca.pem")
    assert sh(host, f"docker exec supermark-app-1 python3 -c {shlex.quote(code)}").strip() == "200"


def test_env_file_is_private_complete_and_without_defaults(host: Any) -> None:
    f = host.file(ENV_FILE)
    assert f.mode == 0o600 and f.user == "deploy"
    env = env_file(host)
    assert "changeme" not in f.content_string.lower()
    assert "NEXT_PRIVATE_UPLOAD_DISTRIBUTION_HOST" not in env
    assert "TINYBIRD_TOKEN" not in env and "TRIGGER_SECRET_KEY" not in env
    assert env["NEXT_PRIVATE_UPLOAD_ENDPOINT"] == f"https://{FILES}"
    assert env["NEXT_PRIVATE_UPLOAD_ACCESS_KEY_ID"] == "supermark-app"  # never MinIO's root key
    generated = (
        "NEXTAUTH_SECRET",
        "INTERNAL_API_KEY",
        "REVALIDATE_TOKEN",
        "NEXT_PRIVATE_UNSUBSCRIBE_JWT_SECRET",
    )
    for name in generated:
        assert re.fullmatch(r"[a-z0-9]{40}", env[name]), name


def test_secrets_come_from_the_control_side_files_or_the_vault(host: Any) -> None:
    secrets = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / DOMAIN
    env = env_file(host)
    assert env["NEXTAUTH_SECRET"] == (secrets / "supermark_nextauth_secret").read_text().strip()
    assert (secrets / "supermark_nextauth_secret").stat().st_mode & 0o777 == 0o600
    assert secrets.stat().st_mode & 0o777 == 0o700
    # From the vault, never generated: no file for them on the control side.
    assert env["POSTGRES_PASSWORD"] == VAULT["vault_postgres_password"]
    assert env["NEXT_PRIVATE_UPLOAD_SECRET_ACCESS_KEY"] == VAULT["vault_minio_app_secret_key"]
    assert not (secrets / "postgres_password").exists() and not (secrets / "minio_app_secret_key").exists()
    minio = env_file(host, "/opt/supermark/minio/minio.env")
    assert minio["MINIO_ROOT_PASSWORD"] == (secrets / "minio_root_password").read_text().strip()


def test_a_vault_password_with_url_and_shell_characters_works(host: Any) -> None:
    """/ $ # @ ? " and a space: quoted in the env files, encoded in the database URL."""
    password = VAULT["vault_postgres_password"]
    env = env_file(host)
    assert env_file(host, "/opt/supermark/postgres/postgres.env")["POSTGRES_PASSWORD"] == password
    url = env["POSTGRES_PRISMA_URL"]
    assert quote(password, safe="") in url and password not in url
    # The app logs in with it (its /api/health runs SELECT 1 through that URL) ...
    assert json.loads(curl(host, f"https://{DOMAIN}/api/health")[1])["status"] == "ok"
    # ... and Postgres holds it: a TCP login with it works, a wrong one is refused (to the
    # container's network address, as the app connects: loopback is trusted, as in the official image).
    login = shlex.quote('set -- $(hostname -i); psql -X -w -h "$1" -U supermark -d supermark -Atc "SELECT 1"')
    with_password = f"docker exec -e PGPASSWORD={shlex.quote(password)} supermark-postgres-1 sh -c {login}"
    assert sh(host, with_password).strip() == "1"
    assert host.run(f"docker exec -e PGPASSWORD=wrong supermark-postgres-1 sh -c {login}").rc != 0


def test_image_is_built_with_buildkit_from_the_patched_source(host: Any) -> None:
    """What the build baked in: the NEXT_PUBLIC_* values and the e-mail senders after the example patch."""
    status, body = curl(host, f"https://{DOMAIN}/api/standin/build")
    assert status == 200, body
    build = json.loads(body)
    assert build["senders"] == [f"noreply@{DOMAIN}", f"system@{DOMAIN}", f"verify@{DOMAIN}"]
    assert build["env"]["NEXT_PUBLIC_BASE_URL"] == f"https://{DOMAIN}"
    assert build["env"]["NEXT_PUBLIC_APP_BASE_HOST"] == DOMAIN
    assert sh(host, "docker exec supermark-app-1 id -un").strip() == "nextjs"
    assert "buildx" in sh(host, "docker buildx version")


def test_rollback_left_v2_serving_with_its_schema(host: Any) -> None:
    release = json.loads(sh(host, "cat /opt/supermark/app/release.json"))
    repo = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".state/standins/supermark-standin.git"
    v1, v2 = (
        subprocess.run(
            ["git", "-C", str(repo), "rev-parse", f"{tag}^{{commit}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for tag in ("v1", "v2")
    )
    assert release["ref"] == "v2" and release["current"].startswith(v2[:12])
    assert release["previous"].startswith(v1[:12])
    images = sh(host, "docker images --format '{{.Repository}}:{{.Tag}}' supermark-app")
    assert release["current"] in images and release["previous"] in images
    assert psql(host, "SELECT string_agg(migration_name, ',' ORDER BY 1) FROM _prisma_migrations") == (
        "20240101000000_init,20240201000000_add_link"
    )
    assert psql(host, "SELECT to_regclass('public.\"View\"') IS NULL") == "t"
    dumps = sh(host, "ls /var/lib/supermark-ops/pre-upgrade/")
    assert "pre-upgrade-" in dumps and "pre-rollback-" in dumps
    assert curl(host, f"https://{DOMAIN}/api/health")[0] == 200


def test_the_run_ends_with_a_summary_kept_on_the_control_side(host: Any) -> None:
    """site.yml's last play: what is on, what is off and why, each accepted risk by its flag (0600 JSON)."""
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "last-run" / DOMAIN / "summary.json"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    summary = json.loads(path.read_text())
    assert summary["url"] == f"https://{DOMAIN}" and summary["host"] == "ubuntu2404"
    # The test host's group_vars accept exactly these three.
    assert summary["accepted_risks"] == [
        "supermark_allow_no_sign_in",
        "monitor_allow_no_alerts",
        "backup_allow_local_only",
    ]
    items = {i["name"]: i for i in summary["items"]}
    assert items["backups"]["on"] and items["monitor"]["on"]
    assert not items["outside watch"]["on"] and "no DigitalOcean token" in items["outside watch"]["detail"]
    assert any(
        line.startswith("  generated: ") and f"/secrets/{DOMAIN}/" in line for line in summary["lines"]
    )
    # No secret's value reached it.
    secrets = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets" / DOMAIN
    text = path.read_text()
    assert not any(f.read_text().strip() in text for f in secrets.iterdir())


def test_monitor_sees_the_whole_stack_healthy(host: Any) -> None:
    # A run from cron may hold the lock for a moment: then this run prints nothing; try again.
    out = sh(
        host,
        "for i in 1 2 3; do out=$(/opt/supermark-ops/venv/bin/supermark-ops monitor "
        '--config /etc/supermark-ops/monitor.yml --no-alert) && [ -n "$out" ] && break; sleep 5; done; '
        'echo "$out"',
    )
    report = json.loads(out)
    for check in ("app", "postgres", "storage", "compose", "tls", "backups", "drill"):
        assert report[check] == "healthy", (check, report)
    for optional in ("email", "tinybird", "trigger", "webhooks", "redis", "passkeys", "oauth"):
        assert report[optional] == "not_configured", (optional, report)
    assert "conversion" not in report


def test_log_level_comes_from_the_variable(host: Any) -> None:
    assert env_file(host)["LOG_LEVEL"] == "info"


def test_daily_app_log_export(host: Any) -> None:
    """The cron job's own command line writes today's dated file with the app's output."""
    cron = host.file("/etc/cron.d/supermark-ops-log-export").content_string
    job = next(line for line in cron.splitlines() if line.startswith("5 0 * * *")).split(" root ", 1)[1]
    sh(host, job.replace("\\%", "%"))
    today = sh(host, "date +%Y%m%d").strip()
    exported = host.file(f"/var/log/supermark-ops/app/supermark-{today}.log").content_string
    assert "app-1" in exported and "stand-in Supermark listening" in exported


def test_monitor_sees_a_stopped_service_last(host: Any) -> None:
    """Last, as it stops the app for a moment: the Compose check names it, then all is well again."""
    monitor = (
        "/opt/supermark-ops/venv/bin/supermark-ops monitor --config /etc/supermark-ops/monitor.yml --no-alert"
    )
    sh(host, "docker stop supermark-app-1")
    try:
        stopped = host.run(monitor)
    finally:
        sh(host, "docker start supermark-app-1")
    assert stopped.rc == 1, stopped.stdout
    report = json.loads(stopped.stdout)
    assert report["compose"] == "unhealthy" and "app: exited" in report["details"]["compose"]["reason"]
    health = f"curl -sf --resolve {DOMAIN}:443:127.0.0.1 https://{DOMAIN}/api/health"
    sh(host, f"for i in $(seq 60); do {health} && exit 0; sleep 2; done; exit 1")


# -- role docker, converged for real here (the docker scenario covers Debian's repository path) --


def test_docker_service_compose_v2_and_daemon_caps(host: Any) -> None:
    assert host.service("docker").is_running and host.service("docker").is_enabled
    assert sh(host, "docker compose version --short").strip().lstrip("v").split(".")[0] == "2"
    config = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert config["live-restore"] is True
    assert config["default-address-pools"] == [{"base": "172.20.0.0/14", "size": 24}]
    info = json.loads(sh(host, "docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file" and info["LiveRestoreEnabled"] is True
    log_config = json.loads(sh(host, "docker inspect -f '{{json .HostConfig.LogConfig}}' supermark-app-1"))
    assert log_config["Type"] == "json-file"
    subnet = sh(
        host, "docker network inspect supermark_backend -f '{{(index .IPAM.Config 0).Subnet}}'"
    ).strip()
    assert subnet.startswith("172.") and 20 <= int(subnet.split(".")[1]) <= 23, subnet


def test_the_deploy_user_uses_docker_without_sudo(host: Any) -> None:
    assert "docker" in host.user("deploy").groups
    sh(host, "runuser -u deploy -- docker ps")
