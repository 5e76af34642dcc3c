"""Our backup and restore against bare pg_dump -Fc / pg_restore, side by side in one run (issue 4).

On a generated database of at least 1 GB in PostgreSQL 16 (the stack's
stand-in image), reached through `docker exec` as on the droplet:
  backup   ours: `supermark_ops.backup` (snapshot row counts, pg_dump -Fc -Z6 into a temp file
           with sha256, fsync, pg_restore --list, re-read sha256, rename, manifest), database only
  bare     docker exec pg_dump -Fc > file
  restore  ours: the restore step (drop, create, pg_restore --exit-on-error from the checked dump),
           and our checks before it (sha256 + pg_restore --list); a full `supermark-ops backup
           restore` also takes a safety backup first, which costs one more backup
  bare     docker exec -i pg_restore -d into an empty database
Goal: our backup within 1.15x of bare.

    .venv/bin/python benchmarks/backup_speed.py [--gb 1.1] [--rounds 3]

Writes docs/benchmarks/backup.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench_data import machine, schema_and_rows  # noqa: E402

from servers import PostgresContainer  # noqa: E402
from supermark_ops.backup.backup import backup  # noqa: E402
from supermark_ops.backup.common import Setup, checked  # noqa: E402
from supermark_ops.config import BackupConfig, from_mapping  # noqa: E402

IMAGE = "supermark-ops/standin-postgres:1"


def generate(server: PostgresContainer, gb: float) -> int:
    server.sql(schema_and_rows(gb) + " VACUUM ANALYZE;")
    return int(server.sql("SELECT pg_database_size('supermark')"))


def timed(fn: Callable[[], object]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def bare_dump(name: str, path: Path) -> None:
    with path.open("wb") as out:
        subprocess.run(
            ["docker", "exec", name, "pg_dump", "-Fc", "-Usupermark", "supermark"], stdout=out, check=True
        )


def bare_restore(server: PostgresContainer, path: Path, db: str) -> None:
    server.sql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}", "postgres")
    name = server.name
    with path.open("rb") as f:
        subprocess.run(
            ["docker", "exec", "-i", name, "pg_restore", "--no-owner", "-Usupermark", "-d", db],
            stdin=f,
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=1.1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = PostgresContainer(
        IMAGE, "bench-password", ("-c", "shared_buffers=512MB", "-c", "max_wal_size=4GB")
    )
    server.start()
    work = Path(tempfile.mkdtemp(prefix="smops-backup-bench-"))
    times: dict[str, list[float]] = {k: [] for k in ("ours", "bare", "checks", "restore", "bare_restore")}
    try:
        size = generate(server, args.gb)
        setup = Setup.of(
            from_mapping(
                BackupConfig,
                {
                    "directory": str(work / "ours"),
                    "state_dir": str(work / "state"),
                    "postgres": {"container": server.name, "user": server.user, "database": server.db},
                    "compress": 6,
                },
            )
        )
        bare_file = work / "bare.dump"
        for round_ in range(args.rounds):
            runs: list[tuple[str, Callable[[], object]]] = [
                ("ours", lambda: backup(setup, retention=False)),
                ("bare", lambda: bare_dump(server.name, bare_file)),
            ]
            for key, fn in runs if round_ % 2 == 0 else runs[::-1]:
                times[key].append(timed(fn))
            newest = setup.store.newest_complete()
            dump = setup.store.dump_path(newest)
            times["checks"].append(timed(lambda n=newest: checked(setup, n)))  # type: ignore[misc]
            restores: list[tuple[str, Callable[[], object]]] = [
                (
                    "restore",
                    lambda d=dump: setup.client.replace_database(setup.db.on("bench_ours"), d),
                ),  # type: ignore[misc]
                ("bare_restore", lambda: bare_restore(server, bare_file, "bench_bare")),
            ]
            for key, fn in restores if round_ % 2 == 0 else restores[::-1]:
                times[key].append(timed(fn))
            server.sql("DROP DATABASE bench_ours; DROP DATABASE bench_bare", "postgres")
            for old in setup.store.backups():
                setup.store.delete(old.name)
        dump_bytes = bare_file.stat().st_size
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(work)])
    write({k: statistics.median(v) for k, v in times.items()}, times, size, dump_bytes, args)


def write(
    results: dict[str, float],
    times: dict[str, list[float]],
    size: int,
    dump_bytes: int,
    args: argparse.Namespace,
) -> None:
    ratio = results["ours"] / results["bare"]
    all_times = ", ".join(f"{k} {sorted(round(x, 1) for x in v)}" for k, v in times.items())
    lines = [
        "# Backup and restore speed",
        "",
        f"Measured by `benchmarks/backup_speed.py --gb {args.gb} --rounds {args.rounds}` on "
        f"{time.strftime('%Y-%m-%d')}: {machine()}"
        f", Docker {docker_version()}.",
        "",
        f"Database: PostgreSQL 16 (the stack's stand-in image), {size / 1024**3:.2f} GB on disk (two "
        "tables, an index, a foreign key; random hex text); "
        f"the dump is {dump_bytes / 1024**3:.2f} GB (gzip level 6). "
        "Both sides run pg_dump / pg_restore inside the container through `docker exec`, as on the droplet. "
        f"Each run {args.rounds} times, the order swapped every round; medians.",
        "",
        "| run | seconds | vs bare |",
        "| --- | ---: | ---: |",
        f"| ours: backup (counts in the dump's snapshot, dump, fsync, `pg_restore --list`, sha256 re-read, "
        f"manifest) | {results['ours']:.1f} | {ratio:.2f}x |",
        f"| bare: `pg_dump -Fc > file` | {results['bare']:.1f} | 1.00x |",
        f"| ours: restore step (drop, create, `pg_restore --exit-on-error`) | {results['restore']:.1f} | "
        f"{results['restore'] / results['bare_restore']:.2f}x |",
        f"| bare: `pg_restore` into an empty database | {results['bare_restore']:.1f} | 1.00x |",
        "| ours: checks before a restore or drill (sha256, `pg_restore --list`) | "
        f"{results['checks']:.1f} | |",
        "",
        f"Goal: our backup within 1.15x of bare: {'met' if ratio <= 1.15 else 'NOT met'} ({ratio:.2f}x).",
        "",
        f"Notes: all times (s): {all_times}. A full `supermark-ops backup restore` is the checks, a safety "
        "backup of the current database (one more backup's time when the database is full, nothing when it "
        "is empty), then the restore step; documents come on top of both (proportional to what changed).",
        "",
    ]
    (ROOT / "docs/benchmarks/backup.md").write_text("\n".join(lines))
    print("\n".join(lines))


def docker_version() -> str:
    return subprocess.run(
        ["docker", "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True, check=False
    ).stdout.strip()


if __name__ == "__main__":
    main()
