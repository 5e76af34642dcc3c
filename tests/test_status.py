"""The status table (supermark_ops.status): what playbooks/status.yml and `supermark-ops status` print."""

from __future__ import annotations

import json

import pytest

from supermark_ops import status

REPORT = {
    "ok": False,
    "reason": "app: unhealthy",
    "at": "2026-11-30T12:00:00+00:00",
    "app": "unhealthy",
    "postgres": "healthy",
    "details": {
        "postgres": {"status": "healthy", "reason": ""},
        "app": {"status": "unhealthy", "reason": "/api/health answered 502"},
    },
}
RELEASE = {
    "current": "0123456789ab-cafebabe",
    "previous": "ba9876543210-deadbeef",
    "ref": "v2",
    "commit": "0123456789abcdef0123",
    "history": [{"tag": "ba9876543210-deadbeef", "ref": "v1", "commit": "ba98"}],
}
BACKUP = {"ok": True, "backup": "20261130T020000Z", "at": "2026-11-30T02:00:07+00:00", "reason": ""}


def test_the_table_names_each_check_the_release_and_the_last_backup() -> None:
    data = status.build(
        "droplet-1", json.dumps(REPORT), json.dumps(RELEASE), json.dumps(BACKUP), "/var/backups/supermark"
    )
    assert data["healthy"] is False and data["release"]["history"][0]["ref"] == "v1"
    assert status.render(data) == [
        "droplet-1: UNHEALTHY at 2026-11-30T12:00:00+00:00",
        "app        unhealthy       /api/health answered 502",
        "postgres   healthy",
        "release:   0123456789ab-cafebabe (ref v2, commit 0123456789ab); previous ba9876543210-deadbeef",
        "backup:    20261130T020000Z in /var/backups/supermark, ok, at 2026-11-30T02:00:07+00:00",
    ]


def test_a_host_with_no_release_and_no_backup_says_so() -> None:
    lines = status.render(status.build("h", json.dumps({**REPORT, "ok": True})))
    assert lines[0] == "h: HEALTHY at 2026-11-30T12:00:00+00:00"
    assert lines[-2:] == [
        "release:   none recorded (no deploy has finished on this host)",
        "backup:    none yet",
    ]


@pytest.mark.parametrize(
    ("report", "release", "message"),
    [
        ("", "", "the monitor's output lacks 'ok' or 'details'"),
        ("not json", "", "the monitor's output is not JSON"),
        (json.dumps(REPORT), "[1]", "release.json is not a JSON object"),
    ],
)
def test_what_the_playbook_handed_over_is_checked(report: str, release: str, message: str) -> None:
    with pytest.raises(status.StatusError, match=message):
        status.build("h", report, release)
