"""The tools' YAML config files (written by their roles), read with errors that say what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_mapping(path: Path, role: str, error: type[Exception]) -> dict[str, Any]:
    """The file's settings; `error` (the tool's own exception) when missing or malformed."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise error(f"No config at {path}: the {role} role writes it.") from None
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path} must be a mapping of settings.")
    return data
