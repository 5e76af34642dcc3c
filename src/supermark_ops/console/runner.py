"""Run one of the project's playbooks through ansible-runner's Python API.

Each console command gets a folder of its own under the runs folder (``.state/runs/`` in the
checkout, or ``SUPERMARK_RUNS_DIR``), 0700, which ansible-runner fills for each playbook it
runs: ``artifacts/<ident>/stdout`` (the full output), ``job_events/`` (every event, as
JSON), ``rc``, ``status``, ``command``. ``console.json`` beside them says what was run.
ansible-runner keeps the process environment in ``command``; the console replaces it there
with the variables' names (a token in the environment never stays on disk).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supermark_ops.console.progress import Tracker
from supermark_ops.errors import OpsError

# Console commands' folders kept in the runs folder; older ones are removed.
KEEP_RUNS = 30


class ConsoleError(OpsError):
    """The console cannot run (no checkout, no ansible-runner): said with the fix."""


@dataclass(frozen=True)
class Play:
    """One playbook run: the playbook (relative to the checkout) and its ansible-playbook arguments."""

    ident: str
    playbook: str
    args: tuple[str, ...] = ()

    def key(self) -> str:
        """What makes two runs alike for the task estimate (no -e values: they may be secrets)."""
        keep, skip = [], False
        for arg in self.args:
            if skip:
                skip = False
                continue
            if arg in ("-e", "--extra-vars"):
                skip = True
                continue
            keep.append(arg)
        return " ".join([self.playbook, *keep])


@dataclass
class Outcome:
    play: Play
    rc: int
    status: str
    artifacts: Path
    tracker: Tracker
    seconds: float


@dataclass
class Record:
    """console.json: what a console command ran (for the next run's task estimate, and for people)."""

    verb: str
    argv: list[str]
    started: str
    runs: list[dict[str, Any]] = field(default_factory=list)


def project_root(explicit: str = "") -> Path:
    """The checkout whose playbooks the console runs: --project, SUPERMARK_OPS_PROJECT, the
    folder (or a parent) we are in, or the checkout this package is installed from."""
    candidates = [explicit, os.environ.get("SUPERMARK_OPS_PROJECT", "")]
    for given in filter(None, candidates):
        path = Path(given).expanduser().resolve()
        if not (path / "site.yml").is_file():
            raise ConsoleError(f"{path} is not a supermark-ops checkout (no site.yml there).")
        return path
    here = Path.cwd().resolve()
    for path in (here, *here.parents, Path(__file__).resolve().parents[3]):
        if (path / "site.yml").is_file() and (path / "playbooks").is_dir():
            return path
    raise ConsoleError(
        "No supermark-ops checkout found: run the console from your clone of the repository, "
        "or set SUPERMARK_OPS_PROJECT (or --project) to it."
    )


def runs_dir(root: Path) -> Path:
    return Path(os.environ.get("SUPERMARK_RUNS_DIR") or root / ".state" / "runs").expanduser()


def new_run_folder(root: Path, verb: str) -> Path:
    base = runs_dir(root)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = base / f"{stamp}-{verb}"
    n = 1
    while folder.exists():
        n += 1
        folder = base / f"{stamp}-{verb}-{n}"
    folder.mkdir(mode=0o700)
    _prune(base)
    return folder


def _prune(base: Path) -> None:
    folders = sorted(p for p in base.iterdir() if p.is_dir() and (p / "console.json").exists())
    for old in folders[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)


def _records(root: Path) -> Iterator[dict[str, Any]]:
    """console.json of earlier console commands, newest first."""
    base = runs_dir(root)
    if not base.is_dir():
        return
    for path in sorted(base.glob("*/console.json"), reverse=True):
        try:
            yield json.loads(path.read_text())
        except (OSError, ValueError):
            continue


def estimate_from_history(root: Path, play: Play) -> int | None:
    """Tasks the last finished run of the same playbook and arguments started."""
    for record in _records(root):
        for run in record.get("runs", []):
            if run.get("key") == play.key() and run.get("status") == "successful" and run.get("tasks"):
                return int(run["tasks"])
    return None


def count_tasks(root: Path, play: Play, env: dict[str, str]) -> int | None:
    """`ansible-playbook --list-tasks`: the tasks a run would start, as far as they are static."""
    try:
        listing = subprocess.run(
            ["ansible-playbook", "--list-tasks", *play.args, play.playbook],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:
        return None
    tasks = [
        line
        for line in listing.stdout.splitlines()
        if "TAGS:" in line and not line.strip().startswith("play #")
    ]
    return len(tasks) or None


def environment(root: Path) -> dict[str, str]:
    """What ansible-playbook runs with: this environment, the venv's programs first (so
    ansible-playbook, and supermark_ops for the control-side modules, come from it), the
    checkout's ansible.cfg unless one is set (molecule sets its own)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("ANSIBLE_CONFIG", str(root / "ansible.cfg"))
    # ansible-runner turns host key checking off unless it is set: keep Ansible's default (on).
    env.setdefault("ANSIBLE_HOST_KEY_CHECKING", "True")
    if not sys.stdout.isatty():
        env.setdefault("ANSIBLE_NOCOLOR", "1")
    return env


def _hide_environment(artifacts: Path) -> None:
    """ansible-runner writes the whole environment into artifacts/<ident>/command: keep the names."""
    command = artifacts / "command"
    try:
        data = json.loads(command.read_text())
    except (OSError, ValueError):
        return
    if isinstance(data.get("env"), dict) or "-e" in data.get("command", []):
        data["env"] = sorted(data.get("env") or [])
        data["command"] = redact_args(data.get("command") or [])
        tmp = command.with_name(".command.partial")
        tmp.write_text(json.dumps(data))
        tmp.chmod(0o600)
        tmp.replace(command)


def run(
    root: Path,
    folder: Path,
    play: Play,
    on_event: Callable[[Tracker, dict[str, Any]], None],
    total: int | None = None,
) -> Outcome:
    """Run the playbook; each event goes to the tracker, then to on_event (the display)."""
    try:
        import ansible_runner
    except ImportError as exc:
        raise ConsoleError(
            "ansible-runner is not installed in this Python: run scripts/setup.sh (it installs "
            f"requirements-dev.txt into .venv), then use .venv/bin/supermark-ops. ({exc})"
        ) from exc
    env = environment(root)
    tracker = Tracker(total=total)
    artifacts = folder / "artifacts" / play.ident
    if total is None:
        # No earlier run to go by: count the tasks while the run starts (a few seconds).
        def estimate() -> None:
            tracker.total = count_tasks(root, play, env)

        threading.Thread(target=estimate, daemon=True).start()

    def handle(event: dict[str, Any]) -> bool:
        tracker.feed(event)
        on_event(tracker, event)
        return True

    def status(data: dict[str, Any], runner_config: Any = None) -> None:
        if data.get("status") == "running":
            _hide_environment(artifacts)

    started = time.monotonic()
    try:
        result = ansible_runner.run(
            private_data_dir=str(folder),
            project_dir=str(root),
            playbook=play.playbook,
            cmdline=shlex.join(play.args),
            ident=play.ident,
            envvars=env,
            quiet=True,
            event_handler=handle,
            status_handler=status,
            suppress_env_files=True,
        )
    finally:
        _hide_environment(artifacts)
    rc = int(result.rc if result.rc is not None else 1)
    return Outcome(play, rc, str(result.status), artifacts, tracker, time.monotonic() - started)


def record(folder: Path, rec: Record, outcomes: Sequence[Outcome]) -> None:
    rec.runs = [
        {
            "ident": o.play.ident,
            "playbook": o.play.playbook,
            "key": o.play.key(),
            "rc": o.rc,
            "status": o.status,
            "tasks": o.tracker.started,
            "seconds": round(o.seconds, 1),
            "artifacts": str(o.artifacts),
        }
        for o in outcomes
    ]
    path = folder / "console.json"
    path.write_text(json.dumps(asdict(rec), indent=2) + "\n")
    path.chmod(0o600)


# Short options (ours and ansible-playbook's) whose value follows the letter: a cluster stops there.
_SHORT_WITH_VALUE = set("ilutfcTM")


def redact_args(args: Sequence[str]) -> list[str]:
    """Arguments as recorded: extra-vars values may carry secrets (a vault override), so they are
    not kept, in every form argparse takes: `-e V`, `-eV`, `-ve V`, `--extra-vars V`,
    `--extra-vars=V` and its abbreviations (`--extra=V`)."""
    out: list[str] = []
    hide = False
    for arg in args:
        if hide:
            out.append("(hidden)")
            hide = False
        elif arg.startswith("--"):
            name, eq, _ = arg.partition("=")
            if len(name) >= 3 and "--extra-vars".startswith(name):
                out.append(f"{name}=(hidden)" if eq else arg)
                hide = not eq
            else:
                out.append(arg)
        elif arg.startswith("-") and len(arg) > 1:
            cluster = arg[1:]
            for at, letter in enumerate(cluster):
                if letter == "e":
                    value = cluster[at + 1 :]
                    out.append(f"-{cluster[: at + 1]}(hidden)" if value else arg)
                    hide = not value
                    break
                if letter in _SHORT_WITH_VALUE:
                    out.append(arg)
                    break
            else:
                out.append(arg)
        else:
            out.append(arg)
    return out
