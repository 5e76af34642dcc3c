"""A failed run said plainly: the task, the host, the module's message, and the known way out.

The hints are for the failures operators meet most; each is recognised from the message the
playbooks already give (the proxy's DNS check, the build's "exit code 137", the DigitalOcean
client's refused token) or from Ansible's own (SSH).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Lines of a command's stderr/stdout shown under its message.
TAIL = 12


@dataclass(frozen=True)
class Failure:
    task: str
    host: str
    message: str
    detail: str = ""  # the end of the command's output, when the message does not say it all
    unreachable: bool = False

    @property
    def hint(self) -> str:
        return hint_for(self)


# (name, pattern over the message and detail, hint). The first that matches is given.
HINTS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "ssh",
        re.compile(
            r"Failed to connect to the host via ssh|Connection refused|Connection timed out|"
            r"No route to host|Permission denied \(publickey|Could not resolve hostname"
        ),
        "The host does not let Ansible in over SSH. Is the droplet up (DigitalOcean's console)? Is your "
        "address allowed to port 22 (base_firewall_ssh_cidrs, droplet_firewall_ssh_cidrs)? Is the key the "
        "deploy user knows (SUPERMARK_SSH_PUBLIC_KEY) the one your ssh agent offers? Try: "
        "ssh deploy@<host> true",
    ),
    (
        "token",
        re.compile(r"API token was refused|token lacks permission|No DigitalOcean token"),
        "DigitalOcean refused the token. Make one with read and write scope (API > Tokens), then "
        "export SUPERMARK_DO_TOKEN=... (or vault_supermark_do_token) and run the command again.",
    ),
    (
        "dns",
        re.compile(r"resolves to .*, not to this host"),
        "The name does not point at this host yet. Create (or fix) its A record with the host's address, "
        "check with `dig +short <name>` until it answers that address (minutes, up to the record's TTL), "
        "then run `supermark-ops deploy` again. Let's Encrypt is only asked once the name resolves.",
    ),
    (
        "memory",
        re.compile(r"exit code:? 137|out of memory\?"),
        "The app's build ran out of memory. Build on this machine and ship the image: add "
        "-e supermark_build_host=control (or set it in group_vars), or give the droplet more memory or "
        "swap (base_swap_size_mb) and run again. The running release was not touched.",
    ),
)


def hint_for(failure: Failure) -> str:
    text = f"{failure.message}\n{failure.detail}"
    return next((hint for _name, pattern, hint in HINTS if pattern.search(text)), "")


def hint_name(failure: Failure) -> str:
    text = f"{failure.message}\n{failure.detail}"
    return next((name for name, pattern, _hint in HINTS if pattern.search(text)), "")


def _tail(text: Any) -> str:
    lines = [line for line in str(text or "").splitlines() if line.strip()]
    return "\n".join(lines[-TAIL:])


def _message(res: dict[str, Any]) -> tuple[str, str]:
    """The module's message, and the output that explains it (a command's stderr, failed loop items)."""
    message = str(res.get("msg") or "").strip()
    items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items:  # a loop: the failed items' own messages say more than "One or more items failed"
        message = "; ".join(
            str(i.get("msg") or i.get("stderr") or "failed").strip() for i in items if not i.get("skipped")
        )
    detail = ""
    for key in ("stderr", "stdout", "module_stderr"):
        tail = _tail(res.get(key))
        if tail and tail not in message:
            detail = tail
            break
    if not message:
        message = detail.splitlines()[-1] if detail else "failed (no message)"
    return message, detail if detail != message else ""


def failure_from_event(event: dict[str, Any]) -> Failure:
    data: dict[str, Any] = event.get("event_data") or {}
    message, detail = _message(dict(data.get("res") or {}))
    return Failure(
        task=str(data.get("task", "")),
        host=str(data.get("host", "")),
        message=message.removeprefix("Task failed: "),
        detail=detail,
        unreachable=event.get("event") == "runner_on_unreachable",
    )


def failure_from_output(output: list[str], rc: int) -> Failure:
    """Ansible stopped before (or outside) any task: its error lines, from the run's output."""
    lines = "\n".join(output).splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"\s*(\[ERROR\]|ERROR!)", line)), None)
    text = "\n".join(lines[start : start + TAIL]) if start is not None else _tail("\n".join(lines))
    return Failure(task="", host="", message=text or f"ansible-playbook exited {rc} and said nothing")
