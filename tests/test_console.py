"""The console's event-to-progress mapping, failure messages, closing summary and run folders.

The events are real: recorded once from real runs with tools/record_events.py (see
tests/fixtures/console/README.md), not written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supermark_ops.cli import build_parser
from supermark_ops.console import closing, runner
from supermark_ops.console.cli import plays, render
from supermark_ops.console.failures import hint_name
from supermark_ops.console.progress import Tracker
from supermark_ops.errors import OpsError

FIXTURES = Path(__file__).parent / "fixtures" / "console"


def events(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_text().splitlines() if line]


def tracked(name: str, total: int | None = None) -> Tracker:
    tracker = Tracker(total=total)
    for event in events(name):
        tracker.feed(event)
    return tracker


def test_progress_follows_plays_tasks_and_hosts() -> None:
    tracker = Tracker(total=2)
    seen = []
    for event in events("destroy-token-refused"):
        if tracker.feed(event):
            seen.append(tracker.line(75))
    assert (
        "01:15 task 1 of about 2: Destroy the droplet and its resources | Require the explicit confirmation"
        in seen
    )
    # The estimate grows rather than show "task 3 of about 2".
    assert tracker.started == 3 and tracker.total == 3
    assert (
        "01:15 task 3 of about 3: Destroy the droplet and its resources | Remove the resources [localhost]"
        in seen
    )
    assert tracker.ok == 2 and tracker.changed == 0
    assert tracker.stats["failures"] == {"localhost": 1}


def test_a_refused_token_is_named_with_its_hint() -> None:
    (failure,) = tracked("destroy-token-refused").final_failures(rc=2)
    assert (failure.task, failure.host, failure.unreachable) == ("Remove the resources", "localhost", False)
    assert "401 unauthorized" in failure.message and "The API token was refused" in failure.message
    assert hint_name(failure) == "token" and "SUPERMARK_DO_TOKEN" in failure.hint


def test_ssh_refused_is_an_unreachable_host_with_its_hint() -> None:
    (failure,) = tracked("status-unreachable").final_failures(rc=4)
    assert (failure.task, failure.host, failure.unreachable) == ("Run the checks", "deadhost", True)
    assert failure.message.startswith("Failed to connect to the host via ssh")
    assert "Connection refused" in failure.message
    assert hint_name(failure) == "ssh" and "port 22" in failure.hint


def test_a_name_not_pointing_here_yet_is_named_with_its_hint() -> None:
    (failure,) = tracked("dns-not-here").final_failures(rc=2)
    assert failure.task == "Require the name to resolve to this host - localhost"
    assert failure.message.startswith("localhost resolves to 127.0.0.1, not to this host (203.0.113.10)")
    assert hint_name(failure) == "dns" and "A record" in failure.hint


def test_a_build_out_of_memory_is_named_with_its_hint() -> None:
    (failure,) = tracked("upgrade-oom").final_failures(rc=2)
    assert failure.task == "Report the build that failed (the running release is untouched)"
    assert "(v1-oom) did not build" in failure.message
    assert "It was killed (exit code 137): out of memory?" in failure.message
    assert hint_name(failure) == "memory" and "supermark_build_host=control" in failure.hint


def test_an_error_before_any_task_is_taken_from_the_output() -> None:
    tracker = tracked("upgrade-early-error")
    assert tracker.started == 0 and tracker.failures == []
    (failure,) = tracker.final_failures(rc=1)
    assert failure.task == "" and failure.message.startswith("[ERROR]: Unable to retrieve file contents")
    assert "/nonexistent/vars.yml" in failure.message
    assert hint_name(failure) == ""


def test_closing_summary_of_a_failure_names_host_hint_and_artifacts(tmp_path: Path) -> None:
    failures = tracked("destroy-token-refused").final_failures(rc=2)
    summary = closing.build("destroy", tmp_path, failures, {}, {"again": "supermark-ops destroy --confirm x"})
    assert summary["ok"] is False
    assert summary["reason"].startswith(
        "destroy failed on localhost: DigitalOcean API GET /v2/droplets -> 401"
    )
    assert summary["failures"][0]["hint"].startswith("DigitalOcean refused the token")
    assert summary["next"] == ["supermark-ops destroy --confirm x   (once the cause above is fixed)"]
    lines = render(summary, [])
    assert "FAILED: Remove the resources on localhost" in lines
    assert f"Full output and events: {tmp_path}" in lines


def test_closing_summary_of_a_refused_restore_says_how_to_go_ahead(tmp_path: Path) -> None:
    tracker = tracked("rollback-refused")
    (failure,) = tracker.final_failures(rc=2)
    assert failure.task == "Require the go-ahead to restore the database"
    assert "Nothing was changed" in failure.message and "rows" in failure.message
    summary = closing.build("rollback", tmp_path, [failure], {}, {"again": "supermark-ops rollback --to v1"})
    assert summary["next"][0].startswith("supermark-ops rollback --to v1 --restore-database")


def test_status_results_are_read_from_the_events() -> None:
    tracker = tracked("status-ok")
    (host,) = tracker.results["supermark_status"]
    result = tracker.results["supermark_status"][host]
    status = result["status"]
    assert status["healthy"] is True and status["monitor"]["app"] == "healthy"
    assert status["release"]["ref"] == "v1" and status["release"]["current"]
    assert result["lines"][0].startswith(f"{host}: HEALTHY at ")
    assert result["summary"]["url"] == "https://supermark.test"
    assert tracker.final_failures(rc=0) == []


def test_closing_summary_of_a_healthy_upgrade(tmp_path: Path) -> None:
    result = tracked("status-ok").results["supermark_status"]
    summary = closing.build("upgrade", tmp_path, [], result)
    assert summary["ok"] is True and summary["reason"] == ""
    assert list(summary["hosts"]) == list(result)
    assert summary["next"][0].startswith("set supermark_git_ref: v1 in your inventory")
    assert "supermark-ops rollback" in summary["next"][1]
    text = "\n".join(render(summary, []))
    assert "Supermark at https://supermark.test" in text and "HEALTHY at" in text
    assert (
        "release:   " in text
        and "backup:    " in text
        and "[ACCEPTED RISK: supermark_allow_no_sign_in]" in text
    )
    assert "Secrets:" in text


def test_an_unhealthy_host_fails_the_summary(tmp_path: Path) -> None:
    result = json.loads(json.dumps(tracked("status-ok").results["supermark_status"]))
    (host,) = result
    result[host]["status"]["healthy"] = False
    summary = closing.build("status", tmp_path, [], result)
    assert summary["ok"] is False and summary["reason"] == f"unhealthy: {host}"
    assert "logs" in summary["next"][0]


def test_the_run_record_hides_extra_vars_and_the_environment(tmp_path: Path) -> None:
    play = runner.Play("upgrade", "playbooks/deploy.yml", ("--tags", "supermark", "-e", '{"x": "secret"}'))
    assert play.key() == "playbooks/deploy.yml --tags supermark"
    command = tmp_path / "command"
    command.write_text(
        json.dumps({"command": ["ansible-playbook", "-e", "vault_x=secret"], "env": {"TOKEN": "secret"}})
    )
    runner._hide_environment(tmp_path)
    kept = json.loads(command.read_text())
    assert "secret" not in command.read_text()
    assert kept["env"] == ["TOKEN"] and kept["command"] == ["ansible-playbook", "-e", "(hidden)"]
    assert command.stat().st_mode & 0o777 == 0o600


def test_the_estimate_comes_from_the_last_successful_run_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPERMARK_RUNS_DIR", str(tmp_path / "runs"))
    play = runner.Play("status", "playbooks/status.yml", ("-i", "inv"))
    assert runner.estimate_from_history(tmp_path, play) is None
    for tasks, status in ((7, "successful"), (2, "failed")):
        folder = runner.new_run_folder(tmp_path, "status")
        outcome = runner.Outcome(play, 0, status, folder, Tracker(started=tasks), 1.0)
        runner.record(folder, runner.Record("status", [], ""), [outcome])
    assert runner.estimate_from_history(tmp_path, play) == 7
    other = runner.Play("status", "playbooks/status.yml", ("-i", "elsewhere"))
    assert runner.estimate_from_history(tmp_path, other) is None
    assert (tmp_path / "runs").stat().st_mode & 0o777 == 0o700


def test_no_checkout_is_said_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(runner.ConsoleError, match="not a supermark-ops checkout"):
        runner.project_root(str(tmp_path))


SECRET = "vault_supermark_resend_api_key=re_TOPSECRET"


@pytest.mark.parametrize(
    "form",
    [
        ["-e", SECRET],
        [f"-e{SECRET}"],
        ["-ve", SECRET],
        [f"-ve{SECRET}"],
        ["--extra-vars", SECRET],
        [f"--extra-vars={SECRET}"],
        [f"--extra={SECRET}"],
        ["--extra", SECRET],
        [f"--e={SECRET}"],
    ],
)
def test_extra_vars_are_hidden_in_every_form_the_console_takes(form: list[str]) -> None:
    """The console's own parser takes each form as extra variables; the record (console.json, the
    artifacts' command file, the "Next:" line) keeps none of their values."""
    parser = build_parser()  # the parser supermark-ops itself uses
    argv = ["status", "-i", "inventory/example", *form, "--json"]
    assert parser.parse_args(argv).extra_vars == [SECRET]  # a form the console really takes
    recorded = runner.redact_args(argv)
    assert "re_TOPSECRET" not in " ".join(recorded), recorded
    assert recorded[:3] == ["status", "-i", "inventory/example"] and recorded[-1] == "--json"


def test_other_arguments_are_kept_as_given() -> None:
    argv = ["deploy", "-iexample.yml", "--tags", "stack", "-v", "--vault-password-file", "pw", "--check"]
    assert runner.redact_args(argv) == argv


def test_deploy_passes_its_tags_and_skipped_tags_to_site_yml() -> None:
    parser = build_parser()
    args = parser.parse_args(["deploy", "--tags", "stack,monitor", "--skip-tags", "base,docker", "--check"])
    (play,) = plays(args, [])
    assert play.playbook == "site.yml"
    assert list(play.args) == ["--check", "--tags", "stack,monitor", "--skip-tags", "base,docker"]


@pytest.mark.parametrize("skipped", ["always", "base,always", "all"])
def test_deploy_refuses_to_skip_the_preflight_and_the_secrets_read_back(skipped: str) -> None:
    parser = build_parser()
    with pytest.raises(OpsError, match="cannot skip 'always' or 'all'"):
        plays(parser.parse_args(["deploy", "--skip-tags", skipped]), [])
