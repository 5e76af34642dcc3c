"""The minio role's setup script (bucket, anonymous access off, the app's user and policy), as
the role renders it, run by a real /bin/sh against the MinIO stand-in (images/standins/s3: an
S3 server that checks signatures, with its `mc`), every `mc` call's argv recorded: no secret is
ever in one, a re-run changes nothing, a changed secret is taken, and a failed attach fails."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from servers import free_port

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "images" / "standins" / "s3"
ROOT_PASSWORD = "root-pw/with+special&chars$(x)"
APP_SECRET = "app-secret/with+special&chars%41`y`"


def variables(**extra: Any) -> dict[str, Any]:
    loader = DataLoader()
    out: dict[str, Any] = {"ansible_managed": "managed"}
    for role in ("stack", "minio"):
        for part in ("defaults", "vars"):
            path = ROOT / "roles" / role / part / "main.yml"
            out.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    return {**out, "minio_root_password": ROOT_PASSWORD, "minio_app_secret_key": APP_SECRET, **extra}


def render(template: str, values: dict[str, Any]) -> str:
    text = (ROOT / "roles" / "minio" / "templates" / template).read_text()
    return str(Templar(loader=DataLoader(), variables=values).template(trust_as_template(text)))


def env_file(text: str) -> dict[str, str]:
    """KEY=value lines as Compose reads them (a single-quoted value is taken literally)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == "'" else value
    return out


class Stand:
    """The stand-in server with its data in a folder, on a free port; `fail` names admin operations
    that answer a server error (fault injection)."""

    def __init__(self, data: Path, fail: str = "") -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "MINIO_ROOT_USER": "supermark-root",
            "MINIO_ROOT_PASSWORD": ROOT_PASSWORD,
            "STANDIN_DATA": str(data),
            "STANDIN_PORT": str(self.port),
            "STANDIN_FAIL_ADMIN_OPS": fail,
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDIN / "standin_s3.py")], env=env, stderr=subprocess.DEVNULL
        )
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/minio/health/live", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the stand-in did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


@pytest.fixture()
def setup_dir(tmp_path: Path) -> Iterator[Path]:
    """The role's files as it writes them (setup.sh beside app-policy.json), and an `mc` that
    records each call's argv and then runs the stand-in's mc."""
    folder = tmp_path / "setup"
    folder.mkdir()
    values = variables()
    (folder / "setup.sh").write_text(render("setup.sh.j2", values))
    (folder / "app-policy.json").write_text(render("app-policy.json.j2", values))
    (folder / "minio.env").write_text(render("minio.env.j2", values))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A shell wrapper (a second Python start per call would double the test's time).
    (bin_dir / "mc").write_text(
        "#!/bin/sh\n"
        f"{{ printf '%s\\0' \"$@\"; echo; }} >>'{tmp_path / 'mc-argv'}'\n"
        f"exec '{sys.executable}' '{STANDIN / 'mc'}' \"$@\"\n"
    )
    (bin_dir / "mc").chmod(0o755)
    yield folder


def run_setup(folder: Path, port: int, **override: str) -> subprocess.CompletedProcess[str]:
    """sh setup.sh in the container's environment (the env file), MinIO on `port`."""
    env = {
        k: v.replace("@127.0.0.1:9000", f"@127.0.0.1:{port}")
        for k, v in env_file((folder / "minio.env").read_text()).items()
    }
    env.update(override)
    env.update(PATH=f"{folder.parent / 'bin'}:{os.environ['PATH']}", PYTHONPATH=str(STANDIN))
    return subprocess.run(
        ["sh", str(folder / "setup.sh")], env=env, capture_output=True, text=True, timeout=120
    )


def argvs(folder: Path) -> list[list[str]]:
    """Each recorded call's arguments (NUL-separated, a line a call)."""
    path = folder.parent / "mc-argv"
    return [line.split("\0")[:-1] for line in path.read_text().splitlines()] if path.exists() else []


def test_the_app_user_is_made_with_no_secret_in_any_argv(setup_dir: Path, tmp_path: Path) -> None:
    stand = Stand(tmp_path / "data")
    try:
        first = run_setup(setup_dir, stand.port)
        assert first.returncode == 0, first.stderr
        # (A new bucket is private already: the anonymous step has nothing to do.)
        assert first.stdout.splitlines() == ["CHANGED bucket created", "CHANGED app user and policy"]
        calls = argvs(setup_dir)
        assert ["admin", "user", "add", "local", "supermark-app"] in calls
        for secret in (APP_SECRET, ROOT_PASSWORD, "app-secret", "root-pw"):
            assert not [c for c in calls if any(secret in a for a in c)], secret
        # A re-run finds everything in place.
        again = run_setup(setup_dir, stand.port)
        assert again.returncode == 0 and again.stdout == "", again.stderr
        # A new secret (set on purpose in the vault): the user is updated; the policy, attached
        # already, is no error.
        new = "a-new-secret-of-the-app/1234"
        rotated = run_setup(
            setup_dir,
            stand.port,
            SUPERMARK_APP_SECRET_KEY=new,
            MC_HOST_app=f"http://supermark-app:{new.replace('/', '%2F')}@127.0.0.1:{stand.port}",
        )
        assert rotated.returncode == 0 and rotated.stdout == "CHANGED app user and policy\n", rotated.stderr
    finally:
        stand.stop()


def test_a_failed_policy_attach_fails_the_setup(setup_dir: Path, tmp_path: Path) -> None:
    stand = Stand(tmp_path / "data", fail="attach")
    try:
        result = run_setup(setup_dir, stand.port)
    finally:
        stand.stop()
    assert result.returncode != 0
    assert "attaching the policy supermark-app failed" in result.stderr
    assert "CHANGED app user and policy" not in result.stdout
