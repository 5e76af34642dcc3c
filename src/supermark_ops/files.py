"""Files that are never half-written, with one naming scheme for what is in progress.

Each file is written under `.<name>.partial` beside its final name, fsynced,
renamed over the final name, and the folder fsynced (so the rename itself
survives a crash): a crash leaves the old file or the new one, never a torn
one, and what a killed run leaves behind is always `.<name>.partial`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def partial(path: Path) -> Path:
    """Where `path` is written before it is complete."""
    return path.with_name(f".{path.name}.partial")


def fsync_dir(path: Path) -> None:
    """Make a rename in the folder durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, mode: int = 0o777) -> None:
    """A folder that exists, durably: each folder this makes is fsynced into its parent (a new
    file's rename is durable only when its folder's own entry is)."""
    if path.is_dir():
        return
    ensure_dir(path.parent, mode)
    try:
        path.mkdir(mode=mode)
    except FileExistsError:
        return
    fsync_dir(path.parent)


def commit(written: Path, final: Path) -> None:
    """Rename a complete, fsynced file to its final name, durably."""
    os.replace(written, final)
    fsync_dir(final.parent)


@contextmanager
def atomic_write(path: Path, mode: int | None = None) -> Iterator[IO[bytes]]:
    """Write `path` through its partial name; committed when the block ends without an error,
    removed when it raises. The open file's `.name` is the partial path (for checks before commit).
    With `mode` (0o600 for anything secret) the file has that mode from its first byte on."""
    ensure_dir(path.parent)
    tmp = partial(path)
    try:
        if mode is not None:
            tmp.unlink(missing_ok=True)  # a stale partial keeps its old mode otherwise
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            os.chmod(tmp, mode)  # whatever the umask
        with tmp.open("wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: object) -> None:
    with atomic_write(path) as out:
        out.write((json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
