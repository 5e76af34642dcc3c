"""site.yml's preflight stops bad stack input before any host is touched.

playbooks/preflight.yml runs on the control machine only, against an
inventory with no hosts yet (as before a droplet exists). Each case must fail
with a message that names the variable; the good case passes, and the
generated secrets land in 0600 files that a second run reuses. Nothing fails
silently: no sign-in method, no alert channel or no off-site copy is refused
unless explicitly accepted, and each acceptance is said out loud.
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


# The three accepted risks (as the local test host sets them); cases turn one off.
ACCEPT_ALL = {
    "supermark_allow_no_sign_in": True,
    "monitor_allow_no_alerts": True,
    "backup_allow_local_only": True,
}
ACCEPTED = [f"ACCEPTED RISK ({flag})" for flag in ACCEPT_ALL]
OFFSITE = {
    "endpoint": "https://fra1.digitaloceanspaces.com",
    "bucket": "backups",
    "access_key": "AKIASTANDIN",
    "secret_key": "offsite-secret-value-123",
}


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
    extra = {"supermark_git_repo": str(app_repo), "supermark_git_ref": "v1", **ACCEPT_ALL, **extra}
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
    for accepted in ACCEPTED:  # each acknowledgement is said out loud
        assert accepted in first.stdout, first.stdout
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
    "relative secrets folder": (
        {},
        {"SUPERMARK_SECRETS_DIR": "relative/secrets"},
        "SUPERMARK_SECRETS_DIR is 'relative/secrets', a relative path",
    ),
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
    "vault secret with a single quote": (
        {"vault_postgres_password": "no'quotes-in-env-files-1"},
        {},
        "postgres_password holds a single quote, a line break or a NUL byte",
    ),
    "vault secret with a line break": (
        {"vault_minio_app_secret_key": "two\nlines-are-not-one-value"},
        {},
        "minio_app_secret_key holds a single quote, a line break or a NUL byte",
    ),
    "app secret with a single quote": (
        {"supermark_nextauth_secret": "it's-long-enough-but-quoted"},
        {},
        "supermark_nextauth_secret holds a single quote",
    ),
    "patch that is not there": (
        {"supermark_source_patches": ["/nonexistent/sender.patch"]},
        {},
        "supermark_source_patches: /nonexistent/sender.patch does not exist",
    ),
    "droplet too small to build the app": (
        {"droplet_size": "s-1vcpu-2gb"},
        {"SUPERMARK_DO_TOKEN": "dop_v1_x"},
        "needs about 7168 MB of memory plus swap (supermark_build_memory_mb; Node gets a 4 GB heap), "
        "and the droplet size s-1vcpu-2gb has 2048 MB of memory and 4096 MB of swap. "
        "Set supermark_build_host: control",
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
    "no sign-in method": (
        {"supermark_allow_no_sign_in": False},
        {},
        "Nobody could sign in to https://docs.example.com: no sign-in method is configured",
    ),
    "passkeys alone": (
        {
            "supermark_allow_no_sign_in": False,
            "supermark_hanko_api_key": "hk-x",
            "supermark_hanko_tenant_id": "t-1",
        },
        {},
        "a passkey is added by a signed-in user, so they need one of these too",
    ),
    "half of google": (
        {"supermark_google_client_id": "id.apps.googleusercontent.com"},
        {},
        "supermark_google_client_id goes with supermark_google_client_secret",
    ),
    "e-mail on without its key": (
        {"supermark_email_enabled": True},
        {},
        "supermark_email_enabled is true but supermark_resend_api_key is empty",
    ),
    "analytics on without the admin token": (
        {"supermark_analytics_enabled": True, "vault_supermark_tinybird_token": "p.app-token-value"},
        {},
        "supermark_analytics_enabled is true but supermark_tinybird_admin_token is empty",
    ),
    "jobs on without the key": (
        {"supermark_jobs_enabled": True},
        {},
        "supermark_jobs_enabled is true but supermark_trigger_secret_key is empty",
    ),
    "webhooks on with half the keys": (
        {"supermark_webhooks_enabled": True, "vault_supermark_qstash_token": "qstash-token-value"},
        {},
        "supermark_webhooks_enabled is true but supermark_qstash_current_signing_key and "
        "supermark_qstash_next_signing_key are empty",
    ),
    "a resend key with e-mail off is refused, not dropped": (
        {"vault_supermark_resend_api_key": "re_secret_value_123"},
        {},
        "supermark_email_enabled is false but supermark_resend_api_key is set",
    ),
    "a trigger key with jobs off is refused, not dropped": (
        {"vault_supermark_trigger_secret_key": "tr_prod_value_123"},
        {},
        "supermark_jobs_enabled is false but supermark_trigger_secret_key is set",
    ),
    "no alert channel": (
        {"monitor_allow_no_alerts": False},
        {},
        "Alerts would go nowhere: monitor_alert_smtp and monitor_alert_webhooks are both empty",
    ),
    "no off-site copy": (
        {"backup_allow_local_only": False},
        {},
        "backup_offsite is empty: every backup would stay on this droplet and be lost with it",
    ),
}

# Each refusal says what every way out needs.
HINTS = {
    "no sign-in method": [
        "supermark_email_enabled: true and vault_supermark_resend_api_key",
        "supermark_google_client_id and vault_supermark_google_client_secret",
        "https://docs.example.com/api/auth/callback/google",
        "supermark_linkedin_client_id and vault_supermark_linkedin_client_secret",
        "supermark_allow_no_sign_in: true",
    ],
    "no alert channel": [
        "monitor_alert_smtp ({host, port, sender, recipients",
        "monitor_alert_webhooks ([{url",
    ],
    "no off-site copy": [
        "backup_offsite ({endpoint, bucket, access_key, secret_key",
        "backup_allow_local_only: true",
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_the_preflight(project_root: Path, tmp_path: Path, app_repo: Path, case: str) -> None:
    extra, env, needle = CASES[case]
    result = preflight(project_root, tmp_path, app_repo, extra, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert needle in output, output
    for hint in HINTS.get(case, []):
        assert hint in output, output
    assert "changed=0" in output
    for name, value in extra.items():  # a refused secret is named, never shown
        if name.startswith("vault_") or name.endswith("_secret"):
            assert str(value) not in output and str(value)[:8] not in output


def test_any_other_character_in_a_vault_secret_passes_unprinted(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    secret = 'q7/Xv$tR#2 m@k?9Lp"zW%3'
    result = preflight(project_root, tmp_path, app_repo, {"vault_postgres_password": secret})
    assert result.returncode == 0, result.stdout + result.stderr
    assert secret not in result.stdout + result.stderr
    # From the vault: no file is generated for it.
    assert not (tmp_path / "secrets/docs.example.com/postgres_password").exists()


def test_a_droplet_big_enough_or_a_control_build_passes(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    token = {"SUPERMARK_DO_TOKEN": "dop_v1_x"}
    for extra in (
        {"droplet_size": "s-2vcpu-4gb"},
        {"droplet_size": "s-1vcpu-1gb", "supermark_build_host": "control"},
    ):
        result = preflight(project_root, tmp_path, app_repo, extra, token)
        assert result.returncode == 0, result.stdout + result.stderr


def test_configured_sign_in_alerts_and_offsite_copy_need_no_acknowledgement(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    configured = {
        **dict.fromkeys(ACCEPT_ALL, False),
        "supermark_email_enabled": True,
        "vault_supermark_resend_api_key": "re_secret_value_123",
        "monitor_alert_webhooks": [{"url": "https://hooks.example.com/x", "style": "slack"}],
        "backup_offsite": OFFSITE,
    }
    result = preflight(project_root, tmp_path, app_repo, configured)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ACCEPTED RISK" not in result.stdout
    # E-mail is on, and Resend's records for the sender domain are not listed: said.
    assert "e-mail is on (supermark_email_enabled) and supermark_resend_dns_records is empty" in result.stdout
    assert "re_secret_value_123" not in result.stdout + result.stderr


def test_google_sign_in_smtp_alerts_and_listed_mail_records(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    configured = {
        **dict.fromkeys(ACCEPT_ALL, False),
        "supermark_google_client_id": "id.apps.googleusercontent.com",
        "vault_supermark_google_client_secret": "google-secret-value",
        "supermark_email_enabled": True,
        "vault_supermark_resend_api_key": "re_secret_value_123",
        "supermark_resend_dns_records": [
            {"type": "TXT", "name": "send", "data": "v=spf1 include:amazonses.com ~all"}
        ],
        "monitor_alert_smtp": {
            "host": "smtp.example.com",
            "sender": "a@example.com",
            "recipients": ["o@example.com"],
        },
        "backup_offsite": OFFSITE,
    }
    result = preflight(project_root, tmp_path, app_repo, configured)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ACCEPTED RISK" not in result.stdout
    assert "supermark_resend_dns_records is empty" not in result.stdout


def test_a_vulnerable_image_can_be_allowed_explicitly(
    project_root: Path, tmp_path: Path, app_repo: Path
) -> None:
    extra = {
        "minio_build_from_source": False,
        "minio_image": "minio/minio:latest",
        "minio_allow_vulnerable_image": True,
    }
    assert preflight(project_root, tmp_path, app_repo, extra).returncode == 0
