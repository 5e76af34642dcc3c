"""Signed manifests: a backup is ours only when its manifest carries our key's HMAC.

A manifest says which dump and which documents make a backup; a restore trusts it for the
sha256 of each, and runs pg_restore as the database's owner. Whoever can write to the off-site
bucket could plant one, so every manifest is signed with HMAC-SHA256 under a key kept on the
host (and in the operator's vault, for a restore on a new droplet), and a restore refuses one
that is unsigned or does not match.

    "signature": {"alg": "hmac-sha256", "key": "<key id>", "mac": "<hex>"}

The MAC covers the manifest without its "signature" field, as canonical JSON (sorted keys, no
spaces, ASCII), so it does not depend on how the file was indented.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any, Literal

from supermark_ops.backup.errors import BackupError

ALG = "hmac-sha256"
MIN_KEY_LENGTH = 32
# What the backup role writes: one line, NAME='value' (the stack's env-file form).
_ENV_LINE = re.compile(r"^[A-Z_][A-Z0-9_]*=(.*)$")

Status = Literal["signed", "unsigned", "mismatch"]


def load_key(path: Path) -> bytes:
    """The signing key from its file (NAME='value', or the bare value); never echoed."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise BackupError(f"The manifest signing key {path} cannot be read: {exc.strerror}") from None
    match = _ENV_LINE.match(text)
    value = match.group(1) if match else text
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1]
    if len(value) < MIN_KEY_LENGTH or "\n" in value:
        raise BackupError(
            f"The manifest signing key in {path} must be one line of at least {MIN_KEY_LENGTH} characters "
            "(the backup role writes it from backup_signing_key)."
        )
    return value.encode()


def key_id(key: bytes) -> str:
    """Names a key without revealing it: which key signed a manifest."""
    return hashlib.sha256(b"supermark-ops manifest key\0" + key).hexdigest()[:16]


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(manifest: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The manifest with its signature."""
    mac = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    return {**manifest, "signature": {"alg": ALG, "key": key_id(key), "mac": mac}}


def status(manifest: dict[str, Any], key: bytes | None) -> Status:
    """Whether the manifest is signed by `key` (no key: nothing can be signed by it)."""
    sig = manifest.get("signature")
    if not isinstance(sig, dict):
        return "unsigned"
    if key is None or sig.get("alg") != ALG or not isinstance(sig.get("mac"), str):
        return "mismatch"
    want = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
    return "signed" if hmac.compare_digest(want, sig["mac"]) else "mismatch"


def require(manifest: dict[str, Any], key: bytes | None, name: str, allow_unsigned: bool = False) -> Status:
    """Raise unless the manifest is signed by our key (or, with allow_unsigned, carries no
    signature at all: a backup made before manifests were signed). A mismatch is always refused."""
    found = status(manifest, key)
    if found == "signed" or (found == "unsigned" and allow_unsigned):
        return found
    if found == "unsigned":
        raise BackupError(
            f"The manifest of {name} is not signed. Backups made before manifests were signed can be "
            "restored with --allow-unsigned (check first that it is yours); anything else may have been "
            "planted in the bucket."
        )
    if key is None:
        raise BackupError(
            f"The manifest of {name} is signed, but no signing key is configured (signing_key_file in "
            "backup.yml; the backup role writes it from backup_signing_key, kept in your vault)."
        )
    theirs = manifest["signature"].get("key") if isinstance(manifest.get("signature"), dict) else None
    other = f" (signed by key {theirs}, ours is {key_id(key)})" if theirs and theirs != key_id(key) else ""
    raise BackupError(
        f"The manifest of {name} does not match its signature{other}: it was changed or planted by someone "
        "without the key. It is refused; pick another backup (`supermark-ops backup list`) and check who can "
        "write to the bucket."
    )
