"""The Vercel/Neon migration against two real servers.

Source: PostgreSQL 15 (this machine's), SSL required, everything owned by a
role named `default` as on Vercel, a Supermark-like schema with a few hundred
thousand rows. Target: PostgreSQL 16 in a container (the stack's stand-in
image) with its own role, as on the droplet.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import pytest

from servers import ArgvWatch, PostgresContainer, PostgresServer, free_port, require_ssl
from supermark_ops.errors import OpsError
from supermark_ops.locks import single_run
from supermark_ops.migrate.run import MARK_COMPLETE, MARK_INCOMPLETE, migrate, verify_only
from supermark_ops.migrate.transfer import SPLIT_BYTES
from supermark_ops.pg import Client, parse

SOURCE_PASSWORD = "p@ss/w:rd+=x"  # what openssl rand -base64 gives: must survive URL-encoding
TARGET_IMAGE = "supermark-ops/standin-postgres:1"

SCHEMA = """
CREATE TYPE "Role" AS ENUM ('ADMIN', 'MANAGER', 'MEMBER');
CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL,
  finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, rolled_back_at timestamptz,
  started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count integer NOT NULL DEFAULT 0);
INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
  SELECT md5(i::text), md5(i::text), now(), '2023091215065' || i || '_step', 1 FROM generate_series(1, 40) i;
CREATE TABLE "Team" (id serial PRIMARY KEY, name text NOT NULL, plan "Role" NOT NULL DEFAULT 'MEMBER',
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP);
INSERT INTO "Team" (name, plan) SELECT 'team ' || i, (ARRAY['ADMIN','MANAGER','MEMBER'])[1 + i % 3]::"Role"
  FROM generate_series(1, 2000) i;
CREATE TABLE "Document" (id bigserial PRIMARY KEY, "teamId" integer NOT NULL REFERENCES "Team"(id),
  name text NOT NULL, meta jsonb, thumb bytea, "createdAt" timestamptz NOT NULL DEFAULT now(),
  score double precision);
INSERT INTO "Document" ("teamId", name, meta, thumb, "createdAt", score)
  SELECT 1 + i % 2000, 'document ' || i || ' ünïcødé',
         jsonb_build_object('pages', i % 97, 'tags', jsonb_build_array('a', i)),
         decode(md5(i::text), 'hex'), timestamptz '2024-01-01' + i * interval '1 minute', i / 7.0
  FROM generate_series(1, 300000) i;
CREATE TABLE "View" (id bigserial PRIMARY KEY, "documentId" bigint REFERENCES "Document"(id),
  "viewedAt" timestamp, roles "Role"[]);
INSERT INTO "View" ("documentId", "viewedAt", roles)
  SELECT 1 + i % 300000, timestamp '2024-06-01' + i * interval '1 second',
         CASE WHEN i % 2 = 0 THEN ARRAY['ADMIN', 'MEMBER']::"Role"[] END FROM generate_series(1, 50000) i;
CREATE INDEX ON "Document" ("teamId");
"""


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """PostgreSQL 15 with SSL required over TCP, the data owned by role "default"; yields its URL."""
    server = PostgresServer()
    server.start()
    require_ssl(server)
    escaped = SOURCE_PASSWORD.replace("'", "''")
    server.sql("postgres", f"CREATE ROLE \"default\" LOGIN PASSWORD '{escaped}'")
    server.sql("postgres", 'CREATE DATABASE verceldb OWNER "default"')
    server.sql("verceldb", SCHEMA, user="default")
    password = quote(SOURCE_PASSWORD, safe="")
    yield f"postgres://default:{password}@localhost:{server.port}/verceldb?sslmode=require"
    server.cleanup()


class Target(NamedTuple):
    url: str
    server: PostgresContainer
    db: str


@pytest.fixture(scope="module")
def target_server() -> Iterator[PostgresContainer]:
    """PostgreSQL 16 (the stack's stand-in image) with role supermark, started once for the module."""
    server = PostgresContainer(TARGET_IMAGE, "target-password-123")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def target(target_server: PostgresContainer) -> Iterator[Target]:
    """A fresh, empty database on the 16 server, owned by supermark, for one test."""
    db = f"t{uuid.uuid4().hex[:12]}"
    admin = Target("", target_server, "supermark")
    target_sql(admin, f"CREATE DATABASE {db} OWNER supermark")
    yield Target(
        f"postgresql://supermark:target-password-123@127.0.0.1:{target_server.port}/{db}",
        target_server,
        db,
    )
    target_sql(admin, f"DROP DATABASE {db} WITH (FORCE)")


def target_sql(target: Target, sql: str) -> str:
    return target.server.sql(sql, target.db)


def test_urls_from_vercel_and_neon() -> None:
    vercel = parse(
        "postgres://default:abc%2Fdef@ep-cool-1-pooler.us-east-1.postgres.vercel-storage.com:5432/verceldb"
        "?pgbouncer=true&connection_limit=1",
        what="source",
        require_ssl=True,
    )
    assert vercel.host == "ep-cool-1.us-east-1.postgres.vercel-storage.com"
    assert vercel.password == "abc/def" and vercel.user == "default" and vercel.dbname == "verceldb"
    assert dict(vercel.params) == {"sslmode": "require"}
    assert "abc" not in vercel.conninfo() and "abc" not in repr(vercel)
    neon = parse("postgresql://u:p@ep-x-pooler.eu-central-1.aws.neon.tech/db?sslmode=require", what="source")
    assert neon.host == "ep-x.eu-central-1.aws.neon.tech" and neon.port == 5432


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@h/db", "must start with postgres:// or postgresql://"),
        ("postgres://u:p@h", "names no database"),
        ("postgres://h/db", "names no user"),
        ("postgres://u:p@h:99999/db", "does not parse: its port is not a number"),
        ("postgres://u:p@db.example.com/db?pgbouncer=true", "use the direct (non-pooling) URL"),
        ("postgres://u:p@db.example.com/db?sslmode=disable", "must use SSL"),
        ("", "No source URL given"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, message: str) -> None:
    with pytest.raises(OpsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(url, what="source", require_ssl=True)


@pytest.mark.parametrize("char", ["/", "#", "?", "/@", "?@"])
@pytest.mark.parametrize("what", ["source", "target"])
def test_a_password_with_an_unencoded_special_character_is_never_echoed(
    char: str, what: str, tmp_path: Path
) -> None:
    password = f"ab{char}cd{char}9zq"
    url = f"postgres://u:{password}@db.example.com:5432/db?sslmode=require"
    # An unencoded @ alone is no harm: the host is what follows the last one.
    assert parse(url.replace(password, "ab@cd@9zq"), what=what).password == "ab@cd@9zq"
    with pytest.raises(OpsError) as caught:
        parse(url, what=what, require_ssl=True)
    message = str(caught.value)
    assert "percent-encode" in message and f"The {what} URL" in message
    for piece in ("ab", "cd", "9zq"):
        assert piece not in message, message
    # The command line's JSON says the same, and nothing else.
    env = {**os.environ, f"SUPERMARK_MIGRATE_{what.upper()}_URL": url}
    env.setdefault("SUPERMARK_MIGRATE_SOURCE_URL", "postgres://u:p@db.example.com/db")
    env.setdefault("SUPERMARK_MIGRATE_TARGET_URL", "postgres://u:p@127.0.0.1/db")
    cli = subprocess.run(
        [sys.executable, "-m", "supermark_ops.cli", "migrate", "--json", "--workdir", str(tmp_path / "w")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2 and json.loads(cli.stdout)["reason"] == message
    assert not any(piece in cli.stdout + cli.stderr for piece in ("ab", "cd", "9zq"))


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("password=hunter2hunter2", "would reach the programs' argv"),
        ("options=-c%20default_transaction_read_only%3Doff", "read-only session"),
        ("host=other.example.com", "pooled host"),
        ("hostaddr=10.0.0.1", "pooled host"),
        ("service=prod", "service file"),
        ("sslcompression=1", "only sslmode, sslrootcert, connect_timeout, application_name, channel_binding"),
    ],
)
def test_libpq_parameters_beyond_the_short_list_are_refused(query: str, says: str) -> None:
    with pytest.raises(OpsError, match=re.escape(says)) as caught:
        parse(f"postgres://u:p@ep-x-pooler.example.com/db?sslmode=require&{query}", what="source")
    assert "hunter2" not in str(caught.value)
    allowed = parse(
        "postgres://u:p@ep-y-pooler.example.com/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        "&connect_timeout=5&application_name=me&channel_binding=require&pgbouncer=true&connection_limit=1",
        what="target",
    )
    assert dict(allowed.params) == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "connect_timeout": "5",
        "application_name": "me",
        "channel_binding": "require",
    }


@pytest.mark.parametrize(
    "url", ["postgres://u:p%00x@h/db", "postgres://u:p@h/d\x00b", "postgres://u%00:p@h/db"]
)
def test_a_nul_byte_in_a_url_is_refused(url: str) -> None:
    with pytest.raises(OpsError, match="NUL byte"):
        parse(url, what="target")


def test_bad_jobs_and_a_second_migration_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SUPERMARK_MIGRATE_SOURCE_URL": f"postgres://u:p@127.0.0.1:{free_port()}/db",
        "SUPERMARK_MIGRATE_TARGET_URL": f"postgres://u:p@127.0.0.1:{free_port()}/db",
    }
    for jobs in ("0", "-3"):
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "supermark_ops.cli",
                "migrate",
                "--jobs",
                jobs,
                "--workdir",
                str(tmp_path / "w"),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        assert cli.returncode == 2 and "--jobs: must be 1 or more" in cli.stderr
    assert list(tmp_path.iterdir()) == []
    src, dst = (
        parse(env["SUPERMARK_MIGRATE_SOURCE_URL"], what="source"),
        parse(env["SUPERMARK_MIGRATE_TARGET_URL"], what="target"),
    )
    with pytest.raises(OpsError, match="--jobs must be 1 or more"):
        migrate(src, dst, tmp_path / "w", jobs=0)
    lock = tmp_path / "state" / "migrate.lock"
    with single_run(lock) as got:
        assert got
        # Refused at once: nothing answers on those ports, so any step beyond the lock would fail differently.
        with pytest.raises(OpsError, match="Another migration is running"):
            migrate(src, dst, tmp_path / "w", lock_file=lock)  # at once, without waiting
    assert not (tmp_path / "w").exists()


SCHEMA_OBJECTS = (
    "SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public' UNION ALL "
    "SELECT 'constraint', conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) "
    "FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
)


def copies_executed(target: Target, since: str) -> list[str]:
    """The COPY ... FROM STDIN statements the target server logged since `since` (its own log:
    the test's database is set to log_statement=all)."""
    logs = subprocess.run(
        ["docker", "logs", "--since", since, target.server.name], capture_output=True, text=True, check=True
    )
    found = re.findall(r"statement: (COPY .* FROM STDIN.*)", logs.stdout + logs.stderr, flags=re.IGNORECASE)
    return [c.rstrip(";") for c in found]


@pytest.mark.docker
@pytest.mark.root
@pytest.mark.parametrize("split_bytes", [SPLIT_BYTES, 2**20], ids=["one-stream", "split-into-page-ranges"])
def test_clean_migration_verifies(source: str, target: Target, tmp_path: Path, split_bytes: int) -> None:
    target_sql(target, f"ALTER DATABASE {target.db} SET log_statement = 'all'")
    since = str(int(time.time()) - 1)
    events: list[str] = []
    src = parse(source, what="source", require_ssl=True)
    written = split_bytes != SPLIT_BYTES  # in one of the two runs the old app keeps writing

    def phase(name: str) -> None:
        events.append(f"phase {name}")
        if name == "verify" and written:
            # After the copy, before the verification: a new row, a sequence moved on.
            Client().query(src, 'INSERT INTO "View" ("documentId", "viewedAt") VALUES (1, now())')

    try:
        with ArgvWatch() as watch:
            summary = migrate(
                src,
                parse(target[0], what="target"),
                tmp_path,
                split_bytes=split_bytes,
                phase=phase,
                on_table=events.append,
            )
    finally:
        if written:
            Client().query(
                src, 'DELETE FROM "View" WHERE id > 50000; SELECT setval(\'"View_id_seq"\', 50000)'
            )
    # Every process's argv, sampled all through the run: the programs ran, no password among them.
    assert {"pg_dump", "pg_restore", "psql"} <= watch.programs, watch.programs
    secrets = (SOURCE_PASSWORD, quote(SOURCE_PASSWORD, safe=""), "target-password-123")
    assert not [a for a in watch.seen if any(secret in " ".join(a) for secret in secrets)]
    assert summary.report is not None and summary.report.ok, summary.report.differences
    if (
        written
    ):  # verified in the snapshot the copy read; the source's new write is a warning, not a difference
        assert summary.as_dict()["warnings"] == [
            'the source was written to after the copy\'s snapshot (sequence public."View_id_seq" moved on): '
            "those writes are not in the target. Freeze the old app during the cut-over (docs/migration.md)."
        ]
        assert summary.report.sequences['public."View_id_seq"'] == ("50001", "50000")
    # With a 1 MB threshold the big tables are copied in page ranges (2 jobs: 4 ranges a table),
    # beside the one stream for the rest; else everything is in that stream.
    start = next(i for i, e in enumerate(events) if e.startswith("phase data"))
    end = events.index("phase indexes and constraints")
    copied = events[start + 1 : end]
    assert copied.count("the other tables") == 1
    assert copied.count('public."Document"') == (4 if split_bytes == 2**20 else 0)
    # What the target executed: "Document" (text, jsonb, an enum, bytea, timestamps) arrives in
    # binary; "View" has an array of an enum (its binary form carries the source's type OIDs), so
    # it arrives as text; the small tables come through pg_restore's COPY, text. The hashes above
    # prove the binary rows exact.
    executed = copies_executed(target, since)
    binary = [c for c in executed if c.endswith("(FORMAT binary)")]
    if split_bytes == 2**20:
        assert len(binary) == 4 and all(c.startswith('COPY public."Document" (') for c in binary), executed
        views = [c for c in executed if c.startswith('COPY public."View" (')]
        assert len(views) == 4 and all(c.endswith("FROM STDIN") for c in views), executed
    else:
        assert binary == [] and len(executed) == 4, executed
    # Every index and constraint arrived (a table's keys are built as soon as its data is in, a
    # foreign key as soon as both its tables allow), the same as the source's.
    assert sorted(target_sql(target, SCHEMA_OBJECTS).splitlines()) == sorted(
        "|".join(row) for row in Client().query(src, SCHEMA_OBJECTS)
    )
    tables = {t.name: t.target_rows for t in summary.report.tables}
    assert tables['public."Document"'] == 300000 and tables["public._prisma_migrations"] == 40
    assert summary.report.sequences['public."Document_id_seq"'] == ("300000", "300000")
    owners = target_sql(target, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
    assert owners == "supermark"
    assert target_sql(
        target,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()",
    ).startswith(MARK_COMPLETE)
    assert summary.preflight.source_version == 15 and summary.preflight.target_version == 16


@pytest.mark.docker
@pytest.mark.root
def test_differences_are_caught(source: str, target: Target, tmp_path: Path) -> None:
    src, dst = parse(source, what="source", require_ssl=True), parse(target[0], what="target")
    migrate(src, dst, tmp_path, verify=False)
    target_sql(target, "UPDATE \"Document\" SET name = name || '!' WHERE id = 4242")
    report = verify_only(src, dst)
    assert not report.ok and report.differences == [
        'table public."Document": rows 300000 -> 300000, row hash differs'
    ]
    target_sql(target, 'DELETE FROM "View" WHERE id = 7; SELECT setval(\'"Team_id_seq"\', 5000)')
    differences = verify_only(src, dst).differences
    assert 'table public."View": rows 50000 -> 49999' in differences
    assert 'sequence public."Team_id_seq": 2000 -> 5000' in differences


@pytest.mark.docker
@pytest.mark.root
def test_verification_hashes_the_snapshot_that_was_copied(
    source: str, target: Target, tmp_path: Path
) -> None:
    """The app may still write to the source while it is copied: the verification's source side
    reads the copy's snapshot, so it checks what was copied, not what came later."""
    src, dst = parse(source, what="source", require_ssl=True), parse(target[0], what="target")
    later = "UPDATE \"Team\" SET name = name || ' (renamed later)' WHERE id = 7"

    def phase(name: str) -> None:
        if name == "indexes and constraints":  # the data is copied; the snapshot is still held
            Client().query(src, later)

    try:
        summary = migrate(src, dst, tmp_path, phase=phase)
        assert summary.report is not None and summary.report.ok, summary.report.differences
        assert target_sql(target, 'SELECT name FROM "Team" WHERE id = 7') == "team 7"
        # Outside that snapshot the source has moved on, and a new comparison says so.
        assert verify_only(src, dst).differences == [
            'table public."Team": rows 2000 -> 2000, row hash differs'
        ]
    finally:
        Client().query(src, "UPDATE \"Team\" SET name = 'team 7' WHERE id = 7")


@pytest.mark.docker
@pytest.mark.root
def test_non_empty_target_is_refused_then_replaced_with_a_safety_dump(
    source: str, target: Target, tmp_path: Path
) -> None:
    src, dst = parse(source, what="source", require_ssl=True), parse(target[0], what="target")
    target_sql(target, "CREATE TABLE precious (x int); INSERT INTO precious VALUES (1)")
    with pytest.raises(OpsError, match="is not empty"):
        migrate(src, dst, tmp_path)
    assert target_sql(target, "SELECT count(*) FROM precious") == "1"
    # The safety dump of the 16 target needs pg_dump 16: this machine has 15, the target's image has 16.
    with pytest.raises(OpsError, match="pass --client-image postgres:16"):
        migrate(src, dst, tmp_path, replace=True)
    summary = migrate(src, dst, tmp_path, replace=True, client_image=TARGET_IMAGE)
    assert summary.ok and Path(summary.safety_dump).stat().st_size > 0
    listing = subprocess.run(
        Client(image=TARGET_IMAGE).argv("pg_restore", ["--list", summary.safety_dump], mounts=[tmp_path]),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE public precious" in listing.stdout
    # Now the target is the live database after a cut-over: the cut-over's own command (--replace)
    # does not copy over it again; only --replace-migrated does, after a dump.
    target_sql(target, "CREATE TABLE written_since (x int); INSERT INTO written_since VALUES (7)")
    with pytest.raises(OpsError, match=r"already holds a verified migration.*--replace-migrated"):
        migrate(src, dst, tmp_path, replace=True, client_image=TARGET_IMAGE)
    assert target_sql(target, "SELECT x FROM written_since") == "7"
    again = migrate(src, dst, tmp_path, replace=True, replace_migrated=True, client_image=TARGET_IMAGE)
    assert again.ok and again.safety_dump != summary.safety_dump
    listing = subprocess.run(
        Client(image=TARGET_IMAGE).argv("pg_restore", ["--list", again.safety_dump], mounts=[tmp_path]),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE public written_since" in listing.stdout


@pytest.mark.docker
@pytest.mark.root
def test_dry_run_writes_nothing(source: str, target: Target, tmp_path: Path) -> None:
    summary = migrate(
        parse(source, what="source", require_ssl=True),
        parse(target[0], what="target"),
        tmp_path,
        dry_run=True,
    )
    assert summary.preflight.target_state == "empty" and summary.report is None
    assert target_sql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"
    assert list(tmp_path.iterdir()) == []


def run_cli(source: str, target: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "SUPERMARK_MIGRATE_SOURCE_URL": source, "SUPERMARK_MIGRATE_TARGET_URL": target}
    workdir = Path(args[args.index("--workdir") + 1]) if "--workdir" in args else Path(tempfile.mkdtemp())
    return subprocess.Popen(
        [sys.executable, "-m", "supermark_ops.cli", "migrate", "--json", "--state-dir", str(workdir), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.docker
@pytest.mark.root
def test_a_run_killed_mid_restore_is_finished_by_a_rerun(source: str, target: Target, tmp_path: Path) -> None:
    proc = run_cli(source, target[0], "--workdir", str(tmp_path), "--jobs", "1")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        restoring = target_sql(target, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%'")
        if restoring != "0":
            break
        time.sleep(0.05)
    else:
        pytest.fail("the restore never started")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    comment = target_sql(
        target,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()",
    )
    assert comment.startswith(MARK_INCOMPLETE)
    # Meanwhile someone used the half-migrated target (an app started on it): that is kept too.
    target_sql(
        target, "CREATE TABLE written_meanwhile (note text); INSERT INTO written_meanwhile VALUES ('keep me')"
    )
    rerun = run_cli(source, target[0], "--workdir", str(tmp_path), "--client-image", TARGET_IMAGE)
    out, err = rerun.communicate(timeout=300)
    summary = json.loads(out)
    assert rerun.returncode == 0, err
    assert summary["ok"] and summary["preflight"]["target_state"] == "incomplete"
    assert summary["verification"]["ok"]
    listing = subprocess.run(
        Client(image=TARGET_IMAGE).argv("pg_restore", ["--list", summary["safety_dump"]], mounts=[tmp_path]),
        capture_output=True,
        text=True,
        check=True,
    )
    assert "TABLE public written_meanwhile" in listing.stdout
    assert quote(SOURCE_PASSWORD, safe="") not in out + err and SOURCE_PASSWORD not in out + err


@pytest.mark.docker
@pytest.mark.root
def test_a_copy_that_fails_midway_leaves_the_target_marked_and_says_what_next(
    source: str, target: Target, tmp_path: Path
) -> None:
    src, dst = parse(source, what="source", require_ssl=True), parse(target[0], what="target")
    # A table whose rows the target refuses (its check holds only in a database named verceldb):
    # the schema arrives, then its COPY fails, midway through the data.
    Client().query(
        src,
        "CREATE TABLE tripwire (x int CHECK (current_database() = 'verceldb')); "
        "INSERT INTO tripwire VALUES (1)",
    )
    try:
        with pytest.raises(OpsError, match=r"The copy failed: .*marked incomplete.*run the migration again"):
            migrate(src, dst, tmp_path)
    finally:
        Client().query(src, "DROP TABLE tripwire")
    comment = target_sql(
        target,
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()",
    )
    assert comment.startswith(MARK_INCOMPLETE)
    assert target_sql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") != "0"


@pytest.mark.docker
@pytest.mark.root
def test_a_target_comment_with_tabs_and_newlines_is_read_as_it_is(
    source: str, target: Target, tmp_path: Path
) -> None:
    src, dst = parse(source, what="source", require_ssl=True), parse(target[0], what="target")
    target_sql(
        target, f"COMMENT ON DATABASE {target.db} IS E'notes:\\tone\\n{MARK_INCOMPLETE}\\tsecond line'"
    )
    assert migrate(src, dst, tmp_path, dry_run=True).preflight.target_state == "empty"
    target_sql(target, "CREATE TABLE precious (x int)")
    with pytest.raises(OpsError, match="is not empty"):  # not taken for an interrupted run of ours
        migrate(src, dst, tmp_path, dry_run=True)


@pytest.mark.docker
@pytest.mark.root
def test_a_missing_password_fails_at_once_even_at_a_terminal(
    source: str, target: Target, tmp_path: Path
) -> None:
    """psql would ask for a password on the terminal and wait forever; with -w it says why it failed."""
    no_password = source.replace(":" + quote(SOURCE_PASSWORD, safe=""), "")
    pid, fd = pty.fork()
    if pid == 0:  # the child, with the pty as its terminal
        os.environ.update(SUPERMARK_MIGRATE_SOURCE_URL=no_password, SUPERMARK_MIGRATE_TARGET_URL=target[0])
        args = [
            "migrate",
            "--dry-run",
            "--json",
            "--workdir",
            str(tmp_path / "w"),
            "--state-dir",
            str(tmp_path),
        ]
        os.execv(sys.executable, [sys.executable, "-m", "supermark_ops.cli", *args])
    output, deadline = b"", time.monotonic() + 60
    while True:
        if select.select([fd], [], [], 0.2)[0]:
            with contextlib.suppress(OSError):  # the child has ended and closed the terminal
                output += os.read(fd, 4096)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"still waiting after 60 s (at a password prompt?): {output!r}")
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 2, output
    assert b"the password was refused" in output and b"Password for user" not in output


@pytest.mark.docker
@pytest.mark.root
def test_wrong_password_and_missing_database_say_so(source: str, target: Target, tmp_path: Path) -> None:
    bad_password = source.replace(quote(SOURCE_PASSWORD, safe=""), "wrong")
    with pytest.raises(OpsError, match="the password was refused"):
        migrate(
            parse(bad_password, what="source", require_ssl=True), parse(target[0], what="target"), tmp_path
        )
    missing_db = target[0].rsplit("/", 1)[0] + "/nodb"
    with pytest.raises(OpsError, match="that database does not exist"):
        migrate(parse(source, what="source", require_ssl=True), parse(missing_db, what="target"), tmp_path)
    closed = f"postgres://u:p@127.0.0.1:{free_port()}/db?sslmode=require"
    with pytest.raises(OpsError, match="nothing answers"):
        migrate(parse(closed, what="source", require_ssl=True), parse(target[0], what="target"), tmp_path)


@pytest.mark.docker
@pytest.mark.root
def test_a_source_without_ssl_is_not_reached(source: str, target: Target, tmp_path: Path) -> None:
    plain = source.replace("sslmode=require", "sslmode=disable")
    with pytest.raises(OpsError, match="must use SSL"):
        migrate(parse(plain, what="source", require_ssl=True), parse(target[0], what="target"), tmp_path)
    # And the server really refuses a plain connection (the fixture is honest).
    with pytest.raises(OpsError, match=r"no encryption|reject"):
        Client().query(parse(plain, what="target"), "SELECT 1")


def run_module(
    root: Path, source: str, target: str, workdir: Path, *flags: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    }
    extra = {"smops_source_url": source, "smops_target_url": target, "smops_workdir": str(workdir)}
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(root / "tests/fixtures/no_hosts.yml"),
            "-vvv",
            *flags,
            str(root / "tests/fixtures/migrate_module.yml"),
            "-e",
            json.dumps(extra),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )


@pytest.mark.docker
@pytest.mark.root
@pytest.mark.playbook
def test_ansible_module_check_mode_is_preflight_then_a_real_run_verifies(
    project_root: Path, source: str, target: Target, tmp_path: Path
) -> None:
    checked = run_module(project_root, source, target[0], tmp_path, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert '"target_state": "empty"' in checked.stdout and "changed=0" in checked.stdout
    assert target_sql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"
    real = run_module(project_root, source, target[0], tmp_path)
    assert real.returncode == 0, real.stdout + real.stderr
    assert '"ok": true' in real.stdout and "changed=1" in real.stdout
    assert target_sql(target, 'SELECT count(*) FROM "Document"') == "300000"
    for run in (checked, real):  # -vvv output, and the URLs were in extra vars
        assert "target-password-123" not in run.stdout + run.stderr
        assert quote(SOURCE_PASSWORD, safe="") not in run.stdout + run.stderr
