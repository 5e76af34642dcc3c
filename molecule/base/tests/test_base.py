"""Verify role base from inside the test hosts (testinfra)."""

import os
import re

import pytest

DEPLOY = "deploy"
EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


@pytest.fixture()
def test_key(put_file):
    """Put the throwaway private key on the host, so we can log in over real SSH."""
    with open(os.path.join(EPHEMERAL, "id_test")) as f:
        put_file("/root/.ssh/id_test", f.read(), "0600")
    return "/root/.ssh/id_test"


def ssh(host, user, *opts, command="id -un"):
    base = "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes"
    return host.run(f"{base} {' '.join(opts)} {user}@127.0.0.1 {command}")


def test_deploy_user_and_key(host):
    user = host.user(DEPLOY)
    assert user.exists
    keys = host.file(f"/home/{DEPLOY}/.ssh/authorized_keys")
    assert keys.user == DEPLOY
    assert keys.mode == 0o600
    assert "molecule-base" in keys.content_string


def test_deploy_user_has_passwordless_sudo(host):
    cmd = host.run(f"runuser -u {DEPLOY} -- sudo -n id -u")
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.strip() == "0"


def test_sshd_effective_settings(host):
    settings = dict(line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line)
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] == "no"
    assert settings["pubkeyauthentication"] == "yes"
    assert settings["maxauthtries"] == "3"


def test_key_login_works(host, test_key):
    cmd = ssh(host, DEPLOY, f"-i {test_key}")
    assert cmd.rc == 0, cmd.stderr
    assert cmd.stdout.strip() == DEPLOY


def test_password_login_is_refused(host):
    cmd = ssh(host, DEPLOY, "-o PubkeyAuthentication=no -o PreferredAuthentications=password")
    assert cmd.rc != 0
    assert "Permission denied (publickey)" in cmd.stderr


def test_root_login_is_refused_even_with_a_key(host, test_key):
    host.run("cp /home/deploy/.ssh/authorized_keys /root/.ssh/authorized_keys")
    cmd = ssh(host, "root", f"-i {test_key}")
    host.run("rm -f /root/.ssh/authorized_keys")
    assert cmd.rc != 0
    assert "Permission denied" in cmd.stderr


def test_firewall(host):
    status = host.check_output("ufw status verbose")
    assert "Status: active" in status
    assert "Default: deny (incoming), allow (outgoing), deny (routed)" in status
    rules = {tuple(re.split(r"\s{2,}", line.strip())[:3]) for line in status.splitlines()}
    assert ("22/tcp", "ALLOW IN", "198.51.100.0/24") in rules
    assert ("22/tcp", "ALLOW IN", "203.0.113.5") in rules
    assert ("22/tcp", "ALLOW IN", "2001:db8::/32") in rules
    assert ("80/tcp", "ALLOW IN", "Anywhere") in rules
    assert ("443/tcp", "ALLOW IN", "Anywhere") in rules
    # SSH is open to the listed networks only, not to the world (the rules the
    # default list left, 0.0.0.0/0 and ::/0, went when it was narrowed).
    assert ("22/tcp", "ALLOW IN", "Anywhere") not in rules
    assert ("22/tcp (v6)", "ALLOW IN", "Anywhere (v6)") not in rules
    # Reconciled: our rules for a network and a port no longer listed are gone,
    # the operator's own rule (not ours by its comment) is kept.
    assert ("22/tcp", "ALLOW IN", "192.0.2.0/24") not in rules
    assert ("8080/tcp", "ALLOW IN", "Anywhere") not in rules
    assert ("8443/tcp", "ALLOW IN", "192.0.2.99") in rules


def test_fail2ban_bans_through_ufw(host):
    assert host.service("fail2ban").is_running
    assert host.run("fail2ban-client status sshd").rc == 0
    assert "_SYSTEMD_UNIT" in host.check_output("fail2ban-client get sshd journalmatch")
    ban = host.run("fail2ban-client set sshd banip 192.0.2.77")
    assert ban.rc == 0, ban.stderr
    try:
        assert "192.0.2.77" in host.check_output("ufw status")
    finally:
        host.run("fail2ban-client set sshd unbanip 192.0.2.77")


def test_unattended_upgrades(host):
    dump = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert 'Unattended-Upgrade::Automatic-Reboot "false";' in dump
    # The distribution's security origin is what gets upgraded.
    origins = [
        line
        for line in dump.splitlines()
        if "Unattended-Upgrade::Origins-Pattern::" in line  # Debian
        or "Unattended-Upgrade::Allowed-Origins::" in line  # Ubuntu
    ]
    assert any("security" in line.lower() for line in origins), origins
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_swap_file(host):
    swap = host.file("/swapfile")
    assert swap.exists
    assert swap.mode == 0o600
    assert swap.size == 64 * 1024 * 1024
    # mkswap writes its signature at the end of the first page.
    assert host.check_output("dd if=/swapfile bs=1 skip=4086 count=10 2>/dev/null") == "SWAPSPACE2"
    assert host.file("/etc/fstab").contains("^/swapfile none swap sw")
    assert host.file("/etc/sysctl.d/60-supermark-ops-swap.conf").contains("vm.swappiness = 10")


def test_timezone_and_time_sync(host):
    assert host.check_output("readlink /etc/localtime") == "/usr/share/zoneinfo/Europe/Berlin"
    assert host.check_output("date +%Z") in ("CET", "CEST")
    assert host.service("systemd-timesyncd").is_enabled


def test_journald_cap(host):
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=200M" in config
    assert host.service("systemd-journald").is_running


def test_data_volume_is_mounted_by_uuid(host):
    mount = host.mount_point("/mnt/supermark-data")
    assert mount.exists
    assert mount.filesystem == "ext4"
    uuid = host.check_output("blkid -s UUID -o value /dev/supermark-data")
    assert host.file("/etc/fstab").contains(f"^UUID={uuid} /mnt/supermark-data ext4 defaults,nofail")


def test_data_volume_is_never_reformatted(host):
    """A file on the volume survives the role's filesystem step running again."""
    host.run("echo keep-me > /mnt/supermark-data/canary")
    uuid_before = host.check_output("blkid -s UUID -o value /dev/supermark-data")
    fs = host.ansible("community.general.filesystem", "dev=/dev/supermark-data fstype=ext4", check=False)
    assert fs["changed"] is False
    assert host.check_output("blkid -s UUID -o value /dev/supermark-data") == uuid_before
    assert host.file("/mnt/supermark-data/canary").content_string == "keep-me\n"


def test_module_bytecode_cache_is_on_and_used(host):
    """The test host's speed-only cache (images/systemd/smops_pyc_cache.py) is active
    for root's Python on this platform, in its root-only folder, and the converge's
    modules filled it. (tests/test_pyc_cache.py shows it serves the same code.)"""
    active = host.run("python3 -c 'import zipimport; print(zipimport._compile_source.__module__)'")
    assert active.stdout.strip() == "smops_pyc_cache", active.stderr
    folder = host.file("/var/cache/smops-pyc")
    assert folder.is_directory and folder.user == "root" and folder.mode == 0o700
    assert int(host.check_output("find /var/cache/smops-pyc -type f | wc -l")) > 50
