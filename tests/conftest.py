from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from do_standin import DOStandIn

ROOT = Path(__file__).resolve().parent.parent


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
