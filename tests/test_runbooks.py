"""Every command in the runbooks (fenced ``sh`` blocks in docs/runbooks/*.md) exists with the options
shown: playbooks exist and parse, their --tags exist, their -e variables are ones the roles, group_vars
or the playbook document; `supermark-ops` lines are accepted by the CLI's parser; anything else is one
of a few shell programs whose files exist. A command of another kind fails the test: add a check."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import yaml

from supermark_ops.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = sorted((ROOT / "docs" / "runbooks").glob("*.md"))
FENCE = re.compile(r"^( *)```sh\n(.*?)^\1```", re.M | re.S)


def commands(text: str) -> Iterator[list[str]]:
    """Each command of each fenced sh block, as argv (continuation lines joined, comments dropped)."""
    for match in FENCE.finditer(text):
        block = re.sub(r"\\\n\s*", " ", match.group(2))
        for line in block.splitlines():
            argv = shlex.split(line, comments=True)
            if argv:
                yield argv


@dataclass
class Playbook:
    path: str
    tags: set[str] = field(default_factory=set)
    extra_vars: set[str] = field(default_factory=set)
    inventory: str = ""  # -i, or how the command finds its hosts itself


# ansible-playbook's options the runbooks use: the ones taking a value, and flags.
WITH_VALUE = {"-i", "-e", "--tags"}
FLAGS = {"--check", "--diff", "--ask-vault-pass"}
# The inventory provisioning writes (the droplet role's default droplet_inventory_file).
GENERATED = "inventory/generated/droplet.yml"


def playbook_call(argv: list[str], default: str = "") -> list[Playbook]:
    """ansible-playbook's argv: its playbooks, with the tags and -e variable names asked of each."""
    tags: set[str] = set()
    names: set[str] = set()
    inventory = ""
    paths: list[str] = [default] if default else []
    args = iter(argv)
    for arg in args:
        if arg in WITH_VALUE:
            value = next(args)
            if arg == "-i":
                assert (ROOT / value).exists() or value == GENERATED, f"inventory {value} does not exist"
                inventory = value
            elif arg == "--tags":
                tags |= set(value.split(","))
            elif value.startswith("{"):
                names |= set(json.loads(value))
            else:
                names |= {pair.split("=", 1)[0] for pair in value.split()}
        elif arg.startswith("-"):
            assert arg in FLAGS, f"ansible-playbook option {arg} is not one the runbook checks know"
        else:
            paths.append(arg)
    assert paths, "no playbook"
    return [Playbook(p, set(tags), set(names), inventory) for p in paths]


def check_command(argv: list[str]) -> list[Playbook]:
    """Raise AssertionError if the command is not one that exists as shown; return playbooks to parse."""
    program, args = argv[0], argv[1:]
    if program == "sudo" and args[:1] == ["-E"]:
        program, args = args[1], args[2:]
    if program == "ansible-playbook":
        return playbook_call(args)
    if program == "scripts/site.sh":  # runs ansible-playbook site.yml with its arguments
        assert (ROOT / program).is_file()
        # It picks its inventory itself: the droplets by tag with a token, else the local test host.
        return [replace(call, inventory=program) for call in playbook_call(args, default="site.yml")]
    if program == "supermark-ops":
        try:
            build_parser().parse_args(args)
        except SystemExit as exc:
            raise AssertionError(f"supermark-ops refuses: {shlex.join(argv)}") from exc
        return []
    if program == "export":
        assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", a, re.S) for a in args), shlex.join(argv)
        return []
    if program == "cp":
        assert (ROOT / args[0]).is_file(), f"{args[0]} does not exist"
        return []
    if program == "ansible-vault":
        assert args[0] in {"create", "edit", "encrypt", "view"} and (ROOT / args[1]).parent.is_dir()
        return []
    raise AssertionError(f"{program}: not a command the runbook checks know ({shlex.join(argv)})")


def documented_variables(playbook: Path) -> set[str]:
    """Variables a run may be given: every role's documented options, group_vars, the playbook's
    play vars, and the -e names its usage comment shows."""
    names: set[str] = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names |= set(entry.get("options", {}))
    for group in ROOT.glob("group_vars/**/*.yml"):
        names |= set(yaml.safe_load(group.read_text()) or {})
    text = playbook.read_text()
    for play in yaml.safe_load(text) or []:
        names |= set(play.get("vars", {}) or {})
    names |= set(re.findall(r"^#.*?-e ([a-z_][a-z0-9_]*)=", text, re.M))
    return names


def listed_tags(paths: list[str]) -> dict[str, set[str]]:
    """Each playbook's tags as ansible-playbook --list-tags reads them (it parses the whole playbook)."""
    proc = subprocess.run(
        ["ansible-playbook", "--list-tags", *paths], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tags: dict[str, set[str]] = {}
    current = ""
    for line in proc.stdout.splitlines():
        if line.startswith("playbook: "):
            current = line.removeprefix("playbook: ").strip()
            tags[current] = set()
        for found in re.findall(r"TAGS: \[([^\]]*)\]", line):
            tags[current] |= {t.strip() for t in found.split(",") if t.strip()}
    return tags


def targets_hosts(playbook: Path) -> bool:
    """A playbook with a play on hosts other than the control machine's localhost."""
    return any(play.get("hosts", "localhost") != "localhost" for play in yaml.safe_load(playbook.read_text()))


def test_there_are_runbooks_with_commands() -> None:
    names = {p.name for p in RUNBOOKS}
    for one in (
        "first-deploy.md",
        "migrate-from-vercel.md",
        "restore.md",
        "upgrade-and-rollback.md",
        "rotate-a-secret.md",
        "add-services.md",
        "troubleshoot-services.md",
        "replace-a-dead-droplet.md",
    ):
        assert one in names
        assert list(commands((ROOT / "docs" / "runbooks" / one).read_text())), one


@pytest.mark.playbook
def test_every_runbook_command_exists_with_the_options_shown() -> None:
    calls: list[tuple[str, Playbook]] = []
    for runbook in RUNBOOKS:
        for argv in commands(runbook.read_text()):
            try:
                calls += [(runbook.name, p) for p in check_command(argv)]
            except AssertionError as exc:
                raise AssertionError(f"{runbook.name}: {shlex.join(argv)}: {exc}") from None
    paths = sorted({p.path for _, p in calls})
    for path in paths:
        assert (ROOT / path).is_file(), f"{path} does not exist"
    tags = listed_tags(paths)
    for runbook, call in calls:
        unknown_tags = call.tags - tags[call.path] - {"all", "always"}
        assert not unknown_tags, f"{runbook}: {call.path} has no tag {sorted(unknown_tags)}"
        unknown_vars = call.extra_vars - documented_variables(ROOT / call.path)
        assert not unknown_vars, f"{runbook}: {call.path} documents no variable {sorted(unknown_vars)}"
        # Without -i, ansible.cfg's inventory is the local test host: the command would miss the droplet.
        assert call.inventory or not targets_hosts(ROOT / call.path), f"{runbook}: {call.path} needs -i"


# The checks can fail: each of these is refused.
@pytest.mark.parametrize(
    "line",
    [
        "ansible-playbook playbooks/nowhere.yml",
        "ansible-playbook playbooks/deploy.yml --force-handlers",
        "ansible-playbook -i inventory/nowhere.yml playbooks/status.yml",
        "supermark-ops check tinybird --scope ADMIN",
        "supermark-ops backup restore --yes --newest",
        "cp group_vars/all/vault.yml.missing group_vars/all/vault.yml",
        "curl -s https://api.tinybird.co/v0/tokens",
    ],
)
def test_a_wrong_command_is_refused(line: str) -> None:
    with pytest.raises(AssertionError):
        for call in check_command(shlex.split(line)):
            assert (ROOT / call.path).is_file()


def test_the_generated_inventory_is_where_provisioning_writes_it() -> None:
    defaults = yaml.safe_load((ROOT / "roles/droplet/defaults/main.yml").read_text())
    assert defaults["droplet_inventory_file"].endswith("/../" + GENERATED)


def test_a_host_playbook_without_an_inventory_is_found() -> None:
    (call,) = check_command(shlex.split("ansible-playbook playbooks/restore.yml -e restore_confirm=true"))
    assert not call.inventory and targets_hosts(ROOT / call.path)
    (local,) = check_command(shlex.split("ansible-playbook playbooks/provision.yml"))
    assert not targets_hosts(ROOT / local.path)


def test_an_undocumented_variable_is_refused() -> None:
    (call,) = check_command(shlex.split("ansible-playbook playbooks/restore.yml -e restore_confirmed=true"))
    assert "restore_confirmed" not in documented_variables(ROOT / call.path)
    assert "restore_confirm" in documented_variables(ROOT / call.path)
