"""Compare source and target the way `pgcopydb compare data` does: per table a
row count and a hash over the rows (order-independent), and sequences' values.

Both servers hash at the same time, one session a side (tables one after another), so the
check takes about as long as reading the larger side once. After a copy the source side can
start as soon as the data is in, beside the target's last index builds (`read_side` of the
copy's snapshot), and the target side when the target is complete (`check`).

After a copy the source is read inside the snapshot the copy read (in the session that
exported it), so writes to the source since then do not fail a correct copy. Sequences are
not transactional: the copy holds the value pg_dump read, at or after the snapshot, so a
sequence matches when the target's value lies between the source's value when the snapshot
was taken and its value now. A source that moved on is reported as a warning: its new rows
are not in the target (freeze the old app before the cut-over).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
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


@dataclass
class Side:
    """One server's tables with their row counts and hashes."""

    hashes: dict[str, tuple[int, str]]


def read_side(snapshot: Snapshot, on_table: Progress = no_progress) -> Side:
    """Count and hash each table, in the snapshot's own session."""
    hashes: dict[str, tuple[int, str]] = {}
    for (table,) in snapshot.query(sql.TABLES):
        on_table(table)
        count, digest = snapshot.query(sql.table_hash(table))[0]
        hashes[table] = (int(count), digest)
    return Side(hashes)


def check(
    client: Client,
    target: Endpoint,
    source: Future[Side],
    snapshot: Snapshot,
    sequence_floor: dict[str, str] | None = None,
) -> Report:
    """The target side now (one session), against the source side (read in `snapshot`, begun
    earlier or beside this); then the sequences, the source's as they are now (a sequence is
    not transactional: the snapshot does not hold its value)."""
    with Snapshot(client, target) as dst:
        target_side = read_side(dst)
        dst_seq = dict(dst.query(sql.SEQUENCES))
    source_side = source.result()
    src_seq = dict(snapshot.query(sql.SEQUENCES))
    report = Report(sequence_floor=dict(sequence_floor or {}))
    src, dst_ = source_side.hashes, target_side.hashes
    for table in sorted(set(src) | set(dst_)):
        a, b = src.get(table), dst_.get(table)
        report.tables.append(
            TableCheck(
                table,
                a[0] if a else None,
                b[0] if b else None,
                a[1] if a else None,
                b[1] if b else None,
            )
        )
    for name in sorted(set(src_seq) | set(dst_seq)):
        report.sequences[name] = (src_seq.get(name), dst_seq.get(name))
    return report


def compare(client: Client, source: Endpoint, target: Endpoint, on_table: Progress = no_progress) -> Report:
    """Source against target as they are now, both sides at once (the source read-only)."""
    with Snapshot(client, source) as snapshot, ThreadPoolExecutor(max_workers=1) as pool:
        return check(client, target, pool.submit(read_side, snapshot, on_table), snapshot)
