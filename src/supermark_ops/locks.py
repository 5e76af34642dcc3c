"""Runs that never overlap: the monitor's cron and the backup timers never overlap themselves,
and no backup runs while a migration rewrites the database."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def single_run(lock_file: Path) -> Iterator[bool]:
    """Yields False when a previous run still holds the lock (runs never overlap)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
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
    deadline = time.monotonic() + timeout
    waited = False
    with open(lock_file, "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                if not waited:
                    on_wait()
                    waited = True
                sleep(min(2.0, max(0.05, deadline - time.monotonic())))
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
