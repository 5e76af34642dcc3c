"""Verify roles monitor and ops_tools from inside the test hosts (testinfra)."""

import json
import time

CLI = "/opt/supermark-ops/venv/bin/supermark-ops"
CONFIG = "/etc/supermark-ops/monitor.yml"
LAST = "/var/lib/supermark-ops/monitor-last.json"


def test_package_installed_in_its_venv(host):
    out = host.check_output(f"{CLI} --version")
    assert out.startswith("supermark-ops ")


def test_config_is_private(host):
    config = host.file(CONFIG)
    assert config.user == "root"
    assert config.mode == 0o600
    assert "http://127.0.0.1:8081/hook" in config.content_string


def test_cron_entry(host):
    cron = host.file("/etc/cron.d/supermark-ops-monitor").content_string
    assert f"*/1 * * * * root timeout 50 {CLI} monitor --config {CONFIG}" in cron


def test_cron_really_runs_the_monitor(host):
    """Within two minutes cron has run it and left its JSON result."""
    for _ in range(130):
        if host.file(LAST).exists:
            break
        time.sleep(1)
    else:
        raise AssertionError("cron did not run the monitor within 130 s")
    last = json.loads(host.file(LAST).content_string)
    assert last["app"] == "healthy", last["details"]
    assert last["services"] == "healthy", last["details"]
    assert last["email"] == "not_configured"


def test_a_failure_reports_and_exits_nonzero(host):
    host.run("systemctl stop supermark-standin")
    try:
        run = host.run(f"{CLI} monitor --config {CONFIG} --no-alert")
    finally:
        host.run("systemd-run --unit supermark-standin /usr/local/bin/supermark-standin")
    assert run.rc == 1
    report = json.loads(run.stdout)
    assert report["app"] == "unhealthy"
    assert "unreachable" in report["details"]["app"]["reason"]


def test_logrotate_config_is_valid_and_rotates(host):
    check = host.run("logrotate -d /etc/logrotate.d/supermark-ops")
    assert check.rc == 0, check.stderr
    assert "error" not in (check.stdout + check.stderr).lower()
    host.run("echo 'a line to rotate' >> /var/log/supermark-ops/monitor.log")
    forced = host.run("logrotate -f /etc/logrotate.d/supermark-ops")
    assert forced.rc == 0, forced.stderr
    assert host.file("/var/log/supermark-ops/monitor.log.1").exists
