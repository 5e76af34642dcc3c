"""The migration's exclusive lock waits for the backups' shared holds to end (a nightly backup
running when the cut-over starts), and gives up after its wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from supermark_ops.locks import held_exclusively, shared, single_run


def test_an_exclusive_run_waits_for_a_shared_holder_to_let_go(tmp_path: Path) -> None:
    lock = tmp_path / "migrate.lock"
    held, release = threading.Event(), threading.Event()

    def backup() -> None:
        with shared(lock, timeout=1) as got:
            assert got
            held.set()
            release.wait(5)

    worker = threading.Thread(target=backup)
    worker.start()
    held.wait(5)
    assert not held_exclusively(lock)  # a backup's hold: the migration waits, it is not refused
    with single_run(lock, wait=0.2) as got:
        assert not got  # the backup still runs: refused after the wait
    threading.Timer(0.3, release.set).start()
    start = time.monotonic()
    with single_run(lock, wait=10) as got:
        assert got and time.monotonic() - start >= 0.2  # it waited for the backup, then ran
        assert held_exclusively(lock)  # a second migration is refused at once
    worker.join()
