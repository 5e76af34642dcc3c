"""Real servers for the tests, all on loopback, each started and stopped by a fixture."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def _standin(folder: str, module: str) -> Any:
    """A stand-in's module from images/standins/ (one implementation: the image runs the same file)."""
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "images" / "standins" / folder / f"{module}.py"
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def saas_server(world: dict[str, Any]) -> ThreadingHTTPServer:
    """The Tinybird / Trigger.dev / QStash stand-in (images/standins/saas) on a loopback port."""
    server: ThreadingHTTPServer = _standin("saas", "standin_saas").serve(world)
    return server


def gotenberg_module() -> Any:
    """The Gotenberg stand-in (images/standins/gotenberg) as a module."""
    return _standin("gotenberg", "standin_gotenberg")


def tcp_listener(on_connect: Callable[[socket.socket], None]) -> tuple[int, threading.Event]:
    """Accept connections on a loopback port until the returned event is set."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                on_connect(conn)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1], stop


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def services_report(**on: bool) -> dict[str, Any]:
    """/api/health/services' "services" in the real route's shape (app/api/health/services/route.ts
    at the pinned ref), database and storage up, each optional entry off unless named in `on`
    (resend, tinybird, trigger, qstash, bullmq, redis, passkeys, google, linkedin)."""

    def entry(name: str, configured: bool = True) -> dict[str, Any]:
        flag = on.get(name, False)
        return {"available": flag, **({"configured": flag} if configured else {}), "critical": False}

    return {
        "storage": {"available": True, "transport": "s3", "endpoint": "https://files.x", "critical": True},
        "database": {"available": True, "critical": True},
        "resend": entry("resend"),
        "tinybird": entry("tinybird"),
        "trigger": entry("trigger"),
        "webhooks": {
            "qstash": entry("qstash"),
            "bullmq": entry("bullmq"),
            "notes": "Either QStash OR BullMQ",
        },
        "redis": entry("redis"),
        "passkeys": entry("passkeys"),
        "customDomains": entry("customDomains"),
        "oauth": {
            "google": entry("google", configured=False),
            "linkedin": entry("linkedin", configured=False),
        },
    }


@dataclass
class AppServer:
    """An HTTP server the test controls, answering the app's two health routes."""

    health: str = "ok"  # ok | error | garbage | slow
    services_status: str = "healthy"
    services: dict[str, Any] = field(default_factory=lambda: services_report())
    slow_seconds: float = 3.0
    hits: int = 0
    url: str = ""  # set by start()

    def start(self, tls: ssl.SSLContext | None = None) -> str:
        """Serve on loopback; with a TLS context, over HTTPS as https://localhost:PORT."""
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                app.hits += 1
                if self.path == "/api/health":
                    if app.health == "slow":
                        time.sleep(app.slow_seconds)
                    status, body = {
                        "ok": (200, json.dumps({"status": "ok", "timestamp": "now"})),
                        "error": (
                            500,
                            json.dumps({"status": "error", "message": "Can't reach database server"}),
                        ),
                        "garbage": (200, "<html>502 Bad Gateway</html>"),
                        "slow": (200, json.dumps({"status": "ok"})),
                    }[app.health]
                elif self.path == "/api/health/services":
                    status = 200  # the real route always answers 200
                    body = json.dumps(
                        {"status": app.services_status, "timestamp": "now", "services": app.services}
                    )
                else:
                    status, body = 404, "{}"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (a timeout test)
                    self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        port = self._server.server_address[1]
        self.url = f"https://localhost:{port}" if tls is not None else f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class WebhookReceiver:
    """Collects the JSON bodies POSTed to it; can be told to fail."""

    received: list[dict[str, Any]] = field(default_factory=list)
    pings: list[str] = field(default_factory=list)  # paths of requests to /ping... (ping URLs)
    ping_bodies: list[bytes] = field(default_factory=list)
    fail: bool = False
    url: str = ""  # set by start()

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.pings.append(self.path)
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/ping"):
                    receiver.pings.append(self.path)
                    receiver.ping_bodies.append(body)
                    self.send_response(200)
                elif receiver.fail:
                    self.send_response(500)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Flaky:
    """An HTTP server that answers the given statuses in turn (then 200), with optional headers
    on the failures; counts requests (what a retry loop is tested against)."""

    def __init__(self, statuses: list[int], headers: dict[str, str] | None = None) -> None:
        self.statuses, self.headers, self.hits = list(statuses), headers or {}, 0
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                flaky.hits += 1
                status = flaky.statuses.pop(0) if flaky.statuses else 200
                self.send_response(status)
                for k, v in (flaky.headers if status != 200 else {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PostgresServer:
    """A real PostgreSQL server in a temporary directory, run as the postgres user."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("no PostgreSQL server installed: scripts/setup.sh installs it")
        self.bindir = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="smops-pg-"))
        self.socket_dir = self.dir / "sock"
        self.port = free_port()
        self.data = self.dir / "data"
        self.options = ""  # extra server options, e.g. TCP and SSL for a test that needs them

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=True
        )

    def start(self) -> None:
        """Create the cluster and run it."""
        self.socket_dir.mkdir(parents=True)
        shutil.chown(self.dir, "postgres")
        shutil.chown(self.socket_dir, "postgres")
        os.chmod(self.dir, 0o755)
        self._as_postgres(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self.run()

    def run(self) -> None:
        """Start the (existing) cluster, e.g. again after stop()."""
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.dir / "log"),
            "-o",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' {self.options}",
            "start",
        )

    def stop(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "fast",
                "stop",
            ],
            capture_output=True,
        )

    def sql(self, db: str, script: str, user: str = "postgres") -> str:
        """Run SQL (one statement or a script, read from stdin) over the local socket; its output."""
        return subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                user,
                "-d",
                db,
            ],
            input=script,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()

    def pg_isready(self) -> list[str]:
        return [
            str(self.bindir / "pg_isready"),
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
        ]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require_ssl(server: PostgresServer) -> None:
    """Restart the server listening on 127.0.0.1 with SSL on and plain TCP refused (a trustme certificate)."""
    import trustme  # a test dependency only

    cert = trustme.CA().issue_cert("localhost", "127.0.0.1")
    key, crt = server.dir / "server.key", server.dir / "server.crt"
    cert.private_key_pem.write_to_path(str(key))
    cert.cert_chain_pems[0].write_to_path(str(crt))
    key.chmod(0o600)
    shutil.chown(key, "postgres")
    shutil.chown(crt, "postgres")
    (server.data / "pg_hba.conf").write_text(
        "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n"
        "hostnossl all all 0.0.0.0/0 reject\n"
    )
    server.stop()
    server.options = f"-c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={crt} -c ssl_key_file={key}"
    server.run()


@dataclass
class PostgresContainer:
    """PostgreSQL in a container of the stack's stand-in image (16), published on loopback only."""

    image: str
    password: str
    server_args: tuple[str, ...] = ()
    user: str = "supermark"
    db: str = "supermark"
    port: int = 0
    name: str = ""
    # As the stack's compose file gives it: Docker's 64 MB default is too small for parallel index builds.
    shm_size: str = "256m"

    def start(self) -> str:
        """Run it, wait until it accepts connections; returns its URL."""
        self.port = free_port()
        self.name = f"smops-pg-{self.port}"
        subprocess.run(
            [
                "docker",
                "run",
                "-d",
                "--name",
                self.name,
                "-p",
                f"127.0.0.1:{self.port}:5432",
                "--shm-size",
                self.shm_size,
                "-e",
                f"POSTGRES_USER={self.user}",
                "-e",
                "POSTGRES_PASSWORD",
                "-e",
                f"POSTGRES_DB={self.db}",
                self.image,
                *self.server_args,
            ],
            env={**os.environ, "POSTGRES_PASSWORD": self.password},
            check=True,
            capture_output=True,
        )
        ready = ["docker", "exec", self.name, "pg_isready", "-h", "127.0.0.1", "-U", self.user]
        for _ in range(120):
            if subprocess.run(ready, capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.db}"

    def sql(self, script: str, db: str = "") -> str:
        """Run SQL (one statement or a script, from stdin) inside the container as its user; its output.
        Statements run one by one, so VACUUM and CREATE DATABASE work in a script."""
        result = subprocess.run(
            [
                "docker",
                "exec",
                "-i",
                self.name,
                "psql",
                "-XqAt",
                "-vON_ERROR_STOP=1",
                f"-U{self.user}",
                db or self.db,
            ],
            input=script,
            text=True,
            capture_output=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql in {self.name} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", "-v", self.name], capture_output=True)
