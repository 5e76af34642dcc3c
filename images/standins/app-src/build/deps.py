"""Stand-in of `npm ci`: fills node_modules, reusing what the cache mount holds.

argv: CACHE_DIR OUT_DIR. Writes a lock of the runtime modules the server
imports; the cache keeps a copy between builds, as npm's cache does.
"""

import importlib
import json
import sys
from pathlib import Path

cache, out = Path(sys.argv[1]), Path(sys.argv[2])
lock = {name: getattr(importlib.import_module(name), "__version__", "system") for name in ("psycopg2", "boto3")}
cached = cache / "lock.json"
hit = cached.exists() and json.loads(cached.read_text()) == lock
print("deps: cache hit" if hit else "deps: cache miss")
cache.mkdir(parents=True, exist_ok=True)
cached.write_text(json.dumps(lock))
out.mkdir(parents=True, exist_ok=True)
(out / ".package-lock.json").write_text(json.dumps(lock, indent=2))
