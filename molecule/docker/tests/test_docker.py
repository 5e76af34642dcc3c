"""Verify role docker on Debian 12 (testinfra); the real install is verified in the stack scenario."""

import pytest


@pytest.fixture()
def debian(host):
    return host


def test_repo_path_check_mode_installed_nothing(debian):
    for pkg in ("docker-ce", "docker.io", "containerd.io"):
        assert not debian.package(pkg).is_installed
    assert not debian.file("/etc/apt/keyrings/docker.asc").exists


def test_rendered_deb822_source(debian):
    source = debian.file("/etc/apt/sources.list.d/docker.sources")
    fields = dict(line.split(": ", 1) for line in source.content_string.splitlines() if ": " in line)
    assert fields == {
        "Types": "deb",
        "URIs": "https://download.docker.com/linux/debian",
        "Suites": "bookworm",
        "Components": "stable",
        "Architectures": debian.check_output("dpkg --print-architecture"),
        "Signed-By": "/etc/apt/keyrings/docker.asc",
    }
    # apt itself parses it: the index targets name Docker's repository.
    targets = debian.check_output(
        "apt-get indextargets --no-release-info --format '$(URI)' 'Created-By: Packages'"
    )
    assert "https://download.docker.com/linux/debian/dists/bookworm/stable/binary-" in targets
    assert "sources.list.d/docker.list" not in debian.check_output("ls /etc/apt/sources.list.d")
