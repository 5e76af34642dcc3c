"""The preflight's schema rehearsal against real servers.

The source (this machine's PostgreSQL 15, SSL, role "default" as on Vercel) uses an extension
that only it has, as Neon has its own; the target (PostgreSQL 16, the stack's stand-in image)
lacks it. The migration must refuse, naming the statement and the cause, before the target
database is touched, even with --replace: its fingerprint is the same before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import PostgresContainer, PostgresServer, require_ssl
from supermark_ops.errors import OpsError
from supermark_ops.migrate.rehearsal import SCRATCH_PREFIX, refusal
from supermark_ops.migrate.run import migrate
from supermark_ops.pg import parse

TARGET_IMAGE = "supermark-ops/standin-postgres:1"
EXTENSION = "smops_source_only"


@pytest.fixture(scope="module")
def source() -> Iterator[tuple[PostgresServer, str]]:
    """PostgreSQL 15 with an extension of its own, used by the app's schema; yields its URL."""
    server = PostgresServer()
    folder = Path("/usr/share/postgresql") / server.bindir.parent.name / "extension"
    control, script = folder / f"{EXTENSION}.control", folder / f"{EXTENSION}--1.0.sql"
    control.write_text(
        "comment = 'only the source server has it'\ndefault_version = '1.0'\nrelocatable = true\n"
    )
    script.write_text(
        f"CREATE FUNCTION {EXTENSION}_version() RETURNS text LANGUAGE sql AS $$ SELECT '1.0' $$;\n"
    )
    try:
        server.start()
        require_ssl(server)
        server.sql("postgres", "CREATE ROLE \"default\" LOGIN SUPERUSER PASSWORD 'source-pw'")
        server.sql("postgres", 'CREATE DATABASE verceldb OWNER "default"')
        server.sql(
            "verceldb",
            f'CREATE EXTENSION {EXTENSION}; CREATE TABLE "Document" (id text PRIMARY KEY, name text, '
            f'v text DEFAULT {EXTENSION}_version()); INSERT INTO "Document" (id, name) '
            "SELECT 'doc' || i, 'Document ' || i FROM generate_series(1, 50) i",
            user="default",
        )
        yield server, f"postgres://default:source-pw@localhost:{server.port}/verceldb?sslmode=require"
    finally:
        server.cleanup()
        control.unlink(missing_ok=True)
        script.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def target() -> Iterator[PostgresContainer]:
    server = PostgresContainer(TARGET_IMAGE, "target-password-123")
    server.start()
    yield server
    server.stop()


def fingerprint(target: PostgresContainer, db: str) -> str:
    """What a touched target would change: its tables, rows, comment, and the server's databases."""
    return target.sql(
        "SELECT (SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
        "WHERE schemaname = 'public'), "
        "(SELECT count(*) || ':' || md5(string_agg(p::text, ',' ORDER BY p.x)) FROM precious p), "
        "shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()), 'pg_database'), "
        "(SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database)",
        db,
    )


@pytest.mark.docker
@pytest.mark.root
def test_a_schema_the_target_cannot_take_is_refused_before_the_target_is_touched(
    source: tuple[PostgresServer, str], target: PostgresContainer, tmp_path: Path
) -> None:
    server, url = source
    db = f"t{uuid.uuid4().hex[:12]}"
    target.sql(f"CREATE DATABASE {db} OWNER supermark", "postgres")
    target.sql(
        "CREATE TABLE precious (x int, note text); INSERT INTO precious SELECT i, 'keep ' || i "
        f"FROM generate_series(1, 3) i; COMMENT ON DATABASE {db} IS 'the operator''s own'",
        db,
    )
    before = fingerprint(target, db)
    src = parse(url, what="source", require_ssl=True)
    dst = parse(f"postgresql://supermark:target-password-123@127.0.0.1:{target.port}/{db}", what="target")
    for dry_run in (True, False):  # the playbook's check-mode preflight, then the real run
        with pytest.raises(OpsError) as refused:
            migrate(src, dst, tmp_path, replace=True, client_image=TARGET_IMAGE, dry_run=dry_run)
        message = str(refused.value)
        assert f"statement: CREATE EXTENSION IF NOT EXISTS {EXTENSION} WITH SCHEMA public;" in message
        assert f"likely cause: the extension {EXTENSION} is not installed on the target server" in message
        assert "PostgreSQL 16." in message and "from PostgreSQL 15." in message and "pg_dump 16." in message
        assert fingerprint(target, db) == before
    assert not list(tmp_path.glob("target-before-migration-*")), "a safety dump means the target was next"
    assert SCRATCH_PREFIX not in target.sql("SELECT string_agg(datname, ',') FROM pg_database", "postgres")
    # Once the source no longer needs it, the same run passes its rehearsal and migrates.
    server.sql("verceldb", f"DROP EXTENSION {EXTENSION} CASCADE", user="default")
    summary = migrate(src, dst, tmp_path, replace=True, client_image=TARGET_IMAGE)
    assert summary.ok and summary.preflight.rehearsal == "passed"
    assert target.sql('SELECT count(*) FROM "Document"', db) == "50"
    target.sql(f"DROP DATABASE {db} WITH (FORCE)", "postgres")


def test_the_refusal_names_a_newer_dumps_setting() -> None:
    """pg_dump 17's archive restored into a 16 server: the setting, and which side is newer."""
    detail = (
        "pg_restore: error: could not execute query: ERROR:  unrecognized configuration parameter "
        '"transaction_timeout"\nCommand was: SET transaction_timeout = 0;\n'
    )
    message = refusal(detail, "supermark@10.0.0.2:5432/supermark", "17.2", "17.2", "16.4")
    assert "statement: SET transaction_timeout = 0;" in message
    assert "the setting transaction_timeout is unknown to the target server (PostgreSQL 16.4)" in message
    assert "pg_dump 17.2" in message and "was not touched" in message
