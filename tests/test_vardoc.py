from __future__ import annotations

from pathlib import Path

from vardoc import render


def test_committed_variables_page_is_current(project_root: Path) -> None:
    committed = (project_root / "docs/variables.md").read_text()
    assert committed == render(project_root / "roles"), (
        "docs/variables.md is stale: python tools/vardoc.py > docs/variables.md"
    )


def test_every_role_and_option_is_listed(project_root: Path) -> None:
    page = render(project_root / "roles")
    for role in ("base", "docker", "local_testhost"):
        assert f"\n## {role}\n" in page
    assert "| `base_deploy_ssh_public_keys` | list of str | `[]` |" in page
    assert "`auto`, `distro`, `docker_repo`" in page
