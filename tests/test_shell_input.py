"""Values that reach a shell, a cron line, cloud-init or the Caddyfile arrive as data, never as
code: the command lines the roles write are rendered by Ansible's own templating and run by a
real /bin/sh with hostile values (a space, a quote, $(...), ;), and must reach the program intact
and run nothing else. The roles' checks refuse such values before that (tests/test_role_input.py,
tests/test_preflight.py); this is the second line."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from supermark_ops.digitalocean.api import DOError
from supermark_ops.digitalocean.provision import ProvisionSpec, cloud_init, validate

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "x'; touch {pwned}; echo '$(touch {pwned})`touch {pwned}`"


def role_vars(*roles: str) -> dict[str, Any]:
    loader = DataLoader()
    variables: dict[str, Any] = {"inventory_hostname": "droplet-1", "ansible_managed": "managed"}
    for role in roles:
        for part in ("defaults", "vars"):
            path = ROOT / "roles" / role / part / "main.yml"
            if path.exists():
                variables.update(loader.load_from_file(str(path), trusted_as_template=True) or {})
    return variables


def render(value: Any, variables: dict[str, Any]) -> Any:
    """A task's field as Ansible renders it."""
    return Templar(loader=DataLoader(), variables=variables).template(
        trust_as_template(value) if isinstance(value, str) else value
    )


def task(path: str, name: str) -> dict[str, Any]:
    tasks = yaml.safe_load((ROOT / path).read_text())
    found: dict[str, Any] = next(t for t in tasks if t.get("name") == name)
    return found


def recorder(path: Path) -> Path:
    """A program that writes the arguments it got, one JSON list per call, beside itself."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/usr/bin/env python3\nimport json, os, sys\n"
        "with open(os.path.join(os.path.dirname(sys.argv[0]), 'argv.jsonl'), 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    path.chmod(0o755)
    return path.parent / "argv.jsonl"


def test_the_monitors_cron_line_hands_hostile_paths_over_intact(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"  # what the hostile parts would create (run from tmp_path)
    base = tmp_path / HOSTILE.format(pwned="pwned")
    variables = {
        **role_vars("ops_tools", "monitor"),
        "ops_tools_venv": str(base / "venv"),
        "ops_tools_config_dir": str(base / "etc"),
        "ops_tools_log_dir": str(base / "log"),
    }
    job = render(
        task("roles/monitor/tasks/main.yml", "Schedule the monitor")["ansible.builtin.cron"]["job"], variables
    )
    calls = recorder(base / "venv" / "bin" / "supermark-ops")
    (base / "log").mkdir()
    subprocess.run(["/bin/sh", "-c", job], check=True, timeout=30, cwd=tmp_path)  # as cron runs it
    assert [json.loads(line) for line in calls.read_text().splitlines()] == [
        [
            "monitor",
            "--config",
            str(base / "etc" / "monitor.yml"),
            "--log-file",
            str(base / "log" / "monitor.log"),
        ]
    ]
    assert not pwned.exists()


def test_a_certificate_name_reaches_the_proxys_shell_as_an_argument(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    host = HOSTILE.format(pwned="pwned")
    variables = {**role_vars("stack", "proxy"), "__proxy_host": host, "stack_dir": str(tmp_path)}
    for path, name in [
        ("roles/proxy/tasks/names.yml", "Look for the certificate of {{ __proxy_host }}"),
        (
            "roles/proxy/tasks/certificate.yml",
            "Wait for the certificate (up to proxy_certificate_timeout) of {{ __proxy_host }}",
        ),
    ]:
        command = task(path, name)["ansible.builtin.command"]
        # argv as the command module gets it (a string is split the way the module splits it).
        argv = (
            render(command["argv"], variables)
            if "argv" in command
            else shlex.split(render(command, variables))
        )
        assert argv[:5] == ["docker", "compose", "exec", "-T", "proxy"]
        # What runs inside the proxy's container, run here by a real sh, with `ls` recording its argv.
        calls = recorder(tmp_path / path.replace("/", "_") / "ls")
        env = {**os.environ, "PATH": f"{calls.parent}:{os.environ['PATH']}"}
        subprocess.run(argv[5:], env=env, check=True, timeout=30, cwd=tmp_path)
        assert [json.loads(line) for line in calls.read_text().splitlines()] == [
            [f"/data/caddy/certificates/*/{host}/{host}.crt"]  # one argument, the name whole in it
        ]
        assert not pwned.exists()


def test_cloud_init_user_data_is_yaml_the_values_cannot_extend() -> None:
    key = (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVtcHR5a2V5Zm9ydGVzdHNvbmx5AAAAAAAAAAAAAAAA "
        + "me@x # work: yes"
    )
    spec = ProvisionSpec(token="t", name="d1", region="fra1", size="s-1vcpu-1gb", ssh_public_key=key)
    data = yaml.safe_load(cloud_init(spec))
    assert cloud_init(spec).startswith("#cloud-config\n")
    assert data == {
        "users": [
            {
                "name": "deploy",
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": [key],
            }
        ]
    }
    for field, value, says in [
        ("deploy_user", "deploy\n    sudo: ALL", "droplet_deploy_user"),
        ("deploy_user", "root;id", "is not a login name"),
        ("ssh_public_key", key + "\nruncmd: [touch /pwned]", "must be one line"),
    ]:
        with pytest.raises(DOError, match=says):
            validate(ProvisionSpec(**{**spec.__dict__, field: value}))


def test_minio_s_own_apis_are_not_served_through_the_proxy() -> None:
    """The files name serves the S3 API; /minio/ (admin with the root keys, metrics, health) gets
    the proxy's own 403, before the reverse proxy. Checked in the rendered Caddyfile here, and from
    outside against the real stack in molecule/stack/tests/test_stack.py."""
    text = render(
        (ROOT / "roles/proxy/templates/Caddyfile.j2").read_text(),
        {
            **role_vars("stack", "proxy"),
            "proxy_app_host": "docs.example.com",
            "proxy_files_host": "files.example.com",
        },
    )
    site = text[text.index("\nfiles.example.com {") :]
    site = site[: site.index("\n}\n") + 3]
    matcher = next(line.split() for line in site.splitlines() if line.strip().startswith("@minio_internal"))
    assert matcher == ["@minio_internal", "path", "/minio", "/minio/*"]
    blocked = site[site.index("handle @minio_internal {") :]
    blocked = blocked[: blocked.index("}")]
    assert "respond" in blocked and blocked.rstrip().endswith("403") and "reverse_proxy" not in blocked
    # The only reverse_proxy of the site is in the handle that has no matcher (everything else).
    assert site.count("reverse_proxy") == 1
    assert (
        site.index("handle {") < site.index("reverse_proxy minio:9000") and "handle @minio_internal" in site
    )


def test_the_name_patterns_stop_what_a_shell_or_caddy_would_read_as_more() -> None:
    """The patterns the roles check names with (each check's own run: test_role_input.py)."""
    pattern = role_vars("stack", "proxy")["__proxy_name_pattern"]
    for bad in (
        "docs.example.com;touch /tmp/p",
        "$(id).example.com",
        "docs.example.com\n",
        "x y.com",
        "a.b}",
    ):
        assert not re.match(pattern, bad), bad
    for good in ("docs.example.com", "files.supermark.test", "a-b.c-d.example.co.uk"):
        assert re.match(pattern, good), good
