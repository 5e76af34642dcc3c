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
    """The shape and rules of app/api/health/services/route.ts at the pinned ref: every entry
    is read from env vars only (nothing is contacted), so available follows configured."""
    env = os.environ.get

    def on(*names: str) -> bool:
        return all(env(n) for n in names)

    s3 = env("NEXT_PUBLIC_UPLOAD_TRANSPORT") == "s3"
    qstash = on("QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY")
    redis = on("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN")
    tinybird = bool(env("TINYBIRD_TOKEN")) and env("TINYBIRD_TOKEN") != "placeholder-token-for-local-dev"
    out = {
        "storage": {
            "available": on("NEXT_PRIVATE_UPLOAD_BUCKET", "NEXT_PRIVATE_UPLOAD_ACCESS_KEY_ID",
                            "NEXT_PRIVATE_UPLOAD_SECRET_ACCESS_KEY") if s3 else on("BLOB_READ_WRITE_TOKEN"),
            "transport": env("NEXT_PUBLIC_UPLOAD_TRANSPORT") or "not configured",
            "endpoint": (env("NEXT_PRIVATE_UPLOAD_ENDPOINT") or "default") if s3 else "vercel blob",
            "distribution": env("NEXT_PRIVATE_UPLOAD_DISTRIBUTION_HOST") or "not set",
            "critical": True,
        },
        "database": {"available": on("POSTGRES_PRISMA_URL"), "critical": True},
        "resend": {"available": on("RESEND_API_KEY"), "configured": on("RESEND_API_KEY"), "critical": False,
                   "notes": "Required for email notifications and auth magic links"},
        "tinybird": {"available": tinybird, "configured": on("TINYBIRD_TOKEN"), "critical": False,
                     "notes": "Optional - analytics will be disabled if not configured"},
        "trigger": {"available": on("TRIGGER_SECRET_KEY"), "configured": on("TRIGGER_SECRET_KEY"), "critical": False,
                    "notes": "Required for document conversion (Office, CAD), video optimization, and exports"},
        "webhooks": {
            "qstash": {"available": qstash, "configured": qstash, "critical": False},
            "bullmq": {"available": redis, "configured": redis, "critical": False,
                       "notes": "Fallback when QStash not available"},
            "notes": "Either QStash OR BullMQ (Redis) required for webhook delivery",
        },
        "redis": {"available": redis, "configured": redis, "critical": False,
                  "notes": "Optional - rate limiting uses mock implementation if not configured"},
        "passkeys": {"available": on("HANKO_API_KEY", "NEXT_PUBLIC_HANKO_TENANT_ID"),
                     "configured": on("HANKO_API_KEY", "NEXT_PUBLIC_HANKO_TENANT_ID"), "critical": False,
                     "notes": "Optional - passkey auth disabled if not configured"},
        "customDomains": {"available": on("PROJECT_ID_VERCEL", "TEAM_ID_VERCEL", "AUTH_BEARER_TOKEN"),
                          "configured": on("PROJECT_ID_VERCEL", "TEAM_ID_VERCEL", "AUTH_BEARER_TOKEN"),
                          "critical": False,
                          "notes": "Optional - custom domain features disabled if not configured"},
        "oauth": {
            "google": {"available": on("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"), "critical": False},
            "linkedin": {"available": on("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"), "critical": False},
        },
    }
    critical_ok = all(v["available"] for v in out.values() if v.get("critical") is True and "available" in v)
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
