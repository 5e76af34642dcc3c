"""Keep a real run's ansible-runner events as a test fixture (a development tool).

    python tools/record_events.py .state/runs/<run>/artifacts/<ident> tests/fixtures/console/<name>.jsonl

The events are kept as ansible-runner wrote them (job_events/<counter>-<uuid>.json), one per
line in counter order; only the checkout's path is replaced by <project>, so the fixture
does not depend on where it was recorded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def events(artifacts: Path) -> list[dict[str, object]]:
    found = [json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")]
    return sorted(found, key=lambda e: int(str(e["counter"])))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    lines = [json.dumps(e, sort_keys=True).replace(str(ROOT), "<project>") for e in events(Path(argv[0]))]
    Path(argv[1]).write_text("\n".join(lines) + "\n")
    print(f"{argv[1]}: {len(lines)} events")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
