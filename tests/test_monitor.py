"""The monitor's checks and alerts against real servers on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import trustme
import yaml
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from servers import (
    AppServer,
    PostgresServer,
    WebhookReceiver,
    free_port,
    saas_server,
    services_report,
    tcp_listener,
)
from supermark_ops import pg, results
from supermark_ops.alerts import Alert, IncidentTracker, SMTPChannel, WebhookChannel, dispatch
from supermark_ops.backup.common import Setup, report
from supermark_ops.config import BackupConfig, MonitorConfig, from_mapping
from supermark_ops.monitor import checks
from supermark_ops.monitor.run import run, run_checks, single_run
from supermark_ops.s3 import Bucket

READ_SCOPES = [{"type": "DATASOURCES:READ"}, {"type": "DATASOURCES:APPEND"}, {"type": "PIPES:READ"}]


def built(data: dict[str, Any]) -> MonitorConfig:
    """The config, through the loader that reads the role's file on a host."""
    return from_mapping(MonitorConfig, data, "monitor.yml")


def local_pg(server: PostgresServer) -> dict[str, Any]:
    """The monitor's postgres settings for a server on this machine (its socket folder)."""
    return {"host": str(server.socket_dir), "port": server.port, "user": "postgres", "database": "postgres"}


# -- fixtures: real servers ----------------------------------------------------


@pytest.fixture()
def app() -> Iterator[AppServer]:
    server = AppServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    creds = {"endpoint": endpoint, "bucket": "supermark", "access_key": "testing", "secret_key": "testing"}
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket="supermark")
    yield creds
    server.stop()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture()
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture()
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture()
def small_disk() -> Iterator[Path]:
    """A 4 MiB tmpfs, so filling it past a threshold takes a moment."""
    mount = Path(tempfile.mkdtemp(prefix="smops-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=False)
    mount.rmdir()


def tls_server(cert: trustme.LeafCert) -> tuple[int, threading.Event]:
    """A TLS listener on loopback serving the given certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)

    def handshake(conn: socket.socket) -> None:
        with contextlib.suppress(ssl.SSLError), context.wrap_socket(conn, server_side=True):
            pass

    return tcp_listener(handshake)


# -- the app's routes -----------------------------------------------------------


def test_app_health_ok(app: AppServer) -> None:
    assert checks.app_health(app.url, 2).status == "healthy"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("error", "answered 500: Can't reach database server"),
        ("garbage", "without JSON"),
        ("slow", "did not answer within 1 s"),
    ],
)
def test_app_health_failures(app: AppServer, mode: str, reason: str) -> None:
    app.health, app.slow_seconds = mode, 2.0
    result = checks.app_health(app.url, 1)
    assert result.status == "unhealthy"
    assert reason in result.reason


def test_app_health_unreachable() -> None:
    result = checks.app_health(f"http://127.0.0.1:{free_port()}", 1)
    assert result.status == "unhealthy" and "unreachable" in result.reason


def test_services_in_the_seeds_shape(app: AppServer) -> None:
    results = checks.app_services(app.url, 2)
    assert {k: v.status for k, v in results.items()} == {
        "services": "healthy",
        "email": "not_configured",
        "tinybird": "not_configured",
        "trigger": "not_configured",
        "webhooks": "not_configured",
        "redis": "not_configured",
        "passkeys": "not_configured",
        "oauth": "not_configured",
    }


@pytest.mark.parametrize(
    ("on", "word", "status"),
    [
        ({"qstash": True}, "webhooks", "healthy"),
        ({"bullmq": True}, "webhooks", "healthy"),
        ({"redis": True}, "redis", "healthy"),
        ({"passkeys": True}, "passkeys", "healthy"),
        ({"google": True}, "oauth", "healthy"),
        ({"linkedin": True}, "oauth", "healthy"),
    ],
)
def test_each_reported_service_shows(app: AppServer, on: dict[str, bool], word: str, status: str) -> None:
    app.services = services_report(**on)
    results = checks.app_services(app.url, 2)
    assert results[word].status == status, results[word]
    others = {k: v.status for k, v in results.items() if k not in (word, "services")}
    assert set(others.values()) == {"not_configured"}


def test_configured_but_unavailable_in_a_group_is_unhealthy(app: AppServer) -> None:
    app.services["webhooks"]["bullmq"] = {"available": False, "configured": True, "critical": False}
    result = checks.app_services(app.url, 2)["webhooks"]
    assert result.status == "unhealthy" and "webhooks.bullmq configured but not available" in result.reason


def test_switched_on_but_reported_off_is_unhealthy(app: AppServer) -> None:
    """What the deploy turned on must work: the app saying it is off (a lost env var) alerts;
    what nobody turned on stays not_configured."""
    results = checks.app_services(app.url, 2, expected=["oauth", "tinybird"])
    assert results["oauth"].status == "unhealthy" and "switched on" in results["oauth"].reason
    assert results["tinybird"].status == "unhealthy"
    assert results["trigger"].status == "not_configured"


def test_a_failed_probe_turns_the_service_unhealthy(app: AppServer) -> None:
    """The app reports Tinybird available from its env var alone; the monitor's own check of the
    token against (a stand-in of) Tinybird is what finds a revoked token."""
    app.services = services_report(tinybird=True)
    tinybird = saas_server({"tinybird_tokens": [{"name": "app", "token": "p.good", "scopes": READ_SCOPES}]})
    url = f"http://127.0.0.1:{tinybird.server_address[1]}"
    try:
        good = built(
            {"app_url": app.url, "timeout": 2, "services": {"tinybird": {"token": "p.good", "api_url": url}}}
        )
        assert run_checks(good)["tinybird"].status == "healthy"
        revoked = replace(
            good, services=replace(good.services, tinybird=replace(good.services.tinybird, token="p.old"))
        )
        result = run_checks(revoked)["tinybird"]
        assert result.status == "unhealthy" and "refused the app's token (403)" in result.reason
    finally:
        tinybird.shutdown()


# -- the dead-man's switch -----------------------------------------------------------


def test_ping_start_then_success_with_the_result(
    tmp_path: Path, app: AppServer, webhook: WebhookReceiver
) -> None:
    ping = webhook.url.replace("/hook", "/ping/abc")
    cfg = built({"app_url": app.url, "timeout": 2, "state_dir": str(tmp_path), "ping_url": ping})
    outcome = run(cfg)
    assert outcome.report["ok"] is True
    assert webhook.pings == ["/ping/abc/start", "/ping/abc"]
    assert json.loads(webhook.ping_bodies[1])["app"] == "healthy"  # the summary, as the ping's log


def test_ping_fail_with_the_reason(tmp_path: Path, app: AppServer, webhook: WebhookReceiver) -> None:
    app.health = "error"
    ping = webhook.url.replace("/hook", "/ping/abc")
    run(built({"app_url": app.url, "timeout": 2, "state_dir": str(tmp_path), "ping_url": ping}))
    assert webhook.pings == ["/ping/abc/start", "/ping/abc/fail"]
    assert "Can't reach database server" in json.loads(webhook.ping_bodies[1])["reason"]


def test_no_ping_from_a_run_that_could_not_start(
    tmp_path: Path, app: AppServer, webhook: WebhookReceiver
) -> None:
    """A run that cannot start (a bad config, or another run holding the lock) sends nothing:
    the outside service notices the missing ping, which is the point."""
    ping = webhook.url.replace("/hook", "/ping/abc")
    cfg_file = tmp_path / "monitor.yml"
    cfg_file.write_text(yaml.safe_dump({"app_url": app.url, "ping_url": ping, "timeout": "soon"}))
    bad = subprocess.run(
        [sys.executable, "-m", "supermark_ops.cli", "monitor", "--config", str(cfg_file)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "timeout must be a number" in bad.stderr
    cfg = built({"app_url": app.url, "timeout": 2, "state_dir": str(tmp_path), "ping_url": ping})
    with single_run(tmp_path / "monitor.lock"):
        assert run(cfg).skipped is True
    assert run(cfg, send=False).report["ok"] is True  # --no-alert sends nothing, pings included
    assert webhook.pings == []


def test_degraded_services_are_unhealthy(app: AppServer) -> None:
    app.services_status = "degraded"
    app.services["storage"]["available"] = False
    result = checks.app_services(app.url, 2)["services"]
    assert result.status == "unhealthy"
    assert "critical services not available: storage" in result.reason


def test_configured_but_unavailable_optional_service(app: AppServer) -> None:
    app.services["resend"] = {"available": False, "configured": True, "critical": False}
    results = checks.app_services(app.url, 2)
    assert results["email"].status == "unhealthy"
    assert results["services"].status == "healthy"  # optional: not a stack-wide alarm


# -- Postgres, storage, disk, memory, TLS, backups -----------------------------------


@pytest.mark.root
def test_postgres_up_and_down(postgres: PostgresServer) -> None:
    client = pg.Client()
    endpoint = pg.socket_endpoint("postgres", "postgres", str(postgres.socket_dir), postgres.port)
    assert checks.postgres(client, endpoint, 5).status == "healthy"
    postgres.stop()
    try:
        down = checks.postgres(client, endpoint, 5)
        assert down.status == "unhealthy" and "no response" in down.reason
    finally:
        postgres.run()


def test_storage(s3: dict[str, str]) -> None:
    bucket = Bucket(s3["endpoint"], s3["bucket"], s3["access_key"], s3["secret_key"])
    assert checks.storage(bucket, 3).status == "healthy"
    missing = checks.storage(replace(bucket, bucket="no-such-bucket"), 3)
    assert missing.status == "unhealthy" and "no-such-bucket" in missing.reason
    gone = checks.storage(replace(bucket, endpoint=f"http://127.0.0.1:{free_port()}"), 3)
    assert gone.status == "unhealthy" and "unreachable" in gone.reason


@pytest.mark.root
def test_disk_over_threshold(small_disk: Path) -> None:
    assert checks.disk([str(small_disk)], 85).status == "healthy"
    (small_disk / "fill").write_bytes(b"\0" * (3_700 * 1024))
    result = checks.disk([str(small_disk)], 85)
    assert result.status == "unhealthy" and str(small_disk) in result.reason


def test_memory(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 50 kB\n")
    assert checks.memory(90, meminfo).status == "unhealthy"
    assert checks.memory(99, meminfo).status == "healthy"
    assert checks.memory(99).status == "healthy"  # this machine's real /proc/meminfo parses


def test_tls_certificate_expiry(tmp_path: Path) -> None:
    ca = trustme.CA()
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    soon = ca.issue_cert("supermark.test", not_after=datetime.now(UTC) + timedelta(days=3))
    later = ca.issue_cert("supermark.test", not_after=datetime.now(UTC) + timedelta(days=60))
    port, stop = tls_server(soon)
    try:
        result = checks.tls_certificate("127.0.0.1", port, 14, 3, "supermark.test", str(cafile))
        assert result.status == "unhealthy" and "expires in 3.0 days" in result.reason
        wrong_name = checks.tls_certificate("127.0.0.1", port, 14, 3, "other.test", str(cafile))
        assert wrong_name.status == "unhealthy" and "does not verify" in wrong_name.reason
    finally:
        stop.set()
    port, stop = tls_server(later)
    try:
        assert (
            checks.tls_certificate("127.0.0.1", port, 14, 3, "supermark.test", str(cafile)).status
            == "healthy"
        )
    finally:
        stop.set()


def test_ca_file_lets_the_app_checks_trust_a_private_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stack's test host uses Pebble's CA; `ca_file` in the config makes the HTTPS checks trust it."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    ca = trustme.CA()
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    app = AppServer()
    url = app.start(tls=context)
    try:
        untrusted = run_checks(built({"app_url": url, "timeout": 3}))["app"]
        assert untrusted.status == "unhealthy" and "SSLError" in untrusted.reason
        assert (
            run_checks(built({"app_url": url, "timeout": 3, "ca_file": str(cafile)}))["app"].status
            == "healthy"
        )
        assert "REQUESTS_CA_BUNDLE" not in os.environ  # trust is per request, not process-wide
    finally:
        app.stop()


def test_backup_age_and_drill(tmp_path: Path) -> None:
    assert checks.newest_backup(tmp_path, 26).status == "unhealthy"
    manifest = tmp_path / "supermark-20261128T0300Z.manifest.json"
    manifest.write_text("{}")
    now = datetime.now(UTC)
    assert checks.newest_backup(tmp_path, 26, now).status == "healthy"
    assert checks.newest_backup(tmp_path, 26, now + timedelta(hours=30)).status == "unhealthy"
    drill = tmp_path / "drill.json"
    assert checks.restore_drill(drill).status == "unhealthy"
    drill.write_text(json.dumps({"ok": False, "reason": "row counts differ in Document"}))
    assert "row counts differ" in checks.restore_drill(drill).reason
    drill.write_text(json.dumps({"ok": True, "reason": ""}))
    assert checks.restore_drill(drill).status == "healthy"
    drill.write_text(json.dumps({"passed": True}))  # written before the one result shape
    assert checks.restore_drill(drill).status == "healthy"


# -- alerts -----------------------------------------------------------------------


def test_one_alert_per_incident_a_resend_and_one_recovery(
    tmp_path: Path, smtp: tuple[Mailbox, int], webhook: WebhookReceiver
) -> None:
    box, port = smtp
    channels = [
        SMTPChannel("127.0.0.1", port, "monitor@supermark.test", ["ops@supermark.test"], starttls=False),
        WebhookChannel(webhook.url),
    ]
    tracker = IncidentTracker(tmp_path / "incidents.json", "droplet-1", resend_after=timedelta(hours=6))
    t0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    timeline = [
        (t0, "unhealthy"),  # opens: alert
        (t0 + timedelta(minutes=5), "unhealthy"),  # lasting: quiet
        (t0 + timedelta(hours=3), "unhealthy"),  # quiet
        (t0 + timedelta(hours=6), "unhealthy"),  # re-sent
        (t0 + timedelta(hours=6, minutes=5), "unhealthy"),  # quiet
        (t0 + timedelta(hours=7), "healthy"),  # resolved
        (t0 + timedelta(hours=7, minutes=5), "healthy"),  # quiet
    ]
    for now, status in timeline:
        # A fresh tracker each run, as each cron run is a new process: state is on disk.
        tracker = IncidentTracker(tmp_path / "incidents.json", "droplet-1", resend_after=timedelta(hours=6))
        assert dispatch(tracker.update({"app": (status, "answered 500")}, now), channels) == []
    kinds = [m.original_content.decode() for m in box.messages]
    subjects = [next(line for line in k.splitlines() if line.startswith("Subject:")) for k in kinds]
    assert subjects == [
        "Subject: [supermark droplet-1] FAILING: app",
        "Subject: [supermark droplet-1] STILL FAILING: app",
        "Subject: [supermark droplet-1] RESOLVED: app",
    ]
    assert [h["event"] for h in webhook.received] == ["failure", "reminder", "resolved"]
    assert webhook.received[2]["text"].startswith("app on droplet-1 is healthy again after 420 min")


def test_a_failing_channel_does_not_stop_the_others(
    smtp: tuple[Mailbox, int], webhook: WebhookReceiver
) -> None:
    box, port = smtp
    webhook.fail = True
    now = datetime.now(UTC)
    alert = Alert("failure", "postgres", "no response", "droplet-1", now, now)
    failures = dispatch(
        [alert],
        [
            WebhookChannel(webhook.url),
            SMTPChannel("127.0.0.1", port, "m@x.test", ["o@x.test"], starttls=False),
        ],
    )
    assert len(failures) == 1 and failures[0] == "webhook: HTTP 500"
    assert len(box.messages) == 1


def test_a_webhooks_url_never_reaches_a_log_or_a_result(
    tmp_path: Path, webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack and Discord webhook URLs are their secret: a failure says the status or the kind of
    error only, in the log, the failures returned, and what a backup run records and prints."""
    secret = "T0SECRET/B0SECRET/xoxSECRETtoken"
    refusing = webhook.url.replace("/hook", f"/services/{secret}")
    unreachable = f"http://127.0.0.1:{free_port()}/services/{secret}"
    webhook.fail = True
    cfg = from_mapping(
        BackupConfig,
        {
            "directory": str(tmp_path / "backups"),
            "state_dir": str(tmp_path / "state"),
            "postgres": {"container": "unused", "user": "u", "database": "d"},
            "alerts": {"webhooks": [{"url": refusing, "style": "slack"}, {"url": unreachable}]},
        },
    )
    with caplog.at_level("INFO"):  # the tools' level (cli._logging)
        failed = report(Setup.of(cfg), "backup", results.failed("the dump failed"))
    assert failed == [
        "webhook: HTTP 500",
        "webhook: ConnectionError (the webhook's URL is a secret: not shown)",
    ]
    recorded = (tmp_path / "state" / "backup-last.json").read_text() + (
        tmp_path / "state" / "backup-incidents.json"
    ).read_text()
    for text in (caplog.text, recorded, json.dumps(failed)):
        assert "SECRET" not in text and "/services/" not in text


@pytest.mark.parametrize(("style", "key"), [("slack", "text"), ("discord", "content")])
def test_chat_payload_shapes(webhook: WebhookReceiver, style: str, key: str) -> None:
    now = datetime.now(UTC)
    WebhookChannel(webhook.url, style=style).send(Alert("failure", "disk", "/ 91%", "d1", now, now))  # type: ignore[arg-type]
    assert list(webhook.received[0]) == [key]
    assert "FAILING: disk" in webhook.received[0][key]


# -- a whole run ------------------------------------------------------------------------


def config(
    tmp_path: Path, app: AppServer, postgres: PostgresServer, s3: dict[str, str], smtp_port: int, hook: str
) -> dict[str, Any]:
    return {
        "host": "droplet-1",
        "app_url": app.url,
        "timeout": 2,
        "state_dir": str(tmp_path / "state"),
        "postgres": local_pg(postgres),
        "storage": {**s3, "region": "us-east-1"},
        "disk": {"paths": ["/"], "max_percent": 99.9},
        "memory": {"max_percent": 99.9},
        "alerts": {
            "resend_hours": 6,
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "sender": "m@x.test",
                "recipients": ["o@x.test"],
                "starttls": False,
            },
            "webhooks": [{"url": hook, "style": "generic"}],
        },
    }


@pytest.mark.root
def test_full_run_reports_in_the_seeds_shape_and_alerts_on_change(
    tmp_path: Path,
    app: AppServer,
    postgres: PostgresServer,
    s3: dict[str, str],
    smtp: tuple[Mailbox, int],
    webhook: WebhookReceiver,
) -> None:
    box, port = smtp
    cfg = built(config(tmp_path, app, postgres, s3, port, webhook.url))
    first = run(cfg)
    assert first.report["ok"] is True and first.report["reason"] == "", first.report["details"]
    for key, status in {
        "app": "healthy",
        "postgres": "healthy",
        "storage": "healthy",
        "email": "not_configured",
        "tinybird": "not_configured",
        "trigger": "not_configured",
    }.items():
        assert first.report[key] == status
    assert json.loads((tmp_path / "state/monitor-last.json").read_text())["ok"] is True
    assert first.alerts == [] and box.messages == []

    app.health = "error"
    second = run(cfg)
    assert second.report["ok"] is False and second.report["reason"].startswith("app: ")
    assert [a.check for a in second.alerts] == ["app"]
    assert len(box.messages) == 1 and len(webhook.received) == 1
    run(cfg)  # still failing, within the re-send interval: quiet
    assert len(box.messages) == 1
    app.health = "ok"
    assert [a.kind for a in run(cfg).alerts] == ["resolved"]
    assert len(webhook.received) == 2


def test_runs_never_overlap(tmp_path: Path) -> None:
    cfg = built({"state_dir": str(tmp_path), "memory": {"max_percent": 100}})
    with single_run(tmp_path / "monitor.lock") as got:
        assert got
        assert run(cfg).skipped is True
    assert run(cfg).skipped is False


def test_cli_exit_codes_and_json(tmp_path: Path, app: AppServer) -> None:
    cfg_file = tmp_path / "monitor.yml"
    cfg_file.write_text(yaml.safe_dump({"app_url": app.url, "timeout": 2, "state_dir": str(tmp_path / "s")}))
    cli = [sys.executable, "-m", "supermark_ops.cli", "monitor", "--config", str(cfg_file)]
    healthy = subprocess.run(cli, capture_output=True, text=True)
    assert healthy.returncode == 0, healthy.stderr
    assert json.loads(healthy.stdout)["app"] == "healthy"
    app.health = "error"
    unhealthy = subprocess.run(cli, capture_output=True, text=True)
    assert unhealthy.returncode == 1
    assert json.loads(unhealthy.stdout)["details"]["app"]["reason"].endswith("Can't reach database server")
    missing = subprocess.run([*cli[:-1], str(tmp_path / "nope.yml")], capture_output=True, text=True)
    assert missing.returncode == 2 and "the monitor role writes it" in missing.stderr


def test_postgres_binaries_present() -> None:
    assert shutil.which("runuser"), "runuser (util-linux) is needed to run Postgres as its own user"
