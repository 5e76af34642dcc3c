#!/usr/bin/python
"""Ansible module: the end-of-run summary (what is on, what is off, where the secrets are).

Thin by design: supermark_ops.summary builds, renders and writes it.
"""

from __future__ import annotations

DOCUMENTATION = r"""
module: supermark_summary
short_description: Build the deployment's summary, and keep it as JSON on the control machine
description:
  - Turns the run's settings (booleans, counts and names, never a secret's value) into what is on, what
    is off and why it matters (naming the flag that accepted each risk), and where the secrets are.
  - With O(dest), writes it there as JSON (0600, in a 0700 folder) with its printed lines, for
    playbooks/status.yml and the supermark-ops CLI; changed only when the summary changed.
  - Check mode writes nothing.
  - Runs on the control machine with the project's virtualenv Python (it imports supermark_ops).
options:
  settings:
    description: The settings, as playbooks/summary.yml hands them over.
    type: dict
    required: true
  dest:
    description: Where to keep the summary (empty for nowhere).
    type: path
    default: ""
author: supermark-ops
"""

EXAMPLES = r"""
- name: Summarize
  supermark_summary:
    dest: .state/last-run/docs.example.com/summary.json
    settings: "{{ __summary_settings }}"
  delegate_to: localhost
  register: summary
"""

RETURN = r"""
summary:
  description: The summary as data (url, items with on, detail and accepted_by, accepted_risks, secrets).
  type: dict
  returned: always
lines:
  description: The summary as printed lines.
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
            "settings": {"type": "dict", "required": True},
            "dest": {"type": "path", "default": ""},
        },
        supports_check_mode=True,
    )
    try:
        from supermark_ops.summary import SummaryError, build, render, write
    except ImportError:
        module.fail_json(
            msg=f"The supermark_ops package is not importable by {sys.executable}. Run scripts/setup.sh "
            "and run ansible-playbook from .venv (or set ansible_python_interpreter for localhost)."
        )
    try:
        summary = build(module.params["settings"])
    except SummaryError as exc:
        module.fail_json(msg=str(exc))
    dest = module.params["dest"]
    changed = write(Path(dest), summary, dry_run=module.check_mode) if dest else False
    module.exit_json(changed=changed, summary=summary, lines=render(summary), dest=dest)


if __name__ == "__main__":
    main()
