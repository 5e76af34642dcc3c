"""Shared fixtures, and the guard that keeps each test's marks honest.

A test marked `docker`, `root`, `network` or `playbook` (pyproject.toml) says what it needs;
`scripts/test.sh fast` runs the tests that need none of these. The guard below fails a test
whose setup (fixtures of any scope) or body starts one of those programs, changes a file's
owner, or connects beyond loopback without the mark that says so: the split is enforced, not
remembered. Teardown only undoes what a setup did, so it is not guarded.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from do_standin import DOStandIn

ROOT = Path(__file__).resolve().parent.parent

# Programs, by the mark a test running them must carry.
NEEDS = {
    "docker": {"docker"},
    "root": {"runuser", "mount", "umount", "losetup", "chown"},
    "playbook": {"ansible-playbook"},
}

_current: pytest.Item | None = None


def _marks() -> set[str]:
    return {m.name for m in _current.iter_markers()} if _current is not None else set(NEEDS) | {"network"}


def _require(mark: str, what: str) -> None:
    if mark not in _marks():
        assert _current is not None
        pytest.fail(f"{_current.nodeid} {what} without @pytest.mark.{mark}: mark it (see tests/conftest.py)")


_popen_init = subprocess.Popen.__init__
_chown, _connect = os.chown, socket.socket.connect


def _guarded_popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
    first = args if isinstance(args, str | bytes | os.PathLike) else args[0]
    program = Path(os.fsdecode(first).split()[0]).name
    for mark, programs in NEEDS.items():
        if program in programs:
            _require(mark, f"runs {program}")
    _popen_init(self, args, *rest, **kwargs)


def _guarded_chown(path: Any, uid: int, gid: int, *rest: Any, **kwargs: Any) -> None:
    _require("root", "changes a file's owner")
    _chown(path, uid, gid, *rest, **kwargs)


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            _require("network", f"connects to {host}")
    _connect(self, address)


def pytest_configure(config: pytest.Config) -> None:
    subprocess.Popen.__init__ = _guarded_popen  # type: ignore[assignment, method-assign]
    os.chown = _guarded_chown
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


def _under_marks_of(item: pytest.Item) -> Iterator[None]:
    global _current
    _current = item
    try:
        return (yield)
    finally:
        _current = None


# Fixtures of every scope are set up under the marks of the first test that needs them.
pytest_runtest_setup = pytest.hookimpl(wrapper=True)(_under_marks_of)
pytest_runtest_call = pytest.hookimpl(wrapper=True)(_under_marks_of)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture()
def standin() -> Iterator[DOStandIn]:
    """The DigitalOcean API stand-in; fails the test if anything broke the spec."""
    server = DOStandIn()
    server.start()
    yield server
    server.stop()
    assert server.violations == [], "a request or response broke the OpenAPI spec"
