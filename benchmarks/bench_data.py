"""What the database benchmarks share: the generated database (about `gb` of random hex text
in a Supermark-like pair of tables, documents and their views, an index and a foreign key) and
the line describing the machine they ran on."""

from __future__ import annotations

import os
import platform
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


def schema_and_rows(gb: float) -> str:
    rows = int(gb * 1024**3 / 1100)  # about 1.1 kB a row, with its overhead
    return (
        'CREATE TABLE "Document" (id bigserial PRIMARY KEY, "teamId" int NOT NULL, name text NOT NULL, '
        'body text NOT NULL, meta jsonb, "createdAt" timestamptz NOT NULL DEFAULT now()); '
        'CREATE TABLE "View" (id bigserial PRIMARY KEY, '
        '"documentId" bigint NOT NULL REFERENCES "Document"(id), '
        '"viewedAt" timestamptz NOT NULL); '
        f'INSERT INTO "Document" ("teamId", name, body, meta) SELECT i % 5000, \'document \' || i, '
        # Random hex, not a repeated string: a dump must not compress it away.
        "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 30) WHERE i > 0), "
        f"jsonb_build_object('pages', i % 97) FROM generate_series(1, {rows}) i; "
        f'INSERT INTO "View" ("documentId", "viewedAt") SELECT 1 + i % {rows}, now() '
        f"FROM generate_series(1, {rows // 2}) i; "
        'CREATE INDEX ON "Document" ("teamId");'
    )
