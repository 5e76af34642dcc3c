"""Compare source and target the way `pgcopydb compare data` does: per table a
row count and a hash over the rows (order-independent), and sequences' values."""

from __future__ import annotations

from dataclasses import dataclass, field

from supermark_ops.pg import Client, Endpoint, sql
from supermark_ops.results import Progress, no_progress


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


def compare(client: Client, source: Endpoint, target: Endpoint, on_table: Progress = no_progress) -> Report:
    report = Report()
    src_tables = {r[0] for r in client.query(source, sql.TABLES, read_only=True)}
    dst_tables = {r[0] for r in client.query(target, sql.TABLES)}
    for table in sorted(src_tables | dst_tables):
        on_table(table)
        src = (
            client.query(source, sql.table_hash(table), read_only=True)[0]
            if table in src_tables
            else [None, None]
        )
        dst = client.query(target, sql.table_hash(table))[0] if table in dst_tables else [None, None]
        report.tables.append(
            TableCheck(
                table,
                int(src[0]) if src[0] is not None else None,
                int(dst[0]) if dst[0] is not None else None,
                src[1],
                dst[1],
            )
        )
    src_seq = dict(client.query(source, sql.SEQUENCES, read_only=True))
    dst_seq = dict(client.query(target, sql.SEQUENCES))
    for name in sorted(set(src_seq) | set(dst_seq)):
        report.sequences[name] = (src_seq.get(name), dst_seq.get(name))
    return report
