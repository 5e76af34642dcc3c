"""pg_dump's compression methods side by side, and our backup and restore, in one run (issue 15).

On a generated database shaped like Supermark's (benchmarks/bench_data.py, about 580 MB) in
PostgreSQL 16 (the stack's stand-in image, with the settings role postgres gives a 4 GB
droplet), reached through `docker exec` as on the droplet:
  dumps     `pg_dump -Fc` with its default (gzip, level 6), `-Z lz4`, and `-Z zstd:N` at a few levels
  ours      `supermark_ops.backup` with its default compression (snapshot row counts, the dump
            into a temp file with sha256, fsync, pg_restore --list, re-read sha256, rename, manifest)
  restores  bare `pg_restore` of the gzip dump and of the default's dump into an empty database,
            and our restore step (drop, create, `pg_restore --exit-on-error`) from our backup
Rule for the default: a dump at most half the time of gzip's, into a file no bigger.
Goal: our backup within 1.15x of the bare dump with the same compression.

    .venv/bin/python benchmarks/backup_speed.py [--mb 580] [--rounds 3] [--no-wait]

Waits for a quiet machine (1-minute load below 0.7, up to 15 minutes) before measuring.
Writes docs/benchmarks/backup.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench_data import load, machine, shape_sql, stack_settings, supermark_like, wait_for_quiet  # noqa: E402

from servers import PostgresContainer  # noqa: E402
from supermark_ops.backup.backup import backup  # noqa: E402
from supermark_ops.backup.common import Setup  # noqa: E402
from supermark_ops.config import BackupConfig, from_mapping  # noqa: E402

IMAGE = "supermark-ops/standin-postgres:1"
# What a backup uses when backup_compress is not set (the role's default is the same).
DEFAULT_COMPRESSION = str(next(f.default for f in dataclasses.fields(BackupConfig) if f.name == "compress"))
# The default first: `pg_dump -Fc` without -Z is gzip at level 6.
METHODS = ["gzip", "lz4", "zstd:1", "zstd:3", "zstd:6"]


def timed(fn: Callable[[], object]) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def bare_dump(name: str, path: Path, method: str) -> None:
    z = [] if method == "gzip" else ["-Z", method]
    with path.open("wb") as out:
        subprocess.run(
            ["docker", "exec", name, "pg_dump", "-Fc", *z, "-Usupermark", "supermark"], stdout=out, check=True
        )


def bare_restore(server: PostgresContainer, path: Path, db: str) -> None:
    server.sql(f"DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}", "postgres")
    with path.open("rb") as f:
        subprocess.run(
            ["docker", "exec", "-i", server.name, "pg_restore", "--no-owner", "-Usupermark", "-d", db],
            stdin=f,
            check=True,
        )


def rotated(
    runs: list[tuple[str, Callable[[], object]]], round_: int
) -> list[tuple[str, Callable[[], object]]]:
    """Each round starts one further along, so no run always goes first (or right after another)."""
    k = round_ % len(runs)
    return runs[k:] + runs[:k]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=580)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-wait", action="store_true", help="measure even on a busy machine")
    args = parser.parse_args()
    server = PostgresContainer(IMAGE, "bench-password", stack_settings())
    server.start()
    work = Path(tempfile.mkdtemp(prefix="smops-backup-bench-"))
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    try:
        server.sql(supermark_like(args.mb))
        shape = server.sql(shape_sql()).split("|")
        setup = Setup.of(
            from_mapping(
                BackupConfig,
                {
                    "directory": str(work / "ours"),
                    "state_dir": str(work / "state"),
                    "postgres": {"container": server.name, "user": server.user, "database": server.db},
                },
            )
        )
        files = {m: work / f"bare-{m}.dump" for m in METHODS}
        loads = [load() if args.no_wait else wait_for_quiet()]
        for round_ in range(args.rounds):
            dumps: list[tuple[str, Callable[[], object]]] = [
                (m, lambda m=m: bare_dump(server.name, files[m], m))  # type: ignore[misc]
                for m in METHODS
            ]
            dumps.append(("ours", lambda: backup(setup, retention=False)))
            for key, fn in rotated(dumps, round_):
                times.setdefault(key, []).append(timed(fn))
            newest = setup.store.newest_complete()
            ours_dump = setup.store.dump_path(newest)
            restores: list[tuple[str, Callable[[], object]]] = [
                ("restore gzip", lambda: bare_restore(server, files["gzip"], "bench_gzip")),
                (
                    f"restore {DEFAULT_COMPRESSION}",
                    lambda: bare_restore(server, files[DEFAULT_COMPRESSION], "bench_default"),
                ),
                (
                    "ours restore",
                    lambda d=ours_dump: setup.client.replace_database(setup.db.on("bench_ours"), d),  # type: ignore[misc]
                ),
            ]
            for key, fn in rotated(restores, round_):
                times.setdefault(key, []).append(timed(fn))
            server.sql(
                "DROP DATABASE bench_gzip; DROP DATABASE bench_default; DROP DATABASE bench_ours", "postgres"
            )
            sizes = {m: files[m].stat().st_size for m in METHODS}
            sizes["ours"] = ours_dump.stat().st_size
            for old in setup.store.backups():
                setup.store.delete(old.name)
        loads.append(load())
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(work)])
    write({k: statistics.median(v) for k, v in times.items()}, times, sizes, shape, loads, args)


def write(
    results: dict[str, float],
    times: dict[str, list[float]],
    sizes: dict[str, int],
    shape: list[str],
    loads: list[float],
    args: argparse.Namespace,
) -> None:
    gzip_s, gzip_b = results["gzip"], sizes["gzip"]
    qualifies = [m for m in METHODS[1:] if results[m] <= 0.5 * gzip_s and sizes[m] <= gzip_b]
    tables, indexes, fks, enums, rows, size = shape
    all_times = ", ".join(f"{k} {sorted(round(x, 1) for x in v)}" for k, v in times.items())
    lines = [
        "# Backup speed: pg_dump's compression, our backup and restore",
        "",
        f"Measured by `benchmarks/backup_speed.py --mb {args.mb:g} --rounds {args.rounds}` on "
        f"{time.strftime('%Y-%m-%d')}: {machine()}, Docker {docker_version()}. "
        f"1-minute load before the measurements {loads[0]:.2f}, after {loads[1]:.2f}.",
        "",
        f"Database: generated, shaped like Supermark's ({tables} tables, {indexes} indexes, {fks} foreign "
        f"keys, {enums} enums, {int(rows):,} rows; text ids, jsonb, text arrays, timestamps; "
        f"`benchmarks/bench_data.py`), {int(size) / 1e6:.0f} MB on disk, in PostgreSQL 16 (the stack's "
        "stand-in image: Ubuntu's postgresql-16, built with zstd and lz4), with the settings role "
        "postgres gives a 4 GB droplet. pg_dump and pg_restore run inside the container through "
        f"`docker exec`, as on the droplet. Each run {args.rounds} times, the order rotated every round; "
        "medians, all in one run.",
        "",
        "| dump (`pg_dump -Fc`) | seconds | vs gzip | file MB | vs gzip | half the time, no bigger |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for m in METHODS:
        label = "gzip (the default of `-Fc`, level 6)" if m == "gzip" else f"`-Z {m}`"
        rule = "" if m == "gzip" else ("yes" if m in qualifies else "no")
        lines.append(
            f"| {label} | {results[m]:.1f} | {results[m] / gzip_s:.2f}x | {sizes[m] / 1e6:.0f} | "
            f"{sizes[m] / gzip_b:.2f}x | {rule} |"
        )
    ours_ratio = results["ours"] / results[DEFAULT_COMPRESSION]
    lines += [
        f"| ours: `supermark-ops backup` (default `{DEFAULT_COMPRESSION}`; counts in the dump's snapshot, "
        f"dump, fsync, `pg_restore --list`, sha256 re-read, manifest) | {results['ours']:.1f} | "
        f"{results['ours'] / gzip_s:.2f}x | {sizes['ours'] / 1e6:.0f} | {sizes['ours'] / gzip_b:.2f}x | |",
        "",
        "| restore into an empty database | seconds | vs gzip |",
        "| --- | ---: | ---: |",
    ]
    gzip_r = results["restore gzip"]
    for key, label in (
        ("restore gzip", "`pg_restore` of the gzip dump"),
        (f"restore {DEFAULT_COMPRESSION}", f"`pg_restore` of the `{DEFAULT_COMPRESSION}` dump"),
        (
            "ours restore",
            f"ours: restore step (drop, create, `pg_restore --exit-on-error`), `{DEFAULT_COMPRESSION}`",
        ),
    ):
        lines.append(f"| {label} | {results[key]:.1f} | {results[key] / gzip_r:.2f}x |")
    chosen = DEFAULT_COMPRESSION in qualifies
    lines += [
        "",
        f"Methods meeting the rule (at most half gzip's time, a file no bigger): "
        f"{', '.join(f'`{m}`' for m in qualifies) or 'none'}. The default, `{DEFAULT_COMPRESSION}` "
        f"(`backup_compress`), {'meets it' if chosen else 'does NOT meet it'}: "
        f"{results[DEFAULT_COMPRESSION] / gzip_s:.2f}x the time, "
        f"{sizes[DEFAULT_COMPRESSION] / gzip_b:.2f}x the size. "
        "Our backup within 1.15x of the bare dump with the same compression: "
        f"{'met' if ours_ratio <= 1.15 else 'NOT met'} ({ours_ratio:.2f}x).",
        "",
        f"Notes: all times (s): {all_times}. Restores read older gzip dumps as before (pg_restore finds the "
        "method in the archive's header; tests/test_backup.py drills and restores a gzip dump with "
        "today's code). A full `supermark-ops backup restore` also checks the dump (sha256, "
        "`pg_restore --list`) and takes a safety backup of the current database first.",
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
