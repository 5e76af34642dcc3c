"""The guard in conftest.py holds: a test that needs docker, root, a playbook run or the network
without saying so fails (in every tier), and one that says so runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CASES = """
import os
import socket
import subprocess

import pytest


def test_docker_unmarked():
    subprocess.run(["docker", "ps"], capture_output=True)


def test_playbook_unmarked():
    subprocess.run(["ansible-playbook", "--version"], capture_output=True)


def test_chown_unmarked(tmp_path):
    (tmp_path / "f").write_text("x")
    os.chown(tmp_path / "f", os.getuid(), os.getgid())


def test_network_unmarked():
    with socket.socket() as s:
        s.settimeout(0.1)
        s.connect(("192.0.2.1", 9))  # refused by the guard before any packet leaves


@pytest.fixture(scope="module")
def container():
    subprocess.run(["docker", "ps"], capture_output=True)


def test_docker_in_a_module_fixture_unmarked(container):
    pass


@pytest.mark.root
def test_chown_marked(tmp_path):
    (tmp_path / "f").write_text("x")
    os.chown(tmp_path / "f", os.getuid(), os.getgid())


@pytest.mark.playbook
def test_playbook_marked():
    subprocess.run(["ansible-playbook", "--version"], capture_output=True, check=True)


def test_plain_python():
    subprocess.run(["true"], check=True)
"""


def test_unmarked_needs_fail_and_marked_ones_run(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text((HERE / "conftest.py").read_text())
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "--strict-markers"\n'
        'markers = ["docker", "root", "network", "playbook"]\n'
    )
    (tmp_path / "test_cases.py").write_text(CASES)
    env = {**os.environ, "PYTHONPATH": str(HERE)}  # conftest imports the DigitalOcean stand-in
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-rfE",
            "test_cases.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    failed = {
        line.split("::")[1].split()[0] for line in out.splitlines() if line.startswith(("FAILED", "ERROR"))
    }
    assert failed == {
        "test_docker_unmarked",
        "test_playbook_unmarked",
        "test_chown_unmarked",
        "test_network_unmarked",
        "test_docker_in_a_module_fixture_unmarked",
    }, out
    assert "runs docker without @pytest.mark.docker" in out
    assert "connects to 192.0.2.1 without @pytest.mark.network" in out
    assert "3 passed" in out
