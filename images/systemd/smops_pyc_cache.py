"""Test hosts only: keep the code Python compiles for modules imported from a
zip file, so Ansible's module payloads (AnsiballZ) are not compiled anew on
every task.

Why: each Ansible task imports ansible.module_utils from the payload's zip,
and Python never caches bytecode for zip imports, so every task on a test host
compiled the same sources again: about a quarter of the whole suite's CPU, on
a 2-core machine with a time budget. The code run is the same: the cache is
keyed by the source's hash and the Python version, and each load gets the
payload's own file name back (tracebacks name the file that ran). Only root's
runs use it (the modules run with become), from a root-only folder made by
the image. A droplet compiles each time; nothing else differs.
"""

import marshal
import os
import sys
import zipimport

_DIR = "/var/cache/smops-pyc"
_compile = zipimport._compile_source
_CodeType = type(_compile.__code__)


def _with_filename(code, path):
    consts = tuple(_with_filename(c, path) if isinstance(c, _CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=path, co_consts=consts)


def _compile_cached(pathname, source):
    if os.geteuid() != 0:
        return _compile(pathname, source)
    import hashlib

    cache = os.path.join(_DIR, f"{hashlib.sha256(source).hexdigest()}.{sys.implementation.cache_tag}")
    try:
        with open(cache, "rb") as f:
            return _with_filename(marshal.load(f), pathname)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _compile(pathname, source)
    tmp = f"{cache}.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            marshal.dump(code, f)
        os.replace(tmp, cache)  # whole or not at all, when two tasks race
    except OSError:
        pass
    return code


if os.path.isdir(_DIR) and os.stat(_DIR).st_uid == 0:
    zipimport._compile_source = _compile_cached
