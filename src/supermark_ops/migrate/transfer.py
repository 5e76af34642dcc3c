"""Copying the source into the target, in one consistent snapshot, with the data in parallel.

The schema comes through pg_dump/pg_restore (pre-data before the data,
post-data, that is indexes and constraints, after it with -j). The data of the
big tables is split into ranges of pages (ctid ranges, a TID range scan from
PostgreSQL 14), each copied by its own pair of sessions, `COPY (SELECT ...)
TO STDOUT` into `COPY ... FROM STDIN`; the small tables and the sequences come
through one `pg_dump --section=data | pg_restore` stream beside them. All
source sessions read the snapshot one held-open session exported, so the
result is what a single pg_dump would have produced.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from supermark_ops.migrate.client import READ_ONLY, Client, explain
from supermark_ops.migrate.errors import MigrateError
from supermark_ops.migrate.urls import Endpoint

# Tables at least this big are split into ranges; smaller ones go through pg_dump.
SPLIT_BYTES = 64 * 2**20


def big_tables_sql(split_bytes: int) -> str:
    """Each table of at least split_bytes: name, pages now, columns to copy, binary-safe."""
    return (
        "SELECT format('%I.%I', n.nspname, c.relname), "
        "pg_relation_size(c.oid) / current_setting('block_size')::int, "
        "(SELECT string_agg(format('%I', a.attname), ',' ORDER BY a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), "
        # Binary COPY is cheaper on both servers; safe only when every column is a built-in type or
        # an enum (arrays and composites of the database's own types carry its type OIDs).
        "NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "AND t.oid >= 16384 AND t.typtype <> 'e') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' "
        f"AND pg_relation_size(c.oid) >= {int(split_bytes)} ORDER BY 2 DESC"
    )


_DUMP = ("-Fc", "--no-owner", "--no-acl")


@dataclass(frozen=True)
class Part:
    table: str  # quoted, schema-qualified
    columns: str  # quoted, comma-separated (generated columns left out: they are computed again)
    first_page: int
    end_page: int | None  # None: to the end of the table
    binary: bool = False

    @property
    def options(self) -> str:
        return " (FORMAT binary)" if self.binary else ""

    def select(self) -> str:
        where = f"ctid >= '({self.first_page},0)'::tid"
        if self.end_page is not None:
            where += f" AND ctid < '({self.end_page},0)'::tid"
        return f"SELECT {self.columns} FROM {self.table} WHERE {where}"


def split(table: str, columns: str, pages: int, parts: int, binary: bool = False) -> list[Part]:
    """Page ranges of about equal size; the last one is open-ended."""
    step = max(1, -(-pages // parts))
    starts = list(range(0, max(pages, 1), step))
    return [
        Part(table, columns, start, starts[i + 1] if i + 1 < len(starts) else None)
        for i, start in enumerate(starts)
    ]


class Snapshot:
    """A read-only REPEATABLE READ session on the source, held open; its exported snapshot
    lets other sessions (pg_dump --snapshot, SET TRANSACTION SNAPSHOT) see exactly its data."""

    def __init__(self, client: Client, source: Endpoint) -> None:
        self._err = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the session; close()
        self._proc = client.popen(
            "psql",
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", source.conninfo()],
            source,
            options=READ_ONLY,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(
            b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\nSELECT pg_export_snapshot();\n"
        )
        self._proc.stdin.flush()
        self.id = self._proc.stdout.readline().decode().strip()
        if not self.id:
            self.close()
            self._err.seek(0)
            raise MigrateError("Could not export a snapshot: " + explain(self._err.read().decode(), source))

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(b"COMMIT;\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        self._err.close()


def _pipe(
    client: Client,
    producer: tuple[str, list[str], Endpoint, str],
    consumer: tuple[str, list[str], Endpoint],
    stop: threading.Event,
) -> None:
    """One program's stdout straight into another's stdin (an OS pipe); both must succeed."""
    with tempfile.TemporaryFile() as out_err, tempfile.TemporaryFile() as in_err:
        program, args, endpoint, options = producer
        src = client.popen(program, args, endpoint, options=options, stdout=subprocess.PIPE, stderr=out_err)
        dst = client.popen(consumer[0], consumer[1], consumer[2], stdin=src.stdout, stderr=in_err)
        assert src.stdout is not None
        src.stdout.close()  # the consumer holds the read end now
        while dst.poll() is None and not stop.is_set():
            try:
                dst.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
        if stop.is_set() and dst.poll() is None:
            dst.kill()  # another part failed: stop this one
            src.kill()
        codes = (src.wait(), dst.wait())
        for code, err, (name, endpoint_) in zip(
            codes, (out_err, in_err), ((program, endpoint), (consumer[0], consumer[2])), strict=True
        ):
            if code != 0 and not stop.is_set():
                err.seek(0)
                raise MigrateError(
                    f"{name} failed: " + explain(err.read().decode(errors="replace"), endpoint_)
                )


def copy(
    client: Client,
    source: Endpoint,
    target: Endpoint,
    workdir: Path,
    stamp: str,
    jobs: int,
    phase: Callable[[str], None],
    on_table: Callable[[str], None],
    split_bytes: int = SPLIT_BYTES,
) -> str:
    """The whole copy; returns the schema dump it keeps."""
    snapshot = Snapshot(client, source)
    try:
        # The schema once (one catalog read): pre-data now, post-data after the data.
        schema = workdir / f"source-{stamp}-schema.dump"
        args = [*_DUMP, f"--snapshot={snapshot.id}", "--section=pre-data", "--section=post-data"]
        result = client.run(
            "pg_dump",
            [*args, f"--file={schema}", source.conninfo()],
            source,
            options=READ_ONLY,
            mounts=[workdir],
        )
        if result.returncode != 0:
            raise MigrateError("pg_dump failed: " + explain(result.stderr, source))
        phase("schema")
        _restore(client, target, schema, 1, workdir, "pre-data")
        big = client.query(source, big_tables_sql(split_bytes), read_only=True)
        parts = [
            p
            for table, pages, cols, binary in big
            for p in split(table, cols, int(pages), max(2, jobs * 2), binary == "t")
        ]
        phase(f"data ({len(big)} big tables in {len(parts)} parts, the rest in one stream)")
        stop = threading.Event()
        restore = ["--no-owner", "--no-acl", "--exit-on-error", "-d", target.conninfo()]
        stream = (
            "pg_dump",
            ["-Fc", "-Z", "0", f"--snapshot={snapshot.id}", "--section=data", "--no-owner", "--no-acl"]
            + [f"--exclude-table-data={table}" for table, *_ in big]
            + ["-d", source.conninfo()],
            source,
            READ_ONLY,
        )
        with ThreadPoolExecutor(max_workers=jobs + 1) as pool:
            futures: dict[Future[None], str] = {
                pool.submit(_pipe, client, stream, ("pg_restore", restore, target), stop): "the other tables"
            }
            set_snapshot = f"SET TRANSACTION SNAPSHOT '{snapshot.id}'"
            for part in parts:
                out = [
                    "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", source.conninfo(),
                    "-c", f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; {set_snapshot}",
                    "-c", f"COPY ({part.select()}) TO STDOUT{part.options}",
                    "-c", "COMMIT",
                ]  # fmt: skip
                into = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target.conninfo()]
                into += ["-c", f"COPY {part.table} ({part.columns}) FROM STDIN{part.options}"]
                futures[
                    pool.submit(_pipe, client, ("psql", out, source, READ_ONLY), ("psql", into, target), stop)
                ] = part.table
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None:
                        stop.set()
                        wait(pending)
                        raise future.exception()  # type: ignore[misc]
                    on_table(futures[future])
    finally:
        snapshot.close()
    phase("indexes and constraints")
    _restore(client, target, schema, jobs, workdir, "post-data")
    return str(schema)


def _restore(client: Client, target: Endpoint, path: Path, jobs: int, workdir: Path, section: str) -> None:
    args = ["--no-owner", "--no-acl", "--exit-on-error", f"--section={section}", "-j", str(jobs)]
    args += ["-d", target.conninfo(), str(path)]
    result = client.run("pg_restore", args, target, mounts=[workdir])
    if result.returncode != 0:
        raise MigrateError("pg_restore failed: " + explain(result.stderr, target))
