"""The end-of-run summary: what is on, what is off and why, where the secrets are.

As Python (supermark_ops.summary), and as site.yml's last play
(playbooks/summary.yml) run for real against a host that is never contacted:
the summary is built on the control side and kept there as 0600 JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from supermark_ops.summary import SummaryError, build, load, render, write

SETTINGS: dict[str, Any] = {
    "domain": "docs.example.com",
    "host": "supermark",
    "sign_in": {"email": False, "google": False, "linkedin": False, "passkeys": False, "allow_none": True},
    "email": {"dns_records": 0},
    "alerts": {"smtp_recipients": [], "webhooks": 0, "allow_none": True},
    "monitor": {"enabled": True, "interval_minutes": 5},
    "backups": {
        "enabled": True,
        "dir": "/var/backups/supermark",
        "offsite": "",
        "encrypted": False,
        "same_host": False,
        "allow_local_only": True,
    },
    "watch": {"provider": False, "enabled": True, "emails": []},
    "services": {"jobs": False, "analytics": False, "webhooks": False},
    "secrets": {
        "control_dir": "/x/.state/secrets/docs.example.com/",
        "vault_file": "/nonexistent",
        "host_files": [],
    },
}


def settings(**changes: dict[str, Any]) -> dict[str, Any]:
    out = deepcopy(SETTINGS)
    for section, values in changes.items():
        out[section].update(values)
    return out


def items(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in summary["items"]}


def test_each_accepted_risk_is_named_by_its_flag() -> None:
    summary = build(SETTINGS)
    assert summary["url"] == "https://docs.example.com"
    assert summary["accepted_risks"] == [
        "supermark_allow_no_sign_in",
        "monitor_allow_no_alerts",
        "backup_allow_local_only",
    ]
    lines = render(summary)
    assert any(
        "sign-in: nobody can sign in" in line and "[ACCEPTED RISK: supermark_allow_no_sign_in]" in line
        for line in lines
    )
    assert any("off-site copy: backups stay on the droplet" in line for line in lines)
    assert any("outside watch: no DigitalOcean token" in line for line in lines)
    assert lines.index("Off:") > lines.index("On:")


def test_what_is_configured_is_on_and_needs_no_acknowledgement() -> None:
    summary = build(
        settings(
            sign_in={"email": True, "google": True, "passkeys": True, "allow_none": False},
            email={"dns_records": 3},
            alerts={"smtp_recipients": ["ops@example.com"], "webhooks": 2, "allow_none": False},
            backups={
                "offsite": "https://fra1.digitaloceanspaces.com/b/",
                "encrypted": True,
                "allow_local_only": False,
            },
            watch={"provider": True, "emails": ["ops@example.com"]},
            services={"jobs": True, "webhooks": True},
        )
    )
    on = items(summary)
    assert summary["accepted_risks"] == []
    assert (
        on["sign-in"]["detail"] == "e-mail links (Resend), Google, plus passkeys (Hanko) for signed-in users"
    )
    assert on["alerts"]["detail"] == "e-mail to ops@example.com; 2 webhooks"
    assert on["off-site copy"]["on"] and "age-encrypted" in on["off-site copy"]["detail"]
    assert on["outside watch"]["on"] and "docs.example.com/api/health" in on["outside watch"]["detail"]
    assert on["e-mail"]["on"] and "3 sender-domain DNS records" in on["e-mail"]["detail"]
    assert not on["analytics"]["on"] and on["background jobs"]["on"] and on["webhooks"]["on"]


def test_an_off_feature_without_its_flag_is_not_called_accepted() -> None:
    summary = build(settings(watch={"provider": True, "enabled": False}, sign_in={"allow_none": False}))
    assert items(summary)["outside watch"]["accepted_by"] == "droplet_watch_enabled"
    assert items(summary)["sign-in"]["accepted_by"] == ""
    assert "supermark_allow_no_sign_in" not in summary["accepted_risks"]


def test_missing_settings_are_a_clear_error() -> None:
    broken = deepcopy(SETTINGS)
    del broken["alerts"]["webhooks"]
    with pytest.raises(SummaryError, match=r"lack 'alerts\.webhooks'"):
        build(broken)


def test_written_once_0600_in_a_0700_folder(tmp_path: Path) -> None:
    path = tmp_path / "last-run" / "docs.example.com" / "summary.json"
    summary = build(SETTINGS)
    assert write(path, summary, dry_run=True) is True and not path.exists()
    assert write(path, summary) is True
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert write(path, summary) is False  # unchanged: not rewritten
    kept = load(path)
    assert kept["lines"] == render(summary) and kept["accepted_risks"] == summary["accepted_risks"]
    path.write_text(json.dumps({**kept, "schema": 0}))
    with pytest.raises(SummaryError, match=r"run site\.yml again"):
        load(path)


def run_summary(
    root: Path, tmp: Path, extra: dict[str, object], *args: str
) -> subprocess.CompletedProcess[str]:
    """playbooks/summary.yml against one host that is never contacted (nothing runs on it)."""
    inventory = tmp / "hosts.yml"
    inventory.write_text("supermark:\n  hosts:\n    droplet-a:\n      ansible_host: 192.0.2.1\n")
    key = tmp / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVtcHR5a2V5Zm9ydGVzdHNvbmx5AAAAAAAAAAAAAAAA test\n")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",  # one line per message
        "SUPERMARK_SSH_PUBLIC_KEY": str(key),
        "SUPERMARK_SECRETS_DIR": str(tmp / "secrets"),
        "SUPERMARK_LAST_RUN_DIR": str(tmp / "last-run"),
        "SUPERMARK_DOMAIN": "docs.example.com",
        "SUPERMARK_DO_TOKEN": "",
    }
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(inventory),
            str(root / "playbooks/summary.yml"),
            "-e",
            json.dumps(extra),
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=300,
    )


ANALYTICS = {
    "supermark_analytics_enabled": True,
    "vault_supermark_tinybird_token": "tb_secret_value",
    "vault_supermark_tinybird_admin_token": "tb_admin_value",
}


@pytest.mark.playbook
def test_site_yml_summary_play_keeps_the_summary_and_says_it(project_root: Path, tmp_path: Path) -> None:
    accepted = {
        "supermark_allow_no_sign_in": True,
        "monitor_allow_no_alerts": True,
        "backup_allow_local_only": True,
    }
    checked = run_summary(project_root, tmp_path, accepted, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (tmp_path / "last-run").exists(), "check mode wrote the summary"

    first = run_summary(project_root, tmp_path, {**accepted, **ANALYTICS})
    assert first.returncode == 0, first.stdout + first.stderr
    path = tmp_path / "last-run" / "docs.example.com" / "summary.json"
    assert path.stat().st_mode & 0o777 == 0o600
    kept = json.loads(path.read_text())
    assert kept["accepted_risks"] == list(accepted)
    assert kept["host"] == "droplet-a"
    assert items(kept)["analytics"]["on"] is True
    for flag in accepted:
        assert f"[ACCEPTED RISK: {flag}]" in first.stdout
    assert "tb_secret_value" not in first.stdout + path.read_text()
    assert "tb_admin_value" not in first.stdout + path.read_text()

    second = run_summary(project_root, tmp_path, {**accepted, **ANALYTICS})
    assert second.returncode == 0
    assert "changed=0" in second.stdout  # the same summary is not rewritten
