"""requirements.yml pins exactly the collection versions our setup installs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml


def test_pinned_collections_match_the_installed_ones(project_root: Path) -> None:
    pinned = {
        c["name"]: c["version"]
        for c in yaml.safe_load((project_root / "requirements.yml").read_text())["collections"]
    }
    listing = subprocess.run(
        ["ansible-galaxy", "collection", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed: dict[str, str] = {}
    for collections in json.loads(listing.stdout).values():
        for name, info in collections.items():
            installed.setdefault(name, info["version"])
    for name, version in pinned.items():
        assert installed.get(name) == version, f"{name}: pinned {version}, installed {installed.get(name)}"


def test_host_requirements_match_the_dev_pins(project_root: Path) -> None:
    """The droplet's venv runs the versions the tests ran."""
    dev = set((project_root / "requirements-dev.txt").read_text().splitlines())
    host = (project_root / "roles/ops_tools/files/requirements-host.txt").read_text().splitlines()
    pins = [line for line in host if line and not line.startswith("#")]
    assert pins, "no pins for the host"
    assert [p for p in pins if p not in dev] == []
