"""scripts/setup.sh starts dockerd for the whole machine when systemd does not: the daemon must not
inherit the caller's descriptors. Run as `flock /work/.molecule.lock scripts/test.sh ...`, a daemon
holding fd 3 would keep the shared lock for as long as it runs, and every run waiting for the lock
would wait forever (it happened: a dockerd started inside a locked run held the lock for hours)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lock_free_after(command: str, lock: Path) -> bool:
    """Run `command` under `flock lock` (which passes the locked descriptor on, as it does for
    test.sh), let the locked command end, and say whether the lock is free again."""
    subprocess.run(["flock", str(lock), "bash", "-c", command], cwd=ROOT, check=True, timeout=30)
    return subprocess.run(["flock", "-n", str(lock), "true"], timeout=10).returncode == 0


def test_a_detached_daemon_does_not_keep_the_callers_lock(tmp_path: Path) -> None:
    pid = tmp_path / "pid"
    started = f"source scripts/setup.sh; smops_detached sleep 30 </dev/null >/dev/null 2>&1; echo $! > {pid}"
    try:
        assert lock_free_after(started, tmp_path / "lock")
    finally:
        subprocess.run(["pkill", "-F", str(pid)], check=False)


def test_without_it_the_daemon_keeps_the_lock(tmp_path: Path) -> None:
    """The same daemon started as before (setsid nohup ... &) keeps it: the test above can fail."""
    pid = tmp_path / "pid"
    started = f"setsid nohup sleep 30 </dev/null >/dev/null 2>&1 & echo $! > {pid}"
    try:
        assert not lock_free_after(started, tmp_path / "lock")
    finally:
        subprocess.run(["pkill", "-F", str(pid)], check=False)
