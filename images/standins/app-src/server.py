"""Supermark stand-in (tests and the local run only; see README.md one level up).

Like the real image's entrypoint: wait, apply prisma/migrations in order
(recording them in _prisma_migrations the way Prisma does), and start the
app even when a migration failed. Then serve on :3000:
  /api/health            SELECT 1 against POSTGRES_PRISMA_URL: 200 ok / 500 error
  /api/health/services   always 200, the real shape, from the env vars
  /api/standin/presign   a presigned S3 URL for the files name (Bearer INTERNAL_API_KEY)
  /api/standin/build     what the build baked in (.next/build.json: NEXT_PUBLIC_*, e-mail senders)
  POST /api/file/s3/get-presigned-get-url   the real app's route: {"key": "<teamId>/..."} with
                         Bearer INTERNAL_API_KEY -> {"url": a GET URL valid for an hour}
A file named BROKEN in the source (copied into .next/ by the build) makes
/api/health fail: a bad release.
"""

import hashlib
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import boto3
import psycopg2
from botocore.config import Config

APP = Path(__file__).parent
MIGRATIONS = APP / "prisma" / "migrations"
BUILD = APP / ".next"


def dsn() -> str:
    """POSTGRES_PRISMA_URL without Prisma's own parameters, for psycopg2."""
    u = urlsplit(os.environ["POSTGRES_PRISMA_URL"])
    return urlunsplit((u.scheme, u.netloc, u.path, "", ""))


def migrate() -> None:
    conn = psycopg2.connect(dsn(), connect_timeout=5)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("""CREATE TABLE IF NOT EXISTS _prisma_migrations (
        id VARCHAR(36) PRIMARY KEY, checksum VARCHAR(64) NOT NULL, finished_at TIMESTAMPTZ,
        migration_name VARCHAR(255) NOT NULL, logs TEXT, rolled_back_at TIMESTAMPTZ,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_steps_count INTEGER NOT NULL DEFAULT 0)""")
    cur.execute("SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL")
    done = {r[0] for r in cur.fetchall()}
    for d in sorted(p for p in MIGRATIONS.iterdir() if p.is_dir()):
        if d.name in done:
            continue
        sql = (d / "migration.sql").read_text()
        checksum = hashlib.sha256(sql.encode()).hexdigest()
        try:
            with conn.cursor() as c:
                c.execute("BEGIN")
                c.execute(sql)
                c.execute("INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count)"
                          " VALUES (%s, %s, now(), %s, 1)", (str(uuid.uuid4()), checksum, d.name))
                c.execute("COMMIT")
            print(f"Applied migration {d.name}", flush=True)
        except psycopg2.Error as exc:
            cur.execute("ROLLBACK")
            cur.execute("INSERT INTO _prisma_migrations (id, checksum, migration_name, logs) VALUES (%s, %s, %s, %s)",
                        (str(uuid.uuid4()), checksum, d.name, str(exc)))
            print(f"Migration {d.name} failed: {exc}", flush=True)
            break
    conn.close()


def services() -> dict:
    env = os.environ.get

    def svc(configured: bool, critical: bool = False) -> dict:
        return {"available": configured, "configured": configured, "critical": critical}

    storage = bool(env("NEXT_PRIVATE_UPLOAD_BUCKET") and env("NEXT_PRIVATE_UPLOAD_ACCESS_KEY_ID"))
    out = {
        "storage": svc(storage, True),
        "database": svc(bool(env("POSTGRES_PRISMA_URL")), True),
        "resend": svc(bool(env("RESEND_API_KEY"))),
        "tinybird": svc(bool(env("TINYBIRD_TOKEN"))),
        "trigger": svc(bool(env("TRIGGER_SECRET_KEY"))),
        "webhooks": {"qstash": svc(bool(env("QSTASH_TOKEN"))), "bullmq": svc(bool(env("REDIS_URL")))},
        "redis": svc(bool(env("UPSTASH_REDIS_REST_URL"))),
        "passkeys": svc(bool(env("HANKO_API_KEY"))),
        "customDomains": svc(bool(env("PROJECT_ID_VERCEL"))),
        "oauth": {"google": svc(bool(env("GOOGLE_CLIENT_ID"))), "linkedin": svc(bool(env("LINKEDIN_CLIENT_ID")))},
    }
    critical_ok = all(v["available"] for v in out.values() if "critical" in v and v["critical"])
    return {"status": "healthy" if critical_ok else "degraded", "timestamp": datetime.now(UTC).isoformat(),
            "services": out}


def s3_client():  # noqa: ANN201
    return boto3.client(
        "s3",
        endpoint_url=os.environ["NEXT_PRIVATE_UPLOAD_ENDPOINT"],
        region_name=os.environ.get("NEXT_PRIVATE_UPLOAD_REGION", "us-east-1"),
        aws_access_key_id=os.environ["NEXT_PRIVATE_UPLOAD_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["NEXT_PRIVATE_UPLOAD_SECRET_ACCESS_KEY"],
        config=Config(signature_version="s3v4", s3={
            "addressing_style": "path" if os.environ.get("NEXT_PRIVATE_UPLOAD_FORCE_PATH_STYLE") == "true" else "auto"}),
    )


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt: str, *args: object) -> None:
        sys.stderr.write("%s\n" % (fmt % args))

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/api/health":
            if (BUILD / "BROKEN").exists():
                return self._json(500, {"status": "error", "message": "stand-in: this release is broken on purpose"})
            try:
                conn = psycopg2.connect(dsn(), connect_timeout=3)
                conn.cursor().execute("SELECT 1")
                conn.close()
            except psycopg2.Error as exc:
                return self._json(500, {"status": "error", "message": f"Database connection failed: {exc}"})
            return self._json(200, {"status": "ok", "message": "All systems operational",
                                    "timestamp": datetime.now(UTC).isoformat()})
        if url.path == "/api/health/services":
            return self._json(200, services())
        if url.path == "/api/standin/build":
            return self._json(200, json.loads((BUILD / "build.json").read_text()))
        if url.path == "/api/standin/presign":
            key = os.environ.get("INTERNAL_API_KEY")
            if not key:
                return self._json(500, {"error": "INTERNAL_API_KEY is not set"})
            if self.headers.get("Authorization") != f"Bearer {key}":
                return self._json(401, {"error": "unauthorized"})
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            op = {"put": "put_object", "get": "get_object"}[q.get("method", "get")]
            presigned = s3_client().generate_presigned_url(
                op, Params={"Bucket": os.environ["NEXT_PRIVATE_UPLOAD_BUCKET"], "Key": q["key"]},
                ExpiresIn=int(q.get("expires", "300")))
            return self._json(200, {"url": presigned})
        self._json(404, {"error": "not found"})


    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/api/file/s3/get-presigned-get-url":
            return self._json(404, {"error": "not found"})
        # As the real route (pages/api/file/s3/get-presigned-get-url.ts): the internal key, a key
        # whose first segment is the team, and a URL signed for an hour.
        token = os.environ.get("INTERNAL_API_KEY")
        auth = self.headers.get("Authorization", "")
        if not token or not auth.startswith("Bearer ") or auth.split(" ", 1)[1] != token:
            return self._json(401, {"message": "Unauthorized"})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        key = body.get("key", "")
        if not key.split("/")[0]:
            return self._json(400, {"error": "Invalid key format"})
        url = s3_client().generate_presigned_url(
            "get_object", Params={"Bucket": os.environ["NEXT_PRIVATE_UPLOAD_BUCKET"], "Key": key}, ExpiresIn=3600)
        return self._json(200, {"url": url})


def main() -> None:
    time.sleep(float(os.environ.get("STANDIN_MIGRATE_DELAY", "1")))
    try:
        migrate()
    except psycopg2.Error as exc:
        # The real entrypoint also starts the app when migrations fail.
        print(f"Migrations failed: {exc}", flush=True)
    port = int(os.environ.get("PORT", "3000"))
    print(f"stand-in Supermark listening on :{port}", flush=True)
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
