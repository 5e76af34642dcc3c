"""Compare source and target the way `pgcopydb compare data` does: per table a
row count and a hash over the rows (order-independent), and sequences' values.

After a copy the source is read inside the snapshot the copy read (in the session that
exported it), so writes to the source since then do not fail a correct copy. Sequences are
not transactional: the copy holds the value pg_dump read, at or after the snapshot, so a
sequence matches when the target's value lies between the source's value when the snapshot
was taken and its value now. A source that moved on is reported as a warning: its new rows
are not in the target (freeze the old app before the cut-over).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from supermark_ops.pg import Client, Endpoint, Snapshot, sql
from supermark_ops.results import Progress, no_progress


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


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
    # Each sequence's source value when the copy's snapshot was taken (empty: compare for equality).
    sequence_floor: dict[str, str] = field(default_factory=dict)

    def sequence_ok(self, name: str) -> bool:
        source, target = self.sequences[name]
        if source == target:
            return True
        low, high, got = _number(self.sequence_floor.get(name)), _number(source), _number(target)
        return low is not None and high is not None and got is not None and low <= got <= high

    @property
    def warnings(self) -> list[str]:
        moved = [s for s, (a, b) in self.sequences.items() if a != b and self.sequence_ok(s)]
        if not moved:
            return []
        return [
            f"the source was written to after the copy's snapshot (sequence {moved[0]} moved on): those "
            "writes are not in the target. Freeze the old app during the cut-over (docs/migration.md)."
        ]

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
        out += [
            f"sequence {s}: {a} -> {b}" for s, (a, b) in self.sequences.items() if not self.sequence_ok(s)
        ]
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
                s: {"source": a, "target": b, "match": self.sequence_ok(s)}
                for s, (a, b) in self.sequences.items()
            },
            "differences": self.differences,
            "warnings": self.warnings,
        }


def compare(
    client: Client,
    source: Endpoint,
    target: Endpoint,
    on_table: Progress = no_progress,
    snapshot: Snapshot | None = None,
    sequence_floor: dict[str, str] | None = None,
) -> Report:
    """Source against target; with `snapshot`, the source is read inside it (what the copy read)."""
    read_source: Callable[[str], list[list[str]]] = (
        snapshot.query if snapshot else (lambda q: client.query(source, q, read_only=True))
    )
    report = Report(sequence_floor=dict(sequence_floor or {}))
    src_tables = {r[0] for r in read_source(sql.TABLES)}
    dst_tables = {r[0] for r in client.query(target, sql.TABLES)}
    for table in sorted(src_tables | dst_tables):
        on_table(table)
        src = read_source(sql.table_hash(table))[0] if table in src_tables else [None, None]
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
    src_seq = dict(read_source(sql.SEQUENCES))
    dst_seq = dict(client.query(target, sql.SEQUENCES))
    for name in sorted(set(src_seq) | set(dst_seq)):
        report.sequences[name] = (src_seq.get(name), dst_seq.get(name))
    return report
