"""The test hosts' bytecode cache for zip imports (images/systemd/smops_pyc_cache.py).

It only saves time: the code a module runs must be exactly what compiling its
source gives, under the file name of the zip it was imported from, and a changed
source must never load old code. Each case runs in its own Python, since the
cache patches the interpreter's zipimport.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_MODULE = ROOT / "images/systemd/smops_pyc_cache.py"

# Imports module m from a fresh zip holding SOURCE, with the cache on (as root),
# and prints what happened. argv: cache dir, zip path, source, euid, "no-compile".
SCRIPT = textwrap.dedent(
    """
    import importlib.util, os, sys, zipfile, zipimport
    cache_dir, zip_path, source, euid, mode = sys.argv[1:6]
    spec = importlib.util.spec_from_file_location("smops_pyc_cache", sys.argv[6])
    cache = importlib.util.module_from_spec(spec); spec.loader.exec_module(cache)
    cache._DIR = cache_dir
    os.geteuid = lambda: int(euid)
    zipimport._compile_source = cache._compile_cached
    if mode == "no-compile":  # the code must come from the cache
        def refuse(*args):
            raise AssertionError("compiled although cached")
        cache._compile = refuse
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("m.py", source)
    sys.path.insert(0, zip_path)
    import m
    print(m.answer(), m.answer.__code__.co_filename, m.inner().__code__.co_filename)
    """
)

SOURCE = "def answer():\n    return 42\n\ndef inner():\n    def f():\n        pass\n    return f\n"


def run(tmp_path: Path, zip_name: str, source: str, euid: int = 0, mode: str = "") -> list[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-B",  # no __pycache__ in images/systemd: setup.sh rebuilds the image when that folder changes
            "-c",
            SCRIPT,
            str(tmp_path / "cache"),
            str(tmp_path / zip_name),
            source,
            str(euid),
            mode or "-",
            str(CACHE_MODULE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_second_import_loads_cached_code_under_its_own_file_name(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    first = run(tmp_path, "a.zip", SOURCE)
    assert first == ["42", f"{tmp_path}/a.zip/m.py", f"{tmp_path}/a.zip/m.py"]
    assert len(list((tmp_path / "cache").iterdir())) == 1
    # Another payload with the same source: no compile, and tracebacks name the new zip.
    second = run(tmp_path, "b.zip", SOURCE, mode="no-compile")
    assert second == ["42", f"{tmp_path}/b.zip/m.py", f"{tmp_path}/b.zip/m.py"]


def test_changed_source_is_compiled_not_served_from_the_cache(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    run(tmp_path, "a.zip", SOURCE)
    changed = run(tmp_path, "b.zip", SOURCE.replace("42", "43"))
    assert changed[0] == "43"
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_corrupt_entry_is_compiled_again(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    run(tmp_path, "a.zip", SOURCE)
    (entry,) = (tmp_path / "cache").iterdir()
    entry.write_bytes(b"not marshal data")
    assert run(tmp_path, "b.zip", SOURCE)[0] == "42"
    assert entry.read_bytes() != b"not marshal data"


def test_other_users_neither_read_nor_write_it(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    assert run(tmp_path, "a.zip", SOURCE, euid=1000)[0] == "42"
    assert not list((tmp_path / "cache").iterdir())


GUARD = textwrap.dedent(
    """
    import importlib.util, sys, zipimport
    source = open(sys.argv[1]).read()
    assert '_DIR = "/var/cache/smops-pyc"' in source  # else this test would prove nothing
    source = source.replace('_DIR = "/var/cache/smops-pyc"', f'_DIR = {sys.argv[2]!r}')
    spec = importlib.util.spec_from_loader("smops_pyc_cache", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, sys.argv[1], "exec"), module.__dict__)
    print(zipimport._compile_source.__module__)
    """
)


def test_it_only_switches_itself_on_over_a_root_only_folder(tmp_path: Path) -> None:
    def patched(folder: Path) -> bool:
        done = subprocess.run(
            [sys.executable, "-B", "-c", GUARD, str(CACHE_MODULE), str(folder)],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip() == "smops_pyc_cache"

    assert not patched(tmp_path / "missing")
    open_folder = tmp_path / "open"
    open_folder.mkdir(mode=0o777)
    open_folder.chmod(0o777)
    assert not patched(open_folder)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    # Root's own folder (as on the test hosts, where root runs the modules); anyone else's is ignored.
    assert patched(private) == (os.geteuid() == 0)
