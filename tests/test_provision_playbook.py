"""playbooks/provision.yml and destroy.yml, run for real against the API stand-in."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from do_standin import DOStandIn
from servers import tcp_listener

# Each case runs ansible-playbook.
pytestmark = pytest.mark.playbook

PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN1cGVybWFyay1vcHMtdGVzdC1rZXktMDEyMzQ1Njc4 op@laptop"
OPERATOR = "operator@example.com"  # verified on the stand-in's account
RESEND_RECORDS = [
    {"type": "TXT", "name": "resend._domainkey", "data": "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDx"},
    {"type": "MX", "name": "send", "data": "feedback-smtp.us-east-1.amazonses.com", "priority": 10},
    {"type": "TXT", "name": "send", "data": "v=spf1 include:amazonses.com ~all"},
]
# E-mail on (a Resend key) with the records Resend listed for the sender domain.
EMAIL_ON = (
    "-e",
    json.dumps(
        {
            "supermark_email_enabled": True,
            "vault_supermark_resend_api_key": "re_standin_key",
            "supermark_resend_dns_records": RESEND_RECORDS,
        }
    ),
)


@pytest.fixture()
def ssh_banner() -> Iterator[int]:
    """A TCP listener on loopback that greets like sshd: what 'SSH answers' waits for."""
    port, stop = tcp_listener(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6 stand-in\r\n"))
    yield port
    stop.set()


def playbook(
    root: Path,
    tmp: Path,
    standin: DOStandIn,
    name: str,
    *extra: str,
    port: int = 22,
    token: str = "",
    operator: str = OPERATOR,
) -> subprocess.CompletedProcess[str]:
    key = tmp / "id.pub"
    key.write_text(PUBKEY + "\n")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(root / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        SUPERMARK_DO_TOKEN=token or standin.token,
        SUPERMARK_SSH_PUBLIC_KEY=str(key),
        SUPERMARK_DOMAIN="example.com",
        SUPERMARK_OPERATOR_EMAIL=operator,
    )
    args = [
        "ansible-playbook",
        "-vv",
        str(root / "playbooks" / name),
        "-e",
        f"droplet_api_url={standin.url}",
        "-e",
        f"droplet_ssh_port={port}",
        "-e",
        "droplet_ssh_wait_timeout=20",
        "-e",
        f"droplet_inventory_file={tmp / 'droplet.yml'}",
        *extra,
    ]
    return subprocess.run(args, capture_output=True, text=True, cwd=root, env=env, timeout=300)


def recap_changed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("localhost "))
    return int(line.split("changed=")[1].split()[0])


def test_provision_creates_once_then_changes_nothing(
    project_root: Path, tmp_path: Path, standin: DOStandIn, ssh_banner: int
) -> None:
    first = playbook(project_root, tmp_path, standin, "provision.yml", *EMAIL_ON, port=ssh_banner)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(standin.droplets) == 1 and len(standin.firewalls) == 1 and len(standin.keys) == 1
    assert {(r["type"], r["name"]) for r in standin.records["example.com"]} == {
        ("A", "@"),
        ("AAAA", "@"),
        ("A", "files"),
        ("AAAA", "files"),
        ("TXT", "resend._domainkey"),
        ("MX", "send"),
        ("TXT", "send"),
    }
    # DigitalOcean's watch: the check on /api/health with its three alerts, three policies, to the operator.
    (check,) = standin.checks.values()
    assert check["target"] == "https://example.com/api/health"
    alerts = standin.check_alerts[check["id"]].values()
    assert sorted(a["type"] for a in alerts) == ["down", "latency", "ssl_expiry"]
    assert all(a["notifications"]["email"] == [OPERATOR] for a in alerts)
    assert len(standin.policies) == 3
    assert {p["entities"][0] for p in standin.policies.values()} == {str(next(iter(standin.droplets)))}
    inventory = yaml.safe_load((tmp_path / "droplet.yml").read_text())
    host = inventory["supermark"]["hosts"]["supermark"]
    assert host == {
        "ansible_host": "127.0.0.1",
        "ansible_port": ssh_banner,
        "ansible_user": "deploy",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=accept-new",
    }
    # The token never reaches the output, even at -vv.
    assert standin.token not in first.stdout + first.stderr

    writes = len(standin.writes())
    second = playbook(project_root, tmp_path, standin, "provision.yml", *EMAIL_ON, port=ssh_banner)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(standin.writes()) == writes, "a second run must send no create or update"
    assert recap_changed(second.stdout) == 0
    assert standin.token not in second.stdout + second.stderr


def test_check_mode_sends_no_write(project_root: Path, tmp_path: Path, standin: DOStandIn) -> None:
    result = playbook(project_root, tmp_path, standin, "provision.yml", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert standin.writes() == []
    assert "create droplet supermark" in result.stdout


def test_bad_input_fails_before_any_request(project_root: Path, tmp_path: Path, standin: DOStandIn) -> None:
    result = playbook(
        project_root, tmp_path, standin, "provision.yml", "-e", "droplet_region=mars1", operator=""
    )
    assert result.returncode != 0
    assert "droplet_region 'mars1' is not a DigitalOcean region" in result.stdout
    assert "droplet_watch_emails is empty" in result.stdout and "SUPERMARK_OPERATOR_EMAIL" in result.stdout
    assert standin.requests == []


def test_a_refused_token_is_a_clear_failure(project_root: Path, tmp_path: Path, standin: DOStandIn) -> None:
    wrong = "dop_v1_" + "e" * 64
    result = playbook(project_root, tmp_path, standin, "provision.yml", token=wrong)
    assert result.returncode != 0
    assert "401" in result.stdout and "SUPERMARK_DO_TOKEN" in result.stdout
    assert wrong not in result.stdout + result.stderr
    assert standin.writes() == []


def test_dynamic_inventory_finds_the_droplet(
    project_root: Path, tmp_path: Path, standin: DOStandIn, ssh_banner: int
) -> None:
    # Resend's records listed, but e-mail off (no key): they are not created.
    records = ("-e", json.dumps({"supermark_resend_dns_records": RESEND_RECORDS}))
    assert (
        playbook(project_root, tmp_path, standin, "provision.yml", *records, port=ssh_banner).returncode == 0
    )
    assert {r["type"] for r in standin.records["example.com"]} == {"A", "AAAA"}
    env = dict(os.environ, SUPERMARK_DO_TOKEN=standin.token, SUPERMARK_DO_API_URL=standin.url)
    listing = subprocess.run(
        ["ansible-inventory", "-i", str(project_root / "inventory/digitalocean"), "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    data = yaml.safe_load(listing.stdout)
    assert data["supermark"]["hosts"] == ["supermark"]
    assert data["_meta"]["hostvars"]["supermark"]["ansible_host"] == "127.0.0.1"


def test_destroy_needs_confirmation_and_keeps_the_volume(
    project_root: Path, tmp_path: Path, standin: DOStandIn, ssh_banner: int
) -> None:
    assert (
        playbook(
            project_root,
            tmp_path,
            standin,
            "provision.yml",
            "-e",
            "droplet_volume_size_gb=10",
            *EMAIL_ON,
            port=ssh_banner,
        ).returncode
        == 0
    )
    assert standin.checks and standin.policies and len(standin.records["example.com"]) == 7
    writes = len(standin.writes())
    refused = playbook(project_root, tmp_path, standin, "destroy.yml")
    assert refused.returncode != 0
    assert "supermark_destroy_confirm=supermark" in refused.stdout
    assert len(standin.writes()) == writes
    # Destroy needs no operator address (the watch is found by name).
    done = playbook(
        project_root,
        tmp_path,
        standin,
        "destroy.yml",
        "-e",
        "supermark_destroy_confirm=supermark",
        *EMAIL_ON,
        operator="",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert standin.droplets == {} and standin.firewalls == {}
    assert standin.checks == {} and standin.policies == {} and standin.records["example.com"] == []
    assert standin.snapshots == ["supermark-before-destroy"]
    assert len(standin.volumes) == 1
