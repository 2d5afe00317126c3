"""Issue 16, item 6: the integrity check cannot be re-hashed away. A bundle is exactly the files its manifest
lists (an extra evil.so is flagged), and a signed manifest pins the exporter: a tampered-then-rehashed bundle is
refused by --require-signature."""

import json
import shutil
import subprocess

import pytest

from trust_helpers import USER, assert_error, copy_bundle, edgeslm, edit_manifest, rehash

PROMPT = ("--prompt", "what are the symptoms of diabetes?", "-n", "3")


@pytest.fixture
def bundle(exported, tmp_path):
    return copy_bundle(exported("llama", "int8").bundle, tmp_path / "bundle")


@pytest.fixture
def keys(tmp_path):
    result = edgeslm("keygen", tmp_path / "release")
    assert result.exit_code == 0, result.output
    return tmp_path / "release.pem", tmp_path / "release.pub.pem"


def _signed_run(bundle, pub, *extra):
    return edgeslm("run", bundle, "--require-signature", "--pubkey", pub, *PROMPT, *extra)


def test_extra_file_in_a_bundle_is_flagged(bundle):
    (bundle / "evil.so").write_bytes(b"\x7fELF")
    assert_error(edgeslm("run", bundle, *PROMPT), USER, "evil.so", "does not list")


def test_empty_file_list_is_refused(bundle):
    edit_manifest(bundle, lambda m: m.__setitem__("files", []))
    assert_error(edgeslm("run", bundle, *PROMPT), USER, "does not list", "model.onnx")


def test_signed_bundle_runs_and_a_rehashed_tamper_is_refused(bundle, keys):
    private, public = keys
    assert edgeslm("sign", bundle, "--key", private).exit_code == 0
    record = json.loads((bundle / "signature.json").read_text())
    assert record["algorithm"] == "ed25519" and record["signed_file"] == "manifest.json" and len(record["key_id"]) == 64
    assert _signed_run(bundle, public).exit_code == 0

    data = bytearray((bundle / "model.onnx.data").read_bytes())
    data[200] ^= 0x5A
    (bundle / "model.onnx.data").write_bytes(bytes(data))
    rehash(bundle)  # the attacker recomputes the sha256: the plain integrity check passes again...
    assert edgeslm("run", bundle, *PROMPT).exit_code == 0
    assert_error(_signed_run(bundle, public), USER, "signature does not match")  # ...the signature does not


def test_signature_pins_the_exporters_key(bundle, keys, tmp_path):
    private, public = keys
    assert_error(_signed_run(bundle, public), USER, "no signature.json")
    assert edgeslm("keygen", tmp_path / "other").exit_code == 0
    assert edgeslm("sign", bundle, "--key", tmp_path / "other.pem").exit_code == 0
    assert_error(_signed_run(bundle, public), USER, "signed by key")
    assert_error(edgeslm("run", bundle, "--require-signature", *PROMPT), USER, "--pubkey")


def test_verify_and_profile_require_the_signature_too(bundle, keys, tmp_path):
    _, public = keys
    assert_error(edgeslm("verify", bundle, "--require-signature", "--pubkey", public), USER, "signature.json")
    assert_error(edgeslm("profile", bundle, "--require-signature", "--pubkey", public, "-o", tmp_path / "p"),
                 USER, "signature.json")


def test_signing_refuses_a_bundle_that_does_not_match_its_manifest(bundle, keys):
    (bundle / "notes.txt").write_text("slipped in")
    assert_error(edgeslm("sign", bundle, "--key", keys[0]), USER, "notes.txt")
    assert not (bundle / "signature.json").exists()


def test_keygen_never_overwrites_and_writes_a_private_key_only_the_owner_reads(keys, tmp_path):
    private, _ = keys
    assert private.stat().st_mode & 0o077 == 0
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert_error(edgeslm("keygen", tmp_path / "release"), USER, "already exists")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_keys_and_ours_are_interchangeable(bundle, keys, tmp_path):
    private, public = keys
    derived = subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout"], capture_output=True, check=True)
    assert derived.stdout == public.read_bytes()
    theirs = tmp_path / "openssl.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(theirs)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(theirs), "-pubout", "-out", str(tmp_path / "openssl.pub.pem")],
                   check=True)
    assert edgeslm("sign", bundle, "--key", theirs).exit_code == 0
    assert _signed_run(bundle, tmp_path / "openssl.pub.pem").exit_code == 0
