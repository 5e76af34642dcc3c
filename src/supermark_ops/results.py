"""The one shape of every result the tools report: printed as JSON, kept as a state file
(`backup-last.json`, `drill-last.json`, `monitor-last.json`), or returned to Ansible.

    {"ok": true, "reason": "", "at": "2026-11-29T03:15:00+00:00", ...what the run found}

`ok` says whether the run did what it was asked, `reason` why not (empty when ok), `at` when
it ran (UTC, ISO 8601). Each command adds its own fields beside these three; docs/architecture.md
lists them. `Progress` is the one callback type a long run reports its steps through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]


def no_progress(_step: str) -> None:
    """The default Progress: nobody is watching."""


def now() -> str:
    return datetime.now(UTC).isoformat()


def ok(**fields: Any) -> dict[str, Any]:
    """A run that did what it was asked; `fields` may override `at`."""
    return {"ok": True, "reason": "", "at": now(), **fields}


def failed(reason: str, **fields: Any) -> dict[str, Any]:
    return {"at": now(), **fields, "ok": False, "reason": reason}


def dumps(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, sort_keys=True, default=str)


def read(path: Path) -> dict[str, Any]:
    """A result kept in a state file. One written by an older version (`passed` instead of `ok`)
    reads the same, so an upgrade does not turn the monitor red until the next run rewrites it."""
    data: dict[str, Any] = json.loads(path.read_text())
    if "ok" not in data and "passed" in data:
        data["ok"] = data.pop("passed")
    data.setdefault("reason", "")
    return data
