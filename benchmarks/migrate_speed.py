"""The migration against the fastest honest recipes, side by side in one run (issue 15).

Source: PostgreSQL 15 on this machine over SSL, owned by a role named "default" as on Vercel,
holding a generated database shaped like Supermark's (benchmarks/bench_data.py: 47 tables,
about 200 indexes, about 100 foreign keys, about 580 MB). Targets: a fresh PostgreSQL 16
container (the stack's stand-in image, with the settings role postgres gives a 4 GB droplet)
for every run. Each timed by wall clock, N jobs where the recipe has them:
  bare      pg_dump -Fd -Z0 -j N into a folder, then pg_restore -j N --no-owner --no-acl
  pgcopydb  pgcopydb clone --table-jobs N --index-jobs N --no-owner --no-acl (URLs from its
            environment variables)
  seed      pg_dump | psql, the seed's recipe (ownership errors are printed and passed over)
  ours      supermark_ops.migrate without verification: its copy seconds and its wall time
  ours+v    supermark_ops.migrate with verification; its verification seconds on their own
Goals: ours (copy) no slower than the fastest of the others; verification no slower than the copy.

Then one profile run of ours (not part of the comparison): the target logs every statement's
duration, and the CPU seconds of the source server, the target container and the client
programs are read per phase; the verification's two sides are timed alone and together.

    .venv/bin/python benchmarks/migrate_speed.py [--mb 580] [--jobs 2] [--rounds 3] [--no-wait]

Waits for a quiet machine (1-minute load below 0.7, up to 15 minutes) before measuring.
Writes docs/benchmarks/migrate.md.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import re
import resource
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

from servers import PostgresContainer, PostgresServer, require_ssl  # noqa: E402
from supermark_ops.migrate.run import migrate  # noqa: E402
from supermark_ops.migrate.verify import compare, read_side  # noqa: E402
from supermark_ops.pg import Client, Endpoint, Snapshot, parse  # noqa: E402

IMAGE = "supermark-ops/standin-postgres:1"
RUNS = ("bare", "pgcopydb", "seed", "ours", "ours+v")
OTHERS = ("bare", "pgcopydb", "seed")


def sh(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(command, shell=True, env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed: {result.stderr[-2000:]}")


def source_server(mb: float) -> tuple[PostgresServer, str, list[str]]:
    server = PostgresServer()
    server.start()
    require_ssl(server)
    server.sql("postgres", "CREATE ROLE \"default\" LOGIN PASSWORD 'bench-password'")
    server.sql("postgres", 'CREATE DATABASE verceldb OWNER "default"')
    server.sql("verceldb", supermark_like(mb), user="default")
    shape = server.sql("verceldb", shape_sql()).split("|")
    url = f"postgres://default:bench-password@localhost:{server.port}/verceldb?sslmode=require"
    return server, url, shape


def bare(src: Endpoint, dst: Endpoint, work: Path, jobs: int) -> None:
    folder = work / "bare"
    sh(f'pg_dump -Fd -Z0 -j {jobs} -f {folder} -d "$SRC"', {**src.env(), "SRC": src.conninfo()})
    sh(
        f'pg_restore -j {jobs} --no-owner --no-acl -d "$DST" {folder}',
        {**dst.env(), "DST": dst.conninfo()},
    )


def pgcopydb(source_url: str, dst: Endpoint, work: Path, jobs: int) -> None:
    sh(
        f"pgcopydb clone --table-jobs {jobs} --index-jobs {jobs} --no-owner --no-acl "
        f"--dir {work / 'pgcopydb'}",
        {
            "PGCOPYDB_SOURCE_PGURI": source_url,
            "PGCOPYDB_TARGET_PGURI": f"postgres://{dst.user}:{dst.password}@{dst.host}:{dst.port}/{dst.dbname}",
        },
    )


def seed(src: Endpoint, dst: Endpoint, work: Path) -> None:
    # The seed's recipe, as written: plain SQL through a pipe; psql goes on past errors.
    subprocess.run(
        'pg_dump -d "$SRC" | PGPASSWORD="$DST_PASSWORD" psql -q -d "$DST" '
        f'>/dev/null 2>"{work}/seed-errors.txt"',
        shell=True,
        env={
            **os.environ,
            **src.env(),
            "SRC": src.conninfo(),
            "DST": dst.conninfo(),
            "DST_PASSWORD": dst.password,
        },
        check=False,
    )


# -- CPU accounting ---------------------------------------------------------------------

BUSY: dict[str, list[float]] = {}
HZ = os.sysconf("SC_CLK_TCK")


def cores_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def server_cpu(server: PostgresServer) -> float:
    """CPU seconds of the source cluster: the postmaster, its reaped backends, its live children."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) == postmaster:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        elif int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / HZ


def container_cpu(name: str) -> float:
    cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True).stdout
    path = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid.strip()}/cpuacct.usage")
    return int(path.read_text()) / 1e9 if path.exists() else float("nan")


def clients_cpu() -> float:
    children, me = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime


def timed(fn: Callable[[], object], name: str) -> float:
    """Wall time of fn(); also records how busy the machine's cores were meanwhile."""
    busy0, total0 = cores_busy()
    start = time.monotonic()
    fn()
    elapsed = time.monotonic() - start
    busy1, total1 = cores_busy()
    BUSY.setdefault(name, []).append(100 * (busy1 - busy0) / max(1, total1 - total0))
    return elapsed


def target() -> tuple[PostgresContainer, Endpoint]:
    server = PostgresContainer(IMAGE, "bench-target-password", stack_settings())
    return server, parse(server.start(), what="target")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=580)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="each run this many times; medians")
    parser.add_argument("--no-wait", action="store_true", help="measure even on a busy machine")
    args = parser.parse_args()
    server, source_url, shape = source_server(args.mb)
    src = parse(source_url, what="source", require_ssl=True)
    times: dict[str, list[float]] = {
        k: [] for k in (*RUNS, "ours copy", "ours+v copy", "verify", "verify-only")
    }
    work = Path(tempfile.mkdtemp(prefix="smops-bench-"))
    seed_errors = 0
    try:
        loads = [load() if args.no_wait else wait_for_quiet()]
        for round_ in range(args.rounds):
            k = round_ % len(RUNS)  # rotate: each run goes first once, and follows a different one
            for run in RUNS[k:] + RUNS[:k]:
                container, dst = target()
                try:
                    if run in ("ours", "ours+v"):
                        check = run == "ours+v"
                        out: list[dict[str, float]] = []
                        times[run].append(
                            timed(
                                lambda d=dst, c=check, o=out: o.append(  # type: ignore[misc]
                                    migrate(src, d, work / "ours", jobs=args.jobs, verify=c).seconds
                                ),
                                run,
                            )
                        )
                        times[f"{run} copy"].append(out[0]["copy"])
                        if check:
                            times["verify"].append(out[0]["verify"])
                            # The same check again on its own, as `--verify-only` runs it.
                            times["verify-only"].append(
                                timed(lambda d=dst: compare(Client(), src, d), "verify-only")
                            )  # type: ignore[misc]
                    elif run == "bare":
                        times[run].append(timed(lambda d=dst: bare(src, d, work, args.jobs), run))  # type: ignore[misc]
                    elif run == "pgcopydb":
                        times[run].append(
                            timed(lambda d=dst: pgcopydb(source_url, d, work, args.jobs), run)  # type: ignore[misc]
                        )
                    else:
                        times[run].append(timed(lambda d=dst: seed(src, d, work), run))  # type: ignore[misc]
                        seed_errors = (work / "seed-errors.txt").read_text().count("ERROR")
                finally:
                    container.stop()
                    subprocess.run(
                        ["rm", "-rf", str(work / "ours"), str(work / "bare"), str(work / "pgcopydb")]
                    )
        loads.append(load())
        profile_lines = profile(server, src, work, args.jobs)
    finally:
        server.cleanup()
        subprocess.run(["rm", "-rf", str(work)])
    results = {k: statistics.median(v) for k, v in times.items() if v}
    write(results, times, shape, loads, args, seed_errors, profile_lines)


# -- the profile run ----------------------------------------------------------------------


def statement_kind(statement: str) -> str:
    s = statement.lstrip().upper()
    if s.startswith("COPY"):
        return "COPY (data in)"
    if s.startswith("CREATE INDEX") or s.startswith("CREATE UNIQUE INDEX"):
        return "CREATE INDEX"
    if "PRIMARY KEY" in s:
        return "ADD PRIMARY KEY (a unique index build)"
    if "FOREIGN KEY" in s:
        return "ADD FOREIGN KEY (validation query)"
    if s.startswith("SELECT COUNT(*)"):
        return "verification (count and hash)"
    return "other (schema, settings)"


def profile(server: PostgresServer, src: Endpoint, work: Path, jobs: int) -> list[str]:
    container = PostgresContainer(
        IMAGE,
        "bench-target-password",
        (*stack_settings(), "-c", "log_min_duration_statement=0", "-c", "log_line_prefix=%m [%p] %d "),
    )
    dst = parse(container.start(), what="target")
    marks: list[tuple[str, float, float, float, float]] = []

    def mark(name: str) -> None:
        cpu = (server_cpu(server), container_cpu(container.name), clients_cpu())
        marks.append((name.split(" (")[0], time.monotonic(), *cpu))

    try:
        mark("start")
        summary = migrate(src, dst, work / "profile", jobs=jobs, phase=mark)
        mark("end")
        logs = subprocess.run(["docker", "logs", container.name], capture_output=True, text=True)
        # The target database's statements only (not the rehearsal's scratch database).
        statements = [
            (ms, statement)
            for db, ms, statement in re.findall(
                r"\] (\S*) LOG:  duration: ([\d.]+) ms\s+statement: (.*?)(?=\n\S|\Z)",
                logs.stdout + logs.stderr,
                flags=re.S,
            )
            if db == dst.dbname
        ]
        sides, tables = {}, 0
        for name, endpoint in (("source", src), ("target", dst)):
            start = time.monotonic()
            with Snapshot(Client(), endpoint) as snapshot:
                tables = len(read_side(snapshot).hashes)
            sides[name] = time.monotonic() - start
    finally:
        container.stop()
    by_kind: dict[str, float] = collections.defaultdict(float)
    counts: collections.Counter[str] = collections.Counter()
    for ms, statement in statements:
        kind = statement_kind(statement)
        by_kind[kind] += float(ms) / 1000
        counts[kind] += 1
    lines = [
        "| phase of ours | wall s | CPU s: source server | target server | clients |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for (name, t0, s0, d0, c0), (_, t1, s1, d1, c1) in itertools.pairwise(marks):
        lines.append(f"| {name} | {t1 - t0:.1f} | {s1 - s0:.1f} | {d1 - d0:.1f} | {c1 - c0:.1f} |")
    lines += [
        "",
        "| target statements, by kind (summed over sessions) | count | seconds |",
        "| --- | ---: | ---: |",
    ]
    for kind, seconds in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {kind} | {counts[kind]} | {seconds:.1f} |")
    lines += [
        "",
        f"Verification in that run: {summary.seconds.get('verify', 0):.1f} s after the copy (the source "
        "side began when the data was in). Each side alone, afterwards: the source (PostgreSQL 15, over "
        f"SSL) {sides['source']:.1f} s, the target {sides['target']:.1f} s ({tables} tables each).",
    ]
    return lines


def write(
    results: dict[str, float],
    times: dict[str, list[float]],
    shape: list[str],
    loads: list[float],
    args: argparse.Namespace,
    seed_errors: int,
    profile_lines: list[str],
) -> None:
    fastest = min(OTHERS, key=lambda k: results[k])
    base = results[fastest]
    copy, verify = results["ours copy"], results["verify"]  # verify: what it adds after the copy
    tables, indexes, fks, enums, rows, size = shape
    all_times = "; ".join(f"{k} {sorted(round(x, 1) for x in v)}" for k, v in times.items() if v)
    busy = ", ".join(f"{k} {statistics.median(v):.0f}%" for k, v in BUSY.items())
    j = args.jobs
    lines = [
        "# Migration speed",
        "",
        f"Measured by `benchmarks/migrate_speed.py --mb {args.mb:g} --jobs {j} --rounds {args.rounds}` on "
        f"{time.strftime('%Y-%m-%d')}: {machine()}. 1-minute load before the measurements "
        f"{loads[0]:.2f}, after {loads[1]:.2f}.",
        "",
        f"Source: PostgreSQL 15 on this machine over SSL, owned by a role named `default` as on Vercel, "
        f"a generated database shaped like Supermark's ({tables} tables, {indexes} indexes, {fks} foreign "
        f"keys, {enums} enums, {int(rows):,} rows: text ids, jsonb, text arrays, timestamps, most of it in "
        f"views and pages; `benchmarks/bench_data.py`), {int(size) / 1e6:.0f} MB on disk. Targets: a fresh "
        "PostgreSQL 16 container for every run (the stack's stand-in image, with the settings role "
        "postgres gives a 4 GB droplet). All in one run, each run "
        f"{args.rounds} times, the order rotated every round; medians.",
        "",
        f"| run | seconds | vs {fastest} |",
        "| --- | ---: | ---: |",
        f"| bare: `pg_dump -Fd -Z0 -j {j}`, then `pg_restore -j {j} --no-owner --no-acl` | "
        f"{results['bare']:.1f} | {results['bare'] / base:.2f}x |",
        f"| pgcopydb 0.10: `pgcopydb clone --table-jobs {j} --index-jobs {j} --no-owner --no-acl` | "
        f"{results['pgcopydb']:.1f} | {results['pgcopydb'] / base:.2f}x |",
        f"| seed: `pg_dump \\| psql` | {results['seed']:.1f} | {results['seed'] / base:.2f}x |",
        f"| **ours: the copy** (`supermark-ops migrate --jobs {j}`, without verification) | **{copy:.1f}** | "
        f"**{copy / base:.2f}x** |",
        f"| ours without verification, wall (preflight and marks included) | {results['ours']:.1f} | "
        f"{results['ours'] / base:.2f}x |",
        f"| ours with verification, wall | {results['ours+v']:.1f} | {results['ours+v'] / base:.2f}x |",
        f"| **what our verification adds** after the copy (its source side runs during the last index "
        f"builds) | **{verify:.1f}** | {verify / base:.2f}x |",
        f"| our verification on its own, afterwards (`--verify-only`: counts and row hashes, both "
        f"servers at once) | {results['verify-only']:.1f} | {results['verify-only'] / base:.2f}x |",
        "",
        f"Goals: ours (copy) no slower than the fastest of the others ({fastest}): "
        f"{'met' if copy <= base else 'NOT met'} ({copy / base:.2f}x). Verification no slower than the copy: "
        f"{'met' if results['verify-only'] <= copy else 'NOT met'} "
        f"(on its own {results['verify-only'] / copy:.2f}x "
        f"of the copy; in a run it adds {verify:.1f} s after the copy, and a run with it takes "
        f"{results['ours+v'] - results['ours']:.1f} s more wall time than one without). "
        f'The seed\'s run printed {seed_errors} ERROR lines (role "default" does not exist on the target).',
        "",
        f"All times (s): {all_times}. How busy the {os.cpu_count()} cores were during each run (median, all "
        f"processes: the servers, the clients, the pipes): {busy}.",
        "",
        "## Where the time goes (one profile run of ours, with verification)",
        "",
        *profile_lines,
        "",
    ]
    (ROOT / "docs/benchmarks/migrate.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
