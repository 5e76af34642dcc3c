"""The console driving real playbooks through ansible-runner: exit status, what it says, and
what the run's artifacts folder keeps (the events; never the environment's secrets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from do_standin import DOStandIn

# Each case runs ansible-playbook (through ansible-runner).
pytestmark = pytest.mark.playbook

PUBKEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN1cGVybWFyay1vcHMtdGVzdC1rZXktMDEyMzQ1Njc4 op@laptop"


def console(root: Path, tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    key = tmp / "id.pub"
    key.write_text(PUBKEY + "\n")
    environ = dict(
        os.environ,
        SUPERMARK_RUNS_DIR=str(tmp / "runs"),
        SUPERMARK_SSH_PUBLIC_KEY=str(key),
        SUPERMARK_DOMAIN="example.com",
        **env,
    )
    environ.pop("ANSIBLE_CONFIG", None)
    cmd = [str(Path(sys.executable).parent / "supermark-ops"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=environ, timeout=300)


def run_folder(tmp: Path) -> Path:
    (folder,) = (tmp / "runs").iterdir()
    return folder


def job_events(folder: Path, ident: str) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in (folder / "artifacts" / ident / "job_events").glob("*.json")]


def test_status_of_a_host_that_refuses_ssh(project_root: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "supermark:\n  hosts:\n    deadhost:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n"
    )
    done = console(
        project_root,
        tmp_path,
        "status",
        "-i",
        str(inventory),
        SUPERMARK_DO_TOKEN="",
        SECRET_IN_ENV="s3cr3t-v4lue",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED: Run the checks on deadhost (unreachable)" in done.stdout
    assert (
        "Connection refused" in done.stdout
        and "hint: The host does not let Ansible in over SSH" in done.stdout
    )
    folder = run_folder(tmp_path)
    assert f"Full output and events: {folder}" in done.stdout
    assert folder.stat().st_mode & 0o777 == 0o700
    kinds = [e["event"] for e in job_events(folder, "status")]
    assert "runner_on_unreachable" in kinds and "playbook_on_stats" in kinds
    assert "fatal: [deadhost]: UNREACHABLE!" in (folder / "artifacts/status/stdout").read_text()
    # ansible-runner writes the environment into artifacts/<ident>/command: only the names stay.
    for path in folder.rglob("*"):
        if path.is_file():
            assert "s3cr3t-v4lue" not in path.read_text(errors="replace"), path
    record = json.loads((folder / "console.json").read_text())
    assert record["runs"][0]["status"] == "failed" and record["runs"][0]["tasks"] == 1


def test_destroy_with_a_refused_token(project_root: Path, tmp_path: Path, standin: DOStandIn) -> None:
    done = console(
        project_root,
        tmp_path,
        "destroy",
        "--confirm",
        "supermark",
        "-e",
        f"droplet_api_url={standin.url}",
        "--json",
        SUPERMARK_DO_TOKEN="refused-token-0123456789",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is False and summary["command"] == "destroy"
    (failure,) = summary["failures"]
    assert failure["task"] == "Remove the resources" and failure["host"] == "localhost"
    assert "The API token was refused" in failure["message"]
    assert failure["hint"].startswith("DigitalOcean refused the token")
    folder = run_folder(tmp_path)
    assert summary["artifacts"] == str(folder)
    failed = [e for e in job_events(folder, "destroy") if e["event"] == "runner_on_failed"]
    assert len(failed) == 1
    # The token reached the stand-in (which refused it, so nothing was deleted), never the run's files.
    assert [(r.path, r.status) for r in standin.requests] == [("/v2/droplets", 401)]
    for path in folder.rglob("*"):
        if path.is_file():
            assert "refused-token-0123456789" not in path.read_text(errors="replace"), path
    # The progress went to stderr, a plain line per task (no terminal here).
    assert "task 3" in done.stderr and "Remove the resources" in done.stderr
