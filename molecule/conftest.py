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
