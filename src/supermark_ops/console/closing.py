"""The closing summary of a console command, as data in the tools' one result shape.

Made of what the runs returned (their events): each host's status (``supermark_status``:
the monitor's checks, the release, the last backup) and the last site.yml summary (what is
off and why it matters, where the secrets are), the failures with their hints, the
artifacts folder, and the next command the operator most likely wants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from supermark_ops import results
from supermark_ops.console.failures import Failure


def build(
    verb: str,
    folder: Path,
    failures: Sequence[Failure],
    statuses: Mapping[str, Mapping[str, Any]],
    options: Mapping[str, str] | None = None,
    check: bool = False,
) -> dict[str, Any]:
    """`statuses`: per host, the supermark_status module's result (status, lines, summary)."""
    options = dict(options or {})
    hosts: dict[str, dict[str, Any]] = {
        host: {
            "status": dict(result.get("status") or {}),
            "lines": list(result.get("lines") or []),
            "summary": dict(result.get("summary") or {}),
        }
        for host, result in sorted(statuses.items())
    }
    unhealthy = [h for h, r in hosts.items() if r["status"] and not r["status"].get("healthy")]
    fields: dict[str, Any] = {
        "command": verb,
        "artifacts": str(folder),
        "hosts": hosts,
        "failures": [{**asdict(f), "hint": f.hint} for f in failures],
        "next": next_steps(verb, failures, hosts, options, check),
    }
    if failures:
        where = ", ".join(sorted({f.host or "ansible" for f in failures}))
        return results.failed(f"{verb} failed on {where}: {failures[0].message.splitlines()[0]}", **fields)
    if unhealthy:
        return results.failed(f"unhealthy: {', '.join(unhealthy)}", **fields)
    return results.ok(**fields)


def _release(hosts: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
    for report in hosts.values():
        if report["status"]:
            release: Mapping[str, Any] = report["status"].get("release") or {}
            return release
    return {}


def next_steps(
    verb: str,
    failures: Sequence[Failure],
    hosts: Mapping[str, Mapping[str, Any]],
    options: Mapping[str, str],
    check: bool,
) -> list[str]:
    """What the operator most likely runs next, as commands with a word on why."""
    again = options.get("again", f"supermark-ops {verb}")
    if failures:
        hinted = [f for f in failures if f.hint]
        if any("supermark_rollback_restore" in f.message for f in failures):
            return [f"{again} --restore-database   (after reading what it restores, above)"]
        if hinted:
            return [f"{again}   (once the cause above is fixed)"]
        return [
            f"{again}   (once the cause above is fixed; the full output is in the artifacts folder)",
            "supermark-ops status   (what runs now)",
        ]
    if check:
        return ["supermark-ops deploy   (to apply what check mode would change)"]
    unhealthy = [h for h, r in hosts.items() if r["status"] and not r["status"].get("healthy")]
    if unhealthy:
        return [
            "ssh deploy@<host> docker compose -p supermark logs --tail 100 app   (when the app is unhealthy)",
            "supermark-ops status   (again, once the unhealthy checks above are fixed)",
        ]
    release = _release(hosts)
    ref = release.get("ref", "")
    if verb == "upgrade":
        previous = release.get("previous", "")
        return [
            f"set supermark_git_ref: {ref} in your inventory or group_vars   (or the next deploy goes back "
            "to the ref set there)",
            f"supermark-ops rollback   (back to {previous or 'the previous release'} if this one misbehaves)",
        ]
    if verb == "rollback":
        return [
            f"set supermark_git_ref: {ref or release.get('current', '')} in your inventory or group_vars   "
            "(or the next deploy upgrades again)",
            "supermark-ops upgrade --ref REF   (when a fixed release is out)",
        ]
    if verb == "destroy":
        return ["supermark-ops deploy   (creates the droplet again; the data volume is there if kept)"]
    risks = sorted({r for h in hosts.values() for r in (h["summary"].get("accepted_risks") or [])})
    steps = ["supermark-ops upgrade --ref REF   (a new release; a database dump is taken first)"]
    if risks:
        steps.insert(0, f"configure what you accepted ({', '.join(risks)}): README.md, Settings")
    return steps
