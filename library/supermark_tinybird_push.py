#!/usr/bin/python
"""Ansible module: push Supermark's Tinybird datasources and endpoints with the pinned CLI.

Thin by design: supermark_ops.external.tinybird does the work.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: supermark_tinybird_push
short_description: Push a Tinybird project (datasources and endpoint pipes) with the Tinybird CLI
description:
  - Runs C(tb push --only-changes --force --no-check --yes) of tinybird-cli (the classic workflow) from a
    copy of O(project), after a dry run of the same command: only new or differing files are pushed,
    a second run pushes nothing and reports no change.
  - A datasource that exists with another definition is refused, never altered (it holds the events).
  - The token reaches the CLI through its environment (TB_TOKEN), never its argv.
  - Check mode runs the dry run only, and reports what would be pushed.
  - Runs on the control machine with the project's virtualenv Python (it imports supermark_ops).
options:
  project:
    description: The Tinybird project folder (Supermark's lib/tinybird at the pinned ref).
    type: path
    required: true
  api_url:
    description: Tinybird's API of the workspace's region.
    type: str
    default: https://api.tinybird.co
  token:
    description: A workspace token with the ADMIN scope.
    type: str
    required: true
  tb:
    description: The pinned Tinybird CLI (the tb program of its virtualenv).
    type: path
    required: true
  timeout:
    description: Seconds each tb run may take.
    type: float
    default: 600
  ca_file:
    description: A CA bundle to trust for HTTPS (a private CA); empty for the system's.
    type: path
    default: ""
author: supermark-ops
"""

EXAMPLES = r"""
- name: Push the datasources and endpoints
  supermark_tinybird_push:
    project: /tmp/supermark-tinybird/lib/tinybird
    api_url: https://api.tinybird.co
    token: "{{ supermark_tinybird_admin_token }}"
    tb: .state/tinybird-cli/bin/tb
  no_log: true
"""

RETURN = r"""
datasources:
  description: The datasources created (or, in check mode, that would be).
  type: list
  elements: str
  returned: always
pipes:
  description: The pipes created or replaced (or, in check mode, that would be).
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
            "project": {"type": "path", "required": True},
            "api_url": {"type": "str", "default": "https://api.tinybird.co"},
            "token": {"type": "str", "required": True, "no_log": True},
            "tb": {"type": "path", "required": True},
            "timeout": {"type": "float", "default": 600},
            "ca_file": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    try:
        from supermark_ops.external.tinybird import TinybirdPushError, push
    except ImportError:
        module.fail_json(
            msg=f"The supermark_ops package is not importable by {sys.executable}. Run scripts/setup.sh "
            "and run ansible-playbook from .venv (or set ansible_python_interpreter for localhost)."
        )
    p = module.params
    try:
        result = push(
            Path(p["project"]),
            p["api_url"],
            p["token"],
            Path(p["tb"]),
            dry_run=module.check_mode,
            timeout=p["timeout"],
            verify=p["ca_file"] or True,
        )
    except TinybirdPushError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=result.changed, datasources=result.datasources, pipes=result.pipes)


if __name__ == "__main__":
    main()
