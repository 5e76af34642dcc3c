"""From ansible-runner's event stream to what the operator sees: where the run is, and what failed.

Pure: a ``Tracker`` is fed the runner's events (dicts, as ansible-runner hands them to an
event handler and keeps them in ``artifacts/<ident>/job_events/``) and keeps the play, the
task and its number, the host, the counts, the failures and the results of the modules
the console reads (the summary, the status). Nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supermark_ops.console.failures import Failure, failure_from_event, failure_from_output

# Results the console reads from the run (module name -> its result, per host).
READ_MODULES = ("supermark_summary", "supermark_status")


@dataclass
class Tracker:
    total: int | None = None  # tasks the run is expected to start: "task n of about N"
    play: str = ""
    task: str = ""
    host: str = ""
    started: int = 0  # tasks started so far
    ok: int = 0
    changed: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)
    stats: dict[str, dict[str, int]] = field(default_factory=dict)  # playbook_on_stats: per count, per host
    results: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # module -> host -> result
    output: list[str] = field(default_factory=list)  # the run's own lines (stdout of every event)

    def feed(self, event: dict[str, Any]) -> bool:
        """Take one event; True when what the display shows changed."""
        kind = str(event.get("event", ""))
        data: dict[str, Any] = event.get("event_data") or {}
        if event.get("stdout"):
            self.output.append(str(event["stdout"]))
        if kind == "playbook_on_play_start":
            self.play, self.task, self.host = str(data.get("play", "")), "", ""
            return True
        if kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.started += 1
            self.task, self.host = str(data.get("task", "")), ""
            if self.total is not None and self.started > self.total:
                self.total = self.started  # an estimate, never "task 90 of 80"
            return True
        if kind == "runner_on_start":
            self.host = str(data.get("host", ""))
            return True
        if kind == "runner_on_ok":
            res = data.get("res") or {}
            if res.get("changed"):
                self.changed += 1
            else:
                self.ok += 1
            module = str(data.get("task_action", "")).rsplit(".", 1)[-1]
            if module in READ_MODULES:
                self.results.setdefault(module, {})[str(data.get("host", ""))] = dict(res)
            return False
        if kind == "runner_on_skipped":
            self.skipped += 1
            return False
        if kind in ("runner_on_failed", "runner_on_unreachable"):
            if not data.get("ignore_errors"):
                self.failures.append(failure_from_event(event))
            return True
        if kind == "playbook_on_stats":
            self.stats = {
                key: dict(data.get(key) or {})
                for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
            }
            return True
        return False

    @property
    def hosts_changed(self) -> int:
        return sum(self.stats.get("changed", {}).values())

    def final_failures(self, rc: int) -> list[Failure]:
        """What made the run fail: per host the last failure the play did not rescue (a rescued
        failure ends in its rescue's own message), each unreachable host; when no task failed but
        Ansible did (a syntax error, a missing vault password), its error lines."""
        failed = set(self.stats.get("failures", {})) | set(self.stats.get("dark", {}))
        last: dict[str, Failure] = {}
        for failure in self.failures:
            if failure.host in failed or not self.stats:
                last[failure.host] = failure
        if last or rc == 0:
            return list(last.values())
        return [failure_from_output(self.output, rc)]

    def line(self, elapsed: float) -> str:
        """One plain line: where the run is."""
        of = f" of about {self.total}" if self.total else ""
        host = f" [{self.host}]" if self.host else ""
        return f"{_clock(elapsed)} task {self.started}{of}: {self.play} | {self.task}{host}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
