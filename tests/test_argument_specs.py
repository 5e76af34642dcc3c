"""Each role's defaults, argument specs and naming stay in step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "defaults/main.yml").exists())


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_prefixed_and_documented(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults/main.yml")
    spec = load(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"]["main"]
    options = spec["options"]
    assert defaults, f"{role} has no defaults"
    for name in defaults:
        assert name.startswith(f"{role}_"), f"{name} lacks the role prefix '{role}_'"
    assert set(defaults) == set(options), "defaults and argument_specs list different variables"
    for name, value in defaults.items():
        option = options[name]
        assert option.get("description"), f"{name} has no description"
        assert "type" in option, f"{name} has no type"
        if isinstance(value, str) and "{{" in value:
            continue  # a templated default is described in words in the spec
        assert option.get("default") == value, f"{name}: spec default differs from defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_choices_contain_the_default(role: str) -> None:
    defaults = load(ROOT / "roles" / role / "defaults/main.yml")
    options = load(ROOT / "roles" / role / "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    for name, option in options.items():
        if "choices" in option:
            assert defaults[name] in option["choices"], name
