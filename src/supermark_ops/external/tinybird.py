"""Push Supermark's Tinybird project (lib/tinybird: datasources/*.datasource, endpoints/*.pipe)
with the pinned Tinybird CLI (tinybird-cli's classic `tb push`), from the control machine.

Idempotent through the CLI's own comparison: `tb push --only-changes` pulls the workspace's
datafiles and pushes only the files that are new or differ (a pipe is replaced whole: --force,
without the CLI's regression check, which replays production requests). A datasource that
exists but differs is refused, never altered: it holds the app's events, and changing its
schema is a migration to do by hand. So a dry run comes first and says what would be pushed.

The token goes to the CLI in its environment (TB_TOKEN) and the host in TB_HOST, never argv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import requests

# The flags of every push: only what differs, pipes replaced, no replay of production requests.
PUSH = ["push", "--only-changes", "--force", "--no-check", "--yes"]
PROCESSING = re.compile(
    r"^\*\* Processing \S*?(datasources|endpoints|pipes)/([^/\s]+)\.(datasource|pipe)\s*$"
)
ADMIN_FIX = (
    "supermark_tinybird_admin_token must be the workspace's admin token (the ADMIN scope: Tinybird's "
    "UI, Tokens, 'admin <your e-mail>' or 'Workspace admin token') of the workspace in the region of "
    "supermark_tinybird_api_url"
)


class TinybirdPushError(Exception):
    """The push could not be done; the message says what to fix."""


@dataclass
class PushResult:
    datasources: list[str] = field(default_factory=list)  # created
    pipes: list[str] = field(default_factory=list)  # created or replaced

    @property
    def changed(self) -> bool:
        return bool(self.datasources or self.pipes)


def project_files(project: Path) -> list[Path]:
    """The datafiles `tb push` takes from a project folder, as its own project layout lists them."""
    files = sorted(project.glob("datasources/*.datasource")) + sorted(project.glob("endpoints/*.pipe"))
    files += sorted(project.glob("pipes/*.pipe"))
    if not files:
        raise TinybirdPushError(
            f"No Tinybird project in {project}: no datasources/*.datasource or endpoints/*.pipe "
            "(is supermark_git_ref a Supermark commit with lib/tinybird?)"
        )
    return files


def remote_datasources(api_url: str, token: str, timeout: float, verify: str | bool) -> set[str]:
    """The workspace's datasource names; the token's refusal is named with its fix."""
    url = api_url.rstrip("/") + "/v0/datasources"
    try:
        resp = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        raise TinybirdPushError(f"Tinybird did not answer at {url}: {type(exc).__name__}: {exc}") from None
    if resp.status_code in (401, 403):
        raise TinybirdPushError(
            f"Tinybird refused the admin token ({resp.status_code}) at {url}: {ADMIN_FIX}"
        )
    try:
        listed = resp.json()["datasources"]
        return {str(ds["name"]) for ds in listed}
    except (ValueError, KeyError, TypeError):
        raise TinybirdPushError(
            f"Tinybird answered {resp.status_code} at {url} without a datasource list"
        ) from None


def _run_tb(
    tb: Path, args: list[str], cwd: Path, api_url: str, token: str, timeout: float, verify: str | bool
) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),  # the CLI keeps nothing of ours in the operator's home
        "TB_TOKEN": token,
        "TB_HOST": api_url.rstrip("/"),
        "TB_VERSION_WARNING": "0",
        "TB_CLI_TELEMETRY_OPTOUT": "1",
        "LC_ALL": "C.UTF-8",
    }
    if isinstance(verify, str):  # a private CA: the CLI's requests trusts it through this
        env["REQUESTS_CA_BUNDLE"] = verify
    elif verify is False:
        env["TB_DISABLE_SSL_CHECKS"] = "1"
    try:
        proc = subprocess.run(
            [str(tb), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise TinybirdPushError(
            f"The Tinybird CLI is not at {tb}: run playbooks/tinybird.yml (it installs it)"
        ) from None
    except subprocess.TimeoutExpired:
        raise TinybirdPushError(f"tb {args[0]} did not finish in {timeout:.0f} s against {api_url}") from None
    output = (proc.stdout + proc.stderr).replace(token, "<token>")
    if proc.returncode != 0:
        if "Forbidden" in output or "invalid authentication token" in output:
            raise TinybirdPushError(
                f"Tinybird refused the admin token during tb push at {api_url}: {ADMIN_FIX}"
            )
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        raise TinybirdPushError(f"tb {' '.join(args)} failed ({proc.returncode}): {' | '.join(lines[-4:])}")
    return output


def to_push(output: str) -> list[tuple[str, str]]:
    """(kind, name) of each file the CLI processes: with --only-changes, the new and differing ones."""
    found = []
    for line in output.splitlines():
        match = PROCESSING.match(line.strip())
        if match:
            found.append(("datasource" if match.group(3) == "datasource" else "pipe", match.group(2)))
    return found


def push(
    project: Path,
    api_url: str,
    token: str,
    tb: Path,
    *,
    dry_run: bool = False,
    timeout: float = 600,
    verify: str | bool = True,
) -> PushResult:
    """Push what differs in `project` to the workspace of `token`; what was (or, dry, would be) pushed."""
    if not token:
        raise TinybirdPushError(
            "No admin token: set supermark_tinybird_admin_token (vault_supermark_tinybird_admin_token)"
        )
    project_files(project)
    existing = remote_datasources(api_url, token, min(timeout, 30), verify)
    with tempfile.TemporaryDirectory(prefix="tinybird-push-") as tmp:
        # A copy: the CLI writes its comparison (.diff_tmp) into the folder it pushes from.
        work = Path(tmp) / "project"
        shutil.copytree(project, work, ignore=shutil.ignore_patterns(".tinyb", ".diff_tmp"))
        planned = to_push(_run_tb(tb, [*PUSH, "--dry-run"], work, api_url, token, timeout, verify))
        differing = sorted(name for kind, name in planned if kind == "datasource" and name in existing)
        if differing:
            raise TinybirdPushError(
                f"Datasources exist in the workspace with another definition than in {project}: "
                f"{', '.join(differing)}. They hold the app's events, so a push does not alter them: change "
                "them in Tinybird by hand (or give the new definition a new name), then run "
                "playbooks/tinybird.yml again. Nothing was pushed"
            )
        result = PushResult(
            datasources=[name for kind, name in planned if kind == "datasource"],
            pipes=[name for kind, name in planned if kind == "pipe"],
        )
        if dry_run or not result.changed:
            return result
        shutil.rmtree(work / ".diff_tmp", ignore_errors=True)
        _run_tb(tb, PUSH, work, api_url, token, timeout, verify)
    return result
