"""Pushing the Tinybird project with the real pinned CLI (tinybird-cli, installed by
playbooks/tinybird.yml into .state/tinybird-cli) against the Tinybird stand-in
(images/standins/saas), asserting on what the stand-in's workspace holds and on the requests
that reached it; and the playbook itself, twice, from a git repository of the stand-in source."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import saas_server
from supermark_ops.external.tinybird import TinybirdPushError, push

# The CLI is installed by running the playbook (its tinybird-cli tag): the one way it is installed.
pytestmark = pytest.mark.playbook

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "images" / "standins" / "app-src" / "lib" / "tinybird"
TOKENS = [
    {"name": "workspace admin", "token": "p.admin", "scopes": [{"type": "ADMIN"}]},
    {
        "name": "read only",
        "token": "p.read",
        "scopes": [{"type": "DATASOURCES:READ"}, {"type": "PIPES:READ"}],
    },
]


def playbook(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "tinybird.yml"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )


@pytest.fixture(scope="module")
def tb() -> Path:
    """The pinned CLI, installed as the playbook installs it (a re-run installs nothing)."""
    proc = playbook("--tags", "tinybird-cli")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return ROOT / ".state" / "tinybird-cli" / "bin" / "tb"


@pytest.fixture()
def workspace() -> Iterator[tuple[str, dict[str, Any]]]:
    """An empty Tinybird workspace (the stand-in), and its world to look at."""
    world: dict[str, Any] = {"tinybird_tokens": copy.deepcopy(TOKENS)}
    server = saas_server(world)
    yield f"http://127.0.0.1:{server.server_address[1]}", world
    server.shutdown()


def writes(world: dict[str, Any]) -> list[str]:
    return [r for r in world.get("tinybird_requests", []) if not r.startswith("GET ")]


def held(world: dict[str, Any]) -> dict[str, Any]:
    """What the workspace holds: each datasource's columns, each pipe's SQL and published node."""
    return {
        "datasources": {ds["name"]: ds["columns"] for ds in world["tinybird_datasources"]},
        "endpoints": {
            p["name"]: [n["sql"] for n in p["nodes"] if n["id"] == p["endpoint"]]
            for p in world["tinybird_pipes"]
        },
    }


def test_first_push_creates_everything_and_a_second_writes_nothing(
    tb: Path, workspace: tuple[str, dict[str, Any]]
) -> None:
    url, world = workspace
    first = push(PROJECT, url, "p.admin", tb)
    assert sorted(first.datasources) == ["click_events", "page_views"]
    assert sorted(first.pipes) == ["get_click_events_by_view", "get_total_document_duration"]
    now = held(world)
    assert now["datasources"]["page_views"][0] == "`id` String `json:$.id`"
    assert "`duration` UInt32 `json:$.duration`" in now["datasources"]["page_views"]
    # Each pipe is published as an endpoint, its node reading the datasource pushed before it.
    (sql,) = now["endpoints"]["get_total_document_duration"]
    assert "FROM page_views" in sql and "sum(duration)" in sql
    assert len(now["endpoints"]["get_click_events_by_view"]) == 1
    # The datafiles' TOKEN lines: one token that may append to each datasource and read each endpoint.
    (app,) = [t for t in world["tinybird_tokens"] if t["name"] == "supermark_app"]
    assert sorted((s["type"], s["resource"]) for s in app["scopes"]) == [
        ("DATASOURCES:APPEND", "click_events"),
        ("DATASOURCES:APPEND", "page_views"),
        ("PIPES:READ", "get_click_events_by_view"),
        ("PIPES:READ", "get_total_document_duration"),
    ]
    # 2 datasources, 2 pipes, 2 endpoints published, the token created and given each scope.
    assert len(writes(world)) == 10

    second = push(PROJECT, url, "p.admin", tb)
    assert not second.changed and second.datasources == [] and second.pipes == []
    assert len(writes(world)) == 10
    assert held(world) == now


def test_a_changed_pipe_is_pushed_again_and_a_changed_datasource_refused(
    tb: Path, workspace: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url, world = workspace
    push(PROJECT, url, "p.admin", tb)
    ids = {ds["name"]: ds["id"] for ds in world["tinybird_datasources"]}
    project = tmp_path / "tinybird"
    shutil.copytree(PROJECT, project)
    pipe = project / "endpoints" / "get_total_document_duration.pipe"
    pipe.write_text(
        pipe.read_text().replace(
            "sum(duration) AS sum_duration", "sum(duration) AS sum_duration, count() AS pages"
        )
    )
    before = len(writes(world))

    again = push(project, url, "p.admin", tb)
    assert again.pipes == ["get_total_document_duration"] and again.datasources == []
    (sql,) = held(world)["endpoints"]["get_total_document_duration"]
    assert "count() AS pages" in sql
    assert {ds["name"]: ds["id"] for ds in world["tinybird_datasources"]} == ids  # not recreated
    endpoint = world["tinybird_pipes"][-1]["endpoint"]
    assert writes(world)[before:] == [
        "POST /v0/pipes",
        f"POST /v0/pipes/get_total_document_duration/nodes/{endpoint}/endpoint",
        "PUT /v0/tokens/supermark_app",
    ]

    # A datasource holds the events: one whose definition changed is refused, nothing is pushed.
    ds = project / "datasources" / "page_views.datasource"
    ds.write_text(
        ds.read_text().replace(
            "`country` String `json:$.country`",
            "`country` String `json:$.country`,\n  `city` String `json:$.city`",
        )
    )
    pipe.write_text(pipe.read_text().replace("count() AS pages", "count() AS page_count"))
    before_refusal = held(world), len(writes(world))
    with pytest.raises(
        TinybirdPushError, match=r"another definition than in .*: page_views\. They hold the app"
    ):
        push(project, url, "p.admin", tb)
    assert (held(world), len(writes(world))) == before_refusal


@pytest.mark.parametrize(
    ("token", "why"),
    [("p.unknown", "refused the admin token (403)"), ("p.read", "refused the admin token during tb push")],
)
def test_a_wrong_or_narrow_token_is_refused_with_the_fix(
    tb: Path, workspace: tuple[str, dict[str, Any]], token: str, why: str
) -> None:
    url, world = workspace
    with pytest.raises(TinybirdPushError) as refused:
        push(PROJECT, url, token, tb)
    assert why in str(refused.value)
    assert "supermark_tinybird_admin_token must be the workspace's admin token (the ADMIN scope" in str(
        refused.value
    )
    assert token not in str(refused.value)
    assert writes(world) == [] and world["tinybird_datasources"] == [] and world["tinybird_pipes"] == []


def test_not_a_tinybird_project(tb: Path, workspace: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    with pytest.raises(TinybirdPushError, match="No Tinybird project in"):
        push(tmp_path, workspace[0], "p.admin", tb)


# -- the playbook ------------------------------------------------------------------------


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A git repository of the stand-in source (as scripts/standins.sh makes it), tagged v1."""
    work, repo = tmp_path / "work", tmp_path / "supermark.git"
    shutil.copytree(ROOT / "images" / "standins" / "app-src", work)

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@supermark.test", *args],
            cwd=cwd,
            check=True,
            capture_output=True,
        )

    git("init", "-q", ".")
    git("add", "-A")
    git("commit", "-qm", "v1")
    git("tag", "v1")
    git("init", "-q", "--bare", str(repo), cwd=tmp_path)
    git("push", "-q", str(repo), "v1")
    return repo


def recap_changed(output: str) -> int:
    line = next(line for line in output.splitlines() if line.startswith("localhost "))
    return int(line.split("changed=")[1].split()[0])


def test_the_playbook_pushes_once_then_changes_nothing(
    tb: Path, workspace: tuple[str, dict[str, Any]], source: Path, tmp_path: Path
) -> None:
    url, world = workspace
    extra = {
        "supermark_analytics_enabled": True,
        "vault_supermark_tinybird_admin_token": "p.admin",
        "supermark_tinybird_api_url": url,
        "supermark_git_repo": str(source),
        "supermark_git_ref": "v1",
        "supermark_source_cache": str(tmp_path / "cache"),
        "tinybird_workdir": str(tmp_path / "export"),
    }
    # --check: the dry run says what would be pushed, and nothing is written.
    check = playbook("--check", "-e", json.dumps(extra))
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap_changed(check.stdout) == 1 and writes(world) == []

    first = playbook("-e", json.dumps(extra))
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap_changed(first.stdout) == 1  # the push (the CLI was installed by the fixture)
    assert sorted(held(world)["datasources"]) == ["click_events", "page_views"]
    assert sorted(held(world)["endpoints"]) == ["get_click_events_by_view", "get_total_document_duration"]
    assert "p.admin" not in first.stdout + first.stderr
    count = len(writes(world))

    second = playbook("-e", json.dumps(extra))
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap_changed(second.stdout) == 0
    assert len(writes(world)) == count

    off = playbook("-e", json.dumps({**extra, "supermark_analytics_enabled": False}))
    assert off.returncode != 0 and "Analytics is off: set supermark_analytics_enabled" in off.stdout
    no_token = playbook("-e", json.dumps({**extra, "vault_supermark_tinybird_admin_token": ""}))
    assert (
        no_token.returncode != 0
        and "No Tinybird admin token: put vault_supermark_tinybird_admin_token" in no_token.stdout
    )
    assert len(writes(world)) == count
