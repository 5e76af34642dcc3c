"""Render docs/variables.md from the roles' meta/argument_specs.yml (a development tool: it is
not part of the package installed on hosts).

The specs are the single source: Ansible validates input against them and
this page is generated from them, so the two cannot drift (a test compares
the committed page with a fresh rendering).

    python tools/vardoc.py > docs/variables.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HEADER = (
    "# Variables\n\n"
    "Generated from `roles/*/meta/argument_specs.yml` by "
    "`python tools/vardoc.py > docs/variables.md`; do not edit by hand.\n"
)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _default(option: dict[str, Any]) -> str:
    if "default" not in option:
        return ""
    return f"`{_cell(json.dumps(option['default']))}`"


def render(roles_dir: Path) -> str:
    parts = [HEADER]
    for spec_file in sorted(roles_dir.glob("*/meta/argument_specs.yml")):
        role = spec_file.parent.parent.name
        main = yaml.safe_load(spec_file.read_text())["argument_specs"]["main"]
        parts.append(f"\n## {role}\n\n{_cell(main.get('short_description', ''))}\n")
        parts.append("\n| variable | type | default | choices | description |\n")
        parts.append("| --- | --- | --- | --- | --- |\n")
        for name, option in main.get("options", {}).items():
            kind = option.get("type", "")
            if kind == "list" and "elements" in option:
                kind = f"list of {option['elements']}"
            choices = ", ".join(f"`{c}`" for c in option.get("choices", []))
            parts.append(
                f"| `{name}` | {kind} | {_default(option)} | {choices} "
                f"| {_cell(option.get('description', ''))} |\n"
            )
    return "".join(parts)


def main() -> int:
    roles_dir = Path(__file__).resolve().parents[1] / "roles"
    sys.stdout.write(render(roles_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
