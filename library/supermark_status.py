#!/usr/bin/python
"""Ansible module: a host's status table (the monitor's checks, the release, the last backup).

Thin by design: supermark_ops.status builds and renders it; the last site.yml run's
summary is read back with supermark_ops.summary.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: supermark_status
short_description: Turn what playbooks/status.yml read on a host into its status table
description:
  - Checks the monitor's JSON output and the host's release and last-backup records, and returns them as
    data and as the lines playbooks/status.yml prints (the same lines C(supermark-ops status) prints).
  - With O(summary_file), also returns the last site.yml run's summary kept there, and its lines.
  - Changes nothing. Runs on the control machine with the project's virtualenv Python.
options:
  host:
    description: The host's inventory name.
    type: str
    required: true
  report:
    description: The monitor's JSON output (C(supermark-ops monitor --no-alert)).
    type: str
    required: true
  release:
    description: The text of the app's release.json on the host (empty when missing).
    type: str
    default: ""
  last_backup:
    description: The text of backup-last.json on the host (empty when missing).
    type: str
    default: ""
  backup_dir:
    description: Where the backups are on the host.
    type: str
    default: ""
  summary_file:
    description: The last site.yml run's summary.json on the control machine (empty for none).
    type: path
    default: ""
author: supermark-ops
"""

EXAMPLES = r"""
- name: Build the status table
  supermark_status:
    host: "{{ inventory_hostname }}"
    report: "{{ monitor_run.stdout }}"
  delegate_to: localhost
  register: status
"""

RETURN = r"""
status:
  description: The host's status (healthy, monitor, release, last_backup).
  type: dict
  returned: always
lines:
  description: The status table as printed lines.
  type: list
  elements: str
  returned: always
summary:
  description: The last site.yml run's summary (empty when there is none).
  type: dict
  returned: always
summary_lines:
  description: Its lines, or what to run to make one.
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
            "host": {"type": "str", "required": True},
            "report": {"type": "str", "required": True},
            "release": {"type": "str", "default": ""},
            "last_backup": {"type": "str", "default": ""},
            "backup_dir": {"type": "str", "default": ""},
            "summary_file": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    try:
        from supermark_ops import status, summary
    except ImportError:
        module.fail_json(
            msg=f"The supermark_ops package is not importable by {sys.executable}. Run scripts/setup.sh "
            "and run ansible-playbook from .venv (or set ansible_python_interpreter for localhost)."
        )
    p = module.params
    try:
        data = status.build(p["host"], p["report"], p["release"], p["last_backup"], p["backup_dir"])
    except status.StatusError as exc:
        module.fail_json(msg=str(exc))
    kept: dict[str, object] = {}
    lines = [f"No summary at {p['summary_file']}: run site.yml from this machine to make one."]
    if p["summary_file"] and Path(p["summary_file"]).is_file():
        try:
            kept = summary.load(Path(p["summary_file"]))
        except (OSError, ValueError) as exc:
            module.fail_json(msg=f"{p['summary_file']}: {exc}")
        lines = list(kept.get("lines") or summary.render(kept))
    module.exit_json(changed=False, status=data, lines=status.render(data), summary=kept, summary_lines=lines)


if __name__ == "__main__":
    main()
