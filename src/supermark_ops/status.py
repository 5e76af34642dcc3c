"""A host's status on demand: the monitor's checks, the running release, the last backup.

playbooks/status.yml hands over what it read on the host (the monitor's JSON result,
``release.json``, ``backup-last.json``) through the ``supermark_status`` module; ``build``
checks and keeps it as data and ``render`` makes the table that playbook prints. The
operator's console (``supermark-ops status``) reads the same data from the run's events,
so the table has one implementation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SCHEMA = 1


class StatusError(ValueError):
    """What the playbook handed over is not what build() expects."""


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise StatusError(f"{what} is not JSON ({exc}): {text[:200]!r}") from exc
    if not isinstance(data, dict):
        raise StatusError(f"{what} is not a JSON object: {text[:200]!r}")
    return data


def build(
    host: str, report: str, release: str = "", last_backup: str = "", backup_dir: str = ""
) -> dict[str, Any]:
    """The host's status as data. `report` is the monitor's JSON output; `release` and
    `last_backup` the JSON of release.json and backup-last.json (empty when missing)."""
    checks = _json_object(report, "the monitor's output")
    if "ok" not in checks or not isinstance(checks.get("details"), dict):
        raise StatusError(f"the monitor's output lacks 'ok' or 'details': {report[:200]!r}")
    rel = _json_object(release, "release.json")
    backup = _json_object(last_backup, "backup-last.json")
    return {
        "schema": SCHEMA,
        "host": host,
        "healthy": checks["ok"] is True,
        "monitor": checks,
        "release": {
            "current": str(rel.get("current", "")),
            "previous": str(rel.get("previous", "")),
            "ref": str(rel.get("ref", "")),
            "commit": str(rel.get("commit", "")),
            "history": [dict(h) for h in rel.get("history", []) if isinstance(h, Mapping)],
        },
        "last_backup": {
            "name": str(backup.get("backup", "")),
            "ok": backup.get("ok") is True,
            "at": str(backup.get("at", "")),
            "reason": str(backup.get("reason", "")),
            "dir": backup_dir,
        },
    }


def release_line(status: Mapping[str, Any]) -> str:
    rel = status["release"]
    if not rel["current"]:
        return "release:   none recorded (no deploy has finished on this host)"
    ref = f" (ref {rel['ref']}, commit {rel['commit'][:12]})" if rel["ref"] else ""
    previous = f"; previous {rel['previous']}" if rel["previous"] else ""
    return f"release:   {rel['current']}{ref}{previous}"


def backup_line(status: Mapping[str, Any]) -> str:
    backup = status["last_backup"]
    where = f" in {backup['dir']}" if backup["dir"] else ""
    if not backup["name"] and not backup["at"]:
        return f"backup:    none yet{where}"
    outcome = "ok" if backup["ok"] else f"FAILED: {backup['reason']}"
    return f"backup:    {backup['name'] or '(none made)'}{where}, {outcome}, at {backup['at']}"


def render(status: Mapping[str, Any]) -> list[str]:
    """The table playbooks/status.yml and `supermark-ops status` print."""
    report = status["monitor"]
    lines = [f"{status['host']}: {'HEALTHY' if status['healthy'] else 'UNHEALTHY'} at {report.get('at', '')}"]
    for name, check in sorted(report["details"].items()):
        check = check if isinstance(check, Mapping) else {}
        lines.append(f"{name:<10} {check.get('status', ''):<15} {check.get('reason', '')}".rstrip())
    lines += [release_line(status), backup_line(status)]
    return lines
