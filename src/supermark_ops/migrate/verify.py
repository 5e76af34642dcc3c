"""Compare source and target the way `pgcopydb compare data` does: per table a
row count and a hash over the rows (order-independent), and sequences' values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from supermark_ops.migrate.client import Client
from supermark_ops.migrate.urls import Endpoint

TABLES_SQL = (
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
    "AND NOT c.relispartition ORDER BY 1"
)
SEQUENCES_SQL = (
    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), coalesce(last_value::text, 'unset') "
    "FROM pg_sequences ORDER BY 1"
)


def table_sql(table: str) -> str:
    # The sum of 64-bit slices of each row's md5: equal for the same multiset of rows,
    # whatever their order, and cheap to compute in one scan.
    return (
        "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0) "
        f"FROM {table} t"
    )


@dataclass
class TableCheck:
    name: str
    source_rows: int | None
    target_rows: int | None
    source_hash: str | None
    target_hash: str | None

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and self.source_hash == self.target_hash


@dataclass
class Report:
    tables: list[TableCheck] = field(default_factory=list)
    sequences: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def differences(self) -> list[str]:
        out = [
            f"table {t.name}: rows {t.source_rows} -> {t.target_rows}"
            + (
                ""
                if t.source_rows != t.target_rows or t.source_hash == t.target_hash
                else ", row hash differs"
            )
            for t in self.tables
            if not t.ok
        ]
        out += [f"sequence {s}: {a} -> {b}" for s, (a, b) in self.sequences.items() if a != b]
        return out

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "tables": [
                {"table": t.name, "source_rows": t.source_rows, "target_rows": t.target_rows, "match": t.ok}
                for t in self.tables
            ],
            "sequences": {
                s: {"source": a, "target": b, "match": a == b} for s, (a, b) in self.sequences.items()
            },
            "differences": self.differences,
        }


def compare(
    client: Client, source: Endpoint, target: Endpoint, on_table: Callable[[str], None] = lambda _: None
) -> Report:
    report = Report()
    src_tables = {r[0] for r in client.query(source, TABLES_SQL, read_only=True)}
    dst_tables = {r[0] for r in client.query(target, TABLES_SQL)}
    for table in sorted(src_tables | dst_tables):
        on_table(table)
        src = (
            client.query(source, table_sql(table), read_only=True)[0] if table in src_tables else [None, None]
        )
        dst = client.query(target, table_sql(table))[0] if table in dst_tables else [None, None]
        report.tables.append(
            TableCheck(
                table,
                int(src[0]) if src[0] is not None else None,
                int(dst[0]) if dst[0] is not None else None,
                src[1],
                dst[1],
            )
        )
    src_seq = dict(client.query(source, SEQUENCES_SQL, read_only=True))
    dst_seq = dict(client.query(target, SEQUENCES_SQL))
    for name in sorted(set(src_seq) | set(dst_seq)):
        report.sequences[name] = (src_seq.get(name), dst_seq.get(name))
    return report
