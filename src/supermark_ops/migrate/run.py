"""The migration: preflight (read-only, then the schema rehearsed in a scratch database:
rehearsal.py), the copy into the target's role (transfer.py: one snapshot, data in parallel),
verify.

Safety: the source is only ever read (read-only sessions). The target must be
empty, unless `replace` is given, or unless it carries this tool's
"incomplete" mark from an interrupted run, which a re-run clears and redoes.
Whatever its mark, a target that is not empty is dumped before it is cleared
(after a failed cut-over users may have written to it). The mark is the
database's comment, set before the restore and replaced by "complete" only
after a matching verification. One migration at a time (a lock, which the
backup timers wait for).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from supermark_ops import files
from supermark_ops.errors import OpsError
from supermark_ops.locks import held_exclusively, single_run
from supermark_ops.migrate.errors import MigrateError
from supermark_ops.migrate.rehearsal import rehearse
from supermark_ops.migrate.transfer import SPLIT_BYTES, copy, dump_schema
from supermark_ops.migrate.verify import Report, Side, check, compare, read_side
from supermark_ops.pg import Client, Endpoint, Snapshot, sql
from supermark_ops.pg.client import query_client
from supermark_ops.results import Progress, no_progress

MARK_INCOMPLETE = "supermark-ops migration: incomplete"
MARK_COMPLETE = "supermark-ops migration: complete"


@dataclass
class Preflight:
    source_version: int
    target_version: int
    target_role: str
    source_bytes: int
    free_bytes: int
    target_state: str  # empty | incomplete | not-empty
    client: str
    notes: list[str] = field(default_factory=list)
    rehearsal: str = ""  # "passed" once the schema restored into a scratch database

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class Summary:
    preflight: Preflight
    dump: str = ""
    safety_dump: str = ""
    report: Report | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok

    def as_dict(self) -> dict[str, object]:
        """The result in the tools' one shape (supermark_ops.results)."""
        return {
            "ok": self.ok,
            "reason": "" if self.ok else "the migrated data does not match the source",
            "at": self.started,
            "preflight": self.preflight.as_dict(),
            "dump": self.dump,
            "safety_dump": self.safety_dump,
            "verification": self.report.as_dict() if self.report else None,
            "warnings": self.report.warnings if self.report else [],
            "seconds": self.seconds,
        }


def _major(version_num: str) -> int:
    return int(version_num) // 10000


def preflight(
    source: Endpoint,
    target: Endpoint,
    workdir: Path,
    client_image: str = "",
    replace: bool = False,
    replace_migrated: bool = False,
) -> tuple[Preflight, Client]:
    """Read-only checks of both sides; nothing is written anywhere."""
    local = query_client(client_image)
    # One session a side (each costs a connection and, to the source, a TLS handshake).
    src_num, src_size = local.query(source, sql.SERVER_FACTS, read_only=True)[0]
    src_version, src_bytes = _major(src_num), int(src_size)
    dst_num, role, objects_text, comment = local.query(target, sql.DATABASE_FACTS)[0]
    dst_version, objects, comment = _major(dst_num), int(objects_text), comment.removeprefix("c:")
    state = (
        "empty"
        if objects == 0
        else "incomplete"
        if comment.startswith(MARK_INCOMPLETE)
        else "migrated"
        if comment.startswith(MARK_COMPLETE)
        else "not-empty"
    )
    # A verified migration is the live database after a cut-over: what users wrote since is
    # in it alone. --replace (in the cut-over's documented command) is not enough for it.
    if state == "migrated" and not replace_migrated:
        raise MigrateError(
            f"The target {target.label()} already holds a verified migration ({comment}); whatever users "
            "wrote since is only there. Nothing was changed. To copy the source over it anyway (it is "
            "dumped first), pass --replace-migrated (in playbooks/migrate.yml: "
            "-e migrate_replace_migrated=true)."
        )
    if state == "not-empty" and not replace:
        raise MigrateError(
            f"The target {target.label()} is not empty. Point at an empty database, or pass --replace to "
            "replace its contents (a safety dump of it is taken first)."
        )
    # pg_dump must be at least as new as each server it dumps: the source, and
    # the target too when a safety dump of it is due (whenever it is not empty).
    need = max(src_version, dst_version) if state != "empty" else src_version
    client = Client()
    local_version = Client().version("pg_dump") if shutil.which("pg_dump") else 0
    if local_version < need:
        if not client_image:
            raise MigrateError(
                f"pg_dump {local_version or '(none)'} is older than the server it must dump ({need}): "
                f"install postgresql-client-{need} or newer, or pass "
                f"--client-image postgres:{max(src_version, dst_version)}"
            )
        client = Client(image=client_image)
        if client.version("pg_dump") < need:
            raise MigrateError(f"pg_dump in {client_image} is older than the server it must dump ({need}).")
    if dst_version < src_version:
        raise MigrateError(
            f"The target server ({dst_version}) is older than the source ({src_version}): a dump restores "
            "only into the same or a newer major version."
        )
    files.ensure_dir(workdir, 0o700)  # dumps of whole databases go there
    free = shutil.disk_usage(workdir).free
    if free < src_bytes:
        raise MigrateError(
            f"{workdir} has {free // 2**20} MiB free; the source database is {src_bytes // 2**20} MiB. "
            "Free space or pass another --workdir (on the droplet, the copy needs about as much room)."
        )
    notes = [*source.notes, *target.notes]
    return (
        Preflight(src_version, dst_version, role, src_bytes, free, state, client.image or "local", notes),
        client,
    )


def _reset(client: Client, target: Endpoint) -> None:
    """Drop every user schema of the target and recreate public (only after the caller's checks)."""
    schemas = [r[0] for r in client.query(target, sql.USER_SCHEMAS)]
    drops = "".join(f"DROP SCHEMA {sql.ident(s)} CASCADE; " for s in schemas)
    client.query(target, f"{drops}CREATE SCHEMA public;")


def _mark(client: Client, target: Endpoint, text: str) -> None:
    client.query(target, f"COMMENT ON DATABASE {sql.ident(target.dbname)} IS {sql.literal(text)}")


def _dump(client: Client, endpoint: Endpoint, path: Path) -> None:
    """A whole-database dump to a file (the safety dump of a target about to be cleared), written
    whole or not at all."""
    with files.atomic_write(path, mode=0o600) as out:
        client.dump(endpoint, out, ["--no-owner", "--no-acl"])


@contextmanager
def _schema_file(workdir: Path, stamp: str, keep: bool) -> Iterator[Path]:
    """Where the schema dump goes: kept in the work folder, or (a dry run) nowhere that lasts."""
    if keep:
        yield workdir / f"source-{stamp}-schema.dump"
        return
    with tempfile.TemporaryDirectory(prefix="supermark-ops-rehearsal-") as tmp:
        yield Path(tmp) / "schema.dump"


def migrate(
    source: Endpoint,
    target: Endpoint,
    workdir: Path,
    *,
    jobs: int = 2,
    replace: bool = False,
    replace_migrated: bool = False,
    dry_run: bool = False,
    verify: bool = True,
    client_image: str = "",
    split_bytes: int = SPLIT_BYTES,
    lock_file: Path | None = None,
    lock_wait: float = 1800,
    phase: Progress = no_progress,
    on_table: Progress = no_progress,
) -> Summary:
    """The migration; with `lock_file` (the CLI's and the module's <state_dir>/migrate.lock) a
    second one at the same time is refused, and the backup timers wait until it ends."""
    if jobs < 1:
        raise MigrateError(f"--jobs must be 1 or more (it is {jobs}).")
    # A dry run writes nothing, not even the lock file.
    if lock_file and not dry_run and held_exclusively(lock_file):
        raise MigrateError(
            f"Another migration is running (it holds {lock_file}): wait for it to end. Nothing was changed."
        )
    # A backup, drill or restore holds the lock shared while it runs: the migration waits for it.
    with single_run(lock_file, lock_wait) if lock_file and not dry_run else nullcontext(True) as free:
        if not free:
            raise MigrateError(
                f"A backup, drill or restore, or another migration, still holds {lock_file} after "
                f"{lock_wait / 60:.0f} min: wait for it to end (systemctl list-timers 'supermark-ops-*' "
                "shows the backup and drill timers), then run again. Nothing was changed."
            )
        return _migrate(
            source, target, workdir, jobs, (replace, replace_migrated), dry_run, verify, client_image,
            split_bytes, phase,
            on_table,
        )  # fmt: skip


def _migrate(
    source: Endpoint,
    target: Endpoint,
    workdir: Path,
    jobs: int,
    replace: tuple[bool, bool],
    dry_run: bool,
    verify: bool,
    client_image: str,
    split_bytes: int,
    phase: Progress,
    on_table: Progress,
) -> Summary:
    clock = datetime.now(UTC)
    phase("preflight")
    pre, client = preflight(source, target, workdir, client_image, *replace)
    summary = Summary(pre, started=clock.isoformat())
    stamp = clock.strftime("%Y%m%dT%H%M%SZ")
    # The schema is dumped once, in the snapshot the copy and the verification read; the target
    # server must take it (rehearsed in a scratch database) before its database is touched.
    with (
        Snapshot(client, source) as snapshot,
        _schema_file(workdir, stamp, keep=not dry_run) as schema,
        # The verification's source side, beside the copy's last index builds (ended before the
        # snapshot is let go).
        ThreadPoolExecutor(max_workers=1) as beside,
    ):
        phase("schema rehearsal")
        dump_schema(client, source, snapshot, schema)
        rehearse(client, target, schema, query_client(client_image))
        pre.rehearsal = "passed"
        if dry_run:
            return summary
        if pre.target_state != "empty":
            # Incomplete or not, what is there may hold rows users wrote since (after a failed
            # cut-over the app may have served from it): it is kept before anything is dropped.
            phase("safety dump of the target")
            safety = workdir / f"target-before-migration-{stamp}.dump"
            _dump(client, target, safety)
            summary.safety_dump = str(safety)
            _reset(client, target)
        _mark(client, target, f"{MARK_INCOMPLETE} (started {stamp} from {source.label()})")
        source_side: list[Future[Side]] = []

        def all_data_in() -> None:
            # The source side reads the copy's snapshot (what was copied; later writes to the
            # source are not differences), as soon as the data is in: a remote source's CPU is
            # free then, while the target builds its last indexes.
            if verify:
                source_side.append(beside.submit(read_side, snapshot, on_table))

        try:
            # Sequences are not transactional: their values now bound what the copy may hold.
            floor = dict(snapshot.query(sql.SEQUENCES))
            t = datetime.now(UTC)
            copy(client, source, target, snapshot, schema, jobs, phase, on_table, split_bytes, all_data_in)
            summary.dump = str(schema)
            summary.seconds["copy"] = (datetime.now(UTC) - t).total_seconds()
            if verify:
                phase("verify")
                t = datetime.now(UTC)
                summary.report = check(
                    query_client(client_image), target, source_side[0], snapshot, sequence_floor=floor
                )
                # What the verification adds after the copy (its source side began during it).
                summary.seconds["verify"] = (datetime.now(UTC) - t).total_seconds()
        except OpsError as exc:
            kept = f"; what it held before is in {summary.safety_dump}" if summary.safety_dump else ""
            raise MigrateError(
                f"The copy failed: {exc}. The target is marked incomplete{kept}. Fix the cause and run "
                "the migration again (it dumps the target, clears it and starts over); do not start the app "
                "on it."
            ) from None
    if summary.report is not None and not summary.report.ok:
        return summary  # still marked incomplete: a re-run starts over
    _mark(client, target, f"{MARK_COMPLETE} ({datetime.now(UTC):%Y%m%dT%H%M%SZ} from {source.label()})")
    return summary


def verify_only(
    source: Endpoint,
    target: Endpoint,
    on_table: Progress = no_progress,
    client_image: str = "",
) -> Report:
    return compare(query_client(client_image), source, target, on_table)
