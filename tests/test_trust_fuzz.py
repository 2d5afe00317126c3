"""Bounded fuzzing of the parsers a received file reaches first: the manifest reader, the safetensors header
check and the GGUF header reader. Whatever the bytes, the outcome is a parsed value or a UserError (exit 2),
never another exception (exit 70). A few seconds each: max_examples is bounded."""

import json
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeslm.errors import UserError
from edgeslm.sources.resolve import check_gguf, check_safetensors

FUZZ = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow], database=None)

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                          max_size=4), max_leaves=20)
VALID = {"format_name": "edgeslm-bundle", "schema_version": 1, "format": "onnx",
         "files": [{"name": "model.onnx", "sha256": "0" * 64, "bytes": 1}], "quant": {"scheme": {"name": "int8"}},
         "target": {"name": "linux"}, "source": {"label": "m"}, "generation": {"max_positions": 64}}


def parse_manifest(data, where):
    from edgeslm.bundle.manifest import parse_manifest as parse

    return parse(data, where)


def _only_user_errors(call):
    try:
        return call()
    except UserError:
        return None


@FUZZ
@given(st.binary(max_size=300))
def test_manifest_reader_on_random_bytes(data):
    _only_user_errors(lambda: parse_manifest(data, "manifest.json"))


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(VALID)), json_values, max_size=8), json_values)
def test_manifest_reader_on_damaged_manifests(changes, files):
    manifest = {**VALID, **changes}
    if isinstance(files, list):
        manifest["files"] = files
    parsed = _only_user_errors(lambda: parse_manifest(json.dumps(manifest), "manifest.json"))
    if parsed is not None:  # accepted: then every field a reader relies on is there with its type
        assert isinstance(parsed["format"], str) and isinstance(parsed["generation"]["max_positions"], int)
        assert all(isinstance(f["name"], str) and len(f["sha256"]) == 64 for f in parsed["files"])


def _file(data: bytes, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    handle.write(data)
    handle.close()
    return Path(handle.name)


@FUZZ
@given(st.binary(max_size=64), json_values)
def test_safetensors_header_check(tail, header):
    body = json.dumps(header).encode()
    for data in (tail, struct.pack("<Q", len(body)) + body + tail):
        path = _file(data, ".safetensors")
        try:
            _only_user_errors(lambda: check_safetensors(path))
        finally:
            path.unlink()


@FUZZ
@given(st.integers(0, 5), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.binary(max_size=200))
def test_gguf_header_reader(version, tensors, kvs, rest):
    data = b"GGUF" + struct.pack("<IQQ", version, tensors, kvs) + rest
    path = _file(data, ".gguf")
    try:
        _only_user_errors(lambda: check_gguf(path))
    finally:
        path.unlink()
