"""playbooks/provision.yml and destroy.yml, run for real against the API stand-in."""

from __future__ import annotations

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


@pytest.fixture()
def ssh_banner() -> Iterator[int]:
    """A TCP listener on loopback that greets like sshd: what 'SSH answers' waits for."""
    port, stop = tcp_listener(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.6 stand-in\r\n"))
    yield port
    stop.set()


def playbook(
    root: Path, tmp: Path, standin: DOStandIn, name: str, *extra: str, port: int = 22, token: str = ""
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
    first = playbook(project_root, tmp_path, standin, "provision.yml", port=ssh_banner)
    assert first.returncode == 0, first.stdout + first.stderr
    assert len(standin.droplets) == 1 and len(standin.firewalls) == 1 and len(standin.keys) == 1
    assert {r["name"] for r in standin.records["example.com"]} == {"@", "files"}
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
    second = playbook(project_root, tmp_path, standin, "provision.yml", port=ssh_banner)
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
    result = playbook(project_root, tmp_path, standin, "provision.yml", "-e", "droplet_region=mars1")
    assert result.returncode != 0
    assert "droplet_region 'mars1' is not a DigitalOcean region" in result.stdout
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
    assert playbook(project_root, tmp_path, standin, "provision.yml", port=ssh_banner).returncode == 0
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
            port=ssh_banner,
        ).returncode
        == 0
    )
    writes = len(standin.writes())
    refused = playbook(project_root, tmp_path, standin, "destroy.yml")
    assert refused.returncode != 0
    assert "supermark_destroy_confirm=supermark" in refused.stdout
    assert len(standin.writes()) == writes
    done = playbook(
        project_root, tmp_path, standin, "destroy.yml", "-e", "supermark_destroy_confirm=supermark"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert standin.droplets == {} and standin.firewalls == {}
    assert standin.snapshots == ["supermark-before-destroy"]
    assert len(standin.volumes) == 1
