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

Index builds are most of a restore's work. A table's indexes and its primary and unique keys
are built as soon as its own data is in (a big table when its last range arrives, the small
ones when their stream ends), while the rest is still being copied; a foreign key as soon as
both its tables allow; whatever else is post-data comes last, with -j.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
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
# The target sessions that load and index: a crash mid-way leaves the "incomplete" mark anyway
# (the run is redone), so no commit waits for its WAL flush (the final mark's commit flushes
# all); no parallel maintenance workers, as the cores are busy with the copy beside the builds.
TARGET_OPTIONS = "-c synchronous_commit=off -c max_parallel_maintenance_workers=0"


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
        Part(table, columns, start, starts[i + 1] if i + 1 < len(starts) else None, binary)
        for i, start in enumerate(starts)
    ]


_TOC_ENTRY = re.compile(r"^\d+; (\d+) (\d+) (?:INDEX|CONSTRAINT|FK CONSTRAINT) ")


@dataclass
class PostData:
    """When each post-data entry (a line of the schema archive's listing) can run. Once a
    table's data is in: its keys (what foreign keys need) and its other indexes. A foreign key
    once its table's data is in and the table it references has its keys."""

    toc: list[str]
    keys: dict[str, list[str]] = field(default_factory=dict)  # table -> its keys
    indexes: dict[str, list[str]] = field(default_factory=dict)  # table -> its other indexes
    foreign: list[tuple[str, str, str]] = field(default_factory=list)  # (table, referenced, entry)
    loaded: set[str] = field(default_factory=set)  # tables whose data is in
    keyed: set[str] = field(default_factory=set)  # ... and whose keys are built
    done: set[str] = field(default_factory=set)  # entries restored (or on their way)

    @classmethod
    def of(cls, toc: list[str], objects: list[list[str]]) -> PostData:
        """The plan from the archive's listing and sql.POST_DATA_OBJECTS' rows."""
        kinds = {(r[0], r[1]): r[2:] for r in objects}
        plan = cls(toc)
        for entry in toc:
            match = _TOC_ENTRY.match(entry)
            if match and (match[1], match[2]) in kinds:
                kind, table, referenced = kinds[match[1], match[2]]
                if kind == "f":
                    plan.foreign.append((table, referenced, entry))
                else:
                    (plan.keys if kind == "k" else plan.indexes).setdefault(table, []).append(entry)
        return plan

    def tables(self) -> set[str]:
        return {*self.keys, *self.indexes, *(t for fk in self.foreign for t in fk[:2])}

    def data_in(self, tables: list[str]) -> tuple[list[str], list[str]]:
        """The keys and the other indexes of `tables`, now that their data is in."""
        self.loaded.update(tables)
        keys = self._take([e for t in tables for e in self.keys.get(t, [])])
        return keys, self._take([e for t in tables for e in self.indexes.get(t, [])])

    def foreign_keys(self, keyed: list[str]) -> list[str]:
        """The foreign keys that can run now, with `keyed` having their keys as well."""
        self.keyed.update(keyed)
        return self._take([e for t, ref, e in self.foreign if t in self.loaded and ref in self.keyed])

    def rest(self) -> list[str]:
        return [e for e in self.toc if e not in self.done]

    def _take(self, entries: list[str]) -> list[str]:
        entries = [e for e in dict.fromkeys(entries) if e not in self.done]
        self.done.update(entries)
        return entries


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


_STREAM = "the other tables"


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
    all_data_in: Callable[[], None] = lambda: None,
) -> None:
    """The copy of what `snapshot` sees: the schema's pre-data, the data, indexes and constraints.
    `all_data_in` is called once all the data is in (while the last builds still run)."""
    phase("schema")
    client.restore(target, schema, ["--no-acl", "--section=pre-data"])
    big = client.query(source, sql.big_tables(split_bytes), read_only=True)
    plan = PostData.of(client.listing(schema), client.query(source, sql.POST_DATA_OBJECTS, read_only=True))
    split_pages = max(1, split_bytes // 8192)
    parts = [
        p
        for table, pages, cols, binary in big
        # About split_bytes a range, at most two per job.
        for p in split(table, cols, int(pages), min(2 * jobs, -(-int(pages) // split_pages)), binary == "t")
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
    into: Side = (
        "pg_restore",
        [*_FOREIGN, "--exit-on-error", "-d", target.conninfo()],
        target,
        TARGET_OPTIONS,
    )
    left = {table: sum(p.table == table for p in parts) for table, *_ in big}
    # The data: `jobs` pipelines and the stream at a time. Beside them three lanes of pg_restore
    # -j, each taking what the data in so far allows: the keys of each table whose data is in
    # (what foreign keys wait for), the foreign keys whose referenced table has its keys, and the
    # other indexes (the bulk of the work). A foreign key locks both its tables and most reference
    # the same few, so their checks form a chain: it starts as early as it can. (Within a run
    # pg_restore never runs two entries locking the same table at once; across the lanes a
    # foreign key and an index build at most wait for each other's lock.)
    with (
        ThreadPoolExecutor(max_workers=jobs + 1) as pool,
        ThreadPoolExecutor(max_workers=1) as keys_lane,
        ThreadPoolExecutor(max_workers=1) as foreign_lane,
        ThreadPoolExecutor(max_workers=1) as index_lane,
    ):
        futures: dict[Future[None], tuple[str, list[str]]] = {
            pool.submit(_pipe, client, stream, into, stop): ("data", [_STREAM])
        }
        in_snapshot = snapshot.join()
        for part in parts:
            out_args = psql_args(
                source, in_snapshot, f"COPY ({part.select()}) TO STDOUT{part.options}", "COMMIT"
            )
            in_args = psql_args(target, f"COPY {part.table} ({part.columns}) FROM STDIN{part.options}")
            futures[
                pool.submit(
                    _pipe,
                    client,
                    ("psql", out_args, source, READ_ONLY),
                    ("psql", in_args, target, TARGET_OPTIONS),
                    stop,
                )
            ] = ("data", [part.table])

        def build(lane: ThreadPoolExecutor, kind: str, tables: list[str], entries: list[str]) -> None:
            futures[
                lane.submit(
                    client.restore,
                    target,
                    schema,
                    ["--no-acl", "--section=post-data"],
                    jobs,
                    entries=entries,
                    options=TARGET_OPTIONS,
                )
            ] = (kind, tables)

        def keyed(tables: list[str]) -> None:
            entries = plan.foreign_keys(tables)
            if entries:
                build(foreign_lane, "foreign keys", [], entries)

        def loaded(tables: list[str]) -> None:
            keys, indexes = plan.data_in(tables)
            if keys:
                build(keys_lane, "keys", tables, keys)
            keyed([t for t in tables if not plan.keys.get(t)])
            if indexes:
                build(index_lane, "indexes", [], indexes)

        handled: set[Future[None]] = set()
        copying = len(futures)
        while len(handled) < len(futures):
            done, _ = wait([f for f in futures if f not in handled], return_when=FIRST_COMPLETED)
            for future in done:
                handled.add(future)
                if future.exception() is not None:
                    stop.set()
                    wait(list(futures))
                    raise future.exception()  # type: ignore[misc]
                kind, tables = futures[future]
                if kind == "keys":
                    keyed(tables)
                if kind != "data":
                    continue
                on_table(tables[0])
                copying -= 1
                if copying == 0:
                    phase("indexes and constraints")  # the data is in; the last builds go on
                    all_data_in()
                if tables[0] == _STREAM:
                    loaded(sorted(plan.tables() - set(left)))
                else:
                    left[tables[0]] -= 1
                    if left[tables[0]] == 0:
                        loaded([tables[0]])
    client.restore(
        target, schema, ["--no-acl", "--section=post-data"], jobs, entries=plan.rest(), options=TARGET_OPTIONS
    )
