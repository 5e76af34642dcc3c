"""Bad input stops a role at its start, with a message that names what to set.

Each case runs the role in check mode against the control machine: the
validation fails before the first task that could change anything.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

# Each case runs ansible-playbook.
pytestmark = pytest.mark.playbook

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVtcHR5a2V5Zm9ydGVzdHNvbmx5AAAAAAAAAAAAAAAA test"


def run_role(root: Path, role: str, extra: dict[str, object]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    extra = {"smops_test_role": role, **extra}
    return subprocess.run(
        [
            "ansible-playbook",
            "--check",
            "-i",
            "localhost,",
            str(root / "tests/fixtures/apply_role.yml"),
            "-e",
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=300,
    )


def assert_fails_before_changes(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for needle in needles:
        assert needle in output, output
    assert "changed=0" in output, output


BASE_CASES = {
    "no ssh key": ({"base_deploy_ssh_public_keys": []}, ["base_deploy_ssh_public_keys is empty"]),
    "private key given": (
        {"base_deploy_ssh_public_keys": ["-----BEGIN OPENSSH PRIVATE KEY-----"]},
        ["not an SSH public key"],
    ),
    "cidr does not parse": (
        {"base_deploy_ssh_public_keys": [KEY], "base_firewall_ssh_cidrs": ["10.0.0.0/33"]},
        ["base_firewall_ssh_cidrs has '10.0.0.0/33'"],
    ),
    "cidr is a word": (
        {"base_deploy_ssh_public_keys": [KEY], "base_firewall_ssh_cidrs": ["office"]},
        ["base_firewall_ssh_cidrs has 'office'"],
    ),
    "no ssh networks": (
        {"base_deploy_ssh_public_keys": [KEY], "base_firewall_ssh_cidrs": []},
        ["base_firewall_ssh_cidrs is empty"],
    ),
    "root login choice": (
        {"base_deploy_ssh_public_keys": [KEY], "base_sshd_permit_root_login": "yes"},
        ["base_sshd_permit_root_login", "prohibit-password"],
    ),
    "swap size type": (
        {"base_deploy_ssh_public_keys": [KEY], "base_swap_size_mb": "lots"},
        ["base_swap_size_mb"],
    ),
    "timezone": (
        {"base_deploy_ssh_public_keys": [KEY], "base_timezone": "../../etc/passwd"},
        ["base_timezone '../../etc/passwd' is not a tz database name"],
    ),
    # It goes into a sudoers file: a second line there would be a second rule.
    "deploy user with a sudoers line": (
        {"base_deploy_ssh_public_keys": [KEY], "base_deploy_user": "deploy\nevil ALL=(ALL) NOPASSWD: ALL"},
        ["is not a login name"],
    ),
}


@pytest.mark.parametrize("case", list(BASE_CASES))
def test_base_rejects_bad_input(project_root: Path, case: str) -> None:
    extra, needles = BASE_CASES[case]
    assert_fails_before_changes(run_role(project_root, "base", extra), *needles)


DOCKER_CASES = {
    "unknown source": ({"docker_install_source": "snap"}, ["docker_install_source", "docker_repo"]),
    "users not a list": ({"docker_users": {"a": 1}}, ["docker_users"]),
}


@pytest.mark.parametrize("case", list(DOCKER_CASES))
def test_docker_rejects_bad_input(project_root: Path, case: str) -> None:
    extra, needles = DOCKER_CASES[case]
    assert_fails_before_changes(run_role(project_root, "docker", extra), *needles)


# Everything the supermark role's checks need, valid; each case spoils one thing.
SUPERMARK_GOOD: dict[str, object] = {
    "supermark_domain": "docs.example.com",
    "supermark_storage_access_key": "supermark-app",
    **{
        name: "k" * 20 + str(i)
        for i, name in enumerate(
            (
                "supermark_postgres_password",
                "supermark_storage_secret_key",
                "supermark_nextauth_secret",
                "supermark_document_password_key",
                "supermark_verification_secret",
                "supermark_internal_api_key",
                "supermark_revalidate_token",
                "supermark_unsubscribe_jwt_secret",
            )
        )
    },
}


def test_supermark_refuses_a_droplet_build_without_the_memory(project_root: Path) -> None:
    """The host's own facts (this machine's memory and swap) against a need it cannot meet."""
    result = run_role(project_root, "supermark", {**SUPERMARK_GOOD, "supermark_build_memory_mb": 10**8})
    assert_fails_before_changes(
        result, "Building Supermark on the droplet needs about 100000000 MB", "supermark_build_host: control"
    )


def test_supermark_build_host_choices(project_root: Path) -> None:
    result = run_role(project_root, "supermark", {**SUPERMARK_GOOD, "supermark_build_host": "laptop"})
    assert_fails_before_changes(result, "supermark_build_host", "droplet, control")


def test_docker_distro_source_needs_compose_v2(project_root: Path) -> None:
    # This machine's own OS decides the outcome: only Debian lacks Compose v2.
    os_release = Path("/etc/os-release").read_text()
    if "ID=debian" not in os_release:
        pytest.skip("the missing Compose v2 package is a Debian case")
    result = run_role(project_root, "docker", {"docker_install_source": "distro"})
    assert_fails_before_changes(result, "has no Compose v2 package", "docker_repo")


# Run alone (playbooks/monitor.yml, backup.yml), each role refuses to deploy
# what would fail silently, before it installs anything (ops_tools comes after
# the input checks).
SILENT_CASES = {
    "monitor": ({}, ["Alerts would go nowhere", "monitor_allow_no_alerts: true"]),
    # (with a signing key: without one the role refuses that first)
    "backup": (
        {"backup_signing_key": "k" * 64},
        ["backup_offsite is empty", "backup_allow_local_only: true"],
    ),
}


@pytest.mark.parametrize("role", list(SILENT_CASES))
def test_a_role_refuses_to_fail_silently_before_installing(project_root: Path, role: str) -> None:
    extra, needles = SILENT_CASES[role]
    result = run_role(project_root, role, extra)
    assert_fails_before_changes(result, *needles)
    assert "ops_tools :" not in result.stdout, "the package was installed before the input was checked"


def test_ops_tools_refuses_a_folder_a_cron_line_would_misread(project_root: Path) -> None:
    result = run_role(project_root, "ops_tools", {"ops_tools_log_dir": "/var/log/x%y; rm -rf /"})
    assert_fails_before_changes(result, "is not a plain absolute path")
