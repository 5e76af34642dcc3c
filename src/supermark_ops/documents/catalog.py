"""Where Supermark refers to stored files, and where the app itself puts them in S3.

Read from regenassets/supermark at the pinned ref (prisma/schema/*.prisma, lib/files/*,
pages/api/file/*):

- Stored files: `Document.file` and `.originalFile`, `DocumentVersion.file` and
  `.originalFile`, `DocumentPage.file`. The row's `storageType` says what its columns hold:
  `VERCEL_BLOB` the blob's URL, `S3_PATH` a key in the app's bucket laid out
  `<teamId>/<docId>/<file name>` with a docId `doc_...` (put-file-server.ts,
  get-presigned-post-url.ts, s3/upload.ts). A document's files, its versions' and its pages'
  share one docId folder: duplicating a document copies the folder (copy-file-server.ts) and a
  conversion finds the folder in the original's key (`/(doc_[^/]+)//`), so they move together.
- Images, always a URL: `Brand.logo`/`.banner`, `DataroomBrand.logo`/`.banner`, `Link` and
  `LinkPreset` `.metaImage`/`.metaFavicon`, `AnnotationImage.url`, `User.image`. In S3 mode
  /api/file/image-upload stores them under `<teamId>/images/<type>-<32 hex>.<ext>` (type
  `assets`, or `profile` for an avatar) and writes `<upload endpoint>/<bucket>/<key>`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from supermark_ops.pg import Client, Endpoint
from supermark_ops.pg.sql import ident, literal


@dataclass(frozen=True)
class Table:
    """A table with columns that refer to stored files. Its query names the table `t`."""

    name: str
    columns: tuple[str, ...]
    source: str  # the FROM clause
    team: str  # SQL: the row's team
    doc: str = ""  # SQL: the document whose folder holds the files (stored files only)
    image: str = "assets"  # the app's upload type for an image column
    needs: tuple[tuple[str, str], ...] = ()  # other (table, column) the query reads

    @property
    def stored(self) -> bool:
        """Columns governed by storageType (a URL or a key), not always a URL."""
        return bool(self.doc)

    def required(self) -> set[tuple[str, str]]:
        own = {(self.name, "id"), *((self.name, c) for c in self.columns), *self.needs}
        return own | ({(self.name, "storageType")} if self.stored else set())

    def select(self) -> str:
        """One JSON array per row: id, team, document, storage type, then the columns."""
        storage = 't."storageType"::text' if self.stored else "NULL::text"
        values = ", ".join(f"t.{ident(c)}" for c in self.columns)
        row = f"jsonb_build_array(t.id, {self.team}, {self.doc or 'NULL::text'}, {storage}, {values})"
        return f"(SELECT coalesce(jsonb_agg({row}), '[]'::jsonb) FROM {self.source})"


TABLES = (
    Table(
        "Document",
        ("file", "originalFile"),
        '"Document" t',
        't."teamId"',
        "t.id",
        needs=(("Document", "teamId"),),
    ),
    Table(
        "DocumentVersion",
        ("file", "originalFile"),
        '"DocumentVersion" t JOIN "Document" d ON d.id = t."documentId"',
        'd."teamId"',
        't."documentId"',
        needs=(("DocumentVersion", "documentId"), ("Document", "teamId")),
    ),
    Table(
        "DocumentPage",
        ("file",),
        '"DocumentPage" t JOIN "DocumentVersion" v ON v.id = t."versionId" '
        'JOIN "Document" d ON d.id = v."documentId"',
        'd."teamId"',
        'v."documentId"',
        needs=(("DocumentPage", "versionId"), ("DocumentVersion", "documentId"), ("Document", "teamId")),
    ),
    Table("Brand", ("logo", "banner"), '"Brand" t', 't."teamId"', needs=(("Brand", "teamId"),)),
    Table(
        "DataroomBrand",
        ("logo", "banner"),
        '"DataroomBrand" t JOIN "Dataroom" r ON r.id = t."dataroomId"',
        'r."teamId"',
        needs=(("DataroomBrand", "dataroomId"), ("Dataroom", "teamId")),
    ),
    Table(
        "Link",
        ("metaImage", "metaFavicon"),
        '"Link" t LEFT JOIN "Document" d ON d.id = t."documentId" '
        'LEFT JOIN "Dataroom" r ON r.id = t."dataroomId"',
        'coalesce(t."teamId", d."teamId", r."teamId")',
        needs=(
            ("Link", "teamId"),
            ("Link", "documentId"),
            ("Link", "dataroomId"),
            ("Document", "teamId"),
            ("Dataroom", "teamId"),
        ),
    ),
    Table(
        "LinkPreset",
        ("metaImage", "metaFavicon"),
        '"LinkPreset" t',
        't."teamId"',
        needs=(("LinkPreset", "teamId"),),
    ),
    Table(
        "AnnotationImage",
        ("url",),
        '"AnnotationImage" t JOIN "DocumentAnnotation" a ON a.id = t."annotationId"',
        'a."teamId"',
        needs=(("AnnotationImage", "annotationId"), ("DocumentAnnotation", "teamId")),
    ),
    Table(
        "User",
        ("image",),
        '"User" t',
        '(SELECT min(m."teamId") FROM "UserTeam" m WHERE m."userId" = t.id)',
        image="profile",
        needs=(("UserTeam", "userId"), ("UserTeam", "teamId")),
    ),
)


@dataclass(frozen=True)
class Row:
    table: Table
    id: str
    team: str | None
    doc: str | None
    storage: str | None
    values: dict[str, str | None]


def read(client: Client, endpoint: Endpoint) -> tuple[list[Row], list[str]]:
    """Every row of the tables above, and the tables this database's schema lacks (an older
    Supermark): two statements in all, whatever the number of rows."""
    present = {
        (t, c)
        for t, c in client.query(
            endpoint,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema()",
        )
    }
    tables = [t for t in TABLES if t.required() <= present]
    skipped = [t.name for t in TABLES if t not in tables]
    if not tables:
        return [], skipped
    pairs = ", ".join(f"{literal(t.name)}, {t.select()}" for t in tables)
    # jsonb's text has no line breaks or tabs outside strings: one field, one line.
    data = json.loads(client.query(endpoint, f"SELECT jsonb_build_object({pairs})::text")[0][0])
    rows = [
        Row(table, str(r[0]), r[1], r[2], r[3], dict(zip(table.columns, r[4:], strict=True)))
        for table in tables
        for r in data[table.name]
    ]
    return rows, skipped


def _segment(value: str | None, fallback: str, plain: str = r"[A-Za-z0-9_-]{1,64}") -> str:
    """An id as a key segment: as it is when it is plain, else a stable digest of it."""
    if not value:
        return fallback
    return value if re.fullmatch(plain, value) else hashlib.sha256(value.encode()).hexdigest()[:24]


def _name(url: str) -> tuple[str, str]:
    """The stem and extension of a URL's last path segment, safe as a key (the app slugifies)."""
    last = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    stem, dot, ext = last.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,10}", ext):
        stem, ext = last, ""
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", stem).strip("-.")[:100] or "file"
    return slug, f".{ext.lower()}" if ext else ""


def document_key(team: str | None, doc: str | None, url: str) -> str:
    """`<team>/doc_<document>/<name>-<8 hex of the URL><ext>`: the app's layout, one folder per
    document, a name unique per source URL (so a re-run finds the same key)."""
    stem, ext = _name(url)
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    # The app finds a document's folder with /doc_\w+/ and /(doc_[^/]+)//: letters and digits only.
    folder = _segment(doc, "none", r"[A-Za-z0-9]{1,64}")
    return f"{_segment(team, 'no-team')}/doc_{folder}/{stem}-{digest}{ext}"


def image_key(team: str | None, kind: str, url: str) -> str:
    """`<team>/images/<kind>-<32 hex of the URL><ext>`, as /api/file/image-upload names them."""
    _, ext = _name(url)
    return f"{_segment(team, 'no-team')}/images/{kind}-{hashlib.sha256(url.encode()).hexdigest()[:32]}{ext}"
