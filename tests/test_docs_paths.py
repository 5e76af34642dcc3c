"""Every repository path a document names exists: the README, docs/, the images' and roles'
READMEs, and the comments of the YAML files (a comment that names a playbook is documentation too).

A path is a code span or a link target whose first part is one of the repository's top-level
entries (so `/etc/...` on a host, or `monitor.yml` on its own, is not one); `<placeholder>` and
`*` parts match anything; a path git ignores (made at run time: .state/, a vault) is skipped;
links resolve from the document's own folder.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOP = {p.name for p in ROOT.iterdir()} - {".git"}
SPAN = re.compile(r"`([^`\s]+)`")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
PATHLIKE = re.compile(r"^[\w.<>*-]+(/[\w.<>*-]*)+$|^[\w.-]+\.(yml|yaml|md|py|sh|j2|toml|txt|cfg)$")


def documents() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "*.md", "*.yml", "*.yaml"], cwd=ROOT, capture_output=True, text=True
    )
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).exists()]


def named_paths(doc: Path) -> list[tuple[str, Path]]:
    """(as written, the folder it is relative to) for each path-like name in the document."""
    text = doc.read_text()
    if doc.suffix != ".md":  # YAML: only the comments are prose
        text = "\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
        found = [(m.rstrip("."), ROOT) for m in re.findall(r"(?<![\w/.$-])([\w.-]+(?:/[\w.<>*-]+)+/?)", text)]
    else:
        found = [(m, ROOT) for m in SPAN.findall(text)] + [(m, doc.parent) for m in LINK.findall(text)]
    return [(name, base) for name, base in found if "://" not in name and PATHLIKE.match(name.rstrip("/"))]


def exists(name: str, *bases: Path) -> bool:
    pattern = re.sub(r"<[^>]+>", "*", name.rstrip("/"))
    return any(any(b.glob(pattern)) if "*" in pattern else (b / pattern).exists() for b in bases)


def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT).returncode == 0


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_named_path_exists(doc: Path) -> None:
    missing = []
    for name, base in named_paths(doc):
        first = name.split("/", 1)[0]
        if base == ROOT and first not in TOP:
            continue  # not a repository path (a host file, a name inside a folder, a module)
        relative = os.path.relpath(base / name, ROOT) if base != ROOT else name
        if relative.startswith("..") or ignored(relative.rstrip("/")):
            continue  # outside the repository, or made at run time
        # A comment may also name a file beside it (a scenario's tests/...).
        if not exists(name, base, doc.parent):
            missing.append(name)
    assert missing == [], f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"
