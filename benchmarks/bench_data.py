"""What the database benchmarks share: a generated database shaped like Supermark's, and the line
describing the machine they ran on.

The shape follows the app's Prisma schema at the pinned ref (read, not copied): 47 tables with
text (cuid-like) ids, about 200 indexes, about 100 foreign keys, 14 enums, jsonb, text arrays,
timestamp(3) columns and `_prisma_migrations`; most of the bytes sit in a few big tables (views,
document pages, document versions, links) and in the indexes on them (View alone has 14). The
columns here are this generator's own: what matters for a copy is their types, sizes, nullability,
indexes and keys. Everything is generated in SQL (generate_series), deterministic for a given size.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def machine() -> str:
    """e.g. '2 cores (AMD EPYC), 24 GB RAM, Linux 6.1'."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3)
    return f"{os.cpu_count()} cores ({cpu}), {ram} GB RAM, {platform.system()} {platform.release()}"


def load() -> float:
    """The machine's 1-minute load average."""
    return os.getloadavg()[0]


def wait_for_quiet(below: float = 0.7, minutes: float = 15) -> float:
    """Wait (up to `minutes`) until other work on the machine has calmed down; the load then."""
    deadline = time.monotonic() + minutes * 60
    while load() >= below and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: load {load():.2f}", file=sys.stderr)
        time.sleep(20)
    return load()


def stack_settings(memory_mb: int = 4096) -> tuple[str, ...]:
    """The server settings role postgres gives the stack's Postgres on a droplet with this much
    memory (roles/postgres/vars/main.yml), as `-c` flags for a benchmark's server."""
    settings = {
        "shared_buffers": f"{memory_mb * 25 // 100}MB",
        "effective_cache_size": f"{memory_mb * 50 // 100}MB",
        "maintenance_work_mem": f"{min(memory_mb // 16, 1024)}MB",
        "max_connections": "50",
    }
    return tuple(a for k, v in settings.items() for a in ("-c", f"{k}={v}"))


ENUMS = {
    "Role": ["ADMIN", "MANAGER", "MEMBER"],
    "DocumentStorageType": ["S3_PATH", "VERCEL_BLOB"],
    "LinkType": ["DOCUMENT_LINK", "DATAROOM_LINK"],
    "LinkAudienceType": ["GENERAL", "GROUP", "TEAM"],
    "ViewType": ["DOCUMENT_VIEW", "DATAROOM_VIEW"],
    "ItemType": ["DATAROOM_DOCUMENT", "DATAROOM_FOLDER"],
    "DefaultPermissionStrategy": ["INHERIT_FROM_PARENT", "ASK_EVERY_TIME", "HIDDEN_BY_DEFAULT"],
    "CustomFieldType": ["SHORT_TEXT", "LONG_TEXT", "NUMBER", "URL", "CHECKBOX", "SELECT"],
    "ParticipantRole": ["OWNER", "PARTICIPANT"],
    "ConversationVisibility": ["PRIVATE", "PUBLIC_LINK", "PUBLIC_GROUP", "PUBLIC_DOCUMENT"],
    "FaqStatus": ["DRAFT", "PUBLISHED", "ARCHIVED"],
    "FaqVisibility": ["PUBLIC_DATAROOM", "PUBLIC_LINK", "PUBLIC_DOCUMENT"],
    "TagType": ["LINK_TAG", "DOCUMENT_TAG", "DATAROOM_TAG"],
    "EmailType": ["FIRST_DAY_DOMAIN_REMINDER_EMAIL", "FIRST_DOMAIN_INVALID_EMAIL", "FINAL_TRIAL_END_EMAIL"],
}

# Each table: name, rows at the default size, columns, indexes. A column is "name kind", kinds:
#   id            text primary key, cuid-like (time-ordered prefix, random tail)
#   ref:T / ref?:T   text foreign key to T.id (the ? one nullable: a third of the rows NULL);
#                    the first ref of a table cycles through T, a second one steps every
#                    len(first parent) rows, so a unique pair of refs stays unique
#   text, text?, name, email, email?, url, url?, token (unique), ts, ts?, bool, int, int?, big?,
#   json, json?, arr? (text[]), enum:E, seq (1, 2, ... within the first ref's parent)
# Indexes: "a,b" (btree), "!a,b" (unique), "a DESC" as written; "a|WHERE x" partial.
# Every ref gets its foreign key (ON DELETE CASCADE, or SET NULL for a nullable one).
Table = tuple[str, int, str, tuple[str, ...]]
TABLES: list[Table] = [
    ("User", 6000, "id id, name text?, email email?, emailVerified ts?, image url?, createdAt ts, "
     "updatedAt ts", ("!email",)),
    ("Account", 6000, "id id, userId ref:User, type text, provider text, providerAccountId token, "
     "refresh_token text?, access_token text?, expires_at int?, scope text?, id_token text?",
     ("!provider,providerAccountId", "userId", "provider")),
    ("Session", 12000, "id id, sessionToken token, userId ref:User, expires ts",
     ("!sessionToken", "userId", "expires")),
    ("VerificationToken", 800, "identifier email, token token, expires ts", ("!token", "!identifier,token")),
    ("Team", 3000, "id id, name name, plan text, stripeId token, subscriptionId text?, limits json?, "
     "ignoredDomains arr?, globalBlockList arr?, createdAt ts, updatedAt ts", ("!stripeId",)),
    ("UserTeam", 6000, "userId ref:User, teamId ref:Team, role enum:Role, status text, blockedAt ts?, "
     "notificationPreferences json?", ("!userId,teamId", "teamId")),
    ("Invitation", 1500, "email email, expires ts, teamId ref:Team, createdAt ts, token token",
     ("!token", "!email,teamId")),
    ("SentEmail", 25000, "id id, type enum:EmailType, recipient email, marketing bool, domainSlug text?, "
     "teamId ref:Team, createdAt ts", ("teamId", "type", "recipient")),
    ("Brand", 1500, "id id, logo url?, brandColor text?, accentColor text?, teamId ref:Team, createdAt ts, "
     "updatedAt ts", ("!teamId",)),
    ("Domain", 1500, "id id, slug token, verified bool, isDefault bool, lastChecked ts?, teamId ref:Team, "
     "userId ref?:User, createdAt ts, updatedAt ts", ("!slug", "teamId", "userId")),
    ("Folder", 8000, "id id, name name, path token, parentId ref?:Folder, teamId ref:Team, createdAt ts, "
     "updatedAt ts", ("!teamId,path", "parentId", "teamId")),
    ("Document", 40000, "id id, teamId ref:Team, ownerId ref?:User, folderId ref?:Folder, name name, "
     "description text?, file url, originalFile url?, contentType text?, type text?, numPages int?, "
     "storageType enum:DocumentStorageType, assistantEnabled bool, downloadOnly bool, "
     "isExternalUpload bool, createdAt ts, updatedAt ts",
     ("ownerId", "teamId", "folderId", "teamId,folderId", "teamId,name", "createdAt DESC",
      "folderId,name")),
    ("DocumentVersion", 60000, "id id, documentId ref:Document, versionNumber seq, file url, "
     "originalFile url?, type text?, contentType text?, numPages int?, fileSize big?, length int?, "
     "isPrimary bool, hasPages bool, isVertical bool, storageType enum:DocumentStorageType, fileId text?, "
     "createdAt ts, updatedAt ts",
     ("!versionNumber,documentId", "documentId", "documentId,createdAt DESC", "documentId,isPrimary",
      "documentId,isPrimary,createdAt")),
    ("DocumentPage", 180000, "id id, versionId ref:DocumentVersion, pageNumber seq, file url, "
     "embeddedLinks arr?, pageLinks json?, metadata json?, storageType enum:DocumentStorageType, "
     "createdAt ts, updatedAt ts", ("!pageNumber,versionId", "versionId")),
    ("Dataroom", 2000, "id id, pId token, name name, description text?, teamId ref:Team, "
     "defaultPermissionStrategy enum:DefaultPermissionStrategy, allowBulkDownload bool, createdAt ts, "
     "updatedAt ts", ("!pId", "teamId")),
    ("DataroomFolder", 10000, "id id, dataroomId ref:Dataroom, parentId ref?:DataroomFolder, name name, "
     "path token, orderIndex int?, createdAt ts, updatedAt ts",
     ("!dataroomId,path", "parentId", "dataroomId")),
    ("DataroomDocument", 30000, "id id, dataroomId ref:Dataroom, documentId ref:Document, "
     "folderId ref?:DataroomFolder, orderIndex int?, createdAt ts, updatedAt ts",
     ("!dataroomId,documentId", "folderId", "documentId", "dataroomId,folderId,orderIndex", "dataroomId")),
    ("DataroomBrand", 800, "id id, logo url?, banner url?, brandColor text?, dataroomId ref:Dataroom, "
     "createdAt ts, updatedAt ts", ("!dataroomId",)),
    ("Viewer", 60000, "id id, teamId ref:Team, email email, verified bool, invitedAt ts?, "
     "notificationPreferences json?, dataroomId ref?:Dataroom, createdAt ts, updatedAt ts",
     ("!teamId,email", "dataroomId", "teamId", "email", "createdAt")),
    ("ViewerGroup", 2000, "id id, teamId ref:Team, name name, domains arr?, allowAll bool, "
     "dataroomId ref?:Dataroom, createdAt ts, updatedAt ts", ("dataroomId", "teamId")),
    ("ViewerGroupMembership", 8000, "id id, viewerId ref:Viewer, groupId ref:ViewerGroup, createdAt ts, "
     "updatedAt ts", ("!viewerId,groupId", "viewerId", "groupId")),
    ("ViewerGroupAccessControls", 8000, "id id, groupId ref:ViewerGroup, itemId token, "
     "itemType enum:ItemType, canView bool, canDownload bool, createdAt ts, updatedAt ts",
     ("!groupId,itemId", "groupId", "itemId")),
    ("PermissionGroup", 1500, "id id, dataroomId ref:Dataroom, teamId ref:Team, name name, "
     "description text?, createdAt ts, updatedAt ts", ("dataroomId", "teamId")),
    ("PermissionGroupAccessControls", 4000, "id id, groupId ref:PermissionGroup, itemId token, "
     "itemType enum:ItemType, canView bool, canDownload bool, canDownloadOriginal bool, createdAt ts, "
     "updatedAt ts", ("!groupId,itemId", "groupId", "itemId")),
    ("Agreement", 600, "id id, teamId ref:Team, name name, content url, requireName bool, deletedAt ts?, "
     "createdAt ts, updatedAt ts", ("teamId",)),
    ("Link", 60000, "id id, documentId ref?:Document, dataroomId ref?:Dataroom, teamId ref?:Team, "
     "url url?, name name, slug token, domainId ref?:Domain, domainSlug text?, expiresAt ts?, "
     "password text?, linkType enum:LinkType, audienceType enum:LinkAudienceType, emailProtected bool, "
     "emailAuthenticated bool, allowDownload bool, enableNotification bool, enableFeedback bool, "
     "enableScreenshotProtection bool, enableWatermark bool, watermarkConfig json?, allowList arr?, "
     "denyList arr?, agreementId ref?:Agreement, groupId ref?:ViewerGroup, "
     "permissionGroupId ref?:PermissionGroup, metaTitle text?, metaDescription text?, isArchived bool, "
     "deletedAt ts?, createdAt ts, updatedAt ts",
     ("!url", "!domainSlug,slug", "documentId", "teamId", "documentId,isArchived", "permissionGroupId",
      "deletedAt", "dataroomId", "domainId", "groupId", "agreementId")),
    ("View", 480000, "id id, linkId ref:Link, documentId ref?:Document, dataroomId ref?:Dataroom, "
     "dataroomViewId text?, viewerEmail email?, viewerName text?, viewerId ref?:Viewer, "
     "groupId ref?:ViewerGroup, teamId ref?:Team, viewType enum:ViewType, verified bool, isArchived bool, "
     "viewedAt ts, downloadedAt ts?",
     ("linkId", "documentId", "dataroomId", "dataroomViewId", "teamId", "viewerId", "viewedAt DESC",
      "viewerId,documentId", 'viewerId,viewedAt DESC|WHERE "documentId" IS NOT NULL',
      "documentId,isArchived", "documentId,viewedAt DESC", "viewerEmail", "groupId")),
    ("Reaction", 20000, "id id, viewId ref:View, pageNumber int, type text, createdAt ts",
     ("viewId", "createdAt")),
    ("Feedback", 2000, "id id, linkId ref:Link, data json, createdAt ts, updatedAt ts", ("!linkId",)),
    ("FeedbackResponse", 6000, "id id, viewId ref:View, feedbackId ref:Feedback, data json, createdAt ts, "
     "updatedAt ts", ("!viewId", "feedbackId")),
    ("AgreementResponse", 10000, "id id, viewId ref:View, agreementId ref:Agreement, createdAt ts",
     ("!viewId", "agreementId")),
    ("CustomField", 5000, "id id, linkId ref:Link, type enum:CustomFieldType, identifier token, "
     "label name, placeholder text?, required bool, orderIndex int, createdAt ts, updatedAt ts",
     ("linkId",)),
    ("CustomFieldResponse", 10000, "id id, viewId ref:View, data json, createdAt ts, updatedAt ts",
     ("!viewId",)),
    ("Conversation", 5000, "id id, dataroomId ref:Dataroom, teamId ref:Team, title text?, "
     "isEnabled bool, visibilityMode enum:ConversationVisibility, dataroomDocumentId ref?:DataroomDocument, "
     "linkId ref?:Link, viewId ref?:View, viewerGroupId ref?:ViewerGroup, documentPageNumber int?, "
     "createdAt ts, updatedAt ts",
     ("dataroomId", "dataroomDocumentId", "linkId", "viewId", "viewerGroupId", "teamId")),
    ("ConversationParticipant", 10000, "id id, conversationId ref:Conversation, viewerId ref?:Viewer, "
     "userId ref?:User, role enum:ParticipantRole, receiveNotifications bool, createdAt ts",
     ("!conversationId,viewerId", "!conversationId,userId", "viewerId", "userId", "conversationId")),
    ("ConversationView", 10000, "id id, conversationId ref:Conversation, viewId ref:View, createdAt ts",
     ("!conversationId,viewId", "viewId", "conversationId")),
    ("Message", 40000, "id id, conversationId ref:Conversation, content url, userId ref?:User, "
     "viewerId ref?:Viewer, viewId ref?:View, isRead bool, createdAt ts, updatedAt ts",
     ("conversationId", "userId", "viewerId", "viewId", "createdAt")),
    ("DataroomFaqItem", 2000, "id id, dataroomId ref:Dataroom, teamId ref:Team, "
     "publishedByUserId ref:User, editedQuestion name, originalQuestion text?, answer url, "
     "linkId ref?:Link, dataroomDocumentId ref?:DataroomDocument, questionMessageId ref?:Message, "
     "sourceConversationId ref?:Conversation, visibilityMode enum:FaqVisibility, status enum:FaqStatus, "
     "tags arr?, documentPageNumber int?, viewCount int, createdAt ts, updatedAt ts",
     ("dataroomId", "teamId", "publishedByUserId", "linkId", "dataroomDocumentId", "questionMessageId",
      "sourceConversationId", "status", "dataroomId,status", "createdAt DESC")),
    ("DocumentUpload", 3000, "id id, documentId ref:Document, linkId ref:Link, teamId ref:Team, "
     "viewId ref?:View, viewerId ref?:Viewer, dataroomId ref?:Dataroom, "
     "dataroomDocumentId ref?:DataroomDocument, originalFilename name, fileSize big?, numPages int?, "
     "mimeType text?, uploadedAt ts, createdAt ts, updatedAt ts",
     ("documentId", "linkId", "teamId", "viewId", "viewerId", "dataroomId", "dataroomDocumentId",
      "uploadedAt")),
    ("Tag", 2000, "id id, teamId ref:Team, name name, color text, description text?, createdAt ts, "
     "updatedAt ts", ("!teamId,name", "teamId", "name")),
    ("TagItem", 10000, "id id, tagId ref:Tag, itemType enum:TagType, linkId ref?:Link, "
     "documentId ref?:Document, dataroomId ref?:Dataroom, taggedBy text?, createdAt ts",
     ("tagId", "linkId", "documentId", "dataroomId", "itemType")),
    ("Webhook", 300, "id id, pId token, teamId ref:Team, name name, url url, secret token, triggers json, "
     "createdAt ts, updatedAt ts", ("!pId", "teamId")),
    ("IncomingWebhook", 300, "id id, externalId token, teamId ref:Team, name name, secret text?, "
     "source text?, consecutiveFailures int, lastFailedAt ts?, disabledAt ts?, createdAt ts, updatedAt ts",
     ("!externalId", "teamId")),
    ("RestrictedToken", 500, "id id, hashedKey token, userId ref:User, teamId ref:Team, name name, "
     "partialKey text, scopes text?, expires ts?, lastUsed ts?, rateLimit int, createdAt ts, updatedAt ts",
     ("!hashedKey", "userId", "teamId")),
    ("Integration", 20, "id id, slug token, name name, description text?, developer name, website url, "
     "logo url?, verified bool, configurationSchema json?, comingSoon bool, createdAt ts, updatedAt ts",
     ("!slug",)),
    ("InstalledIntegration", 500, "id id, teamId ref:Team, integrationId ref:Integration, "
     "userId ref?:User, enabled bool, config json?, credentials json?, createdAt ts, updatedAt ts",
     ("!teamId,integrationId", "teamId", "integrationId", "userId")),
]  # fmt: skip


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    parent: str = ""

    @property
    def nullable(self) -> bool:
        return self.kind.endswith("?")


def _columns(spec: str) -> list[Column]:
    out = []
    for item in spec.split(", "):
        name, kind = item.split(" ")
        parent = kind.split(":", 1)[1] if ":" in kind else ""
        out.append(Column(name, kind.split(":", 1)[0] if kind.startswith("ref") else kind, parent))
    return out


def q(name: str) -> str:
    return '"' + name + '"'


_TYPES = {
    "id": "text NOT NULL",
    "text": "text",
    "name": "text",
    "email": "text",
    "url": "text",
    "token": "text",
    "ts": "timestamp(3)",
    "seq": "integer",
    "bool": "boolean",
    "int": "integer",
    "big": "bigint",
    "json": "jsonb",
    "arr": "text[]",
    "ref": "text",
}


def _type(col: Column) -> str:
    if col.kind.startswith("enum:"):
        return q(col.kind[5:]) + " NOT NULL"
    base = _TYPES[col.kind.rstrip("?")]
    return base if col.nullable or "NOT NULL" in base else base + " NOT NULL"


def _value(table: str, col: Column, first_parent_rows: int, rows: dict[str, int], second: bool) -> str:
    """A SQL expression of i (1..rows) for the column."""
    kind = col.kind.rstrip("?")
    n = f"{len(table)}{len(col.name)}"  # a per-column salt, so columns differ
    if kind == "id":
        return f"pg_temp.cid('{table}', i)"
    if kind == "ref":
        parent_rows = rows[col.parent]
        k = (
            f"1 + ((i - 1) / {first_parent_rows}) % {parent_rows}"
            if second
            else f"1 + (i - 1) % {parent_rows}"
        )
        value = f"pg_temp.cid('{col.parent}', {k})"
    elif kind == "text":
        value = f"'{col.name} ' || (i % 977)"
    elif kind == "name":
        value = f"initcap('{table} {col.name} ') || i || ' ' || substr(md5(i::text || '{n}'), 1, 8)"
    elif kind == "email":
        value = "'person' || (i % 50021) || '.' || (i / 50021) || '@example' || (i % 13) || '.com'"
    elif kind == "url":
        value = (
            f"'https://x{n}.public.blob.vercel-storage.com/' || md5(i::text || '{n}') || '/"
            f"{col.name}-' || i || '.pdf'"
        )
    elif kind == "token":
        value = f"md5(i::text || '{n}') || i"
    elif kind == "ts":
        value = f"timestamp '2023-03-01' + i * interval '37.123 seconds' + interval '{n} minutes'"
    elif kind == "seq":  # the row's number among its first parent's children (a version, a page)
        value = f"1 + (i - 1) / {first_parent_rows}"
    elif kind == "bool":
        value = f"(i % {3 + len(col.name) % 5} = 0)"
    elif kind in ("int", "big"):
        value = f"(i * {len(col.name)}) % 1000 + 1"
    elif kind == "json":
        value = (
            "jsonb_build_object('version', i % 7, "
            "'browser', (ARRAY['Chrome','Firefox','Safari'])[1 + i % 3], "
            "'pages', jsonb_build_array(i % 11, i % 13), 'note', 'n' || i)"
        )
    elif kind == "arr":
        value = "ARRAY['example' || (i % 17) || '.com', 'team' || (i % 101) || '.org']"
    else:  # enum
        labels = ENUMS[col.kind[5:]]
        array = "ARRAY[" + ",".join(f"'{x}'" for x in labels) + "]"
        value = f"({array})[1 + i % {len(labels)}]::{q(col.kind[5:])}"
    if col.nullable:
        return f"CASE WHEN i % 3 = 0 THEN NULL ELSE {value} END"
    return value


def _index(table: str, number: int, spec: str) -> str:
    unique = spec.startswith("!")
    spec = spec.lstrip("!")
    cols, _, where = spec.partition("|")
    parts = []
    for c in cols.split(","):
        name, _, order = c.partition(" ")
        parts.append(q(name) + (" " + order if order else ""))
    return (
        f"CREATE {'UNIQUE ' if unique else ''}INDEX {q(f'{table}_{number}_idx')} ON {q(table)} "
        f"({', '.join(parts)}){' ' + where if where else ''};"
    )


def scaled_rows(mb: float) -> dict[str, int]:
    # The default rows make about 580 MB on disk (PostgreSQL 15/16, tables and indexes).
    scale = mb / 580
    return {name: max(1, round(rows * scale)) if rows >= 5000 else rows for name, rows, _, _ in TABLES}


def supermark_like(mb: float = 580) -> str:
    """SQL creating and filling the database (run it in one psql session, as the owner)."""
    rows = scaled_rows(mb)
    sql = [
        # A cuid-like id: a time-ordered prefix (as cuid's timestamp) and a random tail, 25 characters.
        "CREATE FUNCTION pg_temp.cid(t text, k bigint) RETURNS text IMMUTABLE LANGUAGE sql "
        "AS $$ SELECT 'c' || lpad(to_hex(k), 8, '0') || substr(md5(t || k), 1, 16) $$;",
        *(
            f"CREATE TYPE {q(e)} AS ENUM ({', '.join(repr(x) for x in labels)});"
            for e, labels in ENUMS.items()
        ),
        'CREATE TABLE "_prisma_migrations" (id varchar(36) PRIMARY KEY, checksum varchar(64) NOT NULL, '
        "finished_at timestamptz, migration_name varchar(255) NOT NULL, logs text, "
        "rolled_back_at timestamptz, "
        "started_at timestamptz NOT NULL DEFAULT now(), applied_steps_count integer NOT NULL DEFAULT 0);",
        'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count) '
        "SELECT substr(md5(i::text), 1, 8) || '-' || substr(md5(i::text), 9, 4) || '-4' || "
        "substr(md5(i::text), 13, 3) || '-a' || substr(md5(i::text), 16, 3) || '-' || "
        "substr(md5(i::text), 19, 12), md5('c' || i), timestamptz '2023-09-12' + i * interval '5 days', "
        "to_char(date '2023-09-12' + i * 5, 'YYYYMMDD') || '000000_step_' || i, 1 "
        "FROM generate_series(1, 90) i;",
    ]
    fks, indexes = [], []
    for table, _, spec, index_specs in TABLES:
        cols = _columns(spec)
        refs = [c for c in cols if c.kind.startswith("ref")]
        first_parent_rows = rows[refs[0].parent] if refs else 1
        defs = [f"{q(c.name)} {_type(c)}" for c in cols]
        if cols[0].kind == "id":
            defs.append(f"CONSTRAINT {q(table + '_pkey')} PRIMARY KEY (id)")
        sql.append(f"CREATE TABLE {q(table)} ({', '.join(defs)});")
        values = [
            _value(table, c, first_parent_rows, rows, c is not refs[0] if c in refs else False) for c in cols
        ]
        sql.append(
            f"INSERT INTO {q(table)} SELECT {', '.join(values)} FROM generate_series(1, {rows[table]}) i;"
        )
        for c in refs:
            action = "SET NULL" if c.nullable else "CASCADE"
            fks.append(
                f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(f'{table}_{c.name}_fkey')} FOREIGN KEY "
                f"({q(c.name)}) REFERENCES {q(c.parent)}(id) ON DELETE {action} ON UPDATE CASCADE;"
            )
        indexes += [_index(table, n, s) for n, s in enumerate(index_specs, 1)]
    return "\n".join([*sql, *indexes, *fks, "VACUUM ANALYZE;"])


def shape_sql() -> str:
    """Counts describing the generated database: tables, indexes, foreign keys, enums, bytes."""
    return (
        "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = 'public'), "
        "(SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'), "
        "(SELECT count(*) FROM pg_constraint WHERE contype = 'f'), "
        "(SELECT count(*) FROM pg_type WHERE typtype = 'e'), "
        "(SELECT sum(n_live_tup) FROM pg_stat_user_tables), pg_database_size(current_database())"
    )
