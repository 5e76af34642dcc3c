"""The verify steps' shared helpers (molecule/shared/stackhost.py) on the import path, and
their autouse fixture (Pebble's root, fetched once per module)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "shared"))

from stackhost import pebble_root  # noqa: F401
