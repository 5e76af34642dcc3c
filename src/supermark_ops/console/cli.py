"""`supermark-ops deploy | status | upgrade | rollback | destroy`: the operator's console.

Each command runs the project's playbooks through ansible-runner (runner.py) and shows where
the run is (one progress line on a terminal, plain lines otherwise, the whole output with
--verbose), then what failed and the way out, or the closing summary (closing.py).
Presentation only: what happens on the hosts is the playbooks'.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

from supermark_ops import results
from supermark_ops.console import closing, runner
from supermark_ops.console.failures import Failure
from supermark_ops.console.progress import Tracker, _clock
from supermark_ops.errors import OpsError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--inventory", action="append", default=[], help="inventory (as ansible-playbook)")
    p.add_argument(
        "-e", "--extra-vars", action="append", default=[], metavar="VARS", help="extra variables (repeatable)"
    )
    p.add_argument("--limit", default="", help="only these hosts (a pattern)")
    p.add_argument("--vault-password-file", default="", help="the vault's password file")
    p.add_argument("-v", "--verbose", action="store_true", help="stream Ansible's whole output")
    p.add_argument("--json", action="store_true", help="print the closing summary as JSON")
    p.add_argument("--project", default="", help="the supermark-ops checkout (default: found from here)")


def add_parser(sub: Any) -> None:
    deploy = sub.add_parser("deploy", help="run site.yml (everything), then show the summary")
    deploy.add_argument("--check", action="store_true", help="check mode: change nothing, say what would")
    deploy.add_argument("--tags", default="", help="only these tags (as ansible-playbook)")
    deploy.add_argument("--skip-tags", default="", help="all but these tags (as ansible-playbook)")
    _common(deploy)
    deploy.set_defaults(handler=console_command, verb="deploy")

    status = sub.add_parser(
        "status", help="each host's health, release and last backup (playbooks/status.yml)"
    )
    _common(status)
    status.set_defaults(handler=console_command, verb="status")

    upgrade = sub.add_parser(
        "upgrade", help="deploy another release of the app (dump first, roll back if unhealthy)"
    )
    upgrade.add_argument("--ref", required=True, help="the app's git ref: a tag or a commit")
    upgrade.add_argument("--tags", default="supermark", help="tags to run (default: supermark, the app only)")
    _common(upgrade)
    upgrade.set_defaults(handler=console_command, verb="upgrade")

    rollback = sub.add_parser("rollback", help="go back to the previous release, or one still on the host")
    rollback.add_argument(
        "--to", default="", help="a ref, commit or image tag (default: the previous release)"
    )
    rollback.add_argument(
        "--restore-database",
        action="store_true",
        help="when the schema moved since that release: restore the dump taken before the upgrade from it",
    )
    _common(rollback)
    rollback.set_defaults(handler=console_command, verb="rollback")

    destroy = sub.add_parser("destroy", help="delete the droplet and its resources (snapshot first)")
    destroy.add_argument("--confirm", required=True, metavar="DROPLET", help="the droplet's name, to confirm")
    destroy.add_argument(
        "--delete-volume",
        action="store_true",
        help="delete the data volume too (a snapshot of it is taken first)",
    )
    _common(destroy)
    destroy.set_defaults(handler=console_command, verb="destroy")


def _ansible_args(args: argparse.Namespace, root: Any) -> list[str]:
    out: list[str] = []
    inventories = list(args.inventory)
    if not inventories and os.environ.get("SUPERMARK_DO_TOKEN") and args.verb != "destroy":
        inventories = [str(root / "inventory" / "digitalocean")]  # as scripts/site.sh does
    for inv in inventories:
        out += ["-i", inv]
    for extra in args.extra_vars:
        out += ["-e", extra]
    if args.limit:
        out += ["--limit", args.limit]
    if args.vault_password_file:
        out += ["--vault-password-file", args.vault_password_file]
    return out


def plays(args: argparse.Namespace, common: list[str]) -> list[runner.Play]:
    """The main playbook of the command (status.yml follows it when it succeeds, for the summary)."""
    verb = args.verb
    if verb == "deploy":
        if {"always", "all"} & {tag.strip() for tag in args.skip_tags.split(",")}:
            # The preflight and the secrets read-back are tagged `always`: skipped, a run with the
            # secrets folder gone would make new secrets and write them over the stack's.
            raise OpsError(
                "--skip-tags cannot skip 'always' or 'all': the preflight and the secrets read-back "
                "must run. Skip the roles you mean by their tags (base, docker, monitor, ...)."
            )
        extra = (
            (["--check"] if args.check else [])
            + (["--tags", args.tags] if args.tags else [])
            + (["--skip-tags", args.skip_tags] if args.skip_tags else [])
        )
        return [runner.Play("deploy", "site.yml", (*extra, *common))]
    if verb == "upgrade":
        ref = json.dumps({"supermark_git_ref": args.ref})
        return [runner.Play("upgrade", "playbooks/deploy.yml", ("--tags", args.tags, "-e", ref, *common))]
    if verb == "rollback":
        wanted = json.dumps(
            {"supermark_rollback_to": args.to, "supermark_rollback_restore": args.restore_database}
        )
        return [runner.Play("rollback", "playbooks/rollback.yml", ("-e", wanted, *common))]
    if verb == "destroy":
        confirm = json.dumps(
            {"supermark_destroy_confirm": args.confirm, "supermark_destroy_volume": args.delete_volume}
        )
        return [runner.Play("destroy", "playbooks/destroy.yml", ("-e", confirm, *common))]
    return []  # status: only the status run


class Display:
    """Where the run is: one live line on a terminal, plain lines elsewhere, everything with --verbose."""

    def __init__(self, verbose: bool, err: Console) -> None:
        self.verbose, self.err = verbose, err
        self.live: Live | None = None
        self.tracker: Tracker | None = None
        self.started = time.monotonic()

    def __rich__(self) -> Text:
        if self.tracker is None:
            return Text("starting ansible-playbook ...")
        return Text(self.tracker.line(time.monotonic() - self.started), overflow="ellipsis", no_wrap=True)

    def start(self, label: str) -> None:
        self.started, self.tracker = time.monotonic(), None
        self.err.print(f"[bold]{label}[/bold]", highlight=False)
        if self.err.is_terminal and not self.verbose:
            self.live = Live(self, console=self.err, refresh_per_second=4, transient=True)
            self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def on_event(self, tracker: Tracker, event: dict[str, Any]) -> None:
        self.tracker = tracker
        if self.verbose:
            if event.get("stdout"):
                self.err.out(str(event["stdout"]), highlight=False)
            return
        if self.live is not None:
            return
        if event.get("event") in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.err.out(tracker.line(time.monotonic() - self.started), highlight=False)
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable") and tracker.failures:
            failure = tracker.failures[-1]
            self.err.out(f"    failed on {failure.host}: {failure.message.splitlines()[0]}", highlight=False)


def _failure_lines(failure: Failure) -> list[str]:
    where = f"{failure.task} on {failure.host}" if failure.task else "ansible-playbook stopped"
    lines = [f"FAILED: {where}" + (" (unreachable)" if failure.unreachable else "")]
    lines += [f"  {line}" for line in failure.message.splitlines()]
    lines += [f"    | {line}" for line in failure.detail.splitlines()]
    if failure.hint:
        lines.append(f"  hint: {failure.hint}")
    return lines


def render(summary: dict[str, Any], outcomes: list[runner.Outcome]) -> list[str]:
    """The closing summary as lines: failures, each host's table and summary, the run, the next step."""
    lines: list[str] = []
    for failure in summary["failures"]:
        lines += _failure_lines(Failure(**{k: v for k, v in failure.items() if k != "hint"}))
    for host, report in summary["hosts"].items():
        kept = report["summary"]
        head = kept.get("lines", [f"Supermark on {host}"])
        lines += ["", head[0] if head else host]
        lines += [f"  {line}" for line in report["lines"]]
        lines += [f"  {line}" for line in head[1:]]
    lines.append("")
    for o in outcomes:
        changed = o.tracker.hosts_changed
        lines.append(
            f"{o.play.ident}: {o.status}, {o.tracker.started} tasks, {changed} changed, "
            f"in {_clock(o.seconds)}"
        )
    lines.append(f"Full output and events: {summary['artifacts']}")
    lines.append("Next:")
    lines += [f"  {step}" for step in summary["next"]]
    return lines


def console_command(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    try:
        root = runner.project_root(args.project)
        common = _ansible_args(args, root)
        todo = plays(args, common)
        status_play = runner.Play("status", "playbooks/status.yml", tuple(common))
        folder = runner.new_run_folder(root, args.verb)
    except OpsError as exc:
        err.print(f"supermark-ops {args.verb}: {exc}", markup=False)
        return 2
    argv = list(getattr(args, "argv", []))
    rec = runner.Record(args.verb, runner.redact_args(argv), results.now())
    display = Display(args.verbose, err)
    outcomes: list[runner.Outcome] = []
    check = bool(getattr(args, "check", False))
    steps: list[runner.Play] = [*todo] if todo else []
    if args.verb in ("deploy", "upgrade", "rollback", "status") and not check:
        steps.append(status_play)
    try:
        for play in steps:
            display.start(f"{play.ident}: ansible-playbook {play.playbook} (artifacts: {folder})")
            try:
                outcome = runner.run(
                    root, folder, play, display.on_event, runner.estimate_from_history(root, play)
                )
            finally:
                display.stop()
            outcomes.append(outcome)
            runner.record(folder, rec, outcomes)
            if outcome.rc != 0:
                break
    except OpsError as exc:
        err.print(f"supermark-ops {args.verb}: {exc}", markup=False)
        return 2
    failures = [f for o in outcomes for f in o.tracker.final_failures(o.rc)]
    statuses = {h: r for o in outcomes for h, r in o.tracker.results.get("supermark_status", {}).items()}
    again = " ".join(["supermark-ops", *runner.redact_args(argv)]) if argv[:1] == [args.verb] else ""
    summary = closing.build(args.verb, folder, failures, statuses, {"again": again} if again else {}, check)
    if args.json:
        print(results.dumps(summary))
    else:
        print("\n".join(render(summary, outcomes)))
    return 0 if summary["ok"] else 1
