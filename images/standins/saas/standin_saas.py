"""Stand-in for the app's outside services (tests and the local run only; see ../README.md).

One small HTTP server for the few paths supermark-ops asks, each checking what the real API
checks there:
  Tinybird      GET /v0/tokens          a token with ADMIN or TOKENS scope: every workspace token
                                        with its scopes and value; any other token 403
                GET /v0/datasources     a token with ADMIN or DATASOURCES:READ/CREATE; else 403
  Trigger.dev   GET /api/v1/runs        a known secret key (Bearer tr_...), else 401
  QStash        GET /v2/keys            a known token, else 401: the current and next signing keys
Its world comes from the JSON file in $STANDIN_SAAS_CONFIG (or is passed to `serve`):
  {"tinybird_tokens": [{"name", "token", "scopes": [{"type", "resource"?}]}],
   "trigger_keys": ["tr_prod_..."], "qstash": {"token", "current", "next"}}
Python standard library only, so it runs in the stand-in rootfs and inside pytest.
"""

from __future__ import annotations

import json
import os
import sys
import threading
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
            if url.path == "/api/v1/runs":
                if token not in world.get("trigger_keys", []):
                    return self._json(401, {"error": "Invalid API Key"})
                return self._json(200, {"data": [], "pagination": {}})
            if url.path == "/v2/keys":
                qs = world.get("qstash", {})
                if not token or token != qs.get("token"):
                    return self._json(401, {"error": "Unauthorized"})
                return self._json(200, {"current": qs.get("current"), "next": qs.get("next")})
            self._json(404, {"error": "not found"})

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
