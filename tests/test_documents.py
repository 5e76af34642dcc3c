"""`supermark-ops migrate documents` against real servers.

The stack's database: PostgreSQL 16 (the stack's stand-in image) with the tables of Supermark's
schema that refer to stored files. The stack's bucket: the S3 stand-in that verifies SigV4 and
policies as MinIO does (tests/servers.py S3StandIn), reached with the app's own keys; it can
store an object corrupted. The old deployment's files: a Vercel Blob stand-in
(tests/blob_standin.py: HTTPS, a private store's token, 404 for a blob that is gone) and an
R2 bucket (the same S3 stand-in, read-only keys, region auto).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from blob_standin import BlobStandIn
from servers import PostgresContainer, S3StandIn
from supermark_ops.documents import catalog
from supermark_ops.documents import run as docs_run
from supermark_ops.documents.blob import BlobStore
from supermark_ops.documents.run import Settings, configure, move, plan, rewrite
from supermark_ops.pg.client import query_client

IMAGE = "supermark-ops/standin-postgres:1"
BUCKET, APP_KEY, APP_SECRET = "supermark-documents", "supermark-app", "app-secret-key-123"
R2_BUCKET, R2_KEY, R2_SECRET = "old-r2", "r2-reader", "r2-secret-key-456"
TOKEN = "vercel_blob_rw_teststore_0123456789"
FILES_URL = "https://files.supermark.test/supermark-documents"

# The tables of prisma/schema/*.prisma (at the pinned ref) that refer to stored files, with
# the columns, types and relations the app has.
SCHEMA = """
CREATE TYPE "DocumentStorageType" AS ENUM ('S3_PATH', 'VERCEL_BLOB');
CREATE TABLE "Team" (id text PRIMARY KEY, name text NOT NULL);
CREATE TABLE "User" (id text PRIMARY KEY, email text UNIQUE, image text);
CREATE TABLE "UserTeam" ("userId" text REFERENCES "User"(id) ON DELETE CASCADE,
  "teamId" text REFERENCES "Team"(id) ON DELETE CASCADE, PRIMARY KEY ("userId", "teamId"));
CREATE TABLE "Document" (id text PRIMARY KEY, name text NOT NULL, file text NOT NULL, "originalFile" text,
  type text, "contentType" text, "storageType" "DocumentStorageType" NOT NULL DEFAULT 'VERCEL_BLOB',
  "teamId" text NOT NULL REFERENCES "Team"(id) ON DELETE CASCADE,
  "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" timestamp(3) NOT NULL DEFAULT now());
CREATE TABLE "DocumentVersion" (id text PRIMARY KEY, "versionNumber" integer NOT NULL,
  "documentId" text NOT NULL REFERENCES "Document"(id) ON DELETE CASCADE, file text NOT NULL,
  "originalFile" text, "fileSize" bigint, "storageType" "DocumentStorageType" NOT NULL DEFAULT 'VERCEL_BLOB',
  "isPrimary" boolean NOT NULL DEFAULT false, UNIQUE ("versionNumber", "documentId"));
CREATE TABLE "DocumentPage" (id text PRIMARY KEY, "versionId" text NOT NULL REFERENCES "DocumentVersion"(id)
  ON DELETE CASCADE, "pageNumber" integer NOT NULL, "embeddedLinks" text[], "pageLinks" jsonb, metadata jsonb,
  file text NOT NULL, "storageType" "DocumentStorageType" NOT NULL DEFAULT 'VERCEL_BLOB',
  UNIQUE ("pageNumber", "versionId"));
CREATE TABLE "Brand" (id text PRIMARY KEY, logo text, banner text, "brandColor" text,
  "teamId" text NOT NULL UNIQUE REFERENCES "Team"(id) ON DELETE CASCADE);
CREATE TABLE "Dataroom" (id text PRIMARY KEY, "pId" text NOT NULL UNIQUE, name text NOT NULL,
  "teamId" text NOT NULL REFERENCES "Team"(id) ON DELETE CASCADE);
CREATE TABLE "DataroomBrand" (id text PRIMARY KEY, logo text, banner text,
  "dataroomId" text NOT NULL UNIQUE REFERENCES "Dataroom"(id) ON DELETE CASCADE);
CREATE TABLE "Link" (id text PRIMARY KEY, "documentId" text REFERENCES "Document"(id) ON DELETE CASCADE,
  "dataroomId" text REFERENCES "Dataroom"(id) ON DELETE CASCADE, "metaImage" text, "metaFavicon" text,
  "teamId" text REFERENCES "Team"(id) ON DELETE CASCADE);
CREATE TABLE "LinkPreset" (id text PRIMARY KEY, name text NOT NULL,
  "teamId" text NOT NULL REFERENCES "Team"(id), "metaImage" text, "metaFavicon" text);
CREATE TABLE "DocumentAnnotation" (id text PRIMARY KEY, title text NOT NULL,
  "documentId" text NOT NULL REFERENCES "Document"(id) ON DELETE CASCADE,
  "teamId" text NOT NULL REFERENCES "Team"(id));
CREATE TABLE "AnnotationImage" (id text PRIMARY KEY, filename text NOT NULL, url text NOT NULL,
  "annotationId" text NOT NULL REFERENCES "DocumentAnnotation"(id) ON DELETE CASCADE);
"""


def q(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


@dataclass
class World:
    """One test's stack database, stack bucket, old R2 bucket and Blob store."""

    pg: PostgresContainer
    db: str
    target: S3StandIn
    r2: S3StandIn
    blob: BlobStandIn
    ca: str
    workdir: Path

    @property
    def url(self) -> str:
        return f"postgresql://supermark:pg-password-123@127.0.0.1:{self.pg.port}/{self.db}"

    def sql(self, statement: str) -> str:
        return self.pg.sql(statement, self.db)

    def settings(self, **extra: Any) -> Settings:
        return configure(
            target_url=self.url,
            bucket_endpoint=self.target.url,
            bucket_name=BUCKET,
            access_key=APP_KEY,
            secret_key=APP_SECRET,
            files_url=FILES_URL,
            blob_hosts=(self.blob.url.removeprefix("https://"),),
            blob_token=TOKEN,
            source_endpoint=self.r2.url,
            source_bucket=R2_BUCKET,
            source_access_key=R2_KEY,
            source_secret_key=R2_SECRET,
            ca_file=self.ca,
            workdir=self.workdir,
            **extra,
        )

    def fingerprint(self) -> str:
        tables = ["Document", "DocumentVersion", "DocumentPage", "Brand", "DataroomBrand", "Link", "User"]
        return self.sql(
            "SELECT "
            + " || ".join(
                f"coalesce((SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM \"{t}\" t), '-')"
                for t in tables
            )
        )


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresContainer]:
    server = PostgresContainer(IMAGE, "pg-password-123")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, str]:
    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return context, str(bundle)


@pytest.fixture()
def world(pg: PostgresContainer, tls: tuple[Any, str], tmp_path: Path) -> Iterator[World]:
    db = f"d{uuid.uuid4().hex[:12]}"
    pg.sql(f"CREATE DATABASE {db} OWNER supermark", "postgres")
    pg.sql(SCHEMA, db)
    target, r2 = S3StandIn(tmp_path / "stack-bucket"), S3StandIn(tmp_path / "r2")
    target.start()
    r2.start()
    target.bucket(BUCKET, APP_KEY, APP_SECRET)
    r2.bucket(R2_BUCKET, R2_KEY, R2_SECRET, write=False)
    blob = BlobStandIn(tmp_path / "blobs", token=TOKEN)
    blob.start(tls=tls[0])
    yield World(pg, db, target, r2, blob, tls[1], tmp_path / "work")
    blob.stop()
    target.stop()
    r2.stop()
    pg.sql(f"DROP DATABASE {db} WITH (FORCE)", "postgres")


def data(name: str, size: int = 40_000) -> bytes:
    """Distinct bytes per name."""
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def seed(w: World) -> dict[str, str]:
    """A Supermark database as a Vercel deployment leaves it: documents, versions, an Office
    original, pages, brand and dataroom logos, link images, an annotation image and an avatar in
    Vercel Blob; one document and a banner from the R2 bucket the deployment also used; a Notion
    page and images on other hosts, which are not stored files."""
    b = {name: w.blob.put(name, data(name)) for name in (
        "report-Ab12Cd.pdf", "page-1-Xy1.png", "page-2-Xy2.png", "deck-Zz9.pptx", "deck-Zz9-Qq1.pdf",
        "logo-Lg1.png", "room-logo-Rl1.png", "og-image-Og1.png", "annotation-An1.png", "avatar-Av1.jpg",
    )}  # fmt: skip
    r2_doc, r2_banner = (
        "cteam2/doc_R2old/contract.pdf",
        "cteam1/images/assets-5f0c8e1a9b7d4c2e8f6a1b3c5d7e9f01.png",
    )
    w.r2.put(R2_BUCKET, r2_doc, data(r2_doc, 300_000))
    w.r2.put(R2_BUCKET, r2_banner, data(r2_banner))
    banner_url = f"{w.r2.url}/{R2_BUCKET}/{r2_banner}"
    w.sql(f"""
    INSERT INTO "Team" VALUES ('cteam1', 'One'), ('cteam2', 'Two');
    INSERT INTO "User" VALUES ('cuser1', 'a@x.test', 'https://lh3.googleusercontent.com/a/photo'),
      ('cuser2', 'b@x.test', {q(b["avatar-Av1.jpg"])});
    INSERT INTO "UserTeam" VALUES ('cuser1', 'cteam1'), ('cuser2', 'cteam2');
    INSERT INTO "Document" (id, name, file, "originalFile", type, "teamId") VALUES
      ('cdoc1', 'Report', {q(b["report-Ab12Cd.pdf"])}, {q(b["report-Ab12Cd.pdf"])}, 'pdf', 'cteam1'),
      ('cdoc2', 'Deck', {q(b["deck-Zz9-Qq1.pdf"])}, {q(b["deck-Zz9.pptx"])}, 'slides', 'cteam1'),
      ('cdoc4', 'Wiki', 'https://www.notion.so/Team-Wiki-0123456789abcdef', NULL, 'notion', 'cteam1');
    INSERT INTO "Document" (id, name, file, "originalFile", type, "storageType", "teamId") VALUES
      ('cdoc3', 'Contract', {q(r2_doc)}, {q(r2_doc)}, 'pdf', 'S3_PATH', 'cteam2');
    INSERT INTO "DocumentVersion" (id, "versionNumber", "documentId", file, "originalFile", "isPrimary",
      "storageType") VALUES
      ('cver1', 1, 'cdoc1', {q(b["report-Ab12Cd.pdf"])}, {q(b["report-Ab12Cd.pdf"])}, true, 'VERCEL_BLOB'),
      ('cver2', 1, 'cdoc2', {q(b["deck-Zz9-Qq1.pdf"])}, {q(b["deck-Zz9.pptx"])}, true, 'VERCEL_BLOB'),
      ('cver3', 1, 'cdoc3', {q(r2_doc)}, {q(r2_doc)}, true, 'S3_PATH');
    INSERT INTO "DocumentPage" (id, "versionId", "pageNumber", file) VALUES
      ('cpage1', 'cver1', 1, {q(b["page-1-Xy1.png"])}), ('cpage2', 'cver1', 2, {q(b["page-2-Xy2.png"])});
    INSERT INTO "Brand" (id, logo, banner, "teamId") VALUES
      ('cbrand1', {q(b["logo-Lg1.png"])}, {q(banner_url)}, 'cteam1');
    INSERT INTO "Dataroom" VALUES ('croom1', 'dr_1', 'Room', 'cteam2');
    INSERT INTO "DataroomBrand" (id, logo, "dataroomId")
      VALUES ('crb1', {q(b["room-logo-Rl1.png"])}, 'croom1');
    INSERT INTO "Link" (id, "documentId", "metaImage", "metaFavicon") VALUES
      ('clink1', 'cdoc1', {q(b["og-image-Og1.png"])}, 'https://example.com/favicon.ico');
    INSERT INTO "LinkPreset" (id, name, "teamId") VALUES ('cpre1', 'Default', 'cteam1');
    INSERT INTO "DocumentAnnotation" VALUES ('cann1', 'Note', 'cdoc1', 'cteam1');
    INSERT INTO "AnnotationImage" VALUES ('cimg1', 'a.png', {q(b["annotation-An1.png"])}, 'cann1');
    """)
    return {**b, "r2_doc": r2_doc, "r2_banner": r2_banner, "banner_url": banner_url}


def row(w: World, table: str, id_: str, *columns: str) -> list[str]:
    cols = ", ".join(f'"{c}"' for c in columns)
    return w.sql(f'SELECT {cols} FROM "{table}" WHERE id = {q(id_)}').split("|")


@pytest.mark.docker
def test_every_referenced_file_moves_and_its_rows_follow(world: World) -> None:
    w = world
    b = seed(w)
    result = move(w.settings()).as_dict()
    assert result["ok"], json.dumps(result, indent=1)
    assert result["reason"] == "" and result["at"]
    # 10 blobs and 2 objects of the old bucket; the R2 document's key stays the app's own.
    assert result["objects"]["referenced"] == 12 and result["objects"]["copied"] == 12
    assert result["rows"] == {"read": 16, "to_rewrite": 11, "rewritten": 11}
    assert result["missing"] == [] and result["errors"] == []
    assert result["foreign_urls"] == {"www.notion.so": 1, "lh3.googleusercontent.com": 1, "example.com": 1}

    stored = w.target.stored(BUCKET)  # what reached the stack's bucket, on its disk
    file, original, storage = row(w, "Document", "cdoc1", "file", "originalFile", "storageType")
    assert storage == "S3_PATH" and file == original
    assert re.fullmatch(r"cteam1/doc_cdoc1/report-Ab12Cd-[0-9a-f]{8}\.pdf", file)
    assert stored[file] == data("report-Ab12Cd.pdf")
    # The document, its version and its pages share one folder, which the app finds as the app does.
    assert row(w, "DocumentVersion", "cver1", "file", "storageType") == [file, "S3_PATH"]
    for page, name in (("cpage1", "page-1-Xy1.png"), ("cpage2", "page-2-Xy2.png")):
        key, storage = row(w, "DocumentPage", page, "file", "storageType")
        assert storage == "S3_PATH" and key.startswith("cteam1/doc_cdoc1/") and stored[key] == data(name)
        assert re.search(r"(doc_[^/]+)/", key)[1] == re.search(r"doc_\w+", file)[0]  # type: ignore[index]
    pdf, pptx, storage = row(w, "DocumentVersion", "cver2", "file", "originalFile", "storageType")
    assert (
        storage == "S3_PATH"
        and stored[pdf] == data("deck-Zz9-Qq1.pdf")
        and stored[pptx] == data("deck-Zz9.pptx")
    )
    # The old bucket's document: the same key, now in the stack's bucket.
    assert row(w, "Document", "cdoc3", "file", "storageType") == [b["r2_doc"], "S3_PATH"]
    assert stored[b["r2_doc"]] == data(b["r2_doc"], 300_000)
    # Images get the URL the app writes for its own uploads, under its images layout.
    logo, banner = row(w, "Brand", "cbrand1", "logo", "banner")
    assert re.fullmatch(rf"{FILES_URL}/cteam1/images/assets-[0-9a-f]{{32}}\.png", logo)
    assert stored[logo.removeprefix(FILES_URL + "/")] == data("logo-Lg1.png")
    assert banner == f"{FILES_URL}/{b['r2_banner']}" and stored[b["r2_banner"]] == data(b["r2_banner"])
    (avatar,) = row(w, "User", "cuser2", "image")
    assert re.fullmatch(rf"{FILES_URL}/cteam2/images/profile-[0-9a-f]{{32}}\.jpg", avatar)
    assert row(w, "DataroomBrand", "crb1", "logo")[0].startswith(f"{FILES_URL}/cteam2/images/assets-")
    assert row(w, "AnnotationImage", "cimg1", "url")[0].startswith(f"{FILES_URL}/cteam1/images/assets-")
    meta_image, favicon = row(w, "Link", "clink1", "metaImage", "metaFavicon")
    assert (
        meta_image.startswith(f"{FILES_URL}/cteam1/images/") and favicon == "https://example.com/favicon.ico"
    )
    # What is not a stored file is left as it was.
    assert row(w, "Document", "cdoc4", "file", "storageType") == [
        "https://www.notion.so/Team-Wiki-0123456789abcdef", "VERCEL_BLOB"
    ]  # fmt: skip
    assert row(w, "User", "cuser1", "image") == ["https://lh3.googleusercontent.com/a/photo"]
    # The store is private: a request without the token is refused, so every read carried it.
    assert requests.get(b["logo-Lg1.png"], verify=w.ca, timeout=10).status_code == 403
    assert sum(w.blob.gets.values()) == 10

    # A re-run copies nothing: the blobs' rows point at the bucket now, and the old bucket's
    # objects are known the same by their MD5 (only HEADs reach R2).
    puts, r2_gets, before = sum(w.target.puts.values()), dict(w.r2.gets), w.fingerprint()
    again = move(w.settings()).as_dict()
    assert again["ok"] and again["objects"]["copied"] == 0 and again["objects"]["present"] == 6
    assert again["rows"]["to_rewrite"] == 0
    assert sum(w.target.puts.values()) == puts and dict(w.r2.gets) == r2_gets
    assert w.fingerprint() == before


@pytest.mark.docker
def test_dry_run_lists_what_would_move_and_changes_nothing(world: World) -> None:
    w = world
    seed(w)
    before = w.fingerprint()
    result = move(w.settings(), dry_run=True).as_dict()
    assert result["ok"] and result["dry_run"]
    moving = {entry["key"]: entry["size"] for entry in result["would_move"]}
    assert len(moving) == 12 and result["objects"]["would-copy"] == 12
    assert result["bytes"]["would_copy"] == sum(moving.values()) == 9 * 40_000 + 40_000 + 300_000 + 40_000
    assert w.target.stored(BUCKET) == {} and w.target.puts == {} and sum(w.blob.gets.values()) == 0
    assert w.fingerprint() == before
    assert not (w.workdir / "documents-tmp").exists()


@pytest.mark.docker
def test_a_blob_that_is_gone_is_reported_by_row_and_its_rows_are_left(world: World) -> None:
    w = world
    b = seed(w)
    (w.blob.root / "deck-Zz9.pptx").unlink()  # the Office original of cdoc2
    result = move(w.settings()).as_dict()
    assert not result["ok"] and "objects gone from their source: 1" in result["reason"]
    assert sorted((m["table"], m["id"], m["column"], m["url"]) for m in result["missing"]) == [
        ("Document", "cdoc2", "originalFile", b["deck-Zz9.pptx"]),
        ("DocumentVersion", "cver2", "originalFile", b["deck-Zz9.pptx"]),
    ]
    # Both rows keep their Blob URLs (one storage type per row: it cannot switch half-way)...
    assert row(w, "Document", "cdoc2", "file", "originalFile", "storageType") == [
        b["deck-Zz9-Qq1.pdf"], b["deck-Zz9.pptx"], "VERCEL_BLOB"
    ]  # fmt: skip
    assert row(w, "DocumentVersion", "cver2", "storageType") == ["VERCEL_BLOB"]
    # ...while the rest moved.
    assert row(w, "Document", "cdoc1", "storageType") == ["S3_PATH"]
    assert result["rows"]["rewritten"] == 9
    # Accepting the loss explicitly makes the run succeed; the loss is still listed.
    accepted = move(w.settings(allow_missing=True)).as_dict()
    assert accepted["ok"] and len(accepted["missing"]) == 2


@pytest.mark.docker
def test_a_copy_stops_before_it_fills_the_disk_and_its_rows_are_left(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    seed(w)
    real = shutil.disk_usage
    # The disk under the work folder has just under the reserve free (the rest of the machine is real).
    monkeypatch.setattr(
        docs_run.shutil,
        "disk_usage",
        lambda p: real(p)._replace(free=docs_run.FREE_RESERVE + 10) if "documents-tmp" in str(p) else real(p),
    )
    result = move(w.settings()).as_dict()
    assert not result["ok"] and result["errors"]
    assert all("would have less than 2 GiB free" in e["reason"] for e in result["errors"])
    assert result["rows"]["rewritten"] == 0 and w.target.stored(BUCKET) == {}
    assert row(w, "Document", "cdoc1", "storageType") == ["VERCEL_BLOB"]


@pytest.mark.docker
def test_a_row_is_rewritten_only_after_its_object_is_read_back_intact(world: World) -> None:
    w = world
    seed(w)
    s = w.settings()
    report_key = next(key for key in plan(s).objects if "report" in key)
    w.target.corrupt.add(f"{BUCKET}/{report_key}")  # the bucket stores one bit flipped
    result = move(s).as_dict()
    assert not result["ok"]
    failed = {(f["table"], f["id"], f["column"]) for f in result["errors"]}
    assert failed == {
        ("Document", "cdoc1", "file"), ("Document", "cdoc1", "originalFile"),
        ("DocumentVersion", "cver1", "file"), ("DocumentVersion", "cver1", "originalFile"),
    }  # fmt: skip
    assert all("read back from the stack's bucket" in f["reason"] for f in result["errors"])
    assert row(w, "Document", "cdoc1", "storageType") == ["VERCEL_BLOB"]
    assert row(w, "DocumentVersion", "cver1", "storageType") == ["VERCEL_BLOB"]
    assert row(w, "DocumentPage", "cpage1", "storageType") == ["S3_PATH"]  # its own object was fine
    # Once the bucket stores what it is sent, a re-run copies that one object and moves its rows.
    w.target.corrupt.clear()
    again = move(s).as_dict()
    assert again["ok"] and again["objects"]["copied"] == 1 and again["rows"]["rewritten"] == 2
    assert w.target.stored(BUCKET)[report_key] == data("report-Ab12Cd.pdf")


@pytest.mark.docker
def test_a_row_changed_since_it_was_read_is_left_as_the_app_left_it(world: World) -> None:
    """The rewrite checks each row still holds what was read: an edit made meanwhile wins."""
    w = world
    b = seed(w)
    s = w.settings()
    work = plan(s)
    w.sql("UPDATE \"Brand\" SET logo = 'https://cdn.example/new-logo.png' WHERE id = 'cbrand1'")
    changes = [c for c in work.changes if c.table in ("Brand", "DataroomBrand")]
    done = rewrite(query_client(), s.target, changes)
    assert [changes[i].table for i in done] == ["DataroomBrand"]
    assert row(w, "Brand", "cbrand1", "logo", "banner") == [
        "https://cdn.example/new-logo.png",
        b["banner_url"],
    ]
    assert row(w, "DataroomBrand", "crb1", "logo")[0].startswith(FILES_URL)


def cli(w: World, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SUPERMARK_MIGRATE_TARGET_URL": w.url,
        "SUPERMARK_DOCUMENTS_ACCESS_KEY": APP_KEY,
        "SUPERMARK_DOCUMENTS_SECRET_KEY": APP_SECRET,
        "SUPERMARK_BLOB_READ_WRITE_TOKEN": TOKEN,
    }
    argv = [
        sys.executable, "-m", "supermark_ops.cli", "migrate", "documents", "--json",
        "--bucket-endpoint", w.target.url, "--bucket", BUCKET, "--files-url", FILES_URL,
        "--blob-host", w.blob.url.removeprefix("https://"), "--ca-file", w.ca, "--workdir", str(w.workdir),
        *args,
    ]  # fmt: skip
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


@pytest.mark.docker
def test_a_run_killed_mid_copy_is_finished_by_a_rerun_without_copying_anything_twice(world: World) -> None:
    w = world
    w.sql("INSERT INTO \"Team\" VALUES ('cteam1', 'One')")
    blobs = {
        f"cdoc{i:02d}": w.blob.put(f"doc-{i:02d}-Bx{i}.pdf", data(f"doc-{i}", 200_000)) for i in range(40)
    }
    w.sql(
        'INSERT INTO "Document" (id, name, file, "originalFile", "teamId") VALUES '
        + ", ".join(f"({q(d)}, {q(d)}, {q(u)}, {q(u)}, 'cteam1')" for d, u in blobs.items())
    )
    w.blob.delay = 0.05  # slow enough to be caught mid-copy
    first = cli(w, "--jobs", "2", "--batch", "5")
    deadline = time.monotonic() + 60
    while sum(w.target.puts.values()) < 16 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    moved = int(w.sql('SELECT count(*) FROM "Document" WHERE "storageType" = \'S3_PATH\''))
    assert 0 < moved < 40, f"the kill did not land mid-copy ({moved} rows moved)"
    w.blob.delay = 0
    rerun = cli(w, "--jobs", "2", "--batch", "5")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    result = json.loads(out)
    assert result["ok"] and result["rows"]["rewritten"] == 40 - moved
    # Nothing was stored twice, and every row points at its document, intact.
    assert set(w.target.puts.values()) == {1} and len(w.target.puts) == 40
    stored = w.target.stored(BUCKET)
    for i, doc in enumerate(blobs):
        key = w.sql(f'SELECT file FROM "Document" WHERE id = {q(doc)} AND "storageType" = \'S3_PATH\'')
        assert stored[key] == data(f"doc-{i}", 200_000)
    assert list((w.workdir / "documents-tmp").iterdir()) == []
    assert TOKEN not in out + err and APP_SECRET not in out + err


def test_key_layout_and_blob_hosts() -> None:
    """The app's layout: a document's folder is doc_<letters and digits> (its /doc_\\w+/ and
    /(doc_[^/]+)// find it); odd ids and names are made safe, and the same URL always gives the
    same key (a re-run finds what an earlier run copied)."""
    url = "https://abc.public.blob.vercel-storage.com/My%20Report%20(final)-AbC.PDF"
    key = catalog.document_key("cteam1", "clx9doc", url)
    assert re.fullmatch(r"cteam1/doc_clx9doc/My-Report-final-AbC-[0-9a-f]{8}\.pdf", key)
    assert key == catalog.document_key("cteam1", "clx9doc", url)
    odd = catalog.document_key("team/../x", "vercel-1", url)
    assert re.fullmatch(r"[0-9a-f]{24}/doc_[0-9a-f]{24}/My-Report-final-AbC-[0-9a-f]{8}\.pdf", odd)
    store = BlobStore()
    assert store.owns(url) and store.owns("https://x.private.blob.vercel-storage.com/a.pdf")
    assert not store.owns("https://blob.vercel-storage.com.evil.test/a.pdf")
    assert not store.owns("https://www.notion.so/page")


def run_module(project_root: Path, w: World, *flags: str) -> subprocess.CompletedProcess[str]:
    extra = {
        "smops_target_url": w.url,
        "smops_bucket_endpoint": w.target.url,
        "smops_bucket": BUCKET,
        "smops_access_key": APP_KEY,
        "smops_secret_key": APP_SECRET,
        "smops_files_url": FILES_URL,
        "smops_blob_hosts": [w.blob.url.removeprefix("https://")],
        "smops_blob_token": TOKEN,
        "smops_ca_file": w.ca,
        "smops_workdir": str(w.workdir),
    }
    env = {**os.environ, "ANSIBLE_CONFIG": str(project_root / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        ["ansible-playbook", "-i", str(project_root / "tests/fixtures/no_hosts.yml"), "-vvv", *flags,
         str(project_root / "tests/fixtures/migrate_documents_module.yml"), "-e", json.dumps(extra)],
        env={**env, "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"},
        capture_output=True,
        text=True,
        cwd=project_root,
        timeout=300,
    )  # fmt: skip


@pytest.mark.docker
@pytest.mark.playbook
def test_ansible_module_check_mode_is_the_dry_run_then_a_real_run_moves(
    project_root: Path, world: World
) -> None:
    w = world
    w.sql("INSERT INTO \"Team\" VALUES ('cteam1', 'One')")
    url = w.blob.put("report-Mm1.pdf", data("report-Mm1.pdf"))
    w.sql(f"INSERT INTO \"Document\" (id, name, file, \"teamId\") VALUES ('cdoc1', 'R', {q(url)}, 'cteam1')")
    checked = run_module(project_root, w, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert '\\"would-copy\\": 1' in checked.stdout and "changed=0" in checked.stdout
    # The dry run lists what would move, without the public URL that opens the document.
    assert url not in checked.stdout + checked.stderr and "(path hidden" in checked.stdout
    assert w.target.stored(BUCKET) == {} and row(w, "Document", "cdoc1", "storageType") == ["VERCEL_BLOB"]
    real = run_module(project_root, w)
    assert real.returncode == 0, real.stdout + real.stderr
    assert '\\"rewritten\\": 1' in real.stdout and "changed=1" in real.stdout
    key, storage = row(w, "Document", "cdoc1", "file", "storageType")
    assert storage == "S3_PATH" and w.target.stored(BUCKET)[key] == data("report-Mm1.pdf")
    for run in (checked, real):  # -vvv, and the secrets were in extra vars
        for secret in (APP_SECRET, TOKEN, "pg-password-123"):
            assert secret not in run.stdout + run.stderr
