"""A STAND-IN for the DigitalOcean API, for tests only.

The real API cannot be reached from our machines. This small in-memory server
implements the endpoints supermark-ops calls and checks every request AND
every response it gives against DigitalOcean's published OpenAPI
specification (read in place from ../shared/digitalocean-openapi/), so a
request the real API would reject fails the test. Beyond the schema it checks
what the API documents in words on our path (uptime alerts e-mail only
addresses verified on the account, latency and TLS-expiry alerts need a
threshold, alert policies name existing droplets) and what DigitalOcean's own
Terraform provider relies on (MX/CNAME data is read relative to the zone
unless it ends with a dot, and comes back without the dot). It records the requests,
and can inject faults: a refused token (401), rate limiting (429), a size it
rejects (422), a droplet stuck in 'new'.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

# shared/ lies beside the project's clone (in CI too); SUPERMARK_OPS_SHARED overrides.
SHARED = Path(os.environ.get("SUPERMARK_OPS_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SPEC_ROOT = SHARED / "digitalocean-openapi/specification"
SPEC_FILE = SPEC_ROOT / "DigitalOcean-public.v2.yaml"
SERVER = "https://api.digitalocean.com"
VALID_SIZES = {"s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"}

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# Record types whose data is a host name: without a trailing dot it is read
# relative to the zone, and it is returned without the dot (DigitalOcean's
# Terraform provider adds the dot back when it reads one).
HOSTNAME_DATA_TYPES = {"CNAME", "MX", "NS"}

_spec_lock = threading.Lock()
_openapi: OpenAPI | None = None


def openapi() -> OpenAPI:
    """The parsed specification (loaded once; about a second)."""
    global _openapi
    with _spec_lock:
        if _openapi is None:
            if not SPEC_FILE.exists():
                raise FileNotFoundError(
                    f"DigitalOcean's OpenAPI spec is not at {SPEC_FILE}: put shared/ beside the clone "
                    "or set SUPERMARK_OPS_SHARED to it"
                )
            # The spec's own tag descriptions are $refs the strict spec
            # validator rejects; request/response validation is unaffected.
            _openapi = OpenAPI.from_file_path(str(SPEC_FILE), config=Config(spec_validator_cls=None))
        return _openapi


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def _droplet_example() -> str:
    examples = yaml.safe_load((SPEC_ROOT / "resources/droplets/responses/examples.yml").read_text())
    return json.dumps(examples["droplet_single"]["value"]["droplet"])


def _droplet_template() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_droplet_example())  # a fresh copy each time
    return result


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


@dataclass
class DOStandIn:
    token: str = "standin-token-0123456789abcdef"
    droplet_ipv4: str = "127.0.0.1"
    droplet_ipv6: str = "::1"
    managed_domains: set[str] = field(default_factory=lambda: {"example.com"})
    # The account's verified e-mail addresses (uptime alerts may only notify these).
    verified_emails: set[str] = field(default_factory=lambda: {"operator@example.com"})
    # Faults, set by a test.
    rate_limit_next: int = 0
    droplet_stuck_in_new: bool = False
    new_polls_before_active: int = 1
    url: str = ""  # set by start()
    # What was asked, and what did not match the spec.
    requests: list[Recorded] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1000)
        self.keys: dict[int, dict[str, Any]] = {}
        self.droplets: dict[int, dict[str, Any]] = {}
        self.polls: dict[int, int] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.reserved_ips: dict[str, dict[str, Any]] = {}
        self.firewalls: dict[str, dict[str, Any]] = {}
        self.records: dict[str, list[dict[str, Any]]] = {d: [] for d in self.managed_domains}
        self.actions: dict[int, dict[str, Any]] = {}
        self.snapshots: list[str] = []
        self.projects: dict[str, list[str]] = {}
        self.checks: dict[str, dict[str, Any]] = {}
        self.check_alerts: dict[str, dict[str, dict[str, Any]]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self._template = _droplet_template()
        self._lock = threading.Lock()
        openapi()

    # -- server ------------------------------------------------------------
    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = standin.handle(self.command, self.path, dict(self.headers), raw)
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: stop() waits for it (0.5 s by default, on every test).
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- request handling --------------------------------------------------
    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        url = urlsplit(raw_path)
        query = parse_qs(url.query)
        body = json.loads(raw) if raw else None
        with self._lock:
            status, out, extra = self._dispatch(method, url.path, query, headers, raw, body)
            self.requests.append(Recorded(method, url.path, query, body, status))
        return status, out, extra

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        raw: bytes,
        body: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(
                method, path, 401, {"id": "unauthorized", "message": "Unable to authenticate you."}
            )
        request = MockRequest(
            SERVER,
            method.lower(),
            path,
            args={k: v[0] for k, v in query.items()},
            headers={"Authorization": headers["Authorization"]},
            data=self._spec_fixup(method, path, body) or raw or None,
            content_type="application/json",
        )
        try:
            openapi().validate_request(request)
        except Exception as exc:  # the spec says the real API rejects it
            if self._spec_quirk(str(exc), path):
                pass
            else:
                return self._reject(method, path, exc)
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return self._reply(
                method,
                path,
                429,
                {"id": "too_many_requests", "message": "API Rate limit exceeded."},
                {"Retry-After": "0"},
            )
        status, out = self._route(method, path, query, body)
        return self._reply(method, path, status, out)

    def _reject(self, method: str, path: str, exc: Exception) -> tuple[int, Any, dict[str, str]]:
        detail = f"{method} {path}: {exc}"
        cause = getattr(exc, "__cause__", None)
        if cause is not None:
            detail += f" ({cause})"
        self.violations.append(f"request {detail}")
        return 400, {"id": "bad_request", "message": detail[:500]}, {}

    @staticmethod
    def _spec_quirk(error: str, path: str) -> bool:
        """The one place the published spec contradicts the real API.

        ssh_key_identifier is oneOf(id, fingerprint), both marked readOnly, so
        a strict validator rejects every value in a request, while the API's
        own documentation says to pass either. Its format is checked here.
        """
        return "ssh_key_identifier" in error and bool(
            re.fullmatch(r"/v2/account/keys/(\d+|([0-9a-f]{2}:){15}[0-9a-f]{2})", path)
        )

    @staticmethod
    def _spec_fixup(method: str, path: str, body: Any) -> bytes | None:
        """The body to validate, where the published spec contradicts itself.

        Creating an uptime check lists 'method' as required, but the check
        model has no such property and the spec's own example (and the API's
        documentation) create a check without it. Only that one field is
        filled in for validation; everything else is checked as sent.
        """
        if (
            method == "POST"
            and path == "/v2/uptime/checks"
            and isinstance(body, dict)
            and "method" not in body
        ):
            return json.dumps({**body, "method": "GET"}).encode()
        return None

    def _reply(
        self, method: str, path: str, status: int, out: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        request = MockRequest(SERVER, method.lower(), path, content_type="application/json")
        data = json.dumps(out).encode() if out is not None else b""
        response = MockResponse(data, status_code=status, content_type="application/json")
        try:
            openapi().validate_response(request, response)
        except Exception as exc:
            cause = getattr(exc, "__cause__", None)
            self.violations.append(f"response {method} {path} {status}: {exc} {cause or ''}")
        return status, out, headers or {}

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        routes = [
            ("GET", r"/v2/account/keys/([0-9a-f:]+)", self._get_key),
            ("POST", r"/v2/account/keys", self._create_key),
            ("GET", r"/v2/droplets", self._list_droplets),
            ("POST", r"/v2/droplets", self._create_droplet),
            ("GET", r"/v2/droplets/(\d+)", self._get_droplet),
            ("DELETE", r"/v2/droplets/(\d+)", self._delete_droplet),
            ("POST", r"/v2/droplets/(\d+)/actions", self._droplet_action),
            ("DELETE", r"/v2/volumes/([0-9a-f-]+)", self._delete_volume),
            ("DELETE", r"/v2/reserved_ips/([0-9.]+)", self._delete_reserved_ip),
            ("DELETE", r"/v2/firewalls/([0-9a-f-]+)", self._delete_firewall),
            ("DELETE", r"/v2/domains/([a-z0-9.-]+)/records/(\d+)", self._delete_record),
            ("GET", r"/v2/volumes", self._list_volumes),
            ("POST", r"/v2/volumes", self._create_volume),
            ("POST", r"/v2/volumes/([0-9a-f-]+)/actions", self._volume_action),
            ("POST", r"/v2/volumes/([0-9a-f-]+)/snapshots", self._snapshot_volume),
            ("GET", r"/v2/actions/(\d+)", self._get_action),
            ("GET", r"/v2/reserved_ips", self._list_reserved_ips),
            ("POST", r"/v2/reserved_ips", self._create_reserved_ip),
            ("GET", r"/v2/firewalls", self._list_firewalls),
            ("POST", r"/v2/firewalls", self._create_firewall),
            ("PUT", r"/v2/firewalls/([0-9a-f-]+)", self._update_firewall),
            ("GET", r"/v2/projects/([0-9a-f-]+)/resources", self._list_project_resources),
            ("POST", r"/v2/projects/([0-9a-f-]+)/resources", self._assign_project_resources),
            ("GET", r"/v2/domains/([a-z0-9.-]+)", self._get_domain),
            ("GET", r"/v2/domains/([a-z0-9.-]+)/records", self._list_records),
            ("POST", r"/v2/domains/([a-z0-9.-]+)/records", self._create_record),
            ("PUT", r"/v2/domains/([a-z0-9.-]+)/records/(\d+)", self._update_record),
            ("GET", r"/v2/uptime/checks", self._list_checks),
            ("POST", r"/v2/uptime/checks", self._create_check),
            ("GET", rf"/v2/uptime/checks/({UUID})", self._get_check),
            ("PUT", rf"/v2/uptime/checks/({UUID})", self._update_check),
            ("DELETE", rf"/v2/uptime/checks/({UUID})", self._delete_check),
            ("GET", rf"/v2/uptime/checks/({UUID})/alerts", self._list_check_alerts),
            ("POST", rf"/v2/uptime/checks/({UUID})/alerts", self._create_check_alert),
            ("PUT", rf"/v2/uptime/checks/({UUID})/alerts/({UUID})", self._update_check_alert),
            ("DELETE", rf"/v2/uptime/checks/({UUID})/alerts/({UUID})", self._delete_check_alert),
            ("GET", r"/v2/monitoring/alerts", self._list_policies),
            ("POST", r"/v2/monitoring/alerts", self._create_policy),
            ("PUT", rf"/v2/monitoring/alerts/({UUID})", self._update_policy),
            ("DELETE", rf"/v2/monitoring/alerts/({UUID})", self._delete_policy),
        ]
        for verb, pattern, fn in routes:
            m = re.fullmatch(pattern, path)
            if verb == method and m:
                return fn(*m.groups(), query=query, body=body)  # type: ignore[operator]
        return 404, {"id": "not_found", "message": "The resource you were accessing could not be found."}

    @staticmethod
    def _not_found() -> tuple[int, Any]:
        return 404, {"id": "not_found", "message": "The resource you were accessing could not be found."}

    @staticmethod
    def _page(key: str, items: list[Any]) -> dict[str, Any]:
        return {key: items, "links": {}, "meta": {"total": len(items)}}

    def _action(self, kind: str, resource_id: int, resource_type: str) -> dict[str, Any]:
        action = {
            "id": next(self._ids),
            "status": "completed",
            "type": kind,
            "started_at": _now(),
            "completed_at": _now(),
            "resource_id": resource_id,
            "resource_type": resource_type,
            "region_slug": "nyc3",
        }
        self.actions[action["id"]] = action
        return action

    # -- ssh keys ------------------------------------------------------------
    def _get_key(self, fingerprint: str, **_: Any) -> tuple[int, Any]:
        for key in self.keys.values():
            if key["fingerprint"] == fingerprint:
                return 200, {"ssh_key": key}
        return self._not_found()

    def _create_key(self, body: Any, **_: Any) -> tuple[int, Any]:
        import base64
        import hashlib

        digest = hashlib.md5(
            base64.b64decode(body["public_key"].split()[1]), usedforsecurity=False
        ).hexdigest()
        fingerprint = ":".join(digest[i : i + 2] for i in range(0, 32, 2))
        key = {
            "id": next(self._ids),
            "fingerprint": fingerprint,
            "public_key": body["public_key"],
            "name": body["name"],
        }
        self.keys[key["id"]] = key
        return 201, {"ssh_key": key}

    # -- droplets ------------------------------------------------------------
    def _list_droplets(self, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        tag = query.get("tag_name", [None])[0]
        items = [d for d in self.droplets.values() if tag is None or tag in d["tags"]]
        return 200, self._page("droplets", items)

    def _create_droplet(self, body: Any, **_: Any) -> tuple[int, Any]:
        if body["size"] not in VALID_SIZES:
            return 422, {
                "id": "unprocessable_entity",
                "message": "You specified an invalid size for Droplet creation.",
            }
        droplet = json.loads(json.dumps(self._template))
        droplet.update(
            id=next(self._ids),
            name=body["name"],
            status="new",
            created_at=_now(),
            tags=body.get("tags", []),
            backup_ids=[],
            snapshot_ids=[],
            volume_ids=[],
            size_slug=body["size"],
            networks={"v4": [], "v6": []},
            features=["monitoring"] if body.get("monitoring") else [],
        )
        droplet["region"] = {**droplet["region"], "slug": body["region"]}
        droplet["size"] = {**droplet["size"], "slug": body["size"]}
        droplet["vpc_uuid"] = body.get("vpc_uuid", droplet.get("vpc_uuid"))
        self.droplets[droplet["id"]] = droplet
        self.polls[droplet["id"]] = 0
        return 202, {
            "droplet": droplet,
            "links": {
                "actions": [
                    {
                        "id": next(self._ids),
                        "rel": "create",
                        "href": "https://api.digitalocean.com/v2/actions/1",
                    }
                ]
            },
        }

    def _get_droplet(self, droplet_id: str, **_: Any) -> tuple[int, Any]:
        droplet = self.droplets.get(int(droplet_id))
        if droplet is None:
            return self._not_found()
        self.polls[droplet["id"]] += 1
        if (
            droplet["status"] == "new"
            and not self.droplet_stuck_in_new
            and (self.polls[droplet["id"]] >= self.new_polls_before_active)
        ):
            droplet["status"] = "active"
            droplet["networks"] = {
                "v4": [
                    {
                        "ip_address": self.droplet_ipv4,
                        "netmask": "255.255.255.0",
                        "gateway": "127.0.0.254",
                        "type": "public",
                    }
                ],
                "v6": [{"ip_address": self.droplet_ipv6, "netmask": 64, "gateway": "::2", "type": "public"}],
            }
        return 200, {"droplet": droplet}

    def _delete_droplet(self, droplet_id: str, **_: Any) -> tuple[int, Any]:
        droplet = self.droplets.pop(int(droplet_id), None)
        if droplet is None:
            return self._not_found()
        for volume in self.volumes.values():  # the API detaches volumes on delete
            volume["droplet_ids"] = [d for d in volume["droplet_ids"] if d != droplet["id"]]
        return 204, None

    def _droplet_action(self, droplet_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        if int(droplet_id) not in self.droplets:
            return self._not_found()
        if body["type"] == "snapshot":
            self.snapshots.append(body["name"])
        return 201, {"action": self._action(body["type"], int(droplet_id), "droplet")}

    def _delete_volume(self, volume_id: str, **_: Any) -> tuple[int, Any]:
        return (204, None) if self.volumes.pop(volume_id, None) else self._not_found()

    def _delete_reserved_ip(self, ip: str, **_: Any) -> tuple[int, Any]:
        return (204, None) if self.reserved_ips.pop(ip, None) else self._not_found()

    def _delete_firewall(self, fid: str, **_: Any) -> tuple[int, Any]:
        return (204, None) if self.firewalls.pop(fid, None) else self._not_found()

    def _delete_record(self, domain: str, record_id: str, **_: Any) -> tuple[int, Any]:
        before = len(self.records.get(domain, []))
        self.records[domain] = [r for r in self.records.get(domain, []) if r["id"] != int(record_id)]
        return (204, None) if len(self.records[domain]) < before else self._not_found()

    # -- volumes -------------------------------------------------------------
    def _list_volumes(self, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        name = query.get("name", [None])[0]
        items = [v for v in self.volumes.values() if name is None or v["name"] == name]
        return 200, self._page("volumes", items)

    def _create_volume(self, body: Any, **_: Any) -> tuple[int, Any]:
        vid = f"{next(self._ids):08x}-0000-4000-8000-000000000000"
        volume = {
            "id": vid,
            "name": body["name"],
            "size_gigabytes": body["size_gigabytes"],
            "droplet_ids": [],
            "description": body.get("description", ""),
            "created_at": _now(),
            "filesystem_type": "ext4",
            "filesystem_label": "",
            "tags": [],
            "region": {
                "slug": body["region"],
                "name": body["region"],
                "sizes": [],
                "features": [],
                "available": True,
            },
        }
        self.volumes[vid] = volume
        return 201, {"volume": volume}

    def _volume_action(self, volume_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        volume = self.volumes.get(volume_id)
        if volume is None:
            return self._not_found()
        if body["type"] == "attach":
            volume["droplet_ids"] = [body["droplet_id"]]
            self.droplets[body["droplet_id"]]["volume_ids"].append(volume_id)
        return 202, {"action": self._action(f"{body['type']}_volume", body["droplet_id"], "volume")}

    def _snapshot_volume(self, volume_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        volume = self.volumes.get(volume_id)
        if volume is None:
            return self._not_found()
        self.snapshots.append(body["name"])
        snapshot = {
            "id": f"{next(self._ids):08x}-0000-4000-8000-00000000000f",
            "name": body["name"],
            "created_at": _now(),
            "regions": [volume["region"]["slug"]],
            "resource_id": volume_id,
            "resource_type": "volume",
            "min_disk_size": volume["size_gigabytes"],
            "size_gigabytes": 0.5,
            "tags": [],
        }
        return 201, {"snapshot": snapshot}

    def _get_action(self, action_id: str, **_: Any) -> tuple[int, Any]:
        action = self.actions.get(int(action_id))
        return (200, {"action": action}) if action else self._not_found()

    # -- reserved IPs --------------------------------------------------------
    def _list_reserved_ips(self, **_: Any) -> tuple[int, Any]:
        return 200, self._page("reserved_ips", list(self.reserved_ips.values()))

    def _create_reserved_ip(self, body: Any, **_: Any) -> tuple[int, Any]:
        ip = f"127.0.1.{len(self.reserved_ips) + 1}"
        droplet = self.droplets[body["droplet_id"]]
        rip = {
            "ip": ip,
            "droplet": droplet,
            "locked": False,
            "project_id": "746c6152-2fa2-11ed-92d3-27aaa54e4988",
            "region": {
                "slug": droplet["region"]["slug"],
                "name": "",
                "sizes": [],
                "features": [],
                "available": True,
            },
        }
        self.reserved_ips[ip] = rip
        return 202, {"reserved_ip": rip, "links": {"droplets": [], "actions": []}}

    # -- firewalls -----------------------------------------------------------
    def _list_firewalls(self, **_: Any) -> tuple[int, Any]:
        return 200, self._page("firewalls", list(self.firewalls.values()))

    def _store_firewall(self, fid: str, body: Any) -> dict[str, Any]:
        firewall = {
            **body,
            "id": fid,
            "status": "succeeded",
            "created_at": _now(),
            "droplet_ids": [],
            "pending_changes": [],
        }
        self.firewalls[fid] = firewall
        return firewall

    def _create_firewall(self, body: Any, **_: Any) -> tuple[int, Any]:
        fid = f"{next(self._ids):08x}-1111-4000-8000-000000000000"
        return 202, {"firewall": self._store_firewall(fid, body)}

    def _update_firewall(self, fid: str, body: Any, **_: Any) -> tuple[int, Any]:
        if fid not in self.firewalls:
            return self._not_found()
        return 200, {"firewall": self._store_firewall(fid, body)}

    # -- projects ------------------------------------------------------------
    def _project_resource(self, urn: str) -> dict[str, Any]:
        kind, rid = urn.split(":")[1:3]
        return {
            "urn": urn,
            "assigned_at": _now(),
            "status": "assigned",
            "links": {"self": f"https://api.digitalocean.com/v2/{kind}s/{rid}"},
        }

    def _list_project_resources(self, project_id: str, **_: Any) -> tuple[int, Any]:
        urns = self.projects.get(project_id, [])
        return 200, self._page("resources", [self._project_resource(u) for u in urns])

    def _assign_project_resources(self, project_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        self.projects.setdefault(project_id, []).extend(body["resources"])
        return 200, {"resources": [self._project_resource(u) for u in body["resources"]]}

    # -- DNS -----------------------------------------------------------------
    def _get_domain(self, domain: str, **_: Any) -> tuple[int, Any]:
        if domain not in self.managed_domains:
            return self._not_found()
        return 200, {"domain": {"name": domain, "ttl": 1800, "zone_file": ""}}

    def _list_records(self, domain: str, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        if domain not in self.managed_domains:
            return self._not_found()
        kind, name = query.get("type", [None])[0], query.get("name", [None])[0]
        items = []
        for rec in self.records[domain]:
            fqdn = domain if rec["name"] == "@" else f"{rec['name']}.{domain}"
            if (kind is None or rec["type"] == kind) and (name is None or fqdn == name):
                items.append(rec)
        return 200, self._page("domain_records", items)

    @staticmethod
    def _stored_data(domain: str, kind: str, data: str) -> str:
        if kind in HOSTNAME_DATA_TYPES and data != "@":
            return data[:-1] if data.endswith(".") else f"{data}.{domain}"
        return data

    def _create_record(self, domain: str, body: Any, **_: Any) -> tuple[int, Any]:
        record = {
            "id": next(self._ids),
            "type": body["type"],
            "name": body["name"],
            "data": self._stored_data(domain, body["type"], body["data"]),
            "ttl": body.get("ttl", 1800),
            "priority": body.get("priority"),
            "port": None,
            "weight": None,
            "flags": None,
            "tag": None,
        }
        self.records[domain].append(record)
        return 201, {"domain_record": record}

    def _update_record(self, domain: str, record_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        for rec in self.records.get(domain, []):
            if rec["id"] == int(record_id):
                rec.update(type=body["type"], data=self._stored_data(domain, body["type"], body["data"]))
                if "priority" in body:
                    rec["priority"] = body["priority"]
                return 200, {"domain_record": rec}
        return self._not_found()

    # -- uptime checks and their alerts ---------------------------------------
    @staticmethod
    def _unprocessable(message: str) -> tuple[int, Any]:
        return 422, {"id": "unprocessable_entity", "message": message}

    def _check_problem(self, body: Any) -> str:
        target = urlsplit(body.get("target", ""))
        if body.get("type") in ("http", "https") and (target.scheme != body["type"] or not target.netloc):
            return f"target must be an {body['type']} URL"
        return ""

    def _list_checks(self, **_: Any) -> tuple[int, Any]:
        return 200, self._page("checks", list(self.checks.values()))

    def _create_check(self, body: Any, **_: Any) -> tuple[int, Any]:
        problem = self._check_problem(body)
        if problem:
            return self._unprocessable(problem)
        check = {"id": str(uuid.uuid4()), **{k: body[k] for k in ("name", "type", "target", "regions")}}
        check["enabled"] = body.get("enabled", True)
        self.checks[check["id"]] = check
        self.check_alerts[check["id"]] = {}
        return 201, {"check": check}

    def _get_check(self, check_id: str, **_: Any) -> tuple[int, Any]:
        check = self.checks.get(check_id)
        return (200, {"check": check}) if check else self._not_found()

    def _update_check(self, check_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        check = self.checks.get(check_id)
        if check is None:
            return self._not_found()
        merged = {**check, **body}
        problem = self._check_problem(merged)
        if problem:
            return self._unprocessable(problem)
        check.update(merged)
        return 200, {"check": check}

    def _delete_check(self, check_id: str, **_: Any) -> tuple[int, Any]:
        if self.checks.pop(check_id, None) is None:
            return self._not_found()
        self.check_alerts.pop(check_id, None)  # the API deletes a check's alerts with it
        return 204, None

    def _alert_problem(self, body: Any) -> str:
        unverified = sorted(set(body["notifications"]["email"]) - self.verified_emails)
        if unverified:
            return f"email {', '.join(unverified)} is not verified on this account"
        if body["type"] in ("latency", "ssl_expiry") and "threshold" not in body:
            return f"a {body['type']} alert needs a threshold"
        return ""

    def _list_check_alerts(self, check_id: str, **_: Any) -> tuple[int, Any]:
        if check_id not in self.checks:
            return self._not_found()
        return 200, self._page("alerts", list(self.check_alerts[check_id].values()))

    def _create_check_alert(self, check_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        if check_id not in self.checks:
            return self._not_found()
        problem = self._alert_problem(body)
        if problem:
            return self._unprocessable(problem)
        alert = {"id": str(uuid.uuid4()), **body}
        self.check_alerts[check_id][alert["id"]] = alert
        return 201, {"alert": alert}

    def _update_check_alert(self, check_id: str, alert_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        alert = self.check_alerts.get(check_id, {}).get(alert_id)
        if alert is None:
            return self._not_found()
        problem = self._alert_problem(body)
        if problem:
            return self._unprocessable(problem)
        alert.clear()
        alert.update(id=alert_id, **body)
        return 200, {"alert": alert}

    def _delete_check_alert(self, check_id: str, alert_id: str, **_: Any) -> tuple[int, Any]:
        if self.check_alerts.get(check_id, {}).pop(alert_id, None) is None:
            return self._not_found()
        return 204, None

    # -- monitoring alert policies -------------------------------------------
    def _policy_problem(self, body: Any) -> str:
        unknown = [e for e in body["entities"] if not e.isdigit() or int(e) not in self.droplets]
        if body["type"].startswith("v1/insights/droplet/") and unknown:
            return f"entities {', '.join(unknown)} are not droplets of this account"
        return ""

    def _list_policies(self, **_: Any) -> tuple[int, Any]:
        return 200, self._page("policies", list(self.policies.values()))

    def _create_policy(self, body: Any, **_: Any) -> tuple[int, Any]:
        problem = self._policy_problem(body)
        if problem:
            return self._unprocessable(problem)
        policy = {"uuid": str(uuid.uuid4()), **body}
        self.policies[policy["uuid"]] = policy
        return 200, {"policy": policy}

    def _update_policy(self, policy_id: str, body: Any, **_: Any) -> tuple[int, Any]:
        if policy_id not in self.policies:
            return self._not_found()
        problem = self._policy_problem(body)
        if problem:
            return self._unprocessable(problem)
        self.policies[policy_id] = {"uuid": policy_id, **body}
        return 200, {"policy": self.policies[policy_id]}

    def _delete_policy(self, policy_id: str, **_: Any) -> tuple[int, Any]:
        return (204, None) if self.policies.pop(policy_id, None) else self._not_found()

    # -- for assertions ------------------------------------------------------
    def writes(self) -> list[Recorded]:
        """Every request that would create, change or delete something."""
        return [r for r in self.requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]
