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
        # A run killed before stop() leaves its container (exited) under this name; the port is
        # free, so no live server has it.
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, check=False)
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


@dataclass
class FaultyProxy:
    """An HTTP proxy in front of an S3 server that answers 500 to a GET of the keys it is told
    to fail (one failed read, on purpose), and passes everything else through as it came."""

    upstream: str
    fail_get: set[str] = field(default_factory=set)  # key suffixes whose GET fails
    failed: list[str] = field(default_factory=list)
    url: str = ""  # set by start()

    def start(self) -> str:
        import http.client
        from urllib.parse import urlsplit

        proxy, up = self, urlsplit(self.upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?", 1)[0]
                if self.command == "GET" and any(path.endswith(s) for s in proxy.fail_get):
                    proxy.failed.append(path)
                    data = b"<Error><Code>InternalError</Code></Error>"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                conn = http.client.HTTPConnection(up.hostname or "", up.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in (
                        "transfer-encoding",
                        "connection",
                        "content-length",
                        "server",
                        "date",
                    ):
                        self.send_header(k, v)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = forward

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


STANDIN_S3 = Path(__file__).resolve().parent.parent / "images/standins/s3/standin_s3.py"


class S3StandIn:
    """The stack's S3 stand-in (images/standins/s3/standin_s3.py: it verifies SigV4 and
    policies as MinIO does) on loopback, in this process, with its own data folder: each
    instance loads the script as a module of its own. It counts the stored PUTs and the GETs
    per `bucket/key`, and can be told to store a key's bytes corrupted (one bit flipped after
    the write, as a faulty disk or gateway would)."""

    ROOT_USER, ROOT_PASSWORD = "standin-root", "standin-root-password"

    def __init__(self, data: Path) -> None:
        import importlib.util
        from collections import Counter

        spec = importlib.util.spec_from_file_location(f"standin_s3_{id(self)}", STANDIN_S3)
        assert spec is not None and spec.loader is not None
        self.module: Any = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.module)
        self.module.DATA, self.module.IAM_FILE = data, data / ".standin-iam.json"
        self.module.META = data / ".standin-meta"
        data.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.puts: Counter[str] = Counter()
        self.gets: Counter[str] = Counter()
        self.corrupt: set[str] = set()
        self.url = ""

    def start(self) -> str:
        standin, module = self, self.module
        # The script reads its root keys from the environment on each request (as MinIO's are set):
        # the same for every instance, so they stay set in this test process.
        os.environ["MINIO_ROOT_USER"], os.environ["MINIO_ROOT_PASSWORD"] = self.ROOT_USER, self.ROOT_PASSWORD

        class Handler(module.Handler):  # type: ignore[misc, name-defined]
            def log_message(self, *args: Any) -> None:
                pass

            def _s3(self, access: Any, bucket: str, key: str, query: Any, body: bytes) -> None:
                super()._s3(access, bucket, key, query, body)  # raises (and answers) on a refusal
                name = f"{bucket}/{key}"
                if key and self.command == "PUT":
                    standin.puts[name] += 1
                    if name in standin.corrupt:
                        path = module.DATA / bucket / key
                        data = bytearray(path.read_bytes())
                        data[len(data) // 2] ^= 0x01
                        path.write_bytes(bytes(data))
                elif key and self.command == "GET":
                    standin.gets[name] += 1

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def _root(self, method: str, path: str, body: bytes = b"") -> None:
        import urllib.request

        url = self.url + path
        headers = self.module.sign_request(method, url, self.ROOT_USER, self.ROOT_PASSWORD, body)
        with urllib.request.urlopen(urllib.request.Request(url, body or None, headers, method=method)) as r:
            r.read()

    def bucket(self, name: str, user: str, secret: str, write: bool = True) -> None:
        """A private bucket and a user who may use it (read-only unless `write`), as the minio
        role sets up the app's."""
        self._root("PUT", f"/{name}")
        actions = ["s3:GetObject"] + (["s3:PutObject", "s3:DeleteObject"] if write else [])
        policy = {
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{name}"]},
                {"Effect": "Allow", "Action": actions, "Resource": [f"arn:aws:s3:::{name}/*"]},
            ]
        }
        for req in (
            {"op": "add-user", "access": user, "secret": secret},
            {"op": "add-policy", "name": f"{user}-policy", "policy": policy},
            {"op": "attach", "access": user, "name": f"{user}-policy"},
        ):
            status, out = self.module.admin_call(self.url, self.ROOT_USER, self.ROOT_PASSWORD, req)
            assert status == 200, out

    def put(self, bucket: str, key: str, data: bytes) -> None:
        """An object, written as the root user (what the old deployment uploaded)."""
        self._root("PUT", f"/{bucket}/{key}", data)

    def stored(self, bucket: str) -> dict[str, bytes]:
        """What the server holds on disk: every object's bytes."""
        root = self.data / bucket
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ArgvWatch:
    """Samples the command line of every process on the machine (/proc/*/cmdline) all through a
    `with` block, as often as it can: what each program was started with, for a check that no
    secret is among them. `programs` names the ones that were children of this process."""

    def __enter__(self) -> ArgvWatch:
        self.seen: set[tuple[str, ...]] = set()
        self.programs: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            parents: dict[int, int] = {}
            argvs: dict[int, tuple[str, ...]] = {}
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        raw = f.read()
                    with open(f"/proc/{entry.name}/stat") as f:
                        parents[int(entry.name)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                argvs[int(entry.name)] = tuple(raw.decode(errors="replace").split("\0")[:-1])
            self.seen.update(argvs.values())
            for pid, argv in argvs.items():
                ancestor, hops = parents.get(pid), 0
                while ancestor not in (None, 0, 1, me) and hops < 20:
                    ancestor, hops = parents.get(ancestor), hops + 1
                if ancestor == me and argv:
                    self.programs.add(Path(argv[0]).name)
