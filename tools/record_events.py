"""Keep a real run's ansible-runner events as a test fixture (a development tool).

    python tools/record_events.py .state/runs/<run>/artifacts/<ident> tests/fixtures/console/<f>.jsonl [TASK]

The events are kept as ansible-runner wrote them (job_events/<counter>-<uuid>.json), one per
line in counter order; only the checkout's path is replaced by <project>, so the fixture
does not depend on where it was recorded. With TASK, a long run is cut down to what a test
needs: the playbook and play starts, then every event from the first task whose name starts
with TASK to the end (the stats included).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STARTS = ("playbook_on_start", "playbook_on_play_start")


def events(artifacts: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")]
    return sorted(found, key=lambda e: int(str(e["counter"])))


def since(found: list[dict[str, Any]], task: str) -> list[dict[str, Any]]:
    first = next(
        i
        for i, e in enumerate(found)
        if e["event"] == "playbook_on_task_start"
        and str((e.get("event_data") or {}).get("task", "")).startswith(task)
    )
    return [e for e in found[:first] if e["event"] in STARTS] + found[first:]


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    found = events(Path(argv[0]))
    if len(argv) == 3:
        found = since(found, argv[2])
    lines = [json.dumps(e, sort_keys=True).replace(str(ROOT), "<project>") for e in found]
    Path(argv[1]).write_text("\n".join(lines) + "\n")
    print(f"{argv[1]}: {len(lines)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
