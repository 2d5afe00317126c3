"""What each backend runs for a scheme (QuantScheme.runs_as), checked against the backends' own quantizer settings,
and the manifest's record of it."""

from __future__ import annotations

import pytest

from edgeslm.quant import QUANT_SCHEMES, get_scheme


def test_runs_as_follows_the_onnx_quantizer():
    from edgeslm.backends.onnx.quantize import ACCURACY_LEVEL

    assert ACCURACY_LEVEL == 4  # int8 activations inside MatMulNBits: what runs_as says
    for name in ("int4", "int8"):
        text = get_scheme(name).description_for("onnx")
        assert "blocks of 32" in text and "accuracy_level 4" in text


def test_runs_as_follows_torchao_config():
    pytest.importorskip("torchao")
    import torch
    from torchao.quantization.granularity import PerAxis, PerGroup

    from edgeslm.backends.executorch.quantize import linear_config

    int4, int8 = linear_config(get_scheme("int4")), linear_config(get_scheme("int8"))
    assert type(int4).__name__ == "Int8DynamicActivationIntxWeightConfig"  # 8-bit dynamic activations
    assert int4.weight_dtype == torch.int4 and isinstance(int4.weight_granularity, PerGroup)
    assert int8.weight_dtype == torch.int8 and isinstance(int8.weight_granularity, PerAxis)
    assert get_scheme("int4").description_for("executorch").startswith("8-bit dynamic per-token activations x 4-bit")
    assert "per output channel" in get_scheme("int8").description_for("executorch")


def test_runs_as_follows_coremltools_config():
    from edgeslm.backends.coreml.convert import native_quant

    assert native_quant(get_scheme("int8"))["granularity"] == "per_channel"
    assert "per output channel" in get_scheme("int8").description_for("coreml")
    assert native_quant(get_scheme("int4"))["block_size"] == 32 and "blocks of 32" in get_scheme("int4").description_for("coreml")


def test_manifest_records_the_deviation():
    record = get_scheme("int4").manifest_record("executorch")
    assert record["deviates"] and record["runs_as"].startswith("8-bit dynamic")
    assert get_scheme("fp32").runs_as == ()
    plain = get_scheme("fp32").manifest_record("onnx")
    assert plain["deviates"] is False and plain["runs_as"] == plain["description"]
    assert {"name", "weight_bits", "group_size", "description"} <= set(plain)


def test_list_quant_shows_one_row_per_distinct_runtime():
    import json

    from cli_runner import edgeslm

    rows = json.loads(edgeslm("--json", "list", "quant").stdout)
    int4 = [r for r in rows if r["scheme"] == "int4"]
    assert sorted(r["formats"] for r in int4) == ["coreml", "executorch", "onnx"]
    fp32 = [r for r in rows if r["scheme"] == "fp32"]
    assert len(fp32) == 1 and fp32[0]["formats"] == "executorch,onnx"
    assert {r["scheme"] for r in rows} == set(QUANT_SCHEMES.names())
