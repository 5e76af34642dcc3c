"""Stand-in for the app's outside services (tests and the local run only; see ../README.md).

One small HTTP server for the few paths supermark-ops asks, each checking what the real API
checks there:
  Tinybird      GET /v0/tokens          a token with ADMIN or TOKENS scope: every workspace token
                                        with its scopes and value; any other token 403
                GET /v0/datasources     a token with ADMIN or DATASOURCES:READ/CREATE; else 403
                and what `tb push` (tinybird-cli, the classic workflow) asks to push a project:
                GET /v0/workspace, GET /v0/pipes, GET /v0/datasources/NAME[.datasource],
                GET /v0/pipes/NAME, GET /v1/pipes/NAME.pipe (404 for one that does not exist),
                POST /v0/datasources (create; an existing name is refused, 400),
                POST /v0/pipes (create; an existing pipe only with force=true, replaced whole),
                POST /v0/pipes/NAME/nodes/ID/endpoint (publish the node), POST /v0/tokens and
                PUT /v0/tokens/NAME (a datafile's TOKEN line; ADMIN or TOKENS). Writes need ADMIN or the
                resource's :CREATE scope, reads ADMIN or a READ/CREATE scope; else 403.
  Trigger.dev   GET /api/v1/runs        a known secret key (Bearer tr_...), else 401
                and what `trigger.dev deploy` (CLI 4.1.2) asks, in its order (see trigger_deploy):
                GET /api/v2/whoami, GET /api/v1/projects/REF/ENV (a personal access token,
                tr_pat_..., else 401; an unknown project 404), then with the environment's
                secret key (else 401): GET /api/v1/projects/REF/envvars, POST /api/v1/deployments
                (a new version each time, as the real one numbers them), POST
                /api/v1/projects/REF/envvars/ENV/import (a build extension's variables), GET and POST .../fail of
                /api/v1/deployments/ID, GET /api/v1/remote-build-provider-status; and
                GET /api/v1/projects/REF/ENV/workers/current (the deployed version, else 404)
  QStash        GET /v2/keys            a known token, else 401: the current and next signing keys
Its world comes from the JSON file in $STANDIN_SAAS_CONFIG (or is passed to `serve`):
  {"tinybird_tokens": [{"name", "token", "scopes": [{"type", "resource"?}]}],
   "trigger_keys": ["tr_prod_..."], "qstash": {"token", "current", "next"},
   "trigger_access_tokens": [{"token": "tr_pat_...", "email", "userId"}],
   "trigger_projects": [{"ref": "proj_...", "id", "name", "keys": {"prod": "tr_prod_..."}}],
   "trigger_deployments": [...], "trigger_remote_build": true}
and the server keeps what reached it in the same dict: "tinybird_datasources" and
"tinybird_pipes" (what the workspace holds) and "tinybird_requests" (["METHOD /path"], every
Tinybird request, so tests count the writes).
The Trigger.dev deploy endpoints write into the world: each deployment (with the request that
made it) in "trigger_deployments" and each request's method, path and token kind in
"trigger_requests", for the tests to read.
Python standard library only, so it runs in the stand-in rootfs and inside pytest.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _token(handler: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> str:
    auth = handler.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return auth[len("Bearer ") :]
    return query.get("token", [""])[0]  # Tinybird also takes ?token= (tinybird-cli sends it so)


# -- Tinybird's workspace: what `tb push` reads and writes ----------------------------------

_LOCK = threading.Lock()
_TABLES = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)", re.I)
_SCOPES = {"DATASOURCES:READ", "DATASOURCES:APPEND", "DATASOURCES:CREATE", "DATASOURCES:DROP",
           "PIPES:READ", "PIPES:CREATE", "PIPES:DROP", "TOKENS", "ADMIN"}
_READ = {"ADMIN", "DATASOURCES:READ", "DATASOURCES:CREATE", "PIPES:READ", "PIPES:CREATE"}


def _split_columns(schema: str) -> list[str]:
    """`a` String `json:$.a`, `b` Nullable(String) ...: one entry per column (commas in
    parentheses belong to a type)."""
    columns, depth, current = [], 0, ""
    for ch in schema:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            columns.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        columns.append(current.strip())
    return [c for c in columns if c and not c.startswith("#")]


def _token_lines(tokens: list[dict[str, Any]], scope: str, resource: str) -> str:
    """TOKEN "name" READ|APPEND: each token holding `scope` on this resource, as datafiles show them."""
    names = [
        t["name"]
        for t in tokens
        if any(s.get("type") == scope and s.get("resource") == resource for s in t.get("scopes", []))
    ]
    return "".join(f'TOKEN "{name}" {scope.split(":")[1]}\n' for name in names) + ("\n" if names else "")


def _datasource_file(ds: dict[str, Any], tokens: list[dict[str, Any]]) -> str:
    """The datafile Tinybird serves for a datasource (GET /v0/datasources/NAME.datasource)."""
    text = _token_lines(tokens, "DATASOURCES:APPEND", ds["name"])
    if ds.get("description"):
        text += "DESCRIPTION >\n    " + ds["description"].strip().replace("\n", "\n    ") + "\n\n"
    text += "SCHEMA >\n    " + ",\n    ".join(ds["columns"]) + "\n\n"
    text += f'ENGINE "{ds["engine"]}"\n'
    for key in ("engine_partition_key", "engine_sorting_key", "engine_ttl"):
        if ds.get(key):
            text += f'{key.upper()} "{ds[key]}"\n'
    return text


def _pipe_file(pipe: dict[str, Any], tokens: list[dict[str, Any]]) -> str:
    """The datafile Tinybird serves for a pipe (GET /v1/pipes/NAME.pipe)."""
    text = _token_lines(tokens, "PIPES:READ", pipe["name"])
    if pipe.get("description"):
        text += "DESCRIPTION >\n    " + pipe["description"].strip().replace("\n", "\n    ") + "\n\n"
    for node in pipe["nodes"]:
        text += f"NODE {node['name']}\n"
        if node.get("description"):
            text += "DESCRIPTION >\n    " + node["description"].strip().replace("\n", "\n    ") + "\n\n"
        text += "SQL >\n    " + node["sql"].strip().replace("\n", "\n    ") + "\n\n"
        if node["id"] == pipe.get("endpoint"):
            text += "TYPE endpoint\n\n"
    return text


class TinybirdWorkspace:
    """The workspace's datasources and pipes, kept in the world dict; each method answers
    (status, body) as Tinybird does on that path."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.world = world
        world.setdefault("tinybird_datasources", [])
        world.setdefault("tinybird_pipes", [])
        world.setdefault("tinybird_requests", [])

    def has(self, scope: str, name: str) -> bool:
        """A scope's resource (DATASOURCES:APPEND:page_views, PIPES:READ:a_pipe) exists."""
        return self.find("datasources" if scope.startswith("DATASOURCES") else "pipes", name) is not None

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((x for x in self.world[f"tinybird_{kind}"] if name in (x["name"], x.get("id"))), None)

    def _id(self, prefix: str) -> str:
        self.world["tinybird_ids"] = self.world.get("tinybird_ids", 0) + 1
        return f"{prefix}_{self.world['tinybird_ids']:08x}"

    def _now(self) -> str:
        # A counter, not the clock: a replaced resource always gets a later stamp.
        self.world["tinybird_clock"] = self.world.get("tinybird_clock", 0) + 1
        return f"2026-01-01 00:00:{self.world['tinybird_clock']:06d}"

    def create_datasource(self, form: dict[str, str]) -> tuple[int, Any]:
        name = form.get("name", "")
        if not name or not form.get("schema"):
            return 400, {"error": "name and schema are required to create a Data Source"}
        if self.find("datasources", name):
            return 400, {"error": f'Data Source "{name}" already exists, use mode=append or a new name'}
        ds = {
            "id": self._id("t"),
            "name": name,
            "type": "csv",
            "description": form.get("description", ""),
            "columns": _split_columns(form["schema"]),
            "engine": form.get("engine", "MergeTree"),
            "engine_partition_key": form.get("engine_partition_key", ""),
            "engine_sorting_key": form.get("engine_sorting_key", ""),
            "engine_ttl": form.get("engine_ttl", ""),
            "updated_at": self._now(),
        }
        self.world["tinybird_datasources"].append(ds)
        return 200, {"datasource": ds}

    def create_pipe(self, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("name", "")
        nodes = body.get("nodes") or []
        if not name or not nodes or not all(isinstance(n, dict) and n.get("sql") for n in nodes):
            return 400, {"error": "a pipe needs a name and nodes with SQL"}
        old = self.find("pipes", name)
        if old and query.get("force", [""])[0] != "true":
            return 409, {"error": f'Pipe "{name}" already exists'}
        # As Tinybird: each table a node reads is a datasource, an earlier node or another pipe.
        names = {ds["name"] for ds in self.world["tinybird_datasources"]}
        known = names | {p["name"] for p in self.world["tinybird_pipes"]}
        for node in nodes:
            for table in _TABLES.findall(node["sql"]):
                if table not in known:
                    return 400, {"error": f"Resource '{table}' not found (node '{node.get('name')}')"}
            known.add(node.get("name", ""))
        pipe = {
            "id": old["id"] if old else self._id("t"),
            "name": name,
            "description": body.get("description", ""),
            "type": "default",
            "endpoint": None,
            "nodes": [
                {
                    "id": self._id("t"),
                    "name": n.get("name", f"{name}_{i}"),
                    "sql": n["sql"],
                    "description": n.get("description") or "",
                    "node_type": "standard",
                    "dependencies": sorted(d for d in names if d in n["sql"]),
                    "materialized": None,
                }
                for i, n in enumerate(nodes)
            ],
            "updated_at": self._now(),
        }
        pipes = self.world["tinybird_pipes"]
        pipes[:] = [p for p in pipes if p["name"] != name] + [pipe]
        return 200, pipe

    def publish(self, pipe_name: str, node_id: str) -> tuple[int, Any]:
        pipe = self.find("pipes", pipe_name)
        node = next((n for n in pipe["nodes"] if node_id in (n["id"], n["name"])), None) if pipe else None
        if pipe is None or node is None:
            return 404, {"error": f"Pipe '{pipe_name}' or its node '{node_id}' not found"}
        pipe["endpoint"], pipe["type"], node["node_type"] = node["id"], "endpoint", "endpoint"
        return 200, pipe


def handler_for(world: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    workspace = TinybirdWorkspace(world)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            if os.environ.get("STANDIN_SAAS_LOG"):
                sys.stderr.write("%s\n" % (fmt % args))

        def _send(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, body: object) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            token = _token(self, query)
            if url.path.startswith(("/v0/", "/v1/")):
                return self.tinybird("GET", url.path, query, token)
            if url.path.startswith("/api/") and url.path != "/api/v1/runs":
                return self.trigger_deploy("GET", url.path, token)
            if url.path == "/api/v1/runs":
                if token not in _trigger_secret_keys(world):
                    return self._json(401, {"error": "Invalid API Key"})
                return self._json(200, {"data": [], "pagination": {}})
            if url.path == "/v2/keys":
                qs = world.get("qstash", {})
                if not token or token != qs.get("token"):
                    return self._json(401, {"error": "Unauthorized"})
                return self._json(200, {"current": qs.get("current"), "next": qs.get("next")})
            self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            self.write("POST")

        def do_PUT(self) -> None:
            self.write("PUT")

        def write(self, method: str) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path.startswith(("/v0/", "/v1/")):
                return self.tinybird(method, url.path, query, _token(self, query))
            if method == "POST" and url.path.startswith("/api/"):
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._json(400, {"error": "Invalid JSON body"})
                return self.trigger_deploy("POST", url.path, _token(self, {}), body)
            self._json(404, {"error": "not found"})

        def trigger_deploy(self, method: str, path: str, token: str, body: Any = None) -> None:
            with _LOCK:
                status, answer = _trigger(world, method, path, token, body, self._base())
            self._json(status, answer)

        def _base(self) -> str:
            return f"http://{self.headers.get('Host', '127.0.0.1')}"

        def tinybird(self, method: str, path: str, query: dict[str, list[str]], token: str) -> None:
            with _LOCK:
                world["tinybird_requests"].append(f"{method} {path}")
                tokens = world.get("tinybird_tokens", [])
                entry = next((t for t in tokens if t.get("token") == token), None)
                if entry is None:
                    return self._json(403, {"error": "invalid authentication token. Token doesn't exist"})
                scopes = {s.get("type") for s in entry.get("scopes", [])}
                path = path.rstrip("/")
                if method in ("POST", "PUT") and path.startswith("/v0/tokens"):
                    return self.tinybird_tokens(path, query, scopes)
                if method == "POST":
                    return self.tinybird_write(path, query, scopes)
                if path == "/v0/tokens":
                    if not scopes & {"ADMIN", "TOKENS"}:
                        return self._json(
                            403,
                            {
                                "error": "Forbidden. Provided token doesn't have permissions "
                                "to list tokens, it needs ADMIN or TOKENS"
                            },
                        )
                    return self._json(200, {"tokens": tokens})
                if path == "/v0/workspace":
                    if "ADMIN" not in scopes:
                        return self._json(
                            403, {"error": "Forbidden. Workspace information needs an ADMIN token"}
                        )
                    return self._json(
                        200,
                        {
                            "id": "w_standin",
                            "name": "supermark",
                            "is_branch": False,
                            "releases": [],
                            "can_manage_datasources": True,
                        },
                    )
                if not scopes & _READ:
                    return self._json(
                        403,
                        {
                            "error": "Forbidden. Provided token doesn't have permissions "
                            "to read datasources or pipes"
                        },
                    )
                if path == "/v0/datasources":
                    return self._json(200, {"datasources": world["tinybird_datasources"]})
                if path == "/v0/pipes":
                    return self._json(200, {"pipes": world["tinybird_pipes"]})
                for prefix, kind in (
                    ("/v0/datasources/", "datasources"),
                    ("/v0/pipes/", "pipes"),
                    ("/v1/pipes/", "pipes"),
                ):
                    if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                        name = path[len(prefix) :]
                        suffix = ".datasource" if kind == "datasources" else ".pipe"
                        found = workspace.find(kind, name.removesuffix(suffix))
                        if found is None:
                            return self._json(404, {"error": f'"{name}" does not exist'})
                        if name.endswith(suffix):
                            render = _datasource_file if kind == "datasources" else _pipe_file
                            return self._send(200, render(found, tokens).encode(), "text/plain")
                        return self._json(200, found)
                self._json(404, {"error": "not found"})

        def tinybird_tokens(self, path: str, query: dict[str, list[str]], scopes: set[str]) -> None:
            """POST /v0/tokens?name=&scope=TYPE:resource... creates a token, PUT /v0/tokens/NAME?scope=...
            sets a token's scopes (what `TOKEN "name" APPEND|READ` in a datafile makes tb push do)."""
            raw = self._body().decode()
            query = {**query, **parse_qs(raw)} if raw else query
            if not scopes & {"ADMIN", "TOKENS"}:
                return self._json(403, {"error": "Forbidden. Managing tokens needs ADMIN or TOKENS"})
            wanted = []
            for scope in query.get("scope", []):
                parts = scope.split(":")
                nested = parts[0] in ("DATASOURCES", "PIPES")
                kind = ":".join(parts[:2]) if nested else parts[0]
                resource = ":".join(parts[2:] if nested else parts[1:])
                if kind not in _SCOPES or (resource and not workspace.has(kind, resource)):
                    return self._json(400, {"error": f"Invalid scope '{scope}'"})
                wanted.append({"type": kind, **({"resource": resource} if resource else {})})
            tokens = world.setdefault("tinybird_tokens", [])
            if path == "/v0/tokens":
                name = query.get("name", [""])[0]
                if not name or any(t["name"] == name for t in tokens):
                    return self._json(400, {"error": f"A token named '{name}' exists already, or no name"})
                token = {"name": name, "token": f"p.standin-{len(tokens)}-{name}", "scopes": wanted}
                tokens.append(token)
                return self._json(200, token)
            token = next((t for t in tokens if t["name"] == path.removeprefix("/v0/tokens/")), None)
            if token is None:
                return self._json(404, {"error": "Token not found"})
            token["scopes"] = list({json.dumps(w, sort_keys=True): w for w in wanted}.values())
            return self._json(200, token)

        def tinybird_write(self, path: str, query: dict[str, list[str]], scopes: set[str]) -> None:
            raw = self._body()
            kind = "DATASOURCES" if path.startswith("/v0/datasources") else "PIPES"
            if not scopes & {"ADMIN", f"{kind}:CREATE"}:
                return self._json(
                    403,
                    {
                        "error": f"Forbidden. Provided token doesn't have permissions to create "
                        f"{kind.lower()}, it needs ADMIN or {kind}:CREATE"
                    },
                )
            if path == "/v0/datasources":
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                return self._json(
                    *workspace.create_datasource({**{k: v[0] for k, v in query.items()}, **form})
                )
            if path == "/v0/pipes":
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._json(400, {"error": "the pipe definition is not JSON"})
                return self._json(*workspace.create_pipe(query, body))
            parts = path.split("/")  # /v0/pipes/NAME/nodes/ID/endpoint
            if len(parts) == 7 and parts[2] == "pipes" and parts[4] == "nodes" and parts[6] == "endpoint":
                return self._json(*workspace.publish(parts[3], parts[5]))
            self._json(404, {"error": "not found"})

    return Handler


_LOCK = threading.Lock()


def _trigger_secret_keys(world: dict[str, Any]) -> list[str]:
    keys = list(world.get("trigger_keys", []))
    return keys + [k for p in world.get("trigger_projects", []) for k in p.get("keys", {}).values()]


def _trigger(
    world: dict[str, Any], method: str, path: str, token: str, body: Any, base: str
) -> tuple[int, Any]:
    """One Trigger.dev API request of the deploy: (status, JSON answer)."""
    users = {u["token"]: u for u in world.get("trigger_access_tokens", [])}
    projects = world.get("trigger_projects", [])
    envs = {key: (p, env) for p in projects for env, key in p.get("keys", {}).items()}
    kind = "pat" if token in users else "secret_key" if token in envs else "unknown"
    world.setdefault("trigger_requests", []).append({"method": method, "path": path, "token": kind})
    deployments: list[dict[str, Any]] = world.setdefault("trigger_deployments", [])

    # With a personal access token (the CLI's login): who am I, a project's environment.
    if path == "/api/v2/whoami" and method == "GET":
        if token not in users:
            return 401, {"error": "Invalid or Missing Access Token"}
        user = users[token]
        return 200, {"userId": user["userId"], "email": user["email"], "dashboardUrl": base}
    m = re.fullmatch(r"/api/v1/projects/([^/]+)/(prod|staging|dev|preview)(/workers/current)?", path)
    if m and method == "GET":
        if token not in users:
            return 401, {"error": "Invalid or Missing Access Token"}
        project = next((p for p in projects if p["ref"] == m.group(1)), None)
        if project is None or m.group(2) not in project.get("keys", {}):
            return 404, {"error": "Project not found"}
        if m.group(3):
            done = [
                d
                for d in deployments
                if d["projectRef"] == project["ref"] and d["env"] == m.group(2) and d["status"] == "DEPLOYED"
            ]
            if not done:
                return 404, {"error": "Worker not found"}
            current = done[-1]
            worker = {
                "id": f"worker_{current['id']}",
                "version": current["version"],
                "engine": "V2",
                "tasks": current.get("tasks", []),
            }
            return 200, {"worker": worker, "urls": {"runs": f"{base}/runs"}}
        return 200, {
            "apiKey": project["keys"][m.group(2)],
            "name": project["name"],
            "apiUrl": base,
            "projectId": project["id"],
        }

    # With the environment's secret key (the CLI's project client).
    if path == "/api/v1/remote-build-provider-status":
        return 200, {"status": "operational", "message": "operational"}
    if token not in envs:
        return 401, {"error": "Invalid or Missing API Key"}
    project, env = envs[token]
    m = re.fullmatch(r"/api/v1/projects/([^/]+)/envvars", path)
    if m and method == "GET":
        if m.group(1) != project["ref"]:
            return 404, {"error": "Project not found"}
        return 200, {"variables": project.get("envvars", {}).get(env, {})}
    m = re.fullmatch(r"/api/v1/projects/([^/]+)/envvars/([^/]+)/import", path)
    if m and method == "POST":  # a build extension's variables (ffmpeg's paths), synced before the build
        if m.group(1) != project["ref"] or m.group(2) != env:
            return 404, {"error": "Environment not found"}
        if not isinstance(body, dict) or not isinstance(body.get("variables"), dict):
            return 400, {"error": "Invalid request body"}
        project.setdefault("envvars", {}).setdefault(env, {}).update(body["variables"])
        return 200, {"success": True}
    if path == "/api/v1/deployments" and method == "POST":
        if not isinstance(body, dict) or not isinstance(body.get("contentHash"), str):
            return 400, {"error": "Invalid request body"}
        day = time.strftime("%Y%m%d", time.gmtime())
        count = sum(1 for d in deployments if d["projectRef"] == project["ref"] and d["env"] == env)
        number = len(deployments) + 1
        deployment = {
            "id": f"deployment_standin{number}",
            "shortCode": f"sc{number:06d}",
            "version": f"{day}.{count + 1}",
            "contentHash": body["contentHash"],
            "projectRef": project["ref"],
            "env": env,
            "status": "PENDING",
            "imagePlatform": "linux/amd64",
            "imageTag": f"registry.standin.invalid/trigger/{project['ref']}:{day}.{count + 1}.{env}",
            "request": body,
        }
        if world.get("trigger_remote_build", True):  # Trigger.dev cloud builds remotely
            deployment["externalBuildData"] = {
                "buildId": f"build_{number}",
                "buildToken": f"depot_token_{number}",
                "projectId": "depot_project_standin",
            }
        deployments.append(deployment)
        return 200, {
            k: deployment.get(k)
            for k in (
                "id",
                "contentHash",
                "shortCode",
                "version",
                "imageTag",
                "imagePlatform",
                "externalBuildData",
            )
        }
    m = re.fullmatch(r"/api/v1/deployments/([^/]+)(/fail)?", path)
    if m:
        deployment = next(
            (
                d
                for d in deployments
                if d["id"] == m.group(1) and d["projectRef"] == project["ref"] and d["env"] == env
            ),
            None,
        )
        if deployment is None:
            return 404, {"error": "Deployment not found"}
        if m.group(2) and method == "POST":
            deployment["status"] = "FAILED"
            deployment["errorData"] = (body or {}).get("error")
            return 200, {"id": deployment["id"]}
        if not m.group(2) and method == "GET":
            return 200, {
                k: deployment.get(k)
                for k in (
                    "id",
                    "status",
                    "contentHash",
                    "shortCode",
                    "version",
                    "imagePlatform",
                    "externalBuildData",
                    "errorData",
                )
            } | {"imageReference": deployment["imageTag"]}
    return 404, {"error": "not found"}


def serve(world: dict[str, Any], host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """Start serving `world` in a thread; the server's address is server_address."""
    server = ThreadingHTTPServer((host, port), handler_for(world))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    with open(os.environ["STANDIN_SAAS_CONFIG"]) as f:
        world = json.load(f)
    port = int(os.environ.get("PORT", "8080"))
    print(f"stand-in Tinybird/Trigger.dev/QStash listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), handler_for(world)).serve_forever()


if __name__ == "__main__":
    main()
