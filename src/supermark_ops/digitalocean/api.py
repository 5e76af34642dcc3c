"""A small client for DigitalOcean's v2 API.

It speaks the HTTP API directly (the issue allows it; pydo's generated
pipeline adds a large dependency tree for the dozen calls we make). Its
requests go through the one retry loop (supermark_ops.http: rate limits
honouring Retry-After / RateLimit-Reset, server errors with backoff); it pages
through list endpoints, waits on actions, and never puts the token in a
message, a log line or a repr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from supermark_ops import http
from supermark_ops.errors import OpsError

DEFAULT_ENDPOINT = "https://api.digitalocean.com"

JSON = dict[str, Any]


class DOError(OpsError):
    """Something the operator must fix; the message says what."""


@dataclass
class DOAPIError(DOError):
    status: int
    method: str
    path: str
    error_id: str
    detail: str

    def __str__(self) -> str:
        hint = {
            401: "The API token was refused: set SUPERMARK_DO_TOKEN to a valid token with write scope.",
            403: "The token lacks permission for this call: give it read and write scope.",
            404: "Not found: check the name, region or ID.",
            422: "DigitalOcean rejected the values: check region, size and image slugs.",
            429: "Rate limited even after retrying: wait a minute and run again.",
        }.get(self.status, "")
        call = f"DigitalOcean API {self.method} {self.path} -> {self.status} {self.error_id}"
        return f"{call}: {self.detail}. {hint}".strip()


@dataclass
class DOClient:
    token: str = field(repr=False)
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = 30.0
    max_retries: int = 5
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session, repr=False)

    def __post_init__(self) -> None:
        if not self.token:
            raise DOError("No DigitalOcean token: set SUPERMARK_DO_TOKEN (or vault_supermark_do_token).")
        self.endpoint = self.endpoint.rstrip("/")
        self.session.headers.update(
            {
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "User-Agent": "supermark-ops",
            }
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: JSON | None = None,
        allow_404: bool = False,
    ) -> JSON | None:
        """One API call, retried on 429 and 5xx. Returns the JSON body (None for 204/404)."""
        url = f"{self.endpoint}{path}"
        try:
            resp = http.send(
                lambda: self.session.request(method, url, params=params, json=body, timeout=self.timeout),
                attempts=self.max_retries + 1,
                backoff=self.backoff,
                sleep=self.sleep,
            )
        except requests.RequestException as exc:
            raise DOError(
                f"Cannot reach the DigitalOcean API at {self.endpoint} ({type(exc).__name__}). "
                "Check the network or the API URL."
            ) from None
        if resp.status_code == 404 and allow_404:
            return None
        if resp.status_code >= 400:
            raise self._error(resp, method, path)
        if resp.status_code == 204 or not resp.content:
            return None
        data: JSON = resp.json()
        return data

    def _error(self, resp: requests.Response, method: str, path: str) -> DOAPIError:
        try:
            data = resp.json()
            error_id, detail = str(data.get("id", "error")), str(data.get("message", resp.reason))
        except ValueError:
            error_id, detail = "error", resp.reason or "no detail"
        # The API never echoes the token, but be certain no message carries it.
        detail = detail.replace(self.token, "***")
        return DOAPIError(resp.status_code, method, path, error_id, detail)

    def get(self, path: str, params: dict[str, Any] | None = None, allow_404: bool = False) -> JSON | None:
        return self.request("GET", path, params=params, allow_404=allow_404)

    def post(self, path: str, body: JSON) -> JSON:
        return self.request("POST", path, body=body) or {}

    def put(self, path: str, body: JSON) -> JSON:
        return self.request("PUT", path, body=body) or {}

    def delete(self, path: str, allow_404: bool = True) -> None:
        self.request("DELETE", path, allow_404=allow_404)

    def paginate(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[JSON]:
        """Every item of a list endpoint, following the pages."""
        page = 1
        while True:
            data = self.get(path, params={**(params or {}), "page": page, "per_page": 200}) or {}
            items = data.get(key, [])
            yield from items
            if not data.get("links", {}).get("pages", {}).get("next") or not items:
                return
            page += 1

    def wait_action(self, action_id: int, what: str, timeout: float = 300, interval: float = 3) -> JSON:
        """Poll an action until it completes; fail clearly when it errors or hangs."""
        waited = 0.0
        while True:
            action = (self.get(f"/v2/actions/{action_id}") or {}).get("action", {})
            status = action.get("status")
            if status == "completed":
                return dict(action)
            if status == "errored":
                raise DOError(
                    f"DigitalOcean action {action_id} ({what}) errored; see the control panel's history."
                )
            if waited >= timeout:
                raise DOError(
                    f"DigitalOcean action {action_id} ({what}) still '{status}' after {int(timeout)} s; "
                    "it may finish later: run again to pick it up."
                )
            self.sleep(interval)
            waited += interval
