"""Supermark's background tasks deployed to Trigger.dev with the pinned `trigger.dev` CLI.

What `trigger.dev deploy` 4.1.2 does (read from its source, dist/esm/commands/deploy.js): it
logs in with TRIGGER_ACCESS_TOKEN (a personal access token, tr_pat_...; GET /api/v2/whoami at
TRIGGER_API_URL), asks the project's environment for its secret key (GET
/api/v1/projects/REF/ENV), reads its env vars, bundles trigger.config.ts and its task dirs with
esbuild (the source's node_modules must be installed), then POST /api/v1/deployments. Trigger.dev
cloud answers with a remote build (Depot), which builds and pushes the image on Trigger.dev's
side; the CLI then waits for the indexed worker and finalizes (POST
/api/v3/deployments/ID/finalize), which promotes the new version. Every deploy makes a new
version, even of the same source: so we record what we deployed (control side) and ask the API
whether that version is still the current one before deploying again.

The token goes to the CLI in its environment only, never in argv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from supermark_ops import files, results

# The CLI matching @trigger.dev/sdk and @trigger.dev/build 4.1.2 in Supermark's package-lock.json
# at the pinned ref (the CLI refuses packages of another version).
CLI_VERSION = "4.1.2"
TOKENS_URL = "https://cloud.trigger.dev/account/tokens"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_DEPLOYED = re.compile(r"Version (\S+) deployed with (\d+) detected task")


class TriggerDeployError(Exception):
    """The deploy could not be done; the message says what to fix."""


@dataclass(frozen=True)
class Target:
    """Where the tasks go: a Trigger.dev API, a project ref (proj_...) and an environment."""

    api_url: str
    project_ref: str
    env: str = "prod"


def token_problem(token: str) -> str:
    """The access token the CLI needs, or what is wrong with it ("" when it has the right form)."""
    if not token:
        return (
            "set TRIGGER_ACCESS_TOKEN (supermark_trigger_access_token): a personal access token "
            f"(tr_pat_...) from {TOKENS_URL}"
        )
    if not token.startswith("tr_pat_"):
        return (
            "TRIGGER_ACCESS_TOKEN is not a personal access token (tr_pat_...): the secret key "
            "(tr_prod_...) is the app's, a deploy needs a personal access token from "
            f"{TOKENS_URL} (supermark_trigger_access_token)"
        )
    return ""


def current_version(target: Target, token: str, timeout: float = 30) -> str | None:
    """The version of the worker now current in the environment, None when none is deployed."""
    base = target.api_url.rstrip("/")
    url = f"{base}/api/v1/projects/{target.project_ref}/{target.env}/workers/current"
    try:
        resp = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    except requests.RequestException as exc:
        raise TriggerDeployError(
            f"Trigger.dev did not answer at {base} ({type(exc).__name__}): check "
            "supermark_trigger_api_url, or run `supermark-ops check trigger` for DNS and TLS"
        ) from exc
    if resp.status_code == 401:
        raise TriggerDeployError(_refused(base))
    body = _json(resp)
    error = body.get("error", "") if isinstance(body, dict) else ""
    if resp.status_code == 404 and error == "Project not found":
        raise TriggerDeployError(_no_project(target))
    if resp.status_code == 404:
        return None
    worker = body.get("worker") if isinstance(body, dict) else None
    if resp.status_code != 200 or not isinstance(worker, dict) or "version" not in worker:
        raise TriggerDeployError(f"Trigger.dev answered {resp.status_code} at {url} without a worker")
    return str(worker["version"])


def deployed(record: Path, target: Target, release: str, token: str) -> dict[str, Any] | None:
    """The record of `release` deployed to `target`, when that version is still the current one.

    Trigger.dev is asked every time, record or not: a refused token or an unknown project stops
    the run here, before the CLI and the source's packages are installed."""
    current = current_version(target, token)
    try:
        last = results.read(record) if record.exists() else {}
    except ValueError:
        last = {}  # an unreadable record only costs one more deploy
    mine = (
        last.get("release"),
        last.get("api_url"),
        last.get("project_ref"),
        last.get("env"),
        last.get("version"),
    )
    wanted = (release, target.api_url, target.project_ref, target.env, current)
    return last if current is not None and mine == wanted else None


def deploy(source: Path, cli: Path, target: Target, release: str, token: str, record: Path) -> dict[str, Any]:
    """Run `trigger.dev deploy` in `source` (`release`: its commit and patches, node_modules
    installed); on success record the version it made. Raises TriggerDeployError with the CLI's
    reason in words."""
    problem = token_problem(token)
    if problem:
        raise TriggerDeployError(problem)
    if not (source / "trigger.config.ts").is_file():
        raise TriggerDeployError(f"{source} has no trigger.config.ts: is it Supermark's source?")
    cli_version = _cli_version(cli)
    sdk_version = _locked_sdk(source)
    if cli_version != sdk_version:  # the CLI's own check is skipped (it rewrites package.json)
        raise TriggerDeployError(
            f"the trigger.dev CLI is {cli_version} but the source's package-lock.json pins @trigger.dev/sdk "
            f"{sdk_version}: set supermark_trigger_cli_version: {sdk_version}"
        )
    scratch = source / ".trigger" / "scratch"  # its build logs, removed with the source tree
    scratch.mkdir(parents=True, exist_ok=True)
    env = {
        "TMPDIR": str(scratch),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "TRIGGER_ACCESS_TOKEN": token,
        "TRIGGER_API_URL": target.api_url,
        "TRIGGER_TELEMETRY_DISABLED": "1",
        "CI": "true",  # no prompts, plain progress lines
    }
    argv = [str(cli), "deploy", "--env", target.env, "--project-ref", target.project_ref]
    argv += ["--skip-update-check", "."]  # the update check rewrites package.json
    proc = subprocess.run(argv, cwd=source, env=env, capture_output=True, text=True, timeout=3600)
    output = _ANSI.sub("", proc.stdout + proc.stderr)
    found = _DEPLOYED.search(output)
    if proc.returncode != 0 or found is None:
        raise TriggerDeployError(_reason(output, target))
    done = results.ok(
        release=release,
        version=found.group(1),
        tasks=int(found.group(2)),
        api_url=target.api_url,
        project_ref=target.project_ref,
        env=target.env,
        cli_version=cli_version,
    )
    files.write_json(record, done)
    return done


def _cli_version(cli: Path) -> str:
    """The version of the CLI at `cli` (node_modules/.bin/trigger -> trigger.dev/dist/esm/index.js)."""
    try:
        package = json.loads((cli.resolve().parents[2] / "package.json").read_text())
    except (OSError, ValueError, IndexError) as exc:
        raise TriggerDeployError(f"{cli} is not an installed trigger.dev CLI ({exc})") from exc
    return str(package.get("version", "?"))


def _locked_sdk(source: Path) -> str:
    """The @trigger.dev/sdk version the source's lock file pins ("" when it pins none)."""
    try:
        lock = json.loads((source / "package-lock.json").read_text())
    except (OSError, ValueError) as exc:
        raise TriggerDeployError(f"{source}/package-lock.json cannot be read ({exc})") from exc
    entry = lock.get("packages", {}).get("node_modules/@trigger.dev/sdk", {})
    return str(entry.get("version", "")) if isinstance(entry, dict) else ""


def _reason(output: str, target: Target) -> str:
    """The CLI's failure in words that say what to fix."""
    base = target.api_url.rstrip("/")
    if "Invalid or Missing Access Token" in output:
        return _refused(base)
    if "not a Personal Access Token" in output:
        return token_problem("not-a-pat")
    if "Project not found" in output or "Failed to get project client" in output:
        return _no_project(target)
    if "Failed to connect to" in output:
        return f"the trigger.dev CLI could not reach {base}: check supermark_trigger_api_url"
    lines = [line.strip(" │└┌◇") for line in output.splitlines()]
    tail = " / ".join(line for line in lines if line and "Building trigger code" not in line)[-600:]
    if "Error building image" in output:
        return (
            "Trigger.dev's image build failed (the deployment is marked FAILED on Trigger.dev; "
            f"the running version stays current): {tail}"
        )
    return f"trigger.dev deploy failed: {tail}"


def _refused(base: str) -> str:
    return (
        f"Trigger.dev at {base} refused TRIGGER_ACCESS_TOKEN (401): create a personal access token "
        f"at {TOKENS_URL} and set supermark_trigger_access_token"
    )


def _no_project(target: Target) -> str:
    return (
        f"Trigger.dev has no project {target.project_ref} with a {target.env} environment for this "
        "token: set supermark_trigger_project_ref to your project's ref (proj_..., in its settings)"
    )


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None
