"""Verify role docker from inside the test hosts (testinfra)."""

import json

import pytest

COMPOSE = """
services:
  web:
    image: local/busybox:test
    command:
      - sh
      - -c
      - mkdir -p /www && echo pong > /www/index.html && exec httpd -f -p 8080 -h /www
  client:
    image: local/busybox:test
    depends_on: [web]
    command:
      - sh
      - -c
      - for i in $$(seq 50); do wget -qO- http://web:8080/ && exit 0; sleep 0.2; done; exit 1
"""


def on(host, name):
    return host.backend.get_hostname() == name


@pytest.fixture()
def ubuntu(host):
    if not on(host, "ubuntu2404"):
        pytest.skip("the engine is converged on Ubuntu 24.04 only")
    return host


@pytest.fixture()
def debian(host):
    if not on(host, "debian12"):
        pytest.skip("Docker's repository path is checked on Debian 12")
    return host


def test_service_active_and_enabled(ubuntu):
    svc = ubuntu.service("docker")
    assert svc.is_running
    assert svc.is_enabled


def test_compose_is_v2(ubuntu):
    version = ubuntu.check_output("docker compose version --short")
    assert version.lstrip("v").split(".")[0] == "2"


def test_daemon_json_has_the_caps(ubuntu):
    config = json.loads(ubuntu.file("/etc/docker/daemon.json").content_string)
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "10m", "max-file": "3"}
    assert config["live-restore"] is True
    assert config["default-address-pools"] == [{"base": "172.20.0.0/14", "size": 24}]
    info = json.loads(ubuntu.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True


def test_user_in_docker_group_can_use_docker(ubuntu):
    assert "docker" in ubuntu.user("tester").groups
    cmd = ubuntu.run("runuser -u tester -- docker ps")
    assert cmd.rc == 0, cmd.stderr


@pytest.fixture()
def local_image(ubuntu, busybox_image):
    return busybox_image


def test_imported_image_runs_with_capped_logs(ubuntu, local_image):
    cmd = ubuntu.run(f"docker run --name logcap {local_image} echo hello-from-busybox")
    try:
        assert cmd.rc == 0, cmd.stderr
        assert cmd.stdout.strip() == "hello-from-busybox"
        log_config = json.loads(
            ubuntu.check_output("docker inspect -f '{{json .HostConfig.LogConfig}}' logcap")
        )
        assert log_config["Type"] == "json-file"
    finally:
        ubuntu.run("docker rm -f logcap")


def test_two_service_compose_project(ubuntu, local_image, put_file):
    put_file("/tmp/smtest/compose.yml", COMPOSE)
    try:
        up = ubuntu.run("cd /tmp/smtest && docker compose -p smtest up -d web")
        assert up.rc == 0, up.stderr
        client = ubuntu.run("cd /tmp/smtest && docker compose -p smtest run --rm client")
        assert client.rc == 0, client.stderr
        assert "pong" in client.stdout
        subnet = ubuntu.check_output(
            "docker network inspect smtest_default -f '{{(index .IPAM.Config 0).Subnet}}'"
        )
        second_octet = int(subnet.split(".")[1])
        assert subnet.startswith("172.") and 20 <= second_octet <= 23, subnet
    finally:
        ubuntu.run("cd /tmp/smtest && docker compose -p smtest down")


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
