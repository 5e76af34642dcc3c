"""playbooks/trigger.yml and `supermark-ops trigger`: the real trigger.dev CLI (4.1.2, from npm)
deploys the stand-in app's tasks (images/standins/app-src, a git repository like Supermark's)
against the Trigger.dev stand-in (images/standins/saas), which records each request.

What cannot happen here: Trigger.dev cloud builds the image remotely (Depot, at api.depot.dev,
which does not resolve on this machine), so every deploy here ends as the real one would when
its builder is unreachable: the deployment is marked FAILED and the run stops saying so. The
success path is the CLI's own; the record a success leaves is written by the same function the
test calls (trigger_deploy.deploy writes it through results.ok and files.write_json).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import saas_server
from supermark_ops import files, results
from supermark_ops.external import trigger_deploy

pytestmark = [pytest.mark.playbook, pytest.mark.network]  # npm's registry: the CLI and the packages

PAT, SECRET, PROJECT = "tr_pat_operator", "tr_prod_supermark", "proj_supermarkops"


def new_world() -> dict[str, Any]:
    return {
        "trigger_access_tokens": [{"token": PAT, "email": "op@supermark.test", "userId": "user_op"}],
        "trigger_projects": [
            {"ref": PROJECT, "id": "project_1", "name": "supermark", "keys": {"prod": SECRET}}
        ],
    }


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned CLI, installed as the playbook installs it (npm, into a folder of its own)."""
    folder = tmp_path_factory.mktemp("trigger-cli") / trigger_deploy.CLI_VERSION
    subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(folder),
            "--no-audit",
            "--no-fund",
            f"trigger.dev@{trigger_deploy.CLI_VERSION}",
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return folder


@pytest.fixture(scope="module")
def app_repo(project_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in app's source as a git repository, tagged v1 (as scripts/standins.sh makes it)."""
    repo = tmp_path_factory.mktemp("app") / "supermark-standin"
    shutil.copytree(project_root / "images/standins/app-src", repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@supermark.test"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "v1"], ["tag", "v1"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return repo


@pytest.fixture()
def saas() -> Iterator[tuple[str, dict[str, Any]]]:
    world = new_world()
    server = saas_server(world)
    yield f"http://127.0.0.1:{server.server_address[1]}", world
    server.shutdown()


def run_playbook(
    root: Path, tmp: Path, api: str, repo: Path, cli: Path, *options: str, **extra: Any
) -> subprocess.CompletedProcess[str]:
    """playbooks/trigger.yml for a host run locally; the token in a 0600 vars file, not argv."""
    (tmp / "hosts.yml").write_text(
        json.dumps(
            {
                "supermark": {
                    "hosts": {
                        "supermark-test": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            }
        )
    )
    settings = {
        "supermark_jobs_enabled": True,
        "supermark_trigger_access_token": PAT,
        "supermark_trigger_project_ref": PROJECT,
        "supermark_trigger_api_url": api,
        "supermark_trigger_cli_cache": str(cli.parent),
        "supermark_trigger_deploy_record": str(tmp / "trigger-deployed.json"),
        "supermark_git_repo": str(repo),
        "supermark_git_ref": "v1",
        "supermark_source_cache": str(tmp / "src-cache"),
        **extra,
    }
    secrets = tmp / "vars.json"
    secrets.write_text(json.dumps(settings))
    secrets.chmod(0o600)
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    args = [
        "ansible-playbook",
        "-i",
        str(tmp / "hosts.yml"),
        str(root / "playbooks/trigger.yml"),
        "-e",
        f"@{secrets}",
        *options,
    ]
    return subprocess.run(args, capture_output=True, text=True, cwd=root, env=env, timeout=900)


def said(run: subprocess.CompletedProcess[str]) -> str:
    """A run's output with Ansible's line wrapping undone, for messages."""
    return " ".join((run.stdout + run.stderr).split())


def changed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("supermark-test "))
    return int(line.split("changed=")[1].split()[0])


def test_deploy_reaches_trigger_dev_then_a_current_version_deploys_nothing(
    project_root: Path, tmp_path: Path, saas: tuple[str, dict[str, Any]], app_repo: Path, cli: Path
) -> None:
    api, world = saas
    first = run_playbook(project_root, tmp_path, api, app_repo, cli)
    out = first.stdout + first.stderr
    # The real CLI logged in, found the project, bundled the tasks and started a deployment;
    # the remote build cannot be reached from here, so the deployment was marked failed.
    assert first.returncode != 0, out
    assert "Trigger.dev's image build failed" in said(first) and "api.depot.dev" in said(first), out
    asked = [(r["method"], r["path"], r["token"]) for r in world["trigger_requests"]]
    assert asked[:4] == [
        ("GET", f"/api/v1/projects/{PROJECT}/prod/workers/current", "pat"),  # ours: deployed already?
        ("GET", "/api/v2/whoami", "pat"),
        ("GET", f"/api/v1/projects/{PROJECT}/prod", "pat"),
        ("GET", f"/api/v1/projects/{PROJECT}/envvars", "secret_key"),
    ], asked
    assert ("POST", "/api/v1/deployments", "secret_key") in asked
    # The ffmpeg build extension's variables, synced to the environment before the build.
    assert world["trigger_projects"][0]["envvars"]["prod"] == {
        "FFMPEG_PATH": "/usr/bin/ffmpeg",
        "FFPROBE_PATH": "/usr/bin/ffprobe",
    }
    (deployment,) = world["trigger_deployments"]
    assert re.fullmatch(r"[0-9a-f]{32}", deployment["contentHash"]), deployment
    assert deployment["projectRef"] == PROJECT and deployment["env"] == "prod"
    assert deployment["status"] == "FAILED" and deployment["errorData"]["name"] == "BuildError"
    assert not (tmp_path / "trigger-deployed.json").exists()
    assert not list((tmp_path / "src-cache").parent.glob("src-cache-builds/*")), "source tree left behind"

    # What a success leaves (Trigger.dev's build done, the version current, our record of it):
    release = re.search(r"trigger-[0-9a-f]{12}-[0-9a-f]{8}", out)
    assert release, out
    deployment["status"] = "DEPLOYED"
    files.write_json(
        tmp_path / "trigger-deployed.json",
        results.ok(
            release=release.group(0),
            version=deployment["version"],
            tasks=1,
            api_url=api,
            project_ref=PROJECT,
            env="prod",
            cli_version=trigger_deploy.CLI_VERSION,
        ),
    )
    del world["trigger_requests"][:]
    fresh = tmp_path / "fresh-cli" / trigger_deploy.CLI_VERSION  # a run that deploys nothing installs nothing
    second = run_playbook(project_root, tmp_path, api, app_repo, fresh)
    assert second.returncode == 0, second.stdout + second.stderr
    assert changed(second.stdout) == 0, second.stdout
    assert "nothing to deploy" in said(second)
    assert [r["path"] for r in world["trigger_requests"]] == [
        f"/api/v1/projects/{PROJECT}/prod/workers/current"
    ]
    assert len(world["trigger_deployments"]) == 1 and not fresh.parent.exists()


def test_a_version_no_longer_current_is_deployed_again(
    tmp_path: Path, saas: tuple[str, dict[str, Any]]
) -> None:
    api, world = saas
    target = trigger_deploy.Target(api, PROJECT)
    record = tmp_path / "record.json"
    files.write_json(
        record,
        results.ok(
            release="trigger-abc-1", version="20261130.1", api_url=api, project_ref=PROJECT, env="prod"
        ),
    )
    world["trigger_deployments"] = [
        {"id": "d1", "projectRef": PROJECT, "env": "prod", "status": "DEPLOYED", "version": "20261130.1"}
    ]
    assert trigger_deploy.deployed(record, target, "trigger-abc-1", PAT) is not None
    assert trigger_deploy.deployed(record, target, "trigger-abc-2", PAT) is None  # another source
    # Someone deployed another version since (from a laptop): this source is not current any more.
    world["trigger_deployments"].append(
        {"id": "d2", "projectRef": PROJECT, "env": "prod", "status": "DEPLOYED", "version": "20261130.2"}
    )
    assert trigger_deploy.deployed(record, target, "trigger-abc-1", PAT) is None


def deploy_argv(source: Path, cli: Path, api: str, record: Path) -> list[str]:
    """`supermark-ops trigger deploy` of release r1 to the stand-in's project."""
    return [
        sys.executable,
        "-m",
        "supermark_ops.cli",
        "trigger",
        "deploy",
        "--source",
        str(source),
        "--cli",
        str(cli / "node_modules/.bin/trigger"),
        "--release",
        "r1",
        "--project-ref",
        PROJECT,
        "--api-url",
        api,
        "--record",
        str(record),
    ]


def test_the_cli_refuses_a_bad_token_naming_the_fix(
    project_root: Path, saas: tuple[str, dict[str, Any]], cli: Path
) -> None:
    api, world = saas
    source = project_root / "images/standins/app-src"
    base = deploy_argv(source, cli, api, project_root / "never-written.json")
    revoked = subprocess.run(
        base, capture_output=True, text=True, env=dict(os.environ, TRIGGER_ACCESS_TOKEN="tr_pat_revoked")
    )
    assert revoked.returncode == 1, revoked.stdout + revoked.stderr
    reason = json.loads(revoked.stdout)["reason"]
    assert "refused TRIGGER_ACCESS_TOKEN (401)" in reason and "supermark_trigger_access_token" in reason
    # The real CLI asked (its login), with a token the stand-in does not know, and went no further.
    assert [(r["path"], r["token"]) for r in world["trigger_requests"]] == [("/api/v2/whoami", "unknown")]
    assert not world.get("trigger_deployments")
    # The app's secret key is not a deploy token: refused before anything is asked.
    secret = subprocess.run(
        base, capture_output=True, text=True, env=dict(os.environ, TRIGGER_ACCESS_TOKEN=SECRET)
    )
    assert secret.returncode == 1 and "not a personal access token" in json.loads(secret.stdout)["reason"]
    assert len(world["trigger_requests"]) == 1


def test_the_playbook_refuses_when_jobs_are_off_or_the_token_is_missing(
    project_root: Path, tmp_path: Path, saas: tuple[str, dict[str, Any]], app_repo: Path
) -> None:
    api, world = saas
    off = run_playbook(project_root, tmp_path, api, app_repo, tmp_path / "cli", supermark_jobs_enabled=False)
    assert off.returncode != 0 and "Background jobs are off" in said(off), off.stdout
    no_token = run_playbook(
        project_root, tmp_path, api, app_repo, tmp_path / "cli", supermark_trigger_access_token=""
    )
    assert no_token.returncode != 0 and "needs supermark_trigger_access_token" in said(no_token), (
        no_token.stdout
    )
    revoked = run_playbook(
        project_root,
        tmp_path,
        api,
        app_repo,
        tmp_path / "cli",
        supermark_trigger_access_token="tr_pat_revoked",
    )
    assert revoked.returncode != 0 and "refused TRIGGER_ACCESS_TOKEN (401)" in said(revoked), revoked.stdout
    assert "tr_pat_revoked" not in revoked.stdout + revoked.stderr
    # Refused at the first question, before the CLI or the source's packages are installed.
    assert [r["path"] for r in world["trigger_requests"]] == [
        f"/api/v1/projects/{PROJECT}/prod/workers/current"
    ]
    assert not (tmp_path / "cli").exists()
    wrong_project = run_playbook(
        project_root,
        tmp_path,
        api,
        app_repo,
        tmp_path / "cli",
        supermark_trigger_project_ref="proj_someoneelse",
    )
    assert wrong_project.returncode != 0 and "supermark_trigger_project_ref" in said(wrong_project)
    assert "has no project proj_someoneelse" in said(wrong_project), wrong_project.stdout
    assert not world.get("trigger_deployments")


def test_a_cli_of_another_version_than_the_lock_is_refused(
    project_root: Path, tmp_path: Path, saas: tuple[str, dict[str, Any]], cli: Path
) -> None:
    api, world = saas
    source = tmp_path / "src"
    shutil.copytree(project_root / "images/standins/app-src", source)
    lock = json.loads((source / "package-lock.json").read_text())
    lock["packages"]["node_modules/@trigger.dev/sdk"]["version"] = "4.0.4"
    (source / "package-lock.json").write_text(json.dumps(lock))
    run = subprocess.run(
        deploy_argv(source, cli, api, tmp_path / "record.json"),
        capture_output=True,
        text=True,
        env=dict(os.environ, TRIGGER_ACCESS_TOKEN=PAT),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    reason = json.loads(run.stdout)["reason"]
    assert "CLI is 4.1.2" in reason and "set supermark_trigger_cli_version: 4.0.4" in reason, reason
    assert not world.get("trigger_requests")  # stopped before the CLI ran


def test_check_mode_says_a_deploy_is_needed_and_changes_nothing(
    project_root: Path, tmp_path: Path, saas: tuple[str, dict[str, Any]], app_repo: Path
) -> None:
    api, world = saas
    run = run_playbook(project_root, tmp_path, api, app_repo, tmp_path / "cli" / "4.1.2", "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    assert changed(run.stdout) == 1, run.stdout
    assert "a run without --check deploys it" in said(run), run.stdout
    assert [r["path"] for r in world["trigger_requests"]] == [
        f"/api/v1/projects/{PROJECT}/prod/workers/current"
    ]
    assert not (tmp_path / "cli").exists() and not (tmp_path / "trigger-deployed.json").exists()


def test_the_playbook_refuses_the_local_test_host(
    project_root: Path, tmp_path: Path, saas: tuple[str, dict[str, Any]], app_repo: Path
) -> None:
    """Without -i the inventory is the local test host, whose source is the stand-in app: its
    tasks must never become the operator's production version."""
    api, world = saas
    hosts = tmp_path / "testhost.yml"
    hosts.write_text(
        json.dumps(
            {
                "supermark": {"hosts": {"supermark-test": {"ansible_connection": "local"}}},
                "supermark_testhost": {"hosts": {"supermark-test": {}}},
            }
        )
    )
    # The settings of a run that would deploy (vars.json), written without running anything.
    listed = run_playbook(project_root, tmp_path, api, app_repo, tmp_path / "cli", "--list-hosts")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    asked = len(world.get("trigger_requests", []))
    env = dict(os.environ, ANSIBLE_CONFIG=str(project_root / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    refused = subprocess.run(
        ["ansible-playbook", "-i", str(hosts), str(project_root / "playbooks/trigger.yml"),
         "-e", f"@{tmp_path / 'vars.json'}", "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, cwd=project_root, env=env, timeout=300,
    )  # fmt: skip
    assert refused.returncode != 0 and "is a local test host" in said(refused), refused.stdout
    assert "-i inventory/generated/droplet.yml" in said(refused)
    assert len(world.get("trigger_requests", [])) == asked  # nothing asked of Trigger.dev
