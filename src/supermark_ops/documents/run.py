"""The documents' move: plan, copy and verify, rewrite.

`plan` reads every reference (catalog.read) and resolves it to an object: where its bytes are
(a Vercel Blob URL, a key in the old deployment's bucket, or, for an `S3_PATH` row with no old
bucket given, nowhere but the stack's bucket itself) and the key it gets in the stack's bucket
(the app's layout). `move` handles the objects in parallel (`jobs`): an object the stack's
bucket already holds with the same bytes is left alone (so a re-run copies only what is missing
or differs); any other is read from its source into a temporary file, put, and read back from
the stack's bucket, whose size and sha256 must be what was read. A row is rewritten (to
`S3_PATH` and its key, or an image to the stack's URL) only once every object it refers to is
verified, a batch of rows per transaction, and only where it still holds what was read (a row
the app changed meanwhile is left and reported). A source object that is gone is reported by
row, and its row is left as it was.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from supermark_ops import files, results
from supermark_ops.documents import catalog
from supermark_ops.documents.blob import BlobStore, Fetched
from supermark_ops.documents.errors import DocumentsError
from supermark_ops.errors import OpsError
from supermark_ops.http import verify
from supermark_ops.pg import Client, Endpoint, parse
from supermark_ops.pg.client import psql_args, query_client, split_rows
from supermark_ops.pg.sql import ident, literal
from supermark_ops.results import Progress, no_progress
from supermark_ops.s3 import Bucket, Object

# An object is settled when the stack's bucket holds it, checked.
SETTLED = ("copied", "present")


@dataclass(frozen=True)
class Settings:
    target: Endpoint  # the stack's database
    bucket: Bucket  # the stack's bucket
    blob: BlobStore = field(default_factory=BlobStore)
    files_url: str = ""  # the public base of image URLs the app writes; default <endpoint>/<bucket>
    source: Bucket | None = None  # the old deployment's S3/R2 bucket, if it had one
    source_urls: tuple[str, ...] = ()  # public URL prefixes of that bucket (an r2.dev or CDN name)
    workdir: Path = Path("/var/lib/supermark-ops/migrate")
    client_image: str = ""
    jobs: int = 4
    batch: int = 100  # rows per transaction
    allow_missing: bool = False

    @property
    def images_url(self) -> str:
        return (self.files_url or f"{self.bucket.endpoint.rstrip('/')}/{self.bucket.bucket}").rstrip("/")

    def source_prefixes(self) -> tuple[str, ...]:
        """Where the old bucket's objects were linked from: the app writes <endpoint>/<bucket>/<key>."""
        if self.source is None:
            return ()
        own = f"{self.source.endpoint.rstrip('/')}/{self.source.bucket}/"
        return (own, *(url.rstrip("/") + "/" for url in self.source_urls))


@dataclass(frozen=True)
class Origin:
    kind: str  # blob | s3 (the old bucket) | bucket (only the stack's bucket can have it)
    ref: str  # the blob's URL, or the key
    label: str  # where, in words (the report's `url`)


@dataclass(frozen=True)
class Ref:
    table: str
    id: str
    column: str


@dataclass
class Obj:
    key: str  # in the stack's bucket
    origin: Origin
    refs: list[Ref]
    state: str = "pending"  # copied | present | missing | failed | would-copy
    reason: str = ""
    size: int = 0


@dataclass(frozen=True)
class Change:
    """One row's rewrite: `sets` when the row still holds `guards` (and VERCEL_BLOB, if `storage`)."""

    table: str
    id: str
    sets: dict[str, str]
    guards: dict[str, str | None]
    storage: bool
    keys: tuple[str, ...]


@dataclass
class Plan:
    objects: dict[str, Obj] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    foreign: Counter[str] = field(default_factory=Counter)  # URLs of no source we move, by host
    unmovable: list[dict[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # tables this schema does not have
    rows: int = 0

    def add(self, key: str, origin: Origin, ref: Ref) -> None:
        obj = self.objects.get(key)
        if obj is None:
            self.objects[key] = Obj(key, origin, [ref])
        elif obj.origin.ref != origin.ref:
            raise DocumentsError(f"two sources for the key {key}: {obj.origin.label} and {origin.label}")
        else:
            obj.refs.append(ref)


def _host(value: str) -> str:
    parts = urlsplit(value)
    return parts.netloc if parts.scheme in ("http", "https") and parts.netloc else "(not a URL)"


def plan(settings: Settings, client: Client | None = None) -> Plan:
    """Every reference the stack's database holds, resolved to the objects to settle and the
    rows to rewrite once they are. Reads only."""
    client = client or query_client(settings.client_image)
    rows, skipped = catalog.read(client, settings.target)
    out = Plan(skipped=skipped, rows=len(rows))
    blob, prefixes = settings.blob, settings.source_prefixes()
    old = settings.source

    def s3_origin(key: str) -> Origin:
        if old is None:
            where = f"{settings.bucket.endpoint.rstrip('/')}/{settings.bucket.bucket}/{key}"
            return Origin(
                "bucket", key, f"{where} (no old bucket given: only the stack's bucket can have it)"
            )
        return Origin("s3", key, f"{old.endpoint.rstrip('/')}/{old.bucket}/{key}")

    for row in rows:
        table = row.table
        values = {c: v for c, v in row.values.items() if v}
        if table.stored and row.storage == "S3_PATH":
            for column, key in values.items():
                out.add(key, s3_origin(key), Ref(table.name, row.id, column))
        elif table.stored and row.storage == "VERCEL_BLOB" and values:
            others = {c: v for c, v in values.items() if not blob.owns(v)}
            if len(others) == len(values):  # e.g. a Notion page: not a stored file
                out.foreign.update(_host(v) for v in values.values())
                continue
            if others:  # one storage type per row: it cannot switch with a column left behind
                for column, value in others.items():
                    out.unmovable.append(
                        {"table": table.name, "id": row.id, "column": column, "url": value,
                         "reason": "not a Blob URL, in a row whose other files are: the row was left"}
                    )  # fmt: skip
                continue
            sets = {c: catalog.document_key(row.team, row.doc, v) for c, v in values.items()}
            for column, value in values.items():
                out.add(sets[column], Origin("blob", value, value), Ref(table.name, row.id, column))
            out.changes.append(Change(table.name, row.id, sets, row.values, True, tuple(set(sets.values()))))
        elif not table.stored:
            moved: dict[str, str] = {}  # column -> key
            for column, value in values.items():
                if value.startswith(settings.images_url + "/"):
                    continue  # already the stack's
                prefix = next((p for p in prefixes if value.startswith(p)), "")
                if blob.owns(value):
                    key, origin = (
                        catalog.image_key(row.team, table.image, value),
                        Origin("blob", value, value),
                    )
                elif prefix:
                    key = unquote(urlsplit(value[len(prefix) :]).path)
                    origin = s3_origin(key)
                else:
                    out.foreign[_host(value)] += 1
                    continue
                out.add(key, origin, Ref(table.name, row.id, column))
                moved[column] = key
            if moved:  # one rewrite per row (one UPDATE may change a row once)
                sets = {c: f"{settings.images_url}/{k}" for c, k in moved.items()}
                guards: dict[str, str | None] = {c: values[c] for c in moved}
                out.changes.append(
                    Change(table.name, row.id, sets, guards, False, tuple(set(moved.values())))
                )
    return out


def _plain_md5(etag: str) -> bool:
    """A single-part upload's ETag is the MD5 of its bytes (a multipart one is not)."""
    return re.fullmatch(r"[0-9a-f]{32}", etag) is not None


# The copies pass through the droplet's disk, which Postgres and MinIO share: a copy stops
# before it leaves less than this free (an image URL a user of the old app set can name a
# blob of any size).
FREE_RESERVE = 2 * 2**30


class _Guarded:
    """A file whose writes stop (DocumentsError) before the disk under `folder` has less than
    FREE_RESERVE free; checked every 16 MiB."""

    def __init__(self, out: Any, folder: Path) -> None:
        self.out, self.folder, self.written, self.next_check = out, folder, 0, 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written >= self.next_check:
            self.next_check = self.written + 16 * 2**20
            if shutil.disk_usage(self.folder).free - len(data) < FREE_RESERVE:
                raise DocumentsError(
                    f"stopped after {self.written // 2**20} MiB: the disk under {self.folder} would have "
                    f"less than {FREE_RESERVE // 2**30} GiB free (the database and the bucket share it); "
                    "free space or point workdir at a bigger disk, then run again"
                )
        written: int = self.out.write(data)
        return written


def _read(settings: Settings, obj: Obj, src: Object | None, out: Any) -> Fetched | None:
    """The object's bytes from its source into `out` (`src`: the old bucket's HEAD of it);
    None when the source no longer has it."""
    if obj.origin.kind == "blob":
        return settings.blob.fetch(obj.origin.ref, out)
    assert settings.source is not None and src is not None
    size, sha256 = settings.source.fetch(obj.origin.ref, out)
    return Fetched(size, sha256, src.content_type)


def _settle(settings: Settings, obj: Obj, tmp: Path) -> None:
    """Make the stack's bucket hold the object, checked; set its state (never raises)."""
    bucket = settings.bucket
    try:
        have = bucket.head(obj.key)
        if obj.origin.kind == "bucket":
            obj.state, obj.size = ("present", have.size) if have else ("missing", 0)
            obj.reason = "" if have else "not in the stack's bucket, and no old bucket was given"
            return
        src = None
        if obj.origin.kind == "s3":
            assert settings.source is not None
            src = settings.source.head(obj.origin.ref)
            if src is None:  # not in the old bucket: settled if the stack's has it (moved earlier)
                obj.state, obj.size = ("present", have.size) if have else ("missing", 0)
                return
            if have and src.size == have.size and _plain_md5(src.etag) and src.etag == have.etag:
                obj.state, obj.size = "present", have.size  # the same MD5: no need to read it
                return
        path = files.partial(tmp / hashlib.sha256(obj.key.encode()).hexdigest()[:32])
        try:
            with path.open("wb") as out:
                got = _read(settings, obj, src, _Guarded(out, tmp))
            if got is None:
                obj.state = "missing"
                return
            obj.size = got.size
            if have is not None and have.size == got.size and bucket.fetch(obj.key)[1] == got.sha256:
                obj.state = "present"  # a re-run: it is there already, byte for byte
                return
            bucket.upload(obj.key, path, got.sha256, got.content_type)
            size, sha256 = bucket.fetch(obj.key)  # what the bucket holds, not what was sent
            if (size, sha256) != (got.size, got.sha256):
                obj.state = "failed"
                obj.reason = (
                    f"read back from the stack's bucket: {size} bytes, sha256 {sha256[:16]}...; the "
                    f"source gave {got.size} bytes, sha256 {got.sha256[:16]}...: its rows were left"
                )
                return
            obj.state = "copied"
        finally:
            path.unlink(missing_ok=True)
    except (OpsError, OSError, requests.RequestException) as exc:
        obj.state, obj.reason = "failed", str(exc) or type(exc).__name__


def _probe(settings: Settings, obj: Obj) -> None:
    """The dry run's look at an object: gone, already there (same size), or to be copied."""
    try:
        have = settings.bucket.head(obj.key)
        if obj.origin.kind == "bucket":
            obj.state, obj.size = ("present", have.size) if have else ("missing", 0)
            return
        if obj.origin.kind == "blob":
            size = settings.blob.size(obj.origin.ref)
        else:
            assert settings.source is not None
            head = settings.source.head(obj.origin.ref)
            size = head.size if head else (have.size if have else None)
        if size is None:
            obj.state = "missing"
        else:
            obj.size = size
            obj.state = "present" if have is not None and have.size == size else "would-copy"
    except (OpsError, OSError, requests.RequestException) as exc:
        obj.state, obj.reason = "failed", str(exc) or type(exc).__name__


def rewrite(client: Client, target: Endpoint, changes: list[Change]) -> set[int]:
    """One statement, so one transaction: each row updated only where it still holds what was
    read. Returns the indexes of the rows it updated."""
    ctes = []
    for i, change in enumerate(changes):
        sets = [f"{ident(c)} = {literal(v)}" for c, v in change.sets.items()]
        where = [f"id = {literal(change.id)}"] + [
            f"{ident(c)} IS NULL" if v is None else f"{ident(c)} = {literal(v)}"
            for c, v in change.guards.items()
        ]
        if change.storage:
            sets.append("\"storageType\" = 'S3_PATH'")
            where.append("\"storageType\" = 'VERCEL_BLOB'")
        update = f"UPDATE {ident(change.table)} SET {', '.join(sets)} WHERE {' AND '.join(where)}"
        ctes.append(f"u{i} AS ({update} RETURNING {i})")
    selects = " UNION ALL ".join(f"SELECT * FROM u{i}" for i in range(len(changes)))
    with tempfile.TemporaryFile() as script:  # stdin: no length limit, nothing in argv
        script.write(f"WITH {', '.join(ctes)} {selects};\n".encode())
        script.seek(0)
        out = client.run("psql", psql_args(target, rows=True), target, stdin=script)
    return {int(row[0]) for row in split_rows(out)}  # the pg layer's row format (NUL-ended rows)


@dataclass
class Summary:
    plan: Plan
    dry_run: bool
    allow_missing: bool
    started: str = field(default_factory=results.now)
    rewritten: int = 0
    changed_meanwhile: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def refs(self, state: str, redact: bool = False) -> list[dict[str, str]]:
        """Each row's reference to an object in `state`: table, id, column, url (and why)."""
        return [
            {"table": r.table, "id": r.id, "column": r.column, "url": _shown(o.origin.label, redact)}
            | ({"reason": o.reason} if o.reason else {})
            for o in self.plan.objects.values()
            if o.state == state
            for r in o.refs
        ]

    def count(self, state: str) -> int:
        return sum(1 for o in self.plan.objects.values() if o.state == state)

    def total(self, state: str) -> int:
        return sum(o.size for o in self.plan.objects.values() if o.state == state)

    @property
    def reason(self) -> str:
        parts = []
        if self.count("missing") and not self.allow_missing:
            parts.append(
                f"objects gone from their source: {self.count('missing')} (see missing; their rows were "
                "left as they were; --allow-missing accepts that)"
            )
        if self.count("failed"):
            parts.append(f"objects not copied and checked: {self.count('failed')} (see errors)")
        if self.plan.unmovable:
            parts.append(
                f"rows mixing Blob URLs with other references: {len(self.plan.unmovable)} (see unmovable)"
            )
        if self.changed_meanwhile:
            parts.append(f"rows changed while copying: {len(self.changed_meanwhile)} (run again)")
        return "; ".join(parts)

    def as_dict(self, redact: bool = False) -> dict[str, object]:
        """The result in the tools' one shape (supermark_ops.results); `redact` hides the paths of
        public URLs (the Ansible module's output)."""
        states = ("copied", "present", "missing", "failed", "would-copy")
        fields: dict[str, object] = {
            "at": self.started,
            "dry_run": self.dry_run,
            "objects": {"referenced": len(self.plan.objects)} | {s: self.count(s) for s in states},
            "bytes": {"copied": self.total("copied"), "would_copy": self.total("would-copy")},
            "rows": {
                "read": self.plan.rows,
                "to_rewrite": len(self.plan.changes),
                "rewritten": self.rewritten,
            },
            "missing": self.refs("missing", redact),
            "errors": self.refs("failed", redact),  # not "failed": Ansible reserves that key
            "unmovable": self.plan.unmovable,
            "changed_meanwhile": self.changed_meanwhile,
            "foreign_urls": dict(self.plan.foreign),
            "skipped_tables": self.plan.skipped,
            "seconds": round(self.seconds, 2),
        }
        if self.dry_run:
            fields["would_move"] = [
                {"key": o.key, "source": _shown(o.origin.label, redact), "size": o.size}
                for o in self.plan.objects.values()
                if o.state == "would-copy"
            ]
        reason = self.reason
        return results.failed(reason, **fields) if reason else results.ok(**fields)


def _shown(label: str, redact: bool) -> str:
    """A public Blob URL opens the document for anyone who has it: where output is kept (Ansible's,
    CI logs) only its host is shown."""
    if not redact or not label.startswith(("https://", "http://")):
        return label
    parts = urlsplit(label)
    return f"{parts.scheme}://{parts.netloc}/... (path hidden: the URL opens the document)"


def _each(
    jobs: int,
    work: Callable[[Settings, Obj], None],
    settings: Settings,
    plan: Plan,
    done: Callable[[Obj], None],
) -> None:
    """`work` on every object, `jobs` at a time; `done` in this thread as each finishes. An error
    in `done` (a rewrite that failed) stops what has not started."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(work, settings, obj): obj for obj in plan.objects.values()}
        try:
            for future in as_completed(futures):
                future.result()
                done(futures[future])
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def move(
    settings: Settings,
    *,
    dry_run: bool = False,
    phase: Progress = no_progress,
    on_object: Callable[[Obj], None] = lambda _obj: None,
    on_plan: Callable[[Plan], None] = lambda _plan: None,
) -> Summary:
    """Plan, then settle every object and rewrite the rows (or, dry, only look)."""
    clock = time.monotonic()
    queries = query_client(settings.client_image)
    phase("reading the references")
    settings.bucket.check()
    work = plan(settings, queries)
    summary = Summary(work, dry_run, settings.allow_missing)
    on_plan(work)
    phase(f"{len(work.objects)} objects, {len(work.changes)} rows to rewrite")
    if dry_run:
        _each(settings.jobs, _probe, settings, work, on_object)
        summary.seconds = time.monotonic() - clock
        return summary
    tmp = settings.workdir / "documents-tmp"
    files.ensure_dir(tmp, 0o700)  # copies of confidential documents pass through it
    for stale in tmp.glob(files.partial(tmp / "*").name):  # a killed run's
        stale.unlink()
    waiting: dict[str, list[int]] = {}
    for i, change in enumerate(work.changes):
        for key in change.keys:
            waiting.setdefault(key, []).append(i)
    ready: list[int] = []

    def flush() -> None:
        batch = [work.changes[i] for i in ready]
        done = rewrite(queries, settings.target, batch)
        summary.rewritten += len(done)
        summary.changed_meanwhile += [
            {"table": c.table, "id": c.id} for n, c in enumerate(batch) if n not in done
        ]
        ready.clear()

    queued: set[int] = set()

    def settled(obj: Obj) -> None:
        on_object(obj)
        for i in waiting.get(obj.key, []):
            # Workers set states as they finish: a row's other object may be settled before
            # its own turn here, so a row is queued once.
            if i not in queued and all(work.objects[k].state in SETTLED for k in work.changes[i].keys):
                queued.add(i)
                ready.append(i)
        if len(ready) >= settings.batch:
            flush()

    _each(settings.jobs, lambda s, o: _settle(s, o, tmp), settings, work, settled)
    if ready:
        flush()
    summary.seconds = time.monotonic() - clock
    return summary


def configure(
    *,
    target_url: str,
    bucket_endpoint: str,
    bucket_name: str,
    access_key: str,
    secret_key: str,
    bucket_region: str = "us-east-1",
    files_url: str = "",
    blob_hosts: tuple[str, ...] = (),
    blob_token: str = "",
    source_endpoint: str = "",
    source_bucket: str = "",
    source_region: str = "auto",
    source_access_key: str = "",
    source_secret_key: str = "",
    source_urls: tuple[str, ...] = (),
    ca_file: str = "",
    workdir: Path = Settings.workdir,
    client_image: str = "",
    jobs: int = 4,
    batch: int = 100,
    allow_missing: bool = False,
) -> Settings:
    """Settings from plain values (the command line's and the Ansible module's), checked: a
    missing one is named with where it comes from."""
    needed = {
        "the target URL (--target or SUPERMARK_MIGRATE_TARGET_URL)": target_url,
        "the stack bucket's endpoint (--bucket-endpoint)": bucket_endpoint,
        "the stack's bucket (--bucket)": bucket_name,
        "the stack bucket's access key (SUPERMARK_DOCUMENTS_ACCESS_KEY)": access_key,
        "the stack bucket's secret key (SUPERMARK_DOCUMENTS_SECRET_KEY)": secret_key,
    }
    source_given = [source_endpoint, source_bucket, source_access_key, source_secret_key]
    if any(source_given):
        needed |= {
            "the old bucket's endpoint (--source-s3-endpoint)": source_endpoint,
            "the old bucket (--source-s3-bucket)": source_bucket,
            "the old bucket's access key (SUPERMARK_SOURCE_S3_ACCESS_KEY)": source_access_key,
            "the old bucket's secret key (SUPERMARK_SOURCE_S3_SECRET_KEY)": source_secret_key,
        }
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise DocumentsError("Missing: " + "; ".join(missing) + ".")
    trust = verify(ca_file)
    bucket = Bucket(bucket_endpoint, bucket_name, access_key, secret_key, bucket_region, verify=trust)
    source = (
        Bucket(
            source_endpoint, source_bucket, source_access_key, source_secret_key, source_region, verify=trust
        )
        if any(source_given)
        else None
    )
    if jobs < 1 or batch < 1:
        raise DocumentsError("--jobs and --batch must be at least 1.")
    return Settings(
        target=parse(target_url, what="target"),
        bucket=bucket,
        blob=BlobStore(hosts=blob_hosts or BlobStore().hosts, token=blob_token, verify=trust),
        files_url=files_url,
        source=source,
        source_urls=source_urls,
        workdir=workdir,
        client_image=client_image,
        jobs=jobs,
        batch=batch,
        allow_missing=allow_missing,
    )
