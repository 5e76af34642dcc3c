"""Runs that never overlap: the monitor's cron and the backup timers never overlap themselves,
and no backup runs while a migration rewrites the database."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _take(
    handle: IO[str],
    operation: int,
    timeout: float,
    on_wait: Callable[[], None],
    sleep: Callable[[float], None],
) -> bool:
    """flock `operation` on `handle`, polling up to `timeout` seconds (calling `on_wait` once when
    it has to wait); whether it got it."""
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        try:
            fcntl.flock(handle, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            if not waited:
                on_wait()
                waited = True
            sleep(min(2.0, max(0.05, deadline - time.monotonic())))


@contextmanager
def single_run(
    lock_file: Path, wait: float = 0, sleep: Callable[[float], None] = time.sleep
) -> Iterator[bool]:
    """Yields False when a previous run (or a shared holder) still holds the lock after `wait`
    seconds (runs never overlap)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        if not _take(handle, fcntl.LOCK_EX, wait, lambda: None, sleep):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def shared(
    lock_file: Path,
    timeout: float,
    on_wait: Callable[[], None] = lambda: None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bool]:
    """A shared hold on a lock that one exclusive holder (single_run) may have: waits up to
    `timeout` seconds for it to let go (calling `on_wait` once), then yields whether it got it.
    Many shared holders never wait for each other."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        if not _take(handle, fcntl.LOCK_SH, timeout, on_wait, sleep):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def held_exclusively(lock_file: Path) -> bool:
    """Whether a single_run (another migration) holds the lock now, as opposed to shared holders
    (backups) or nobody."""
    if not lock_file.exists():
        return False
    with open(lock_file, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
