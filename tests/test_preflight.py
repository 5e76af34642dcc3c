"""site.yml's preflight stops bad stack input before any host is touched.

playbooks/preflight.yml runs on the control machine only, against an
inventory with no hosts yet (as before a droplet exists). Each case must fail
with a message that names the variable; the good case passes, and the
generated secrets land in 0600 files that a second run reuses.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

# Each case runs ansible-playbook.
pytestmark = pytest.mark.playbook


@pytest.fixture(scope="module")
def app_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with one tag, standing in for the app's repository."""
    repo = tmp_path_factory.mktemp("app") / "repo"
    repo.mkdir()
    (repo / "Dockerfile").write_text("FROM scratch\n")

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "v1")
    git("tag", "v1")
    return repo


def preflight(
    root: Path, tmp_path: Path, app_repo: Path, extra: dict[str, object], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    key = tmp_path / "id.pub"
    key.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVtcHR5a2V5Zm9ydGVzdHNvbmx5AAAAAAAAAAAAAAAA test\n")
    run_env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "SUPERMARK_SSH_PUBLIC_KEY": str(key),
        "SUPERMARK_SECRETS_DIR": str(tmp_path / "secrets"),
        "SUPERMARK_DOMAIN": "docs.example.com",
        "SUPERMARK_DO_TOKEN": "",
        **(env or {}),
    }
    extra = {"supermark_git_repo": str(app_repo), "supermark_git_ref": "v1", **extra}
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(root / "tests/fixtures/no_hosts.yml"),
            str(root / "playbooks/preflight.yml"),
            "-e",
            json.dumps(extra),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        env=run_env,
        timeout=300,
    )


def test_good_input_passes_and_secrets_are_made_once(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    first = preflight(project_root, tmp_path, app_repo, {})
    assert first.returncode == 0, first.stdout + first.stderr
    secrets = tmp_path / "secrets" / "docs.example.com"
    files = sorted(secrets.iterdir())
    assert {f.name for f in files} >= {
        "postgres_password",
        "minio_root_password",
        "supermark_nextauth_secret",
    }
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert secrets.stat().st_mode & 0o777 == 0o700
    before = {f.name: f.read_text() for f in files}
    second = preflight(project_root, tmp_path, app_repo, {})
    assert second.returncode == 0
    assert {f.name: f.read_text() for f in sorted(secrets.iterdir())} == before
    assert not any(value.strip() in second.stdout + second.stderr for value in before.values())


CASES: dict[str, tuple[dict[str, object], dict[str, str], str]] = {
    "missing domain": (
        {},
        {"SUPERMARK_DOMAIN": "", "SUPERMARK_DO_TOKEN": "dop_v1_x"},
        "supermark_domain is ''",
    ),
    "domain with a scheme": (
        {},
        {"SUPERMARK_DOMAIN": "https://docs.example.com"},
        "supermark_domain is 'https://",
    ),
    "default password by hand": (
        {"vault_postgres_password": "changeme"},
        {},
        "postgres_password must be at least 16",
    ),
    "placeholder in a long password": (
        {"vault_minio_root_password": "changeme-changeme-changeme"},
        {},
        "minio_root_password and minio_app_secret_key must be at least 16 characters and not placeholders",
    ),
    "short app secret": (
        {"supermark_nextauth_secret": "tooshort"},
        {},
        "supermark_nextauth_secret is shorter",
    ),
    "minio latest": (
        {"minio_build_from_source": False, "minio_image": "minio/minio:latest"},
        {},
        "minio_image minio/minio:latest is not a pinned MinIO release with the fix for CVE-2025-62506",
    ),
    "minio release before the fix": (
        {"minio_build_from_source": False, "minio_image": "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"},
        {},
        "minio_image quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z is not a pinned MinIO release",
    ),
    "minio source before the fix": (
        {"minio_source_ref": "RELEASE.2025-04-22T22-12-26Z"},
        {},
        "minio_source_ref RELEASE.2025-04-22T22-12-26Z is not a pinned MinIO release",
    ),
    "app ref that does not exist": (
        {"supermark_git_ref": "v9"},
        {},
        "supermark_git_ref 'v9' could not be fetched",
    ),
    "domain with a command": (
        {},
        {"SUPERMARK_DOMAIN": "$(touch /tmp/pwned).example.com"},
        "supermark_domain is '$(touch /tmp/pwned).example.com'",
    ),
    "files name with a command": (
        {"proxy_files_host": "files.docs.example.com;touch /tmp/pwned"},
        {},
        "proxy_app_host and proxy_files_host must be two different DNS names",
    ),
    "cors wildcard": (
        {"minio_cors_allow_origins": ["*"]},
        {},
        "minio_cors_allow_origins must list the app's origin",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_the_preflight(project_root: Path, tmp_path: Path, app_repo: Path, case: str) -> None:
    extra, env, needle = CASES[case]
    result = preflight(project_root, tmp_path, app_repo, extra, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert needle in output, output
    assert "changed=0" in output


def test_a_vulnerable_image_can_be_allowed_explicitly(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    extra = {
        "minio_build_from_source": False,
        "minio_image": "minio/minio:latest",
        "minio_allow_vulnerable_image": True,
    }
    assert preflight(project_root, tmp_path, app_repo, extra).returncode == 0
