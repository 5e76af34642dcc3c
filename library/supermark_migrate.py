#!/usr/bin/python
"""Ansible module: copy a Vercel/Neon Postgres into the stack's Postgres and verify it.

Thin by design: it parses arguments and calls supermark_ops.migrate, which is
tested against real PostgreSQL 15 (SSL, role "default") and 16 servers.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: supermark_migrate
short_description: Migrate the app's database from Vercel Postgres / Neon, with verification
description:
  - Preflight (read-only on both sides), pg_dump from the source's direct (non-pooled) host over SSL,
    pg_restore with --no-owner --no-acl into the target's own role, then a per-table row count and row
    hash comparison and the sequences' values.
  - Check mode runs the preflight only and writes nothing.
  - A non-empty target is refused unless O(replace=true). A target left incomplete by an interrupted or
    failed run is migrated again without it. Either way a target that is not empty is dumped before it
    is cleared.
  - Runs with a Python that imports supermark_ops (the ops_tools venv on the host).
options:
  source_url:
    description: The source URL (postgres:// or postgresql://; Vercel, Neon or Prisma forms). Never logged.
    type: str
    required: true
  target_url:
    description: The target URL (the stack's Postgres). Never logged.
    type: str
    required: true
  jobs:
    description: Parallel jobs building indexes and constraints on the target.
    type: int
    default: 2
  replace:
    description: Replace a non-empty target (after a safety dump of it).
    type: bool
    default: false
  replace_migrated:
    description:
      - Replace a target that holds a verified migration, the live database after a cut-over (after a safety
        dump of it).
    type: bool
    default: false
  workdir:
    description: Where dumps are written.
    type: path
    default: /var/lib/supermark-ops/migrate
  client_image:
    description: Run pg_dump and pg_restore from this image when the local ones are missing or too old.
    type: str
    default: ""
  state_dir:
    description:
      - Where C(migrate.lock) is held while a migration runs; a second migration is refused, and the backup
        timers (which use the same folder) wait until it ends.
    type: path
    default: /var/lib/supermark-ops
"""

RETURN = r"""
preflight:
  description: Server versions, the target's role and state, sizes, the client used.
  type: dict
  returned: always
verification:
  description: Per table source and target rows and whether they match, sequences, differences.
  type: dict
  returned: when not in check mode
dump:
  description: Path of the source's schema dump kept on the host (the data is not written to disk).
  type: str
  returned: when not in check mode
safety_dump:
  description: The dump of the target taken before it was cleared (empty when it was empty).
  type: str
  returned: when not in check mode
warnings:
  description: What the operator should know, e.g. that the source was written to during the copy.
  type: list
  elements: str
  returned: always
"""

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "source_url": {"type": "str", "required": True, "no_log": True},
            "target_url": {"type": "str", "required": True, "no_log": True},
            "jobs": {"type": "int", "default": 2},
            "replace": {"type": "bool", "default": False},
            "replace_migrated": {"type": "bool", "default": False},
            "workdir": {"type": "path", "default": "/var/lib/supermark-ops/migrate"},
            "client_image": {"type": "str", "default": ""},
            "state_dir": {"type": "path", "default": "/var/lib/supermark-ops"},
        },
        supports_check_mode=True,
    )
    try:
        from supermark_ops.errors import OpsError
        from supermark_ops.migrate.run import migrate
        from supermark_ops.pg import parse
    except ImportError:
        module.fail_json(
            msg=f"The supermark_ops package is not importable by {sys.executable}: run the task with the "
            "ops_tools venv (ansible_python_interpreter: /opt/supermark-ops/venv/bin/python)."
        )
    p = module.params
    try:
        summary = migrate(
            parse(p["source_url"], what="source", require_ssl=True),
            parse(p["target_url"], what="target"),
            Path(p["workdir"]),
            jobs=p["jobs"],
            replace=p["replace"],
            replace_migrated=p["replace_migrated"],
            dry_run=module.check_mode,
            client_image=p["client_image"],
            lock_file=Path(p["state_dir"]) / "migrate.lock",
        )
    except OpsError as exc:
        module.fail_json(msg=str(exc))
    result = summary.as_dict()
    if not summary.ok:
        module.fail_json(
            msg="The migrated data does not match the source: "
            + "; ".join(summary.report.differences if summary.report else []),
            **result,
        )
    module.exit_json(changed=not module.check_mode, **result)


if __name__ == "__main__":
    main()
