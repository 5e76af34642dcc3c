"""Stand-in for the app's outside services (tests and the local run only; see ../README.md).

One small HTTP server for the few paths supermark-ops asks, each checking what the real API
checks there:
  Tinybird      GET /v0/tokens          a token with ADMIN or TOKENS scope: every workspace token
                                        with its scopes and value; any other token 403
                GET /v0/datasources     a token with ADMIN or DATASOURCES:READ/CREATE; else 403
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
    return query.get("token", [""])[0]  # Tinybird also takes ?token=


def handler_for(world: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            if os.environ.get("STANDIN_SAAS_LOG"):
                sys.stderr.write("%s\n" % (fmt % args))

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            token = _token(self, query)
            if url.path.startswith("/v0/"):
                return self.tinybird(url.path, token)
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
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._json(400, {"error": "Invalid JSON body"})
            url = urlsplit(self.path)
            return self.trigger_deploy("POST", url.path, _token(self, {}), body)

        def trigger_deploy(self, method: str, path: str, token: str, body: Any = None) -> None:
            with _LOCK:
                status, answer = _trigger(world, method, path, token, body, self._base())
            self._json(status, answer)

        def _base(self) -> str:
            return f"http://{self.headers.get('Host', '127.0.0.1')}"

        def tinybird(self, path: str, token: str) -> None:
            tokens = world.get("tinybird_tokens", [])
            entry = next((t for t in tokens if t.get("token") == token), None)
            if entry is None:
                return self._json(403, {"error": "invalid authentication token. Token doesn't exist"})
            scopes = {s.get("type") for s in entry.get("scopes", [])}
            if path.rstrip("/") == "/v0/tokens":
                if not scopes & {"ADMIN", "TOKENS"}:
                    return self._json(403, {"error": "Forbidden. Provided token doesn't have permissions "
                                                     "to list tokens, it needs ADMIN or TOKENS"})
                return self._json(200, {"tokens": tokens})
            if path.rstrip("/") == "/v0/datasources":
                if not scopes & {"ADMIN", "DATASOURCES:READ", "DATASOURCES:CREATE"}:
                    return self._json(403, {"error": "Forbidden. Provided token doesn't have permissions "
                                                     "to read datasources"})
                return self._json(200, {"datasources": world.get("tinybird_datasources", [])})
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
