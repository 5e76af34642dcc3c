"""The Supermark stand-in builds the way Supermark does, so no test passes on an easier path.

Supermark's Dockerfile (regenassets/supermark at the pinned ref) has stages
joined by COPY --from, `RUN --mount=type=cache` (BuildKit only), ARG -> ENV
for the NEXT_PUBLIC_* values, a non-root runner user and an entrypoint. The
stand-in must keep each (read from its Dockerfile here), and the role must
build with BuildKit. The classic builder refusing the stand-in shows the
feature is real.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "images/standins/app-src"


@dataclass
class Stage:
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def stages(dockerfile: Path) -> list[Stage]:
    """Instructions by stage, line continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            match = re.search(r"\s+AS\s+(\S+)\s*$", rest, re.IGNORECASE)
            out.append(Stage(match.group(1) if match else str(len(out))))
        assert out, f"{dockerfile}: an instruction before the first FROM"
        out[-1].instructions.append((keyword.upper(), rest.strip()))
    return out


def next_public_build_args() -> list[str]:
    """The NEXT_PUBLIC_* build args the supermark role passes."""
    role_vars = yaml.safe_load((ROOT / "roles/supermark/vars/main.yml").read_text())
    return sorted(set(re.findall(r"'(NEXT_PUBLIC_[A-Z_]+)'", role_vars["__supermark_build_args"])))


def test_the_stand_in_has_each_build_feature_of_supermarks_dockerfile() -> None:
    all_stages = stages(STANDIN / "Dockerfile")
    names = [s.name for s in all_stages]
    assert len(all_stages) >= 3, f"Supermark builds in three stages (deps, builder, runner), not {names}"

    copies_from = [
        (stage.name, m.group(1))
        for stage in all_stages
        for rest in stage.args("COPY")
        if (m := re.search(r"--from=(\S+)", rest))
    ]
    assert copies_from, "no COPY --from joins the stages"
    for stage, source in copies_from:
        assert source in names[: names.index(stage)], f"{stage} copies from {source}, not an earlier stage"

    runs = [rest for stage in all_stages for rest in stage.args("RUN")]
    assert any(re.search(r"--mount=type=cache,\S*target=", r) for r in runs), "no RUN --mount=type=cache"

    wanted = next_public_build_args()
    assert "NEXT_PUBLIC_BASE_URL" in wanted, wanted
    for name in wanted:
        assert any(
            any(re.fullmatch(rf"{name}(=.*)?", a) for a in s.args("ARG"))
            and any(re.search(rf"\b{name}=\$\{{?{name}\}}?", e) for e in s.args("ENV"))
            for s in all_stages
        ), f"no stage turns ARG {name} into ENV {name}"

    runner = all_stages[-1]
    users = runner.args("USER")
    assert users and users[-1] not in ("root", "0", "0:0"), f"the runner runs as {users or 'root'}"
    assert runner.args("ENTRYPOINT"), "the runner has no ENTRYPOINT"


def test_the_role_builds_with_buildkit() -> None:
    """community.docker.docker_image (the Engine API's classic builder) refuses RUN --mount."""
    tasks = "\n".join(p.read_text() for p in (ROOT / "roles/supermark/tasks").glob("*.yml"))
    assert tasks.count("community.docker.docker_image_build:") == 2  # on the droplet, on the control machine
    assert "community.docker.docker_image:" not in tasks


@pytest.mark.docker
def test_the_classic_builder_refuses_the_stand_in() -> None:
    result = subprocess.run(
        ["docker", "build", "-q", "-t", "smops-classic-build-check", str(STANDIN)],
        env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "the --mount option requires BuildKit" in result.stdout + result.stderr
