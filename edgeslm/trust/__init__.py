"""Signed bundles: Ed25519 keys (PEM, as `openssl genpkey -algorithm ed25519` writes them) and a detached
signature over the manifest, which lists every file of the bundle with its sha256 (see signature.py)."""
