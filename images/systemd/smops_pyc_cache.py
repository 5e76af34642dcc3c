"""Test hosts only: keep the code Python compiles for modules imported from a
zip file, so Ansible's module payloads (AnsiballZ) are not compiled anew on
every task.

Why: each Ansible task imports ansible.module_utils from its payload's zip,
and Python keeps no bytecode for zip imports, so every task on a test host
compiled the same sources again (40 `stat` tasks: 24.7 CPU seconds on the host
without this, 18 with it). The code run is the same: an entry is keyed by the
source's hash, the bytecode's magic number and the optimisation level, and each
load gets the payload's own file name back (tracebacks name the file that ran).
Only root's runs use it (the modules run with become), from the root-only
folder the image makes. A droplet compiles each time. The one other difference:
a compile-time warning (SyntaxWarning) is printed on the first compile only.
"""

import marshal
import os
import sys
import zipimport

_DIR = "/var/cache/smops-pyc"


def _with_filename(code, path):
    consts = tuple(_with_filename(c, path) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=path, co_consts=consts)


def _compile_cached(pathname, source):
    if os.geteuid() != 0:
        return _compile(pathname, source)
    try:
        import hashlib
        import importlib.util

        key = hashlib.sha256(importlib.util.MAGIC_NUMBER + bytes([sys.flags.optimize]) + source).hexdigest()
        entry = os.path.join(_DIR, key)
        try:
            with open(entry, "rb") as f:
                code = marshal.load(f)
            if isinstance(code, type(_compile_cached.__code__)):
                return _with_filename(code, pathname)
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = _compile(pathname, source)
        import tempfile

        fd, tmp = tempfile.mkstemp(dir=_DIR)
        try:
            with os.fdopen(fd, "wb") as f:
                marshal.dump(code, f)
            os.replace(tmp, entry)  # whole or not at all, when two tasks race
        except Exception:
            os.unlink(tmp)
            raise
        return code
    except Exception:  # a cache must never stop a module: compile as Python would
        return _compile(pathname, source)


try:
    _compile = zipimport._compile_source
    _mode = os.stat(_DIR)
    if _mode.st_uid == 0 and not _mode.st_mode & 0o077:
        zipimport._compile_source = _compile_cached
except (AttributeError, OSError):  # another Python, or no folder: leave zipimport alone
    pass
