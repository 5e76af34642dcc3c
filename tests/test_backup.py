"""Backups against a real PostgreSQL 16 (the stack's stand-in image, reached by `docker exec`
as on the droplet) and a real S3-compatible server (moto's), with faults injected one at a time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from servers import PostgresContainer, WebhookReceiver, free_port
from supermark_ops.backup import signing
from supermark_ops.backup.backup import apply_retention, backup, run_backup
from supermark_ops.backup.common import Setup
from supermark_ops.backup.drill import run_drill
from supermark_ops.backup.restore import run_restore
from supermark_ops.backup.retention import Policy, backup_name
from supermark_ops.backup.store import Store
from supermark_ops.config import BackupConfig, from_mapping, load
from supermark_ops.errors import OpsError
from supermark_ops.monitor import checks
from test_retention import expected_after


def built(data: dict[str, Any]) -> BackupConfig:
    """The config, through the loader that reads the role's file on a host."""
    return from_mapping(BackupConfig, data, "backup.yml")


IMAGE = "supermark-ops/standin-postgres:1"
SCHEMA = """
CREATE TYPE "Role" AS ENUM ('ADMIN', 'MEMBER');
CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY, migration_name text NOT NULL);
CREATE TABLE "Team" (id text PRIMARY KEY, name text NOT NULL, role "Role" NOT NULL DEFAULT 'MEMBER');
CREATE TABLE "Document" (id bigserial PRIMARY KEY, "teamId" text NOT NULL REFERENCES "Team"(id),
  file text NOT NULL, meta jsonb, thumb bytea, "createdAt" timestamptz NOT NULL DEFAULT now());
INSERT INTO "_prisma_migrations" VALUES ('m1', '20240101000000_init');
INSERT INTO "Team" SELECT 't' || i, 'team ' || i FROM generate_series(1, 50) i;
INSERT INTO "Document" ("teamId", file, meta, thumb)
  SELECT 't' || (1 + i % 50), 'docs/' || i || '.pdf', jsonb_build_object('pages', i), sha256(i::text::bytea)
  FROM generate_series(1, 20000) i;
"""
FINGERPRINT = (
    "SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM \"Team\" t) || "
    "(SELECT md5(string_agg(d::text, ',' ORDER BY id)) FROM \"Document\" d)"
)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresContainer]:
    server = PostgresContainer(IMAGE, "backup-test-password")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def db(pg: PostgresContainer) -> Iterator[str]:
    """The app's database, freshly seeded for each test."""
    pg.sql("DROP DATABASE IF EXISTS supermark WITH (FORCE); CREATE DATABASE supermark;", "postgres")
    pg.sql(SCHEMA)
    yield pg.name


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture()
def s3(s3_server: str) -> Iterator[Any]:
    """Fresh buckets for each test: the app's documents and an off-site target."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    for bucket in ("supermark", "offsite"):
        client.create_bucket(Bucket=bucket)
    yield client
    for bucket in ("supermark", "offsite"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=bucket)


@pytest.fixture()
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def bucket_cfg(endpoint: str, bucket: str, **extra: str) -> dict[str, str]:
    return {"endpoint": endpoint, "bucket": bucket, "access_key": "testing", "secret_key": "testing", **extra}


KEY = "k" * 20 + "manifest-signing-key-of-the-tests"  # what the role writes (backup_signing_key)


def key_file(directory: Path, key: str = KEY) -> str:
    """The signing key as the backup role keeps it: NAME='value' in a 0600 file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "backup.env"
    path.write_text(f"SUPERMARK_BACKUP_SIGNING_KEY='{key}'\n")
    path.chmod(0o600)
    return str(path)


@pytest.fixture()
def cfg(tmp_path: Path, db: str, s3: Any, s3_server: str, hook: WebhookReceiver) -> dict[str, Any]:
    return {
        "host": "test-droplet",
        "directory": str(tmp_path / "backups"),
        "state_dir": str(tmp_path / "state"),
        "signing_key_file": key_file(tmp_path / "stack"),
        "postgres": {"container": db, "user": "supermark", "database": "supermark"},
        "documents": bucket_cfg(s3_server, "supermark"),
        "offsite": bucket_cfg(s3_server, "offsite", prefix="droplet-1/"),
        "alerts": {"webhooks": [{"url": hook.url}]},
        "ping_url": hook.url.replace("/hook", "/ping"),
    }


def put_documents(s3: Any, count: int, start: int = 0) -> dict[str, bytes]:
    docs = {f"team{i % 3}/doc-{i}.pdf": os.urandom(1000 + i * 37) for i in range(start, start + count)}
    for key, body in docs.items():
        s3.put_object(Bucket="supermark", Key=key, Body=body)
    return docs


def bucket_contents(s3: Any, bucket: str = "supermark") -> dict[str, bytes]:
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return out


def manifests(cfg: dict[str, Any]) -> list[str]:
    return sorted(p.name for p in Path(cfg["directory"]).glob("*.manifest.json"))


# -- the round trip ----------------------------------------------------------------


@pytest.mark.docker
def test_round_trip_restores_identical_rows_and_byte_identical_documents(
    cfg: dict[str, Any], pg: PostgresContainer, s3: Any, hook: WebhookReceiver
) -> None:
    docs = put_documents(s3, 12)
    before = pg.sql(FINGERPRINT)
    result = run_backup(built(cfg))
    assert result["ok"], result
    assert result["rows"] == 20051 and result["documents"] == 12
    manifest = json.loads((Path(cfg["directory"]) / f"{result['backup']}.manifest.json").read_text())
    assert manifest["tables"] == {"public.Document": 20000, "public.Team": 50, "public._prisma_migrations": 1}
    assert signing.status(manifest, KEY.encode()) == "signed"
    assert manifest["signature"]["key"] == signing.key_id(KEY.encode()) and KEY not in json.dumps(manifest)
    assert manifest["server_version"].startswith("16")
    # Off-site: the dump, the manifest and every document, under the prefix.
    offsite = set(bucket_contents(s3, "offsite"))
    assert {f"droplet-1/{result['backup']}.dump", f"droplet-1/{result['backup']}.manifest.json"} <= offsite
    assert len([k for k in offsite if k.startswith("droplet-1/documents/")]) == 12
    assert hook.pings == ["/ping"] and hook.received == []

    # Disaster: rows changed and deleted, a document deleted, one overwritten, one added.
    pg.sql('DELETE FROM "Document" WHERE id % 3 = 0; UPDATE "Team" SET name = \'x\';')
    s3.delete_object(Bucket="supermark", Key="team0/doc-0.pdf")
    s3.put_object(Bucket="supermark", Key="team1/doc-1.pdf", Body=b"overwritten")
    s3.put_object(Bucket="supermark", Key="new.pdf", Body=b"uploaded after the backup")
    restored = run_restore(built(cfg), name=result["backup"])
    assert restored["ok"] and restored["restored"] == result["backup"]
    assert pg.sql(FINGERPRINT) == before
    now = bucket_contents(s3)
    assert {k: now[k] for k in docs} == docs  # byte-identical
    assert now["new.pdf"] == b"uploaded after the backup"  # nothing is lost: newer files stay
    assert restored["documents_uploaded"] == 2
    # The state before the restore was kept as a backup of its own.
    safety = json.loads((Path(cfg["directory"]) / f"{restored['safety_backup']}.manifest.json").read_text())
    assert safety["tables"]["public.Document"] == 20000 - 6666
    assert safety["safety"] is True and signing.status(safety, KEY.encode()) == "signed"


@pytest.mark.docker
def test_documents_are_mirrored_incrementally(cfg: dict[str, Any], s3: Any) -> None:
    put_documents(s3, 5)
    setup = Setup.of(built({**cfg, "offsite": None}))
    first = backup(setup, now=datetime(2026, 11, 1, 3, tzinfo=UTC))
    put_documents(s3, 2, start=100)
    downloads: list[str] = []
    original = type(setup.documents).download  # type: ignore[union-attr]

    def counting(self: Any, key: str, path: Path) -> None:
        downloads.append(key)
        original(self, key, path)

    type(setup.documents).download = counting  # type: ignore[union-attr, method-assign]
    try:
        second = backup(setup, now=datetime(2026, 11, 2, 3, tzinfo=UTC))
    finally:
        type(setup.documents).download = original  # type: ignore[union-attr, method-assign]
    assert first["documents"] == 5 and second["documents"] == 7
    assert sorted(downloads) == ["team1/doc-100.pdf", "team2/doc-101.pdf"]


@pytest.mark.docker
def test_drill_restores_into_a_scratch_database_and_the_monitor_sees_it(
    cfg: dict[str, Any], pg: PostgresContainer, s3: Any
) -> None:
    put_documents(s3, 3)
    assert run_backup(built(cfg))["ok"]
    # The app keeps writing while the drill runs: the drill compares with the manifest, not the live db.
    pg.sql("INSERT INTO \"Team\" VALUES ('late', 'late team')")
    result = run_drill(built(cfg))
    assert result["ok"], result
    assert result["rows"] == 20051
    assert "supermark_restore_drill" not in pg.sql("SELECT datname FROM pg_database", "postgres")
    state = Path(cfg["state_dir"])
    assert checks.restore_drill(state / "drill-last.json").status == "healthy"
    assert checks.newest_backup(Path(cfg["directory"]), 26).status == "healthy"


def archive_compression(pg: PostgresContainer, dump: Path) -> str:
    """The compression pg_restore reads in the archive's header (gzip, zstd, lz4, none)."""
    with dump.open("rb") as f:
        listing = subprocess.run(
            ["docker", "exec", "-i", pg.name, "pg_restore", "--list"],
            stdin=f,
            capture_output=True,
            check=True,
        )
    return next(
        line.split(":", 1)[1].strip()
        for line in listing.stdout.decode().splitlines()
        if "Compression:" in line
    )


@pytest.mark.docker
def test_new_dumps_are_zstd_and_an_older_gzip_dump_still_drills_and_restores(
    cfg: dict[str, Any], pg: PostgresContainer
) -> None:
    # A backup as the earlier releases made it, from their file (`compress: 6`, a YAML number:
    # the role's old default, still on a host that ops_tools upgraded before role backup ran) ...
    old = backup(Setup.of(built({**cfg, "compress": 6})), now=datetime.now(UTC) - timedelta(days=1))
    assert archive_compression(pg, Path(cfg["directory"]) / f"{old['backup']}.dump") == "gzip"
    before = pg.sql(FINGERPRINT)
    # ... is drilled and restored by today's code, with today's default configuration.
    assert "compress" not in cfg
    drill = run_drill(built(cfg))
    assert drill["ok"] and drill["backup"] == old["backup"], drill
    pg.sql('DELETE FROM "Document" WHERE id % 2 = 0')
    assert run_restore(built(cfg), name=old["backup"])["ok"]
    assert pg.sql(FINGERPRINT) == before
    # Today's backups are zstd (the restore above took one first, of the state it replaced).
    new = run_backup(built(cfg))
    assert new["ok"], new
    assert archive_compression(pg, Path(cfg["directory"]) / f"{new['backup']}.dump") == "zstd"
    assert run_drill(built(cfg))["ok"]


def test_the_earlier_releases_backup_yml_still_loads(tmp_path: Path) -> None:
    """Their template wrote the gzip level as a number; the loader reads it as that level."""
    path = tmp_path / "backup.yml"
    path.write_text(f"directory: {tmp_path}\npostgres: {{user: u, database: d}}\ncompress: 6\n")
    assert load(path, BackupConfig).compress == "6"
    assert Setup.of(load(path, BackupConfig)).compress == "6"
    path.write_text(f"directory: {tmp_path}\npostgres: {{user: u, database: d}}\ncompress: true\n")
    with pytest.raises(OpsError, match="compress must be a string, not true/false"):
        load(path, BackupConfig)


@pytest.mark.parametrize("bad", ["zstd:23", "brotli", "gzip:0", "10", 10, "lz4:13", "zstd:-1", "6 --file=x"])
def test_a_compression_pg_dump_would_refuse_is_refused_before_any_dump(
    tmp_path: Path, bad: str | int
) -> None:
    data = {"directory": str(tmp_path), "postgres": {"user": "u", "database": "d"}, "compress": bad}
    with pytest.raises(OpsError, match="is not a pg_dump compression"):
        Setup.of(built(data))
    assert list(tmp_path.iterdir()) == []


# -- retention -----------------------------------------------------------------------


def fake_backup(store: Store, at: datetime, docs: dict[str, dict[str, Any]]) -> str:
    """What a run leaves (a dump and a manifest), without dumping: retention only reads names."""
    name = backup_name(at)
    store.dump_path(name).write_bytes(b"dump")
    store.write_manifest(name, {"name": name, "documents": docs, "tables": {}}, None)
    return name


def test_a_year_of_runs_keeps_exactly_the_expected_set_and_nothing_foreign(tmp_path: Path) -> None:
    store = Store(tmp_path / "backups")
    store.prepare()
    setup = Setup.of(
        built(
            {"directory": str(store.root), "postgres": {"container": "unused", "user": "u", "database": "d"}}
        )
    )
    foreign = [store.root / "supermark-notes.txt", store.root / "my-own.dump", store.root / "documents" / "x"]
    for path in foreign:
        path.write_text("not the tool's")
    start, taken = datetime(2026, 1, 1, 3, 15, tzinfo=UTC), []
    unfinished = backup_name(start + timedelta(days=100, hours=1))
    for day in range(365):
        at = start + timedelta(days=day)
        taken.append(at)
        # Each night's backup refers to a document of its own, and to one every backup shares.
        sha_day, sha_all = f"{day:064x}", "f" * 64
        for sha in (sha_day, sha_all):
            store.object_path(sha).parent.mkdir(exist_ok=True)
            store.object_path(sha).write_bytes(b"doc")
        fake_backup(
            store, at, {"shared": {"sha256": sha_all, "size": 3}, f"d{day}": {"sha256": sha_day, "size": 3}}
        )
        if day == 100:
            store.dump_path(unfinished).write_bytes(b"a failed run's dump, no manifest")
        apply_retention(setup)
    kept = {b.name for b in store.backups()}
    assert kept == expected_after(taken, Policy())
    assert unfinished not in kept  # older than the newest good backup: it went
    assert all(path.exists() for path in foreign)
    # Documents: exactly the ones the kept backups refer to.
    stored = {p.name for p in (store.root / "documents").glob("*/*")}
    wanted = {"f" * 64} | {f"{(t - start).days:064x}" for t in taken if backup_name(t) in kept}
    assert stored == wanted


def test_a_killed_runs_temporary_files_are_cleaned_and_nothing_else(tmp_path: Path) -> None:
    store = Store(tmp_path / "backups")
    store.prepare()
    (store.root / "documents" / "ab").mkdir()
    ours = [
        store.root / ".supermark-20261129T031500Z.dump.partial",
        store.root / "documents" / f".{'a' * 64}.partial",  # a document being fetched
        store.root / "documents" / "ab" / f".{'b' * 64}.partial",  # one being fetched from off-site
    ]
    foreign = [store.root / ".notes.partial", store.root / "documents" / ".keep.partial"]
    for path in ours + foreign:
        path.write_text("x")
    assert sorted(store.clean_partials()) == sorted(p.name for p in ours)
    assert all(p.exists() for p in foreign) and not any(p.exists() for p in ours)


# -- faults, one at a time: the earlier backups stay, the run says it failed ------------


def good_backups(cfg: dict[str, Any]) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in Path(cfg["directory"]).glob("supermark-*")}


@pytest.mark.docker
def test_postgres_down(cfg: dict[str, Any], pg: PostgresContainer, hook: WebhookReceiver) -> None:
    assert run_backup(built(cfg))["ok"]
    before = good_backups(cfg)
    subprocess.run(["docker", "stop", pg.name], check=True, capture_output=True)
    try:
        time.sleep(1)  # a new name for the next backup
        result = run_backup(built(cfg))
    finally:
        subprocess.run(["docker", "start", pg.name], check=True, capture_output=True)
        for _ in range(60):
            if subprocess.run(["docker", "exec", pg.name, "pg_isready"], capture_output=True).returncode == 0:
                break
            time.sleep(0.5)
    assert not result["ok"] and "is the stack running" in result["reason"]
    assert good_backups(cfg) == before
    assert hook.received[-1]["event"] == "failure" and hook.received[-1]["check"] == "backup"
    assert hook.pings[-1] == "/ping/fail"
    # The next good run closes the incident with one "resolved" message.
    time.sleep(1)
    assert run_backup(built(cfg))["ok"]
    assert hook.received[-1]["event"] == "resolved"


@pytest.mark.docker
def test_s3_unreachable(cfg: dict[str, Any], s3: Any) -> None:
    put_documents(s3, 2)
    assert run_backup(built(cfg))["ok"]
    before = good_backups(cfg)
    closed = f"http://127.0.0.1:{free_port()}"
    time.sleep(1)
    # One attempt each: the retries (1 s, 2 s apart) would only slow the test down.
    documents_down = run_backup(
        built({**cfg, "documents": {**bucket_cfg(closed, "supermark"), "attempts": 1}})
    )
    assert not documents_down["ok"] and "unreachable" in documents_down["reason"]
    assert manifests(cfg) == [n for n in before if n.endswith(".manifest.json")]
    # Off-site down: the new local backup is complete and kept; the run still fails.
    time.sleep(1)
    offsite_down = run_backup(built({**cfg, "offsite": {**bucket_cfg(closed, "offsite"), "attempts": 1}}))
    assert not offsite_down["ok"] and "the local backup" in offsite_down["reason"]
    assert f"{offsite_down['backup']}.manifest.json" in manifests(cfg)
    assert all(name in good_backups(cfg) for name in before)


@pytest.mark.docker
@pytest.mark.root
def test_disk_full(cfg: dict[str, Any], tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(small)], check=True)
    try:
        cfg = {**cfg, "directory": str(small), "documents": None, "offsite": None}
        assert run_backup(built(cfg))["ok"]
        before = good_backups(cfg)
        free = shutil.disk_usage(small).free
        (small / "filler").write_bytes(b"\0" * (free - 64 * 1024))
        time.sleep(1)
        result = run_backup(built(cfg))
        assert not result["ok"] and "is full" in result["reason"]
        assert good_backups(cfg) == before
        assert not list(small.glob(".*partial"))  # the torn dump was removed
    finally:
        subprocess.run(["umount", str(small)], check=True)


@pytest.mark.docker
def test_a_corrupted_dump_fails_the_drill_and_is_not_restored(
    cfg: dict[str, Any], pg: PostgresContainer, hook: WebhookReceiver
) -> None:
    # Yesterday's backup, then today's (one a day is what retention keeps).
    first = backup(Setup.of(built(cfg)), now=datetime.now(UTC) - timedelta(days=1))["backup"]
    second = run_backup(built(cfg))["backup"]
    dump = Path(cfg["directory"]) / f"{second}.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit in the middle: pg_restore --list alone misses it
    dump.write_bytes(bytes(data))
    result = run_drill(built(cfg))
    assert not result["ok"] and "damaged" in result["reason"]
    assert hook.received[-1]["check"] == "drill" and hook.received[-1]["event"] == "failure"
    before = pg.sql(FINGERPRINT)
    with pytest.raises(Exception, match="damaged"):
        run_restore(built(cfg), name=second)
    assert pg.sql(FINGERPRINT) == before  # nothing was touched
    # `first` as a backup made before manifests were signed: refused unless asked for by name.
    manifest_path = Path(cfg["directory"]) / f"{first}.manifest.json"
    manifest_path.write_text(json.dumps({k: v for k, v in json.loads(manifest_path.read_text()).items()
                                         if k != "signature"}))  # fmt: skip
    with pytest.raises(OpsError, match="is not signed"):
        run_restore(built(cfg), name=first)
    with pytest.raises(OpsError, match="needs --name"):
        run_restore(built(cfg), allow_unsigned=True)
    assert pg.sql(FINGERPRINT) == before
    restored = run_restore(built(cfg), name=first, allow_unsigned=True)
    assert restored["ok"] and restored["warnings"] == [
        f"RESTORED AN UNSIGNED BACKUP ({first}), as --allow-unsigned asked"
    ]


@pytest.mark.docker
def test_a_killed_run_leaves_the_earlier_backups_and_the_next_run_finishes(
    cfg: dict[str, Any], pg: PostgresContainer, tmp_path: Path
) -> None:
    cfg = {**cfg, "offsite": None, "documents": None}
    assert run_backup(built(cfg))["ok"]
    before = good_backups(cfg)
    # Enough data that the dump takes a moment.
    pg.sql(
        "CREATE TABLE big AS SELECT i, md5(i::text) || md5((i * 7)::text) AS t "
        "FROM generate_series(1, 600000) i",
    )
    config = tmp_path / "backup.yml"
    config.write_text(yaml.safe_dump(cfg))
    time.sleep(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "supermark_ops.cli", "backup", "--config", str(config), "--json", "run"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    directory = Path(cfg["directory"])
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 0 for p in directory.glob(".*.partial")):
        assert time.monotonic() < deadline and proc.poll() is None, "the dump never started"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert good_backups(cfg) == before
    assert list(directory.glob(".*.partial"))  # what the killed run left
    time.sleep(1)
    result = run_backup(built(cfg))
    assert result["ok"]
    assert not list(directory.glob(".*.partial"))
    assert (
        json.loads((directory / f"{result['backup']}.manifest.json").read_text())["tables"]["public.big"]
        == 600000
    )


# -- off-site encryption, and the same-droplet warning ------------------------------


@pytest.mark.docker
@pytest.mark.skipif(shutil.which("age") is None, reason="age is installed by scripts/setup.sh")
def test_encrypted_offsite_copy_restores_with_the_key_kept_elsewhere(
    cfg: dict[str, Any], pg: PostgresContainer, s3: Any, tmp_path: Path
) -> None:
    key = tmp_path / "age.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = next(line.split(": ")[1] for line in key.read_text().splitlines() if "public key" in line)
    docs = put_documents(s3, 3)
    cfg["offsite"] = {**cfg["offsite"], "age_recipient": recipient}
    result = run_backup(built(cfg))
    assert result["ok"], result
    offsite = bucket_contents(s3, "offsite")
    sealed = [v for k, v in offsite.items() if k.endswith(".age")]
    assert len(sealed) == 4 and all(v.startswith(b"age-encryption.org/v1") for v in sealed)
    assert not any(body in v for v in sealed for body in docs.values())
    # The droplet is gone: a new, empty backup folder; restore from off-site with the key.
    pg.sql('TRUNCATE "Document"')
    for k in docs:
        s3.delete_object(Bucket="supermark", Key=k)
    fresh = {**cfg, "directory": str(tmp_path / "new-droplet")}
    with pytest.raises(Exception, match="--identity"):
        run_restore(built(fresh), from_offsite=True)
    restored = run_restore(built(fresh), from_offsite=True, identity=key)
    assert restored["restored"] == result["backup"] and restored["rows"] == 20051
    assert pg.sql('SELECT count(*) FROM "Document"') == "20000"
    assert {k: v for k, v in bucket_contents(s3).items() if k in docs} == docs


@pytest.mark.docker
def test_offsite_on_the_same_droplet_warns(cfg: dict[str, Any]) -> None:
    cfg["offsite"] = {**cfg["documents"], "bucket": "offsite"}
    result = run_backup(built(cfg))
    assert result["ok"]
    assert any("NOT off-site" in w for w in result["warnings"])
