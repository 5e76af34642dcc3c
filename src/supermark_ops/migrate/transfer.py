"""Copying the source into the target, in one consistent snapshot, with the data in parallel.

The schema comes through pg_dump/pg_restore (pre-data before the data,
post-data, that is indexes and constraints, after it with -j). The data of the
big tables is split into ranges of pages (ctid ranges, a TID range scan from
PostgreSQL 14), each copied by its own pair of sessions, `COPY (SELECT ...)
TO STDOUT` into `COPY ... FROM STDIN`; the small tables and the sequences come
through one `pg_dump --section=data | pg_restore` stream beside them. All
source sessions read the snapshot one held-open session exported
(supermark_ops.pg.Snapshot), so the result is what a single pg_dump would have
produced. The caller holds the snapshot and has the schema dumped first (`dump_schema`), so
the preflight can rehearse it before the target is touched.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from supermark_ops import files
from supermark_ops.pg import Client, Endpoint, PgError, Snapshot, sql
from supermark_ops.pg.client import READ_ONLY, psql_args
from supermark_ops.pg.errors import explain
from supermark_ops.results import Progress

# Tables at least this big are split into ranges; smaller ones go through pg_dump.
SPLIT_BYTES = 64 * 2**20
# Neither owners nor grants of the source: the target's own role owns everything.
_FOREIGN = ("--no-owner", "--no-acl")


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


# (program, args, endpoint, PGOPTIONS) of one side of a pipe.
Side = tuple[str, list[str], Endpoint, str]


def _pipe(client: Client, producer: Side, consumer: Side, stop: threading.Event) -> None:
    """One program's stdout straight into another's stdin (an OS pipe); both must succeed."""
    with tempfile.TemporaryFile() as out_err, tempfile.TemporaryFile() as in_err:
        program, args, endpoint, options = producer
        src = client.popen(program, args, endpoint, options=options, stdout=subprocess.PIPE, stderr=out_err)
        dst = client.popen(
            consumer[0], consumer[1], consumer[2], options=consumer[3], stdin=src.stdout, stderr=in_err
        )
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
        for code, err, side in zip(codes, (out_err, in_err), (producer, consumer), strict=True):
            if code != 0 and not stop.is_set():
                err.seek(0)
                raise PgError(
                    f"{side[0]} failed: "
                    + explain(err.read().decode(errors="replace"), client.where(side[2]))
                )


def dump_schema(client: Client, source: Endpoint, snapshot: Snapshot, path: Path) -> None:
    """The schema once (one catalog read), as the snapshot sees it: rehearsed in the preflight,
    its pre-data part restored before the data, its post-data part after."""
    with files.atomic_write(path, mode=0o600) as out:
        client.dump(
            source,
            out,
            [*_FOREIGN, *snapshot.dump_args(), "--section=pre-data", "--section=post-data"],
        )


def copy(
    client: Client,
    source: Endpoint,
    target: Endpoint,
    snapshot: Snapshot,
    schema: Path,
    jobs: int,
    phase: Progress,
    on_table: Progress,
    split_bytes: int = SPLIT_BYTES,
) -> None:
    """The copy of what `snapshot` sees: the schema's pre-data, the data, indexes and constraints."""
    phase("schema")
    client.restore(target, schema, ["--no-acl", "--section=pre-data"])
    big = client.query(source, sql.big_tables(split_bytes), read_only=True)
    parts = [
        p
        for table, pages, cols, binary in big
        for p in split(table, cols, int(pages), max(2, jobs * 2), binary == "t")
    ]
    phase(f"data ({len(big)} big tables in {len(parts)} parts, the rest in one stream)")
    stop = threading.Event()
    stream: Side = (
        "pg_dump",
        ["-Fc", "-Z", "0", *snapshot.dump_args(), "--section=data", *_FOREIGN]
        + [f"--exclude-table-data={table}" for table, *_ in big]
        + ["-d", source.conninfo()],
        source,
        READ_ONLY,
    )
    into: Side = ("pg_restore", [*_FOREIGN, "--exit-on-error", "-d", target.conninfo()], target, "")
    with ThreadPoolExecutor(max_workers=jobs + 1) as pool:
        futures: dict[Future[None], str] = {
            pool.submit(_pipe, client, stream, into, stop): "the other tables"
        }
        in_snapshot = snapshot.join()
        for part in parts:
            out_args = psql_args(
                source, in_snapshot, f"COPY ({part.select()}) TO STDOUT{part.options}", "COMMIT"
            )
            in_args = psql_args(target, f"COPY {part.table} ({part.columns}) FROM STDIN{part.options}")
            futures[
                pool.submit(
                    _pipe, client, ("psql", out_args, source, READ_ONLY), ("psql", in_args, target, ""), stop
                )
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
    phase("indexes and constraints")
    client.restore(target, schema, ["--no-acl", "--section=post-data"], jobs=jobs)
