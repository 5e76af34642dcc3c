"""The one retry loop and the one health wait, against a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from servers import AppServer, Flaky, free_port
from supermark_ops import http


@pytest.fixture()
def flaky() -> Iterator[type[Flaky]]:
    made: list[Flaky] = []

    class Made(Flaky):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    yield Made
    for server in made:
        server.stop()


def test_server_errors_and_rate_limits_are_retried_with_backoff(flaky: type[Flaky]) -> None:
    server, slept = flaky([503, 429, 502]), []
    resp = http.send(lambda: requests.get(server.url, timeout=5), attempts=5, backoff=0.5, sleep=slept.append)
    assert resp.status_code == 200 and server.hits == 4
    assert slept == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured_and_the_last_answer_returned(flaky: type[Flaky]) -> None:
    server, slept = flaky([503, 503, 503], {"Retry-After": "7"}), []
    resp = http.send(lambda: requests.get(server.url, timeout=5), attempts=2, sleep=slept.append)
    assert resp.status_code == 503 and server.hits == 2 and slept == [7.0]


def test_a_client_error_is_not_retried(flaky: type[Flaky]) -> None:
    server = flaky([404])
    resp = http.send(lambda: requests.get(server.url, timeout=5), attempts=3, sleep=lambda _s: None)
    assert resp.status_code == 404 and server.hits == 1


def test_nothing_listening_raises_after_every_attempt() -> None:
    url, slept = f"http://127.0.0.1:{free_port()}/", []
    with pytest.raises(requests.ConnectionError):
        http.send(lambda: requests.get(url, timeout=2), attempts=3, sleep=slept.append)
    assert slept == [1.0, 2.0]


def test_the_health_wait() -> None:
    app = AppServer()
    app.start()
    try:
        assert http.wait_healthy(app.url + "/api/health", 5) == ""
        app.health = "error"
        slept: list[float] = []
        problem = http.wait_healthy(app.url + "/api/health", 3, interval=1, sleep=slept.append)
        assert problem.startswith("not healthy within 3 s; last answer: ")
        assert problem.endswith("answered 500: Can't reach database server") and app.hits >= 2
        app.health = "garbage"
        assert "without JSON" in http.app_health(app.url + "/api/health", 2)
    finally:
        app.stop()
