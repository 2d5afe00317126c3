"""Ed25519 key files: PKCS#8 PEM private keys and SubjectPublicKeyInfo PEM public keys (what
`openssl genpkey -algorithm ed25519 -out key.pem` and `openssl pkey -in key.pem -pubout` write)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeslm.errors import UserError


def key_id(public: Ed25519PublicKey) -> str:
    """sha256 of the raw 32-byte public key, hex: names the key in signature.json (pinning, error messages)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate(private_path: Path, public_path: Path) -> str:
    """Write a new key pair (private 0600, refusing to overwrite either file); return the key id."""
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise UserError(f"{path} already exists", hint="Choose another name; edgeslm never overwrites a key.")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_bytes(public_pem(private.public_key()))
    return key_id(private.public_key())


def _read(path: Path, what: str) -> bytes:
    if not Path(path).is_file():
        raise UserError(f"no {what} at {path}", hint="`edgeslm keygen NAME` writes NAME.pem and NAME.pub.pem.")
    return Path(path).read_bytes()


def load_private(path: Path) -> Ed25519PrivateKey:
    data = _read(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise UserError(f"{path} is encrypted with a passphrase",
                        hint=f"Write an unencrypted copy for signing: openssl pkey -in {path} -out plain.pem") \
            from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a PEM private key ({exc})",
                        hint="Pass the private key written by `edgeslm keygen` or "
                             "`openssl genpkey -algorithm ed25519`.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{path} is a {type(key).__name__.lstrip('_')}, not an Ed25519 key",
                        hint="Bundles are signed with Ed25519: openssl genpkey -algorithm ed25519 -out key.pem")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    data = _read(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a PEM public key ({exc})",
                        hint="Pass the .pub.pem written by `edgeslm keygen` (or `openssl pkey -pubout`).") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UserError(f"{path} is not an Ed25519 public key", hint="Bundles are signed with Ed25519 keys.")
    return key
