"""Helpers shared by the scenarios' testinfra tests."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture()
def put_file(host: Any) -> Callable[[str, str, str], None]:
    """Write a file on the test host (testinfra's ansible backend has no stdin)."""

    def put(path: str, content: str, mode: str = "0644") -> None:
        encoded = base64.b64encode(content.encode()).decode()
        cmd = host.run(
            f'install -d "$(dirname {path})" && echo {encoded} | base64 -d > {path} && chmod {mode} {path}'
        )
        assert cmd.rc == 0, cmd.stderr

    return put


BUSYBOX_IMAGE = "local/busybox:test"


@pytest.fixture()
def busybox_image(host: Any) -> str:
    """A tiny image imported from the host's static busybox (busybox-static): nothing is pulled."""
    script = (
        "set -e; rm -rf /tmp/bb; mkdir -p /tmp/bb/bin /tmp/bb/tmp; cp /bin/busybox /tmp/bb/bin/; "
        "for a in sh httpd wget echo mkdir seq sleep; do ln -s busybox /tmp/bb/bin/$a; done; "
        f"tar -C /tmp/bb -c . | docker import -c 'ENV PATH=/bin' - {BUSYBOX_IMAGE}"
    )
    cmd = host.run(script)
    assert cmd.rc == 0, cmd.stderr
    return BUSYBOX_IMAGE
