"""ios_demo/ as far as this Linux host can check it (no Swift toolchain, no macOS, no iPhone): the Swift sources
parse; the feature names, types and shapes EdgeSLMKit builds match a real exported .mlpackage's spec; the JSON
keys it reads match what export writes; the metrics JSON it writes (via a key-for-key Python port) passes
edgeslm/profile/metrics_schema.py. Never run here: swift build, Xcode, MLModel.predict, a device."""

import json
from pathlib import Path

import pytest
from ios_metrics_port import device, make, run, settings
from swift_source import SwiftFile, evaluate, optional_properties

pytest.importorskip("tree_sitter_swift")

DEMO = Path(__file__).resolve().parent.parent / "ios_demo"
KIT = DEMO / "Sources" / "EdgeSLMKit"
SWIFT_FILES = sorted(DEMO.rglob("*.swift"))


def test_the_demo_has_the_app_and_the_package():
    names = {p.relative_to(DEMO).as_posix() for p in SWIFT_FILES}
    assert {"Package.swift", "EdgeSLMDemo.swiftpm/Package.swift", "EdgeSLMDemo.swiftpm/Sources/ChatView.swift",
            "Sources/EdgeSLMKit/CoreMLDecoder.swift", "Sources/EdgeSLMKit/Benchmark.swift"} <= names
    app = (DEMO / "EdgeSLMDemo.swiftpm" / "Package.swift").read_text()
    assert 'bundleIdentifier: "org.edgeslm.demo"' in app  # what `edgeslm profile --target ios` launches
    assert "swift-transformers" in (DEMO / "Package.swift").read_text()


@pytest.mark.parametrize("path", SWIFT_FILES, ids=lambda p: p.relative_to(DEMO).as_posix())
def test_swift_sources_parse(path):
    assert SwiftFile(path).syntax_errors() == []


def test_the_parse_check_catches_a_syntax_error(tmp_path):
    broken = tmp_path / "Broken.swift"
    broken.write_text((KIT / "Sampler.swift").read_text().replace("return Self.argmax(logits)", "return Self.argmax(logits"))
    assert SwiftFile(broken).syntax_errors()


@pytest.fixture(scope="module")
def coreml_spec(exported):
    pytest.importorskip("coremltools")
    import coremltools as ct

    result = exported("llama", "int4", target="ios")  # the same cached export as test_coreml_backend's
    spec = ct.models.MLModel(str(result.bundle / "model.mlpackage"), skip_model_load=True).get_spec()
    return result, spec.description


def _array(feature):
    return feature.type.multiArrayType


def _dtype(array) -> str:
    return array.DESCRIPTOR.fields_by_name["dataType"].enum_type.values_by_number[array.dataType].name.lower()


def _fits(shape: list[int], array) -> bool:
    ranges = [(r.lowerBound, r.upperBound) for r in array.shapeRange.sizeRanges]
    if not ranges:
        return shape == list(array.shape)
    return len(shape) == len(ranges) and all(lo <= n <= (hi if hi > 0 else n) for n, (lo, hi) in zip(shape, ranges))


def test_swift_contract_matches_the_exported_package(coreml_spec):
    result, desc = coreml_spec
    contract = SwiftFile(KIT / "ModelContract.swift")
    names = contract.constants()
    inputs = {f.name: f for f in desc.input}
    assert list(inputs) == [names["inputIds"], names["causalMask"]]
    assert [f.name for f in desc.output] == [names["logits"]]
    assert [s.name for s in desc.state] == [names["keyCache"], names["valueCache"]]
    assert names["modelDirectory"] == "model.mlpackage" and (result.bundle / names["modelDirectory"]).is_dir()
    assert _dtype(_array(inputs[names["inputIds"]])) == names["inputIdsType"]
    assert _dtype(_array(inputs[names["causalMask"]])) == names["causalMaskType"]

    max_len = result.manifest["generation"]["max_positions"]
    ids_shape = contract.returned_array("inputIdsShape")
    mask_shape = contract.returned_array("causalMaskShape")
    # prefill of a whole prompt, a decode step mid-way, the last position: every shape the app builds fits.
    for past, new in ((0, 7), (7, 1), (max_len - 1, 1), (0, max_len)):
        ids = [evaluate(e, newTokens=new) for e in ids_shape]
        mask = [evaluate(e, past=past, newTokens=new) for e in mask_shape]
        assert ids == [1, new] and mask == [1, 1, 1, past + new + 1]
        assert _fits(ids, _array(inputs[names["inputIds"]])), (ids, _array(inputs[names["inputIds"]]))
        assert _fits(mask, _array(inputs[names["causalMask"]])), mask
    assert not _fits([evaluate(e, newTokens=max_len + 1) for e in ids_shape], _array(inputs[names["inputIds"]]))


def test_swift_reads_the_keys_export_writes(coreml_spec):
    result, _ = coreml_spec
    for swift_file, json_file, type_name in (("GenerationSettings.swift", "generation.json", "GenerationSettings"),
                                             ("BundleManifest.swift", "manifest.json", "BundleManifest")):
        swift = SwiftFile(KIT / swift_file)
        keys = swift.coding_keys()[type_name]
        written = json.loads((result.bundle / json_file).read_text())
        required = {key for prop, key in keys.items() if prop not in optional_properties(swift)}
        assert required <= set(written), (json_file, required - set(written))
    manifest = json.loads((result.bundle / "manifest.json").read_text())
    assert manifest["format"] == "coreml" and {"name", "sha256", "bytes"} <= set(manifest["files"][0])


def test_metrics_port_has_the_swift_keys():
    keys = SwiftFile(KIT / "DeviceMetrics.swift").coding_keys()
    sample = make(device("iPhone16,1", "A17 Pro", "ios", "18.1"), {"name": "coreml", "version": "18.1"},
                  settings(8, 3, 1, 0, 4), 812.0, 402.5, [run(1.0, 2.0, 30.0, 25.0, 8, [10.0, 11.0, 12.0])])
    assert set(keys["DeviceMetrics"].values()) == set(sample)
    assert set(keys["Device"].values()) == set(sample["device"])
    assert set(keys["Runtime"].values()) == set(sample["runtime"])
    assert set(keys["Settings"].values()) == set(sample["settings"])
    assert set(keys["Run"].values()) == set(sample["runs"][0])


def test_metrics_the_app_writes_pass_the_schema(tmp_path):
    from edgeslm.profile.metrics_schema import _Bad, load_metrics, validate

    runs = [run(1764160000.0 + i, 1764160003.0 + i, 212.0, 208.5, 128, [46.0 + i] * 64) for i in range(3)]
    data = make(device("iPhone16,1", "A17 Pro", "ios", "18.1"), {"name": "coreml", "version": "18.1.0"},
                settings(128, 64, 3, 1, 4), 812.0, 402.5, runs)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    assert load_metrics(path)["runs"][0]["decode_tok_per_s"] == pytest.approx(64 / (64 * 46.0 / 1000))
    data["runs"][0]["decode_ms"] = data["runs"][0]["decode_ms"][:-1]  # one token short of gen_len: refused
    with pytest.raises(_Bad, match="gen_len"):
        validate(data)


def test_benchmark_arguments_are_the_ones_profile_passes():
    """The flags Devicectl.launch passes are the ones BenchmarkOptions.parse reads."""
    from edgeslm.profile.device import DeviceSpec
    from edgeslm.profile.ios import Devicectl

    argv = Devicectl("xcrun", "dev", "org.edgeslm.demo").launch(
        DeviceSpec(Path("b"), "ios", prompt_len=8, gen_len=4, runs=2, warmup=1, threads=2), "Documents/edgeslm/b",
        "Documents/edgeslm/b.m.json")
    flags = {a for a in argv[argv.index("--") + 1:] if a.startswith("--")}
    source = (KIT / "Benchmark.swift").read_text()
    parsed = {f for f in flags if f'"{f}"' in source}
    assert flags == parsed, flags - parsed
