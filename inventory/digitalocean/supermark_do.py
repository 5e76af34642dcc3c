#!/usr/bin/env python3
"""Dynamic inventory: the droplets carrying the supermark tag.

    ansible-playbook -i inventory/digitalocean/ site.yml

Reads SUPERMARK_DO_TOKEN, and optionally SUPERMARK_DO_TAG (default supermark),
SUPERMARK_DO_API_URL and SUPERMARK_DEPLOY_USER (default deploy). Run it with
the project's virtualenv first on PATH (scripts/site.sh does).
"""

import json
import os
import sys

try:
    from supermark_ops.digitalocean.api import DEFAULT_ENDPOINT, DOClient, DOError
    from supermark_ops.digitalocean.provision import inventory
except ImportError:
    sys.exit("supermark_ops is not importable: activate .venv (scripts/setup.sh creates it)")


def main() -> int:
    if "--host" in sys.argv:
        print("{}")  # all host variables come in _meta
        return 0
    try:
        client = DOClient(
            os.environ.get("SUPERMARK_DO_TOKEN", ""),
            endpoint=os.environ.get("SUPERMARK_DO_API_URL", DEFAULT_ENDPOINT),
        )
        data = inventory(
            client,
            os.environ.get("SUPERMARK_DO_TAG", "supermark"),
            os.environ.get("SUPERMARK_DEPLOY_USER", "deploy"),
        )
    except DOError as exc:
        print(f"supermark_do inventory: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
