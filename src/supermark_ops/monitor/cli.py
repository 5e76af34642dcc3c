"""`supermark-ops monitor`: run the checks once, print the JSON result, alert on change."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from supermark_ops import config, results
from supermark_ops.errors import OpsError
from supermark_ops.monitor.run import run


def add_parser(sub: Any) -> None:
    mon = sub.add_parser("monitor", help="run the health checks once, print JSON, alert on change")
    mon.add_argument("--config", type=Path, default=Path("/etc/supermark-ops/monitor.yml"))
    mon.add_argument("--no-alert", action="store_true", help="check and print, send nothing")
    mon.add_argument("--log-file", type=Path, help="also log to this file")
    mon.set_defaults(handler=monitor_command)


def monitor_command(args: argparse.Namespace) -> int:
    try:
        outcome = run(config.load(args.config, config.MonitorConfig), send=not args.no_alert)
    except OpsError as exc:
        print(f"supermark-ops monitor: {exc}", file=sys.stderr)
        return 2
    if outcome.skipped:
        return 0
    print(results.dumps(outcome.report))
    # 0 healthy, 1 unhealthy, 3 healthy-or-not but an alert could not be sent.
    if outcome.failed_channels:
        return 3
    return 0 if outcome.healthy else 1
