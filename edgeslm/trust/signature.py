"""signature.json: a detached Ed25519 signature over the bundle's manifest.json, exactly as its bytes are.

    {"format_name": "edgeslm-signature", "version": 1, "algorithm": "ed25519",
     "signed_file": "manifest.json", "manifest_sha256": "<hex>",
     "key_id": "<sha256 of the raw public key, hex>", "signature": "<base64 of the 64-byte signature>"}

The manifest lists every file of the bundle with its sha256 and nothing else may be in the folder (bundle/
manifest.py: require_intact), so a valid signature vouches for every byte. Verifying checks, in order: the key id
is the pinned public key's, the signature over manifest.json's bytes is valid, then every file against the
manifest. A tampered file re-hashed into the manifest changes the manifest, so the signature no longer holds.
Re-signing (a new key, or after a legitimate change) overwrites signature.json.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature

from edgeslm.bundle.layout import MANIFEST, SIGNATURE
from edgeslm.bundle.manifest import parse_manifest, require_intact
from edgeslm.errors import UserError
from edgeslm.trust.keys import key_id, load_private, load_public

FORMAT = "edgeslm-signature"
VERSION = 1


def _manifest_bytes(bundle: Path) -> bytes:
    path = Path(bundle) / MANIFEST
    if not path.is_file():
        raise UserError(f"{bundle} is not an edgeslm bundle: no {MANIFEST}",
                        hint="Pass the folder written by `edgeslm export`.")
    return path.read_bytes()


def sign_bundle(bundle: Path, private_key: Path) -> dict:
    """Check the bundle is intact and complete, then write signature.json over its manifest."""
    key = load_private(private_key)
    data = _manifest_bytes(bundle)
    require_intact(bundle, parse_manifest(data, str(Path(bundle) / MANIFEST)))
    record = {"format_name": FORMAT, "version": VERSION, "algorithm": "ed25519", "signed_file": MANIFEST,
              "manifest_sha256": hashlib.sha256(data).hexdigest(), "key_id": key_id(key.public_key()),
              "signature": base64.b64encode(key.sign(data)).decode("ascii")}
    (Path(bundle) / SIGNATURE).write_text(json.dumps(record, indent=2) + "\n")
    return record


def _refused(bundle: Path, why: str) -> UserError:
    return UserError(f"bundle {bundle} is not signed by the key you trust: {why}",
                     hint="Do not use this bundle; ask its exporter for a bundle signed with the pinned key "
                          "(edgeslm sign BUNDLE --key PRIVATE.pem).")


def read_signature(bundle: Path) -> dict:
    path = Path(bundle) / SIGNATURE
    if not path.is_file():
        raise _refused(bundle, f"it has no {SIGNATURE}")
    try:
        record = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise _refused(bundle, f"{SIGNATURE} is not valid JSON") from None
    if not isinstance(record, dict) or record.get("format_name") != FORMAT or record.get("version") != VERSION:
        raise _refused(bundle, f"{SIGNATURE} is not an edgeslm signature (version {VERSION})")
    if record.get("algorithm") != "ed25519" or record.get("signed_file") != MANIFEST:
        raise _refused(bundle, f"unsupported algorithm {record.get('algorithm')!r} over {record.get('signed_file')!r}")
    return record


def verify_signature(bundle: Path, public_key: Path) -> dict:
    """Refuse (UserError) unless signature.json is a valid signature by public_key over manifest.json and every
    file matches the manifest; return the manifest."""
    bundle = Path(bundle)
    key = load_public(public_key)
    record = read_signature(bundle)
    if record.get("key_id") != key_id(key):
        raise _refused(bundle, f"it was signed by key {str(record.get('key_id'))[:16]}…, not by {public_key} "
                               f"({key_id(key)[:16]}…)")
    data = _manifest_bytes(bundle)
    try:
        key.verify(base64.b64decode(str(record.get("signature", "")), validate=True), data)
    except (InvalidSignature, ValueError):
        raise _refused(bundle, f"the signature does not match {MANIFEST} (the manifest changed after signing)") \
            from None
    manifest = parse_manifest(data, str(bundle / MANIFEST))
    require_intact(bundle, manifest)
    return manifest
